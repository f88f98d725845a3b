import { describe, expect, it } from 'vitest';
import { HOP_MAX, HOP_MAX_SKEW_MS } from '../../protocol/cluster.ts';
import { signHop, verifyHop } from '../../relay/cluster/hop.ts';

const SECRET = 'cluster-secret-0123456789abcdef-0123456789';
const NOW = 1_800_000_000_000;
const PATH = '/v1/venues/ven_1/front/api/orders?from=2026-01-01&x=%20';
const h = signHop(SECRET, 'node-a', 'POST', PATH, 1, NOW);

describe('the hop signature', () => {
  it('round-trips: the same method, path, hops and time within the skew are accepted, naming the sender', () => {
    expect(h).toMatch(/^v1 node-a 1800000000000 [0-9a-f]{64}$/);
    expect(verifyHop(SECRET, h, 'POST', PATH, 1, NOW)).toEqual({ ok: true, from: 'node-a' });
    expect(verifyHop(SECRET, h, 'POST', PATH, 1, NOW + HOP_MAX_SKEW_MS)).toEqual({ ok: true, from: 'node-a' });
    expect(verifyHop(SECRET, h, 'POST', PATH, 1, NOW - HOP_MAX_SKEW_MS)).toEqual({ ok: true, from: 'node-a' });
  });

  it('refuses a tampered method, path, query, hop count, sender, time or a different secret', () => {
    expect(verifyHop(SECRET, h, 'DELETE', PATH, 1, NOW)).toEqual({ ok: false, reason: 'signature' });
    expect(verifyHop(SECRET, h, 'POST', PATH.replace('ven_1', 'ven_2'), 1, NOW)).toEqual({ ok: false, reason: 'signature' });
    expect(verifyHop(SECRET, h, 'POST', `${PATH}&admin=1`, 1, NOW)).toEqual({ ok: false, reason: 'signature' });
    expect(verifyHop(SECRET, h, 'POST', PATH, 2, NOW)).toEqual({ ok: false, reason: 'signature' });
    expect(verifyHop(SECRET, h.replace('node-a', 'node-b'), 'POST', PATH, 1, NOW)).toEqual({ ok: false, reason: 'signature' });
    expect(verifyHop(SECRET, h.replace(' 1800000000000 ', ' 1800000000001 '), 'POST', PATH, 1, NOW)).toEqual({ ok: false, reason: 'signature' });
    expect(verifyHop(`${SECRET}x`, h, 'POST', PATH, 1, NOW)).toEqual({ ok: false, reason: 'signature' });
    const flipped = h.slice(0, -1) + (h.endsWith('0') ? '1' : '0');
    expect(verifyHop(SECRET, flipped, 'POST', PATH, 1, NOW)).toEqual({ ok: false, reason: 'signature' });
  });

  it('refuses a replay outside the skew, in either direction', () => {
    expect(verifyHop(SECRET, h, 'POST', PATH, 1, NOW + HOP_MAX_SKEW_MS + 1)).toEqual({ ok: false, reason: 'skew' });
    expect(verifyHop(SECRET, h, 'POST', PATH, 1, NOW - HOP_MAX_SKEW_MS - 1)).toEqual({ ok: false, reason: 'skew' });
  });

  it(`refuses hop counts outside 1..${HOP_MAX}, even correctly signed`, () => {
    for (const n of [0, HOP_MAX + 1, -1, 1.5, NaN]) {
      const signed = signHop(SECRET, 'node-a', 'GET', '/x', n, NOW);
      expect(verifyHop(SECRET, signed, 'GET', '/x', n, NOW)).toEqual({ ok: false, reason: 'hops' });
    }
    expect(verifyHop(SECRET, h, 'POST', PATH, '1', NOW)).toEqual({ ok: false, reason: 'hops' });
  });

  it('refuses malformed headers without throwing', () => {
    const bad: unknown[] = [
      undefined, null, 42, ['v1'], '', 'v1', 'v1 node-a 1800000000000', `v2 node-a ${NOW} ${'a'.repeat(64)}`,
      `v1 node-a ${NOW} ${'a'.repeat(63)}`, `v1 node-a ${NOW} ${'A'.repeat(64)}`, `v1 node-a ${NOW} ${'g'.repeat(64)}`,
      `v1 node-a -5 ${'a'.repeat(64)}`, `v1 node-a 1e12 ${'a'.repeat(64)}`, `v1 node a ${NOW} ${'a'.repeat(64)}`,
      `v1  node-a ${NOW} ${'a'.repeat(64)}`, `v1 ${'n'.repeat(129)} ${NOW} ${'a'.repeat(64)}`, `v1 node-a ${NOW} ${'a'.repeat(64)} extra`,
      'x'.repeat(10_000),
    ];
    for (const v of bad) expect(verifyHop(SECRET, v, 'GET', '/x', 1, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });
});
