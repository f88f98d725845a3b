import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../protocol/events.ts';
import { silentLogger } from '../../common/logger.ts';
import { createSender } from '../../main/core/outbox/sender.ts';
import { openOutbox, type Outbox } from '../../main/core/outbox/store.ts';
import { diskProblem } from '../../main/core/feed/feed.ts';
import { tempDir } from '../helpers/relay.ts';

const V = 'venue-1';
const order = (id: string, status: string, rev: number) => ({ type: 'TableOrderUpdate' as const, info: { order: { id, status, rev } }, key: `order:${id}`, status });

describe('the outbox', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });
  function open(extra: { coalesceAbove?: number; maxPages?: number } = {}, dir = tempDir('outbox')): { box: Outbox; dir: string } {
    cleanups.push(() => dir.remove());
    const box = openOutbox({ dataDir: dir.dir, now: () => Date.now(), ...extra });
    cleanups.push(() => box.close());
    return { box, dir: dir.dir };
  }

  it('numbers events per venue from 1 with no gaps, each with its own eventId, across reopening', () => {
    const d = tempDir('outbox');
    const first = open({}, d).box;
    first.append(V, { events: [order('a', 'new', 1), order('b', 'new', 2)] });
    first.append('venue-2', { events: [order('c', 'new', 3)] });
    first.close();
    const again = openOutbox({ dataDir: d.dir, now: () => Date.now() });
    cleanups.push(() => again.close());
    again.append(V, { events: [order('a', 'cooking', 4)] });
    const all = again.pending(V, 0, 100);
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(new Set(all.map((e) => e.eventId)).size).toBe(3);
    expect(again.pending('venue-2', 0, 100).map((e) => e.seq)).toEqual([1]);
  });

  it('drops what belongs to a previous pairing, and only that', () => {
    const { box } = open();
    box.append('old_venue', { events: [order('a', 'new', 1)], seen: [{ key: 'old_venue|order:a', hash: 'h' }] });
    box.append('new_venue', { events: [order('b', 'new', 1)], seen: [{ key: 'new_venue|order:b', hash: 'h' }] });
    expect(box.dropOthers('new_venue')).toBe(1);
    expect(box.stats('new_venue').backlog).toBe(1);
    expect([box.seen('old_venue|order:a'), box.seen('new_venue|order:b')?.hash]).toEqual([null, 'h']);
  });

  it('writes events and the seen rows together, and keeps them until acknowledged', () => {
    const { box } = open();
    const [e] = box.append(V, { events: [order('a', 'new', 1)], seen: [{ key: `${V}|order:a`, hash: 'h1', info: { id: 'a' } }] });
    expect(box.seen(`${V}|order:a`)).toEqual({ hash: 'h1', info: { id: 'a' } });
    expect(box.stats(V).backlog).toBe(1);
    expect(box.ack([e!.eventId, 'unknown'])).toBe(1);
    expect(box.stats(V)).toMatchObject({ backlog: 0, oldestUnsentAt: null });
  });

  it('writes nothing of a batch whose extra write fails', () => {
    const { box } = open();
    expect(() => box.append(V, { events: [order('a', 'new', 1)], seen: [{ key: 'k', hash: 'h' }], also: () => { throw new Error('boom'); } })).toThrow('boom');
    expect(box.pending(V, 0, 10)).toEqual([]);
    expect(box.seen('k')).toBeNull();
    expect(box.append(V, { events: [order('a', 'new', 1)] })[0]!.seq).toBe(1);
  });

  it('above the backlog limit merges unsent states of one order but keeps every status transition', () => {
    const { box } = open({ coalesceAbove: 2 });
    box.append(V, { events: [order('x', 'new', 1), order('y', 'new', 2), order('z', 'new', 3)] });
    box.append(V, { events: [order('a', 'new', 10)] });
    box.append(V, { events: [order('a', 'new', 11)] }); // same status, unsent: merged into seq 4
    box.append(V, { events: [order('a', 'cooking', 12)] }); // a transition: its own event
    box.append(V, { events: [order('a', 'cooking', 13)] }); // merged into the cooking one
    box.append(V, { events: [order('a', 'cooked', 14)] });
    const a = box.pending(V, 0, 100).filter((e) => (e.eventInfo.order as { id: string }).id === 'a');
    expect(a.map((e) => [e.seq, (e.eventInfo.order as { status: string }).status, (e.eventInfo.order as { rev: number }).rev])).toEqual([
      [4, 'new', 11], [5, 'cooking', 13], [6, 'cooked', 14],
    ]);
    expect(box.stats(V).coalesced).toBe(2);
    expect(box.pending(V, 0, 100).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('never merges into an event already sent, since the relay may have stored it', () => {
    const { box } = open({ coalesceAbove: 0 });
    const [first] = box.append(V, { events: [order('a', 'new', 1)] });
    box.markSent(V, [first!.seq]);
    box.append(V, { events: [order('a', 'new', 2)] });
    expect(box.pending(V, 0, 10).map((e) => (e.eventInfo.order as { rev: number }).rev)).toEqual([1, 2]);
  });

  it('reports a full disk as an error to catch, and keeps working once there is room', () => {
    const { box, dir } = open({ maxPages: 40 });
    const big = { type: 'MenuSnapshot' as const, info: { blob: 'x'.repeat(20_000) } };
    let failure: unknown = null;
    const written: Envelope[] = [];
    for (let i = 0; i < 200 && !failure; i++) {
      try { written.push(...box.append(V, { events: [big] })); } catch (e) { failure = e; }
    }
    expect((failure as { code?: string }).code).toBe('SQLITE_FULL');
    const problem = diskProblem(failure, dir);
    expect(problem.code).toBe('disk_full');
    expect(problem.message).toMatch(/Диск заполнен/);
    expect(problem.hint).toContain(dir);
    // Acknowledged events free the room; the next write goes in with the next seq.
    box.ack(written.map((e) => e.eventId));
    box.db.exec('VACUUM');
    const [next] = box.append(V, { events: [order('a', 'new', 1)] });
    expect(next!.seq).toBe(written.length + 1);
  });
});

describe('the sender', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });

  function setup(window = 3) {
    const dir = tempDir('sender');
    cleanups.push(() => dir.remove());
    const box = openOutbox({ dataDir: dir.dir, now: () => Date.now() });
    cleanups.push(() => box.close());
    const sender = createSender({ outbox: box, venueId: V, logger: silentLogger, window });
    const port = () => { const sent: Envelope[] = []; return { sent, sendEvent: (e: Envelope) => { sent.push(e); return true; } }; };
    return { box, sender, port };
  }

  it('keeps at most the window in flight and sends more as acks come', () => {
    const { box, sender, port } = setup(3);
    for (let i = 0; i < 5; i++) box.append(V, { events: [order(`o${i}`, 'new', i)] });
    const p = port();
    sender.up(p);
    expect(p.sent.map((e) => e.seq)).toEqual([1, 2, 3]);
    sender.ack([p.sent[0]!.eventId]);
    expect(p.sent.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(sender.inFlight()).toBe(3);
    expect(box.stats(V).backlog).toBe(4);
  });

  it('resends every unacknowledged event on the next link, from the oldest', () => {
    const { box, sender, port } = setup(10);
    for (let i = 0; i < 4; i++) box.append(V, { events: [order(`o${i}`, 'new', i)] });
    const first = port();
    sender.up(first);
    sender.ack([first.sent[1]!.eventId]);
    sender.down(first);
    const second = port();
    sender.up(second);
    expect(second.sent.map((e) => e.seq)).toEqual([1, 3, 4]);
  });

  it('keeps events queued when the relay never acks (a relay without the feed)', () => {
    const { box, sender, port } = setup(2);
    for (let i = 0; i < 5; i++) box.append(V, { events: [order(`o${i}`, 'new', i)] });
    const p = port();
    sender.up(p);
    sender.kick();
    expect(p.sent).toHaveLength(2);
    expect(box.stats(V).backlog).toBe(5);
  });
});
