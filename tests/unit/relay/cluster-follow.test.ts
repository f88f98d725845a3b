/**
 * relay/cluster/follow.ts: a tunnel moves (go-away) only when its calls keep
 * arriving over the hop from one and the same other node, and only within
 * its bounds: a hinted link that is not brand new, once per venue per
 * cooldown, a few venues a second. Calls spread over nodes (round robin)
 * move nothing.
 */
import { Registry, Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../common/clock.ts';
import { silentLogger } from '../../../common/logger.ts';
import { Follow, FOLLOW_RULES, type FollowRules } from '../../../relay/cluster/follow.ts';
import type { RelayLink } from '../../../relay/link.ts';

function setup(rules: Partial<FollowRules> = {}) {
  let t = 1_000_000;
  const clock = { now: () => t, mono: () => t } as unknown as Clock;
  const links = new Map<string, { hinted: boolean; connectedAt: number }>();
  const moves: string[] = [];
  const registry = new Registry();
  const moved = new Counter({ name: 'moved', help: 'x', labelNames: ['to'], registers: [registry] });
  const follow = new Follow({
    clock, log: silentLogger, moved, rules,
    tunnels: {
      get: (v) => (links.get(v) as unknown as RelayLink) ?? null,
      goaway: (v) => { moves.push(v); return links.delete(v); },
    },
  });
  return {
    follow, moves, registry,
    advance(ms: number) { t += ms; },
    link(v: string, o: { hinted?: boolean; ageMs?: number } = {}) {
      links.set(v, { hinted: o.hinted ?? true, connectedAt: t - (o.ageMs ?? 60_000) });
    },
  };
}

describe('a tunnel following its calls', () => {
  it('moves after enough calls from one other node, once, and counts it', async () => {
    const s = setup();
    s.link('v1');
    for (let i = 0; i < FOLLOW_RULES.minCalls - 1; i++) s.follow.note('v1', 'n2');
    expect(s.moves).toEqual([]);
    s.follow.note('v1', 'n2');
    expect(s.moves).toEqual(['v1']);
    s.link('v1'); // it came back here somehow: the cooldown holds
    for (let i = 0; i < 20; i++) s.follow.note('v1', 'n2');
    expect(s.moves).toEqual(['v1']);
    expect(await s.registry.getSingleMetricAsString('moved')).toContain('moved{to="n2"} 1');
    s.advance(FOLLOW_RULES.cooldownMs + 1);
    for (let i = 0; i < FOLLOW_RULES.minCalls; i++) s.follow.note('v1', 'n2');
    expect(s.moves).toEqual(['v1', 'v1']);
  });

  it('does not move a venue whose calls come from several nodes, or mostly directly', () => {
    const s = setup();
    s.link('rr');
    s.link('direct');
    for (let i = 0; i < 300; i++) {
      s.follow.note('rr', ['n2', 'n3', null][i % 3]!);
      s.follow.note('direct', i % 4 === 0 ? 'n2' : null);
      s.advance(20);
    }
    expect(s.moves).toEqual([]);
  });

  it('needs a share of FOLLOW_SHARE from that node within one window', () => {
    const s = setup({ minCalls: 10, share: 0.9 });
    s.link('v');
    s.follow.note('v', null); // 1 of 10 direct: 9/10 = 0.9 is enough
    for (let i = 0; i < 8; i++) s.follow.note('v', 'n2');
    expect(s.moves).toEqual([]);
    s.follow.note('v', 'n2');
    expect(s.moves).toEqual(['v']);

    s.link('w');
    s.follow.note('w', null);
    s.follow.note('w', null);
    for (let i = 0; i < 8; i++) s.follow.note('w', 'n2'); // 8/10
    expect(s.moves).toEqual(['v']);
    // A new window forgets the old calls: sparse calls never add up.
    s.advance(FOLLOW_RULES.windowMs + 1);
    for (let i = 0; i < 9; i++) { s.follow.note('w', 'n3'); s.advance(FOLLOW_RULES.windowMs / 5); }
    expect(s.moves).toEqual(['v']);
  });

  it('looks at the last calls only: a venue served directly for long moves once its latest calls come from one node', () => {
    const s = setup();
    s.link('v');
    for (let i = 0; i < 200; i++) { s.follow.note('v', null); s.advance(40); }
    for (let i = 0; i < FOLLOW_RULES.sample - 2; i++) s.follow.note('v', 'n2');
    expect(s.moves).toEqual([]); // 8 of the last 10
    s.follow.note('v', 'n2');
    expect(s.moves).toEqual(['v']); // 9 of the last 10
  });

  it('leaves links without the venue hint and links younger than the minimum age', () => {
    const s = setup();
    s.link('old-companion', { hinted: false });
    s.link('young', { ageMs: FOLLOW_RULES.minAgeMs - 1_000 });
    for (let i = 0; i < 20; i++) {
      s.follow.note('old-companion', 'n2');
      s.follow.note('young', 'n2');
    }
    expect(s.moves).toEqual([]);
    s.advance(1_001);
    s.follow.note('young', 'n2');
    expect(s.moves).toEqual(['young']);
  });

  it('moves at most perSecond venues a second', () => {
    const s = setup({ perSecond: 3 });
    const venues = Array.from({ length: 10 }, (_, i) => `v${i}`);
    for (const v of venues) s.link(v);
    const round = () => { for (const v of venues) for (let i = 0; i < FOLLOW_RULES.minCalls; i++) s.follow.note(v, 'n2'); };
    round();
    expect(s.moves).toHaveLength(3);
    s.advance(1_000);
    round();
    expect(s.moves).toHaveLength(6);
    s.advance(10_000); // the budget refills to perSecond, not more
    round();
    expect(s.moves).toHaveLength(9);
    expect(new Set(s.moves).size).toBe(9);
  });

  it('forgets venues that went quiet', () => {
    const s = setup();
    for (let i = 0; i < 1_000; i++) s.follow.note(`quiet${i}`, null);
    expect(s.follow.size().watched).toBe(1_000);
    s.advance(FOLLOW_RULES.windowMs + 1);
    s.follow.note('busy', null);
    expect(s.follow.size().watched).toBe(1);
  });
});
