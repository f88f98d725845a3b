/**
 * The feed store's delivery lease, as two relay nodes sharing one database
 * would use it (two connections to one SQLite file): a batch is held by one
 * owner at a time, keeps its events and delivery id across owners, and only
 * its current holder can mark it delivered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RelayStore } from '../../relay/store.ts';
import { envelope } from '../helpers/feedpeers.ts';
import { tempDir } from '../helpers/relay.ts';

describe('feed store delivery lease', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });

  async function twoNodes() {
    const d = tempDir('feedstore');
    cleanups.push(() => d.remove());
    const a = new RelayStore(d.dir);
    const b = new RelayStore(d.dir);
    cleanups.push(() => void a.close(), () => void b.close());
    await a.addVenue('ven_aaaaaaaaaaaa', 'A', 0);
    return { a: a.feed, b: b.feed, venue: 'ven_aaaaaaaaaaaa' };
  }
  let n = 0;
  const newId = () => `dlv_${++n}`;

  it('lets one owner hold a batch; another takes the same batch only after the lease ends, and only the holder finishes it', async () => {
    const { a, b, venue } = await twoNodes();
    await a.appendEvents(venue, [1, 2, 3].map((s) => envelope(venue, s)), [], 1_000);
    const held = await a.claimBatch(venue, 'node-a', 1_000, 11_000, 100, newId);
    expect(held?.events.map((e) => e.envelope.seq)).toEqual([1, 2, 3]);
    expect(await b.claimBatch(venue, 'node-b', 5_000, 15_000, 100, newId)).toBeNull();
    // Events stored meanwhile do not join a batch already formed.
    await b.appendEvents(venue, [envelope(venue, 4)], [], 6_000);
    const taken = await b.claimBatch(venue, 'node-b', 12_000, 22_000, 100, newId);
    expect(taken?.deliveryId).toBe(held?.deliveryId);
    expect(taken?.events.map((e) => e.envelope.seq)).toEqual([1, 2, 3]);
    expect(await a.finishBatch(venue, 'node-a', held!.deliveryId, 12_500)).toBe(false);
    expect(await b.finishBatch(venue, 'node-b', taken!.deliveryId, 13_000)).toBe(true);
    const next = await a.claimBatch(venue, 'node-a', 13_000, 23_000, 100, newId);
    expect(next?.events.map((e) => e.envelope.seq)).toEqual([4]);
    expect(next?.deliveryId).not.toBe(held?.deliveryId);
  });

  it('holds a failed batch back until its retry time and counts the attempts', async () => {
    const { a, venue } = await twoNodes();
    await a.appendEvents(venue, [envelope(venue, 1)], [], 0);
    const first = await a.claimBatch(venue, 'n', 0, 10_000, 100, newId);
    await a.failBatch(venue, 'n', first!.deliveryId, 'HTTP 500', 5_000);
    expect(await a.claimBatch(venue, 'n', 4_999, 15_000, 100, newId)).toBeNull();
    const retry = await a.claimBatch(venue, 'n', 5_000, 15_000, 100, newId);
    expect([retry?.deliveryId, retry?.attempts]).toEqual([first?.deliveryId, 1]);
    expect(await a.deliveryState(venue)).toMatchObject({ backlog: 1, attempts: 1, lastError: 'HTTP 500' });
    expect(await a.webhookBacklog(true)).toBe(1);
    expect(await a.webhookBacklog(false)).toBe(0);
  });

  it('stores an eventId once however often and through whichever connection it comes', async () => {
    const { a, b, venue } = await twoNodes();
    const e = envelope(venue, 1);
    expect(await a.appendEvents(venue, [e, e], [], 0)).toEqual({ inserted: 1, duplicates: 1 });
    expect(await b.appendEvents(venue, [e], [], 0)).toEqual({ inserted: 0, duplicates: 1 });
    expect(await b.listEvents(venue, 0, 10)).toEqual([e]);
  });
});
