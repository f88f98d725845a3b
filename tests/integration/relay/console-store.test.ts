/**
 * The support console's store, held on both dialects (the embedded SQLite
 * file and a real Postgres): keyset pages in every order, filter and search;
 * the verdict columns and who may write them; sessions; the audit; the extras
 * the list shows beside each venue.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { VERDICT_ORDER, type Verdict, type VenueSort } from '../../../protocol/console.ts';
import type { Status } from '../../../protocol/local.ts';
import { realClock, type Clock } from '../../../common/clock.ts';
import { silentLogger } from '../../../common/logger.ts';
import type { RelayStore } from '../../../relay/db/store.ts';
import type { FaceRow, PageSpec } from '../../../relay/db/console.ts';
import { Faces } from '../../../relay/console/faces.ts';
import { fold, searchKeyOf } from '../../../relay/console/verdict.ts';
import type { TunnelRegistry } from '../../../relay/tunnels.ts';
import { arrivals, envelope } from '../../helpers/feedpeers.ts';
import { postgresBackend, sqliteBackend } from '../../helpers/stores.ts';

const id = (i: number) => `ven_${String(i).padStart(4, '0')}aaaaaaaa`;
const TONES: Verdict[] = ['green', 'red', 'grey', 'amber'];
/** Names that sort differently from their ids and creation times, some Cyrillic with ё. */
const nameOf = (i: number) => (i % 3 === 0 ? `Ёлка ${(997 * i) % 1000}` : i % 3 === 1 ? `кафе ${(31 * i) % 100}` : `Bar ${i}`);

/** Real timers, a wall clock the test moves. */
function testClock(start: number): Clock & { advance(ms: number): void } {
  let now = start;
  return { ...realClock, now: () => now, advance: (ms) => { now += ms; } };
}

/** A registry with no links (the store tests judge from the store alone). */
const noTunnels = { live: () => null } as unknown as TunnelRegistry;

const GREEN_STATUS: Status = {
  level: 'ok', version: '9.9.9', startedAt: '2026-01-01T00:00:00.000Z',
  front: { state: 'up', url: 'http://127.0.0.1:9042', latencyMs: 5, checkedAt: null, since: '2026-01-01T00:00:00.000Z', source: 'discovery' },
  tunnel: { state: 'connected', since: '2026-01-01T00:00:00.000Z', rttMs: 3, reconnects: 0, venueId: 'x', relayUrl: null },
};

describe.each([sqliteBackend(), postgresBackend()])('console store on $name', (backend) => {
  beforeAll(() => backend.start(), 60_000);
  afterAll(() => backend.stop(), 60_000);
  beforeEach(() => backend.fresh(), 30_000);

  /** `n` venues with tones and since-times spread over them (written as the judge writes them). */
  async function seed(s: RelayStore, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await s.addVenue(id(i), nameOf(i), 1_000 + i);
      await s.console.writeFace(id(i), null, { tone: TONES[i % 4]!, searchKey: searchKeyOf(nameOf(i), id(i)) }, 10_000 + ((i * 7) % n));
    }
  }

  /** Every page of a query, forwards; then backwards from the last page; both must give the same venues. */
  async function walk(s: RelayStore, spec: Omit<PageSpec, 'after' | 'dir' | 'limit'>, limit: number): Promise<FaceRow[]> {
    const keyOf = (r: FaceRow & { rank: number }): Array<string | number> => (spec.sort === 'name' ? [r.name, r.id] : spec.sort === 'created' ? [r.createdAt, r.id]
      : spec.verdict ? [r.since, r.id] : [r.rank, r.since, r.id]);
    const forward: Array<FaceRow & { rank: number }> = [];
    let after: Array<string | number> | undefined;
    for (let i = 0; i < 100; i++) {
      const rows = await s.console.page({ ...spec, after, dir: 'next', limit });
      forward.push(...rows.slice(0, limit));
      if (rows.length <= limit) break;
      after = keyOf(rows[limit - 1]!);
    }
    const backward: Array<FaceRow & { rank: number }> = [];
    let before: Array<string | number> | undefined = forward.length ? keyOf(forward[forward.length - 1]!) : undefined;
    if (before) backward.unshift(forward[forward.length - 1]!);
    for (let i = 0; i < 100 && before; i++) {
      const rows = await s.console.page({ ...spec, after: before, dir: 'prev', limit });
      const page = rows.slice(0, limit).reverse();
      backward.unshift(...page);
      if (rows.length <= limit) break;
      before = keyOf(page[0]!);
    }
    expect(backward.map((r) => r.id)).toEqual(forward.map((r) => r.id));
    return forward;
  }

  it('pages every order forwards and back, each venue once, in that order', async () => {
    const s = await backend.open();
    await seed(s, 45);
    const all = await s.console.faceRows(Array.from({ length: 45 }, (_, i) => id(i)));
    const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
    const expected: Record<VenueSort, string[]> = {
      verdict: [...all].sort((a, b) => cmp(VERDICT_ORDER.indexOf(a.tone!), VERDICT_ORDER.indexOf(b.tone!)) || cmp(a.since, b.since) || cmp(a.id, b.id)).map((r) => r.id),
      name: [...all].sort((a, b) => cmp(a.name, b.name) || cmp(a.id, b.id)).map((r) => r.id),
      created: [...all].sort((a, b) => cmp(b.createdAt, a.createdAt) || cmp(b.id, a.id)).map((r) => r.id),
    };
    for (const sort of ['verdict', 'created'] as VenueSort[]) {
      expect((await walk(s, { sort }, 7)).map((r) => r.id), sort).toEqual(expected[sort]);
    }
    // Name order is the database's collation (byte order on SQLite, the locale's on Postgres): each page follows on from the last.
    const byName = await walk(s, { sort: 'name' }, 7);
    expect(new Set(byName.map((r) => r.id)).size).toBe(45);
    if (backend.name === 'sqlite') expect(byName.map((r) => r.id)).toEqual(expected.name);
    // Worst first: every red venue comes before every amber one, and so on.
    const verdicts = (await walk(s, { sort: 'verdict' }, 10)).map((r) => VERDICT_ORDER.indexOf(r.tone!));
    expect(verdicts).toEqual([...verdicts].sort((a, b) => a - b));
  });

  it('filters by verdict and searches names (any case, ё as е) and ids', async () => {
    const s = await backend.open();
    await seed(s, 40);
    const reds = await walk(s, { sort: 'name', verdict: 'red' }, 3);
    expect(reds.length).toBe(10);
    expect(reds.every((r) => r.tone === 'red')).toBe(true);
    const reds2 = await walk(s, { sort: 'verdict', verdict: 'red' }, 4);
    expect(reds2.map((r) => r.since)).toEqual([...reds2.map((r) => r.since)].sort((a, b) => a - b));
    // «Ёлка» is found by «ЕЛКА», «кафе» by «КАФЕ».
    const elka = await walk(s, { sort: 'name', q: fold('ЕЛКА') }, 5);
    expect(elka.length).toBe(14);
    expect(elka.every((r) => r.name.startsWith('Ёлка'))).toBe(true);
    expect((await walk(s, { sort: 'created', q: fold('КАФЕ') }, 50)).length).toBe(13);
    expect((await s.console.page({ sort: 'name', q: fold(id(17)), dir: 'next', limit: 10 })).map((r) => r.id)).toEqual([id(17)]);
    // LIKE's own wildcards in a search are taken literally, not as "anything".
    expect((await s.console.page({ sort: 'name', q: '%', dir: 'next', limit: 100 })).length).toBe(0);
    expect((await s.console.page({ sort: 'name', q: 'zz_zz', dir: 'next', limit: 100 })).length).toBe(0);
    const counts = await s.console.counts();
    expect(Object.fromEntries(counts)).toEqual({ green: 10, red: 10, grey: 10, amber: 10 });
    expect(Object.fromEntries(await s.console.counts(fold('ёлка')))).toEqual(Object.fromEntries(
      TONES.map((t) => [t, elka.filter((r) => r.tone === t).length]).filter(([, n]) => n),
    ));
  });

  it('writes a verdict only while the venue is online through the link that judged it; since moves only with the tone', async () => {
    const s = await backend.open();
    await s.addVenue(id(1), 'Кафе', 0);
    await s.console.linkUp(id(1), 'n1/aaa');
    expect(await s.console.writeFace(id(1), 'n1/aaa', { tone: 'green' }, 100)).toBe(true);
    expect(await s.console.writeFace(id(1), 'n1/aaa', { tone: 'green' }, 200)).toBe(true);
    let [row] = await s.console.faceRows([id(1)]);
    expect(row).toMatchObject({ tone: 'green', since: 100, judgedAt: 200, onlineLink: 'n1/aaa' });
    // The venue moved to another node's link: the old link's report is dropped, the new one's is written.
    await s.console.linkUp(id(1), 'n2/bbb');
    expect(await s.console.writeFace(id(1), 'n1/aaa', { tone: 'red', onlineLink: null }, 300)).toBe(false);
    expect(await s.console.writeFace(id(1), 'n2/bbb', { tone: 'amber', statusJson: '{}' }, 400)).toBe(true);
    [row] = await s.console.faceRows([id(1)]);
    expect(row).toMatchObject({ tone: 'amber', since: 400, onlineLink: 'n2/bbb', statusJson: '{}' });
    // A node that restarts forgets only its own links, and has those venues judged again.
    await s.addVenue(id(2), 'Бар', 0);
    await s.console.linkUp(id(2), 'n1/ccc');
    expect(await s.console.forgetLinks('n1')).toBe(1);
    expect((await s.console.faceRows([id(1), id(2)])).map((r) => [r.id, r.onlineLink, r.judgedAt])).toEqual(
      expect.arrayContaining([[id(1), 'n2/bbb', 400], [id(2), null, null]]));
    expect(await s.console.forgetLinks(null)).toBe(1);
    expect((await s.console.faceRows([id(1)]))[0]!.onlineLink).toBeNull();
  });

  it('judges venues made, paired or revoked behind its back, and tunnels whose node went silent', async () => {
    const s = await backend.open();
    // Another process on the same database (the CLI): its changes reach this one's judge only through the sweep.
    const cli = await backend.open();
    const clock = testClock(Date.now());
    const faces = new Faces(s, noTunnels, clock, silentLogger, 'n1');
    const pos = { version: '1.0.0', hostname: 'pos' };
    await cli.addVenue(id(1), 'Новое', 0);
    await cli.addVenue(id(2), 'Привязано', 0);
    await cli.addPairingCode(id(2), 'c2', 0, clock.now() + 1_000_000);
    await cli.addVenue(id(3), 'На связи', 0);
    await cli.addPairingCode(id(3), 'c3', 0, clock.now() + 1_000_000);
    await cli.claimPairingCode('c3', 't3', pos, clock.now() - 100_000);
    await cli.markConnected(id(3), pos, null, clock.now() - 1_000);
    await s.console.linkUp(id(3), 'n9/zzz');
    expect(await s.console.anyUnjudged()).toBe(true);
    await faces.sweep();
    expect(await s.console.anyUnjudged()).toBe(false);
    const tones = async () => Object.fromEntries((await s.console.faceRows([id(1), id(2), id(3)])).map((r) => [r.id, r.tone]));
    // Never paired: not set up; online without a report yet: the plugin is not known yet.
    expect(await tones()).toEqual({ [id(1)]: 'grey', [id(2)]: 'grey', [id(3)]: 'amber' });
    // Paired by the CLI: paired and never connected, no link.
    clock.advance(1_000);
    await cli.claimPairingCode('c2', 't2', pos, clock.now());
    await s.console.writeFace(id(3), 'n9/zzz', { tone: 'green', statusJson: JSON.stringify(GREEN_STATUS) }, clock.now());
    clock.advance(1_000);
    await faces.sweep();
    expect(await tones()).toEqual({ [id(1)]: 'grey', [id(2)]: 'red', [id(3)]: 'green' });
    // Revoked by the CLI: judged at the next sweep, whatever its link says.
    clock.advance(1_000);
    await cli.revoke(id(3), clock.now());
    clock.advance(1_000);
    await faces.sweep();
    expect(await tones()).toEqual({ [id(1)]: 'grey', [id(2)]: 'red', [id(3)]: 'red' });
    expect((await s.console.faceRows([id(3)]))[0]!.onlineLink).toBe('n9/zzz');
    // Its node (n9) died: the venue was last heard of long ago; the sweep takes the link away.
    clock.advance(200_000);
    await faces.sweep();
    expect((await s.console.faceRows([id(3)]))[0]!.onlineLink).toBeNull();
    faces.stop();
  });

  it('keeps sessions by the hash of their id until they end or expire', async () => {
    const s = await backend.open();
    await s.console.addSession('h1', 'fp1', '10.0.0.1', 1_000, 5_000);
    await s.console.addSession('h2', 'fp2', '10.0.0.2', 1_000, 2_000);
    expect(await s.console.session('h1', 4_999)).toEqual({ keyFp: 'fp1', expiresAt: 5_000 });
    expect(await s.console.session('h1', 5_000)).toBeNull();
    expect(await s.console.session('nope', 0)).toBeNull();
    expect(await s.console.purgeSessions(3_000)).toBe(1);
    await s.console.endSession('h1');
    expect(await s.console.session('h1', 2_000)).toBeNull();
  });

  it('lists the audit newest first, per venue', async () => {
    const s = await backend.open();
    for (let i = 0; i < 3; i++) await s.console.addAudit({ venueId: id(1), at: i, action: `a${i}`, outcome: 'done', keyFp: 'fp', ip: '1.2.3.4' });
    await s.console.addAudit({ venueId: id(2), at: 9, action: 'other', outcome: 'done', keyFp: 'fp', ip: '1.2.3.4' });
    expect((await s.console.audit(id(1), 2)).map((a) => a.action)).toEqual(['a2', 'a1']);
  });

  it('counts each venue\'s last event, backlog past its delivery cursor, payments waiting and alarms', async () => {
    const s = await backend.open();
    await s.addVenue(id(1), 'A', 0);
    await s.addVenue(id(2), 'B', 0);
    // EVVA posts four payments; the venue moves three of them on (only EVVA's payments move: relay/moves.ts).
    const notice = (paymentId: string) => ({ paymentId, orderId: 'o', amount: 1, paidAt: '2026-01-01T00:00:00.000Z' });
    for (const p of ['p1', 'p2', 'p3', 'p4']) {
      await s.feed.addPayment(id(1), notice(p), 6_000);
      await s.feed.paymentNotified(id(1), { ...notice(p), state: 'notified', updatedAt: '2026-01-01T00:00:00.000Z' });
    }
    const move = (paymentId: string, state: string) => ({ eventType: 'PaymentUpdate' as const, eventInfo: { ...notice(paymentId), state, updatedAt: '2026-01-01T00:01:00.000Z' } });
    const events = [
      envelope(id(1), 1), envelope(id(1), 2),
      envelope(id(1), 3, move('p2', 'mismatch')), envelope(id(1), 4, move('p3', 'reconciled')), envelope(id(1), 5, move('p4', 'order-deleted')),
    ];
    const appended = await s.feed.appendEvents(id(1), arrivals(events), 7_000);
    expect(appended.refused).toEqual([]);
    const b = await s.feed.claimBatch(id(1), 'me', 0, 1_000_000, 2, () => 'd1');
    await s.feed.finishBatch(id(1), 'me', b!.deliveryId, 8_000);
    const x = await s.console.extras([id(1), id(2)]);
    expect(x.get(id(1))).toEqual({ lastEvent: { type: events[4]!.eventType, at: 7_000 }, backlog: 3, ownHook: false, waiting: 1, alarms: 2 });
    expect(x.get(id(2))).toEqual({ lastEvent: null, backlog: 0, ownHook: false, waiting: 0, alarms: 0 });
    // The backlog is counted up to the cap and one more (the page then says "more than"), never further.
    expect((await s.console.extras([id(1)], 2)).get(id(1))?.backlog).toBe(3);
    expect((await s.console.extras([id(1)], 1)).get(id(1))?.backlog).toBe(2);
    await s.feed.setWebhook(id(1), { url: 'https://example.com/hook', secret: 'x'.repeat(16), format: 'evva', authToken: null }, 9_000);
    expect((await s.console.extras([id(1)])).get(id(1))?.ownHook).toBe(true);
    expect((await s.console.recentEvents(id(1), 2)).map((e) => e.event.seq)).toEqual([5, 4]);
    expect((await s.console.payments(id(1), 10)).map((p) => p.paymentId)).toEqual(['p4', 'p3', 'p2', 'p1']);
  });
});
