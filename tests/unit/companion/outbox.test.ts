import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../../protocol/events.ts';
import { silentLogger, type Logger } from '../../../common/logger.ts';
import { createSender } from '../../../main/core/outbox/sender.ts';
import { openOutbox, type Outbox } from '../../../main/core/outbox/store.ts';
import { diskProblem } from '../../../main/core/feed/feed.ts';
import { tempDir } from '../../helpers/relay.ts';

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

describe('the outbox at its edges', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });
  function open(extra: { coalesceAbove?: number } = {}, clock = { t: Date.UTC(2026, 10, 28, 10) }, dir = tempDir('outbox-edges')) {
    cleanups.push(() => dir.remove());
    const box = openOutbox({ dataDir: dir.dir, now: () => clock.t, ...extra });
    cleanups.push(() => box.close());
    return { box, clock, dir };
  }
  const revs = (box: Outbox) => box.pending(V, 0, 100).map((e) => [e.seq, (e.eventInfo.order as { id: string }).id, (e.eventInfo.order as { rev: number }).rev]);

  it('merges only when the backlog is above the limit, not at it', () => {
    const { box } = open({ coalesceAbove: 2 });
    box.append(V, { events: [order('a', 'new', 1)] });
    box.append(V, { events: [order('b', 'new', 2)] });
    box.append(V, { events: [order('a', 'new', 3)] }); // backlog 2, not above 2: its own event
    box.append(V, { events: [order('a', 'new', 4)] }); // backlog 3: merged into seq 3
    expect(revs(box)).toEqual([[1, 'a', 1], [2, 'b', 2], [3, 'a', 4]]);
    expect(box.stats(V).coalesced).toBe(1);
  });

  it('counts the events of the same batch towards the limit', () => {
    const { box } = open({ coalesceAbove: 1 });
    box.append(V, { events: [order('a', 'new', 1), order('b', 'new', 2), order('a', 'new', 3)] });
    expect(revs(box)).toEqual([[1, 'a', 3], [2, 'b', 2]]);
  });

  it('a merged event keeps its seq and eventId, takes the new time and state, and is what append returns', () => {
    const { box, clock } = open({ coalesceAbove: 0 });
    const [first] = box.append(V, { events: [order('a', 'new', 1)] });
    clock.t += 60_000;
    const [merged] = box.append(V, { events: [order('a', 'new', 2)] });
    expect(merged).toEqual({ ...first, eventTime: new Date(clock.t).toISOString(), eventInfo: { order: { id: 'a', status: 'new', rev: 2 } } });
    expect(box.pending(V, 0, 10)).toEqual([merged]);
    expect(box.stats(V).backlog).toBe(1);
  });

  it('merges events without a status only with one without a status, and never events without a key', () => {
    const { box } = open({ coalesceAbove: 0 });
    const plain = (id: string, rev: number, status?: string) => ({ type: 'TableOrderUpdate' as const, info: { order: { id, rev } }, key: `order:${id}`, ...(status ? { status } : {}) });
    box.append(V, { events: [plain('a', 1)] });
    box.append(V, { events: [plain('a', 2)] }); // both without status: merged
    box.append(V, { events: [plain('a', 3, 'new')] }); // a status appears: a transition
    box.append(V, { events: [plain('a', 4)] }); // and goes away: another
    const menu = { type: 'MenuSnapshot' as const, info: { order: { id: 'm', rev: 5 } } };
    box.append(V, { events: [menu] });
    box.append(V, { events: [{ ...menu, info: { order: { id: 'm', rev: 6 } } }] });
    expect(revs(box)).toEqual([[1, 'a', 2], [2, 'a', 3], [3, 'a', 4], [4, 'm', 5], [5, 'm', 6]]);
  });

  it('merges only into the newest event of the order, and only while it is unsent', () => {
    const { box } = open({ coalesceAbove: 0 });
    box.append(V, { events: [order('a', 'new', 1)] });
    box.append(V, { events: [order('a', 'cooking', 2)] });
    box.append(V, { events: [order('a', 'new', 3)] }); // back to new: newest is cooking, so its own event
    box.markSent(V, [3]);
    box.append(V, { events: [order('a', 'new', 4)] });
    box.append(V, { events: [order('a', 'new', 5)] }); // merged into seq 4, which is unsent
    expect(revs(box)).toEqual([[1, 'a', 1], [2, 'a', 2], [3, 'a', 3], [4, 'a', 5]]);
  });

  it('lists pending events after a seq, oldest first, at most the limit, for that venue only', () => {
    const { box } = open();
    for (let i = 1; i <= 5; i++) box.append(V, { events: [order(`o${i}`, 'new', i)] });
    box.append('venue-2', { events: [order('x', 'new', 9)] });
    expect(box.pending(V, 2, 2).map((e) => e.seq)).toEqual([3, 4]);
    expect(box.pending(V, 5, 10)).toEqual([]);
    expect(box.pending('venue-2', 0, 10).map((e) => e.venueId)).toEqual(['venue-2']);
  });

  it('reports the backlog, the oldest unacknowledged event of the venue and the last event written', () => {
    const { box, clock, dir } = open();
    expect(box.stats(V)).toEqual({ backlog: 0, oldestUnsentAt: null, lastEvent: null, coalesced: 0, ackedToday: 0, ordersToday: 0, lastOrderAt: null });
    const t0 = clock.t;
    const [a] = box.append(V, { events: [order('a', 'new', 1)] });
    clock.t += 5_000;
    const [, , c] = box.append('venue-2', { events: [order('b', 'new', 2), order('d', 'new', 2), { type: 'MenuSnapshot', info: {} }] });
    expect(box.stats(V)).toMatchObject({ backlog: 4, oldestUnsentAt: new Date(t0).toISOString(), lastEvent: { seq: c!.seq, eventType: 'MenuSnapshot', eventTime: new Date(clock.t).toISOString() } });
    expect(box.stats('venue-2').oldestUnsentAt).toBe(new Date(clock.t).toISOString());
    expect(box.stats(null).oldestUnsentAt).toBeNull();
    box.ack([a!.eventId]);
    expect(box.stats(V)).toMatchObject({ backlog: 3, oldestUnsentAt: null });
    box.close();
    const again = openOutbox({ dataDir: dir.dir, now: () => clock.t });
    cleanups.push(() => again.close());
    expect(again.stats(V).backlog).toBe(3);
  });

  it('counts orders and payments per venue and day, with the time of the last one; health and staff events and another venue do not count', () => {
    const { box, clock } = open();
    const t0 = clock.t;
    const [o] = box.append(V, { events: [order('a', 'new', 1)] });
    clock.t += 60_000;
    const [h, st] = box.append(V, { events: [{ type: 'CompanionHealth', info: {} }, { type: 'StaffUpdate', info: {} }] });
    const [p] = box.append(V, { events: [{ type: 'PaymentUpdate', info: {} }] });
    clock.t += 60_000;
    const [late] = box.append(V, { events: [{ type: 'CompanionHealth', info: {} }] });
    const [other] = box.append('venue-2', { events: [order('x', 'new', 9)] });
    box.ack([o!.eventId, h!.eventId, st!.eventId, p!.eventId, late!.eventId, other!.eventId]);
    // «последний» is the payment's time, not the later health event's.
    expect(box.stats(V)).toMatchObject({ ackedToday: 5, ordersToday: 2, lastOrderAt: new Date(t0 + 60_000).toISOString() });
    // The same order changing again, and the same payment again, are still one order and one payment.
    const again = box.append(V, { events: [order('a', 'cooking', 2), { type: 'PaymentUpdate', info: { paymentId: 'p1' } }, { type: 'PaymentUpdate', info: { paymentId: 'p1' } }] });
    box.ack(again.map((e) => e.eventId));
    expect(box.stats(V)).toMatchObject({ ackedToday: 8, ordersToday: 3 });
    // A venue paired afterwards starts from zero.
    expect(box.stats('venue-3')).toMatchObject({ ackedToday: 0, ordersToday: 0, lastOrderAt: null });
    expect(box.stats('venue-2')).toMatchObject({ ackedToday: 1, ordersToday: 1 });
  });

  it('counts acknowledgements per local day, only of events it still had, across reopening', () => {
    const { box, clock, dir } = open();
    const sent = box.append(V, { events: [order('a', 'new', 1), order('b', 'new', 2), order('c', 'new', 3)] });
    expect(box.ack(['unknown'])).toBe(0);
    expect(box.stats(V).ackedToday).toBe(0);
    expect(box.ack([sent[0]!.eventId, sent[1]!.eventId])).toBe(2);
    expect(box.ack([sent[0]!.eventId])).toBe(0);
    expect(box.stats(V)).toMatchObject({ ackedToday: 2, backlog: 1 });
    box.close();
    const again = openOutbox({ dataDir: dir.dir, now: () => clock.t });
    cleanups.push(() => again.close());
    expect(again.stats(V).ackedToday).toBe(2);
    clock.t += 24 * 3600_000;
    expect(again.stats(V).ackedToday).toBe(0);
    again.ack([sent[2]!.eventId]);
    expect(again.stats(V)).toMatchObject({ ackedToday: 1, backlog: 0 });
    expect(again.ack([sent[2]!.eventId])).toBe(0);
    expect(again.stats(V).backlog).toBe(0);
  });

  it('closes its database file, and closing twice is harmless', () => {
    const { box } = open();
    box.close();
    expect(box.db.open).toBe(false);
    expect(() => box.close()).not.toThrow();
    expect(() => box.append(V, { events: [order('a', 'new', 1)] })).toThrow();
  });

  it('remembers what was seen, with or without a value, updates and forgets it, and lists it by prefix', () => {
    const { box } = open();
    box.append(V, { events: [], seen: [{ key: `${V}|order:a`, hash: 'h1' }, { key: `${V}|order:b`, hash: 'h2', info: { n: 1 } }, { key: `${V}|pay:a`, hash: 'h3' }] });
    expect(box.seen(`${V}|order:a`)).toEqual({ hash: 'h1', info: null });
    box.append(V, { events: [], seen: [{ key: `${V}|order:a`, hash: 'h4', info: [1] }, { key: `${V}|order:b`, delete: true }] });
    expect(box.seen(`${V}|order:a`)).toEqual({ hash: 'h4', info: [1] });
    expect(box.seen(`${V}|order:b`)).toBeNull();
    expect([...box.seenWith(`${V}|order:`)]).toEqual([[`${V}|order:a`, { hash: 'h4', info: [1] }]]);
    expect([...box.seenWith(`${V}|`).keys()].sort()).toEqual([`${V}|order:a`, `${V}|pay:a`]);
    expect(box.stats(V).backlog).toBe(0);
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

describe('the sender at its edges', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });

  /** A logger that keeps what it was told, with the part each child names. */
  function recordingLogger() {
    const lines: Array<{ level: string; message: string; meta: Record<string, unknown> }> = [];
    const make = (ctx: Record<string, unknown>): Logger => ({
      error: (message, meta = {}) => { lines.push({ level: 'error', message, meta: { ...ctx, ...meta } }); },
      warn: (message, meta = {}) => { lines.push({ level: 'warn', message, meta: { ...ctx, ...meta } }); },
      info: (message, meta = {}) => { lines.push({ level: 'info', message, meta: { ...ctx, ...meta } }); },
      debug: (message, meta = {}) => { lines.push({ level: 'debug', message, meta: { ...ctx, ...meta } }); },
      child: (meta) => make({ ...ctx, ...meta }),
    });
    return { lines, logger: make({}) };
  }
  function setup(window = 3) {
    const dir = tempDir('sender-edges');
    cleanups.push(() => dir.remove());
    const box = openOutbox({ dataDir: dir.dir, now: () => Date.now(), coalesceAbove: 0 });
    cleanups.push(() => box.close());
    const log = recordingLogger();
    const acks: string[][] = [];
    const sender = createSender({ outbox: box, venueId: V, logger: log.logger, window, onAck: (ids) => acks.push(ids) });
    /** A port that takes `room` events, then refuses. */
    const port = (room = Infinity) => { const sent: Envelope[] = []; return { sent, sendEvent: (e: Envelope) => (sent.length < room ? (sent.push(e), true) : false) }; };
    return { box, sender, port, log, acks };
  }

  it('sends nothing without a link, and says whether one is up', () => {
    const { box, sender, port, log } = setup();
    box.append(V, { events: [order('a', 'new', 1)] });
    sender.kick();
    expect([sender.connected(), sender.inFlight()]).toEqual([false, 0]);
    const p = port();
    sender.up(p);
    expect([sender.connected(), sender.inFlight(), p.sent.length]).toEqual([true, 1, 1]);
    sender.down(p);
    expect([sender.connected(), sender.inFlight()]).toEqual([false, 0]);
    expect(log.lines).toEqual([]);
  });

  it('marks sent only what the link took: the rest can still be merged and goes out on the next link', () => {
    const { box, sender, port } = setup(10);
    box.append(V, { events: [order('a', 'new', 1), order('b', 'new', 1)] });
    const tight = port(1);
    sender.up(tight);
    expect(tight.sent.map((e) => e.seq)).toEqual([1]);
    expect(sender.inFlight()).toBe(1);
    // a (sent) is no longer merged into; b (refused by the link) still is.
    box.append(V, { events: [order('a', 'new', 2), order('b', 'new', 2)] });
    expect(box.pending(V, 0, 10).map((e) => [e.seq, (e.eventInfo.order as { rev: number }).rev])).toEqual([[1, 1], [2, 2], [3, 2]]);
    sender.down(tight);
    const next = port();
    sender.up(next);
    expect(next.sent.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('ignores the end of a link that is no longer the current one', () => {
    const { box, sender, port } = setup();
    const old = port();
    sender.up(old);
    const current = port();
    sender.up(current);
    sender.down(old);
    expect(sender.connected()).toBe(true);
    box.append(V, { events: [order('a', 'new', 1)] });
    sender.kick();
    expect([old.sent.length, current.sent.length]).toEqual([0, 1]);
  });

  it('counts acks and passes them on, and keeps going when the outbox cannot be read or written', () => {
    const { box, sender, port, log, acks } = setup();
    box.append(V, { events: [order('a', 'new', 1), order('b', 'new', 1)] });
    const p = port();
    sender.up(p);
    sender.ack([p.sent[0]!.eventId]);
    sender.ack([p.sent[1]!.eventId, 'unknown']);
    expect([sender.acked(), sender.inFlight()]).toEqual([3, 0]);
    expect(acks).toEqual([[p.sent[0]!.eventId], [p.sent[1]!.eventId, 'unknown']]);
    box.append(V, { events: [order('c', 'new', 1)] });
    box.close();
    expect(() => sender.kick()).not.toThrow();
    expect(() => sender.ack(['x'])).not.toThrow();
    expect(sender.acked()).toBe(4);
    // kick: the read fails; ack: the removal fails, then the read that follows it.
    expect(log.lines.map((l) => [l.level, l.message, l.meta.part, typeof l.meta.err])).toEqual([
      ['warn', 'could not read the outbox', 'sender', 'string'],
      ['warn', 'could not remove acknowledged events', 'sender', 'string'],
      ['warn', 'could not read the outbox', 'sender', 'string'],
    ]);
  });
});
