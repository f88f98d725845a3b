/**
 * The outbox: every feed event is written here (SQLite, WAL, synchronous FULL)
 * before it is sent, with a per-venue `seq` that has no gaps and a unique
 * `eventId`, and stays until the relay acknowledges it. The poller's memory of
 * what it last emitted (`seen`) is written in the same transaction as the
 * events, so a `kill -9` at any moment loses nothing and emits nothing twice:
 * either the change and its event are both on disk, or neither is and the next
 * poll sees the change again.
 *
 * When the backlog is above `coalesceAbove`, a new state of an order replaces
 * the body of that order's newest event if that event was never sent and has
 * the same EVVA status: intermediate states go, every status transition stays.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Envelope, EventType } from '../../../protocol/events.ts';
import { DEFAULTS } from '../table.ts';

export const OUTBOX_FILE = 'feed.sqlite';

/** One event to append; `key` (e.g. `order:<id>`) and `status` make it a candidate for coalescing. */
export interface NewEvent {
  type: EventType;
  info: Record<string, unknown>;
  key?: string;
  status?: string | null;
}

/** What the poller remembers of one thing it emitted: the hash, and optionally the last normalised value. */
export interface SeenRow { hash: string; info: unknown }

export interface OutboxStats {
  backlog: number;
  /** When the oldest unacknowledged event was written (ISO), or null. */
  oldestUnsentAt: string | null;
  lastEvent: { seq: number; eventType: string; eventTime: string } | null;
  coalesced: number;
  /** Events of this venue the relay acknowledged today (the POS's local day), kept across restarts. */
  ackedToday: number;
  /**
   * Orders and payments (TableOrderUpdate, DeliveryOrderUpdate, PaymentUpdate) of this venue relayed today,
   * each counted once however often it changed: what the «Заказы и оплаты» card calls «Передано сегодня».
   */
  ordersToday: number;
  /** When the last order or payment event of this venue acknowledged today was written (ISO), or null. */
  lastOrderAt: string | null;
}

/** `payment:<id>` of a PaymentUpdate envelope's body, or null. */
function paymentKey(body: string): string | null {
  try {
    const id = (JSON.parse(body) as { eventInfo?: { paymentId?: unknown } }).eventInfo?.paymentId;
    return typeof id === 'string' ? `payment:${id}` : null;
  } catch {
    return null;
  }
}

/** The event types a person counts as «заказы и оплаты». */
export const ORDER_EVENTS: ReadonlySet<string> = new Set<EventType>(['TableOrderUpdate', 'DeliveryOrderUpdate', 'PaymentUpdate']);

/** One write batch: events and seen updates land together or not at all. */
export interface Batch {
  events: NewEvent[];
  seen?: Array<{ key: string; hash: string; info?: unknown } | { key: string; delete: true }>;
  /** Extra writes in the same transaction (the payment ledger). */
  also?: (db: Database.Database) => void;
}

export interface Outbox {
  readonly db: Database.Database;
  /** Appends a batch atomically; returns the envelopes written or updated. Throws on a disk error (nothing is written then). */
  append(venueId: string, batch: Batch): Envelope[];
  /** What was last emitted for `key` (null if nothing). */
  seen(key: string): SeenRow | null;
  /** Every seen key starting with `prefix`, with its row. */
  seenWith(prefix: string): Map<string, SeenRow>;
  /** Unacknowledged events of `venueId` after `afterSeq`, oldest first. */
  pending(venueId: string, afterSeq: number, limit: number): Envelope[];
  /** Marks events as sent at least once (they are no longer coalesced into). */
  markSent(venueId: string, seqs: number[]): void;
  /** Removes acknowledged events; returns how many were still here. */
  ack(eventIds: string[]): number;
  /**
   * Drops every event of venues other than `venueId`: after pairing with another venue they can never
   * be delivered (the old pairing is gone). Returns how many were dropped.
   */
  dropOthers(venueId: string): number;
  /** Backlog (all venues), the oldest unacknowledged event of `venueId`, the last event written. */
  stats(venueId: string | null): OutboxStats;
  close(): void;
}

export interface OutboxOptions {
  dataDir: string;
  now: () => number;
  coalesceAbove?: number;
  /** Tests: cap the database at this many pages to make SQLite report a full disk. */
  maxPages?: number;
}

/** Opens (creating if needed) `<dataDir>/feed.sqlite`; throws when the file cannot be opened. */
export function openOutbox(opts: OutboxOptions): Outbox {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const db = new Database(path.join(opts.dataDir, OUTBOX_FILE));
  db.pragma('journal_mode = WAL');
  // FULL: a commit survives power loss too, not only a killed process; the feed writes a few commits a second at most.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 2000');
  if (opts.maxPages) db.pragma(`max_page_count = ${opts.maxPages}`);
  db.exec(`
    CREATE TABLE IF NOT EXISTS events (
      venue_id TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
      key TEXT, status TEXT, body TEXT NOT NULL, created_at INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (venue_id, seq));
    CREATE INDEX IF NOT EXISTS events_key ON events (venue_id, key, seq);
    CREATE TABLE IF NOT EXISTS seqs (venue_id TEXT PRIMARY KEY, last INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, hash TEXT NOT NULL, info TEXT);
    -- Per venue and local day: a newly paired venue starts from zero, not from the last one's count.
    CREATE TABLE IF NOT EXISTS acked_daily (venue_id TEXT NOT NULL, day TEXT NOT NULL, acked INTEGER NOT NULL,
      orders INTEGER NOT NULL, last_order_at INTEGER, PRIMARY KEY (venue_id, day));
    -- Which orders and payments were counted today, so an order that changed ten times counts once.
    CREATE TABLE IF NOT EXISTS acked_things (venue_id TEXT NOT NULL, day TEXT NOT NULL, thing TEXT NOT NULL, PRIMARY KEY (venue_id, day, thing));
    -- The count of versions before issue 20 mixed every venue: not carried over.
    DROP TABLE IF EXISTS daily;
  `);
  // Coalescing starts above this many unacknowledged events (feed.coalesceAbove; the table's default without settings).
  const coalesceAbove = opts.coalesceAbove ?? DEFAULTS.feed.coalesceAbove;
  const q = {
    lastSeq: db.prepare<[string], { last: number }>('SELECT last FROM seqs WHERE venue_id = ?'),
    setSeq: db.prepare('INSERT INTO seqs (venue_id, last) VALUES (?, ?) ON CONFLICT (venue_id) DO UPDATE SET last = excluded.last'),
    insert: db.prepare('INSERT INTO events (venue_id, seq, event_id, type, key, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    latestOfKey: db.prepare<[string, string], { seq: number; status: string | null; sent: number; body: string }>(
      'SELECT seq, status, sent, body FROM events WHERE venue_id = ? AND key = ? ORDER BY seq DESC LIMIT 1'),
    rewrite: db.prepare('UPDATE events SET body = ? WHERE venue_id = ? AND seq = ? AND sent = 0'),
    pending: db.prepare<[string, number, number], { body: string }>('SELECT body FROM events WHERE venue_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
    markSent: db.prepare('UPDATE events SET sent = 1 WHERE venue_id = ? AND seq = ?'),
    ack: db.prepare<[string], { venue_id: string; type: string; created_at: number; key: string | null; body: string }>(
      'DELETE FROM events WHERE event_id = ? RETURNING venue_id, type, created_at, key, body'),
    thing: db.prepare<[string, string, string]>('INSERT OR IGNORE INTO acked_things (venue_id, day, thing) VALUES (?, ?, ?)'),
    oldThings: db.prepare<[string]>('DELETE FROM acked_things WHERE day <> ?'),
    count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events'),
    oldest: db.prepare<[string], { created_at: number }>('SELECT created_at FROM events WHERE venue_id = ? ORDER BY seq LIMIT 1'),
    seenGet: db.prepare<[string], { hash: string; info: string | null }>('SELECT hash, info FROM seen WHERE key = ?'),
    seenPrefix: db.prepare<[string, string], { key: string; hash: string; info: string | null }>('SELECT key, hash, info FROM seen WHERE key >= ? AND key < ?'),
    seenPut: db.prepare('INSERT INTO seen (key, hash, info) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET hash = excluded.hash, info = excluded.info'),
    seenDel: db.prepare('DELETE FROM seen WHERE key = ?'),
    countDay: db.prepare(`INSERT INTO acked_daily (venue_id, day, acked, orders, last_order_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (venue_id, day) DO UPDATE SET acked = acked + excluded.acked, orders = orders + excluded.orders,
        last_order_at = max(coalesce(last_order_at, 0), coalesce(excluded.last_order_at, 0))`),
    day: db.prepare<[string, string], { acked: number; orders: number; last_order_at: number | null }>('SELECT acked, orders, last_order_at FROM acked_daily WHERE venue_id = ? AND day = ?'),
  };
  /** The POS's local calendar day (the status says "relayed today" as the venue counts days). */
  const today = () => { const d = new Date(opts.now()); return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`; };
  let backlog = q.count.get()?.n ?? 0;
  let coalesced = 0;
  let last: OutboxStats['lastEvent'] = null;

  const write = db.transaction((venueId: string, batch: Batch): { out: Envelope[]; added: number } => {
    let seq = q.lastSeq.get(venueId)?.last ?? 0;
    const now = opts.now();
    const eventTime = new Date(now).toISOString();
    const out: Envelope[] = [];
    let added = 0;
    for (const e of batch.events) {
      if (e.key && backlog + added > coalesceAbove) {
        const prev = q.latestOfKey.get(venueId, e.key);
        if (prev && prev.sent === 0 && prev.status === (e.status ?? null)) {
          const env = { ...(JSON.parse(prev.body) as Envelope), eventTime, eventInfo: e.info };
          q.rewrite.run(JSON.stringify(env), venueId, prev.seq);
          out.push(env);
          coalesced++;
          continue;
        }
      }
      seq += 1;
      const env: Envelope = { eventId: crypto.randomUUID(), venueId, seq, eventType: e.type, eventTime, eventInfo: e.info };
      q.insert.run(venueId, seq, env.eventId, e.type, e.key ?? null, e.status ?? null, JSON.stringify(env), now);
      out.push(env);
      added++;
    }
    q.setSeq.run(venueId, seq);
    for (const s of batch.seen ?? []) {
      if ('delete' in s) q.seenDel.run(s.key);
      else q.seenPut.run(s.key, s.hash, s.info === undefined ? null : JSON.stringify(s.info));
    }
    batch.also?.(db);
    return { out, added };
  });

  return {
    db,
    append(venueId, batch) {
      const { out, added } = write(venueId, batch);
      backlog += added;
      const tail = out.at(-1);
      if (tail) last = { seq: tail.seq, eventType: tail.eventType, eventTime: tail.eventTime };
      return out;
    },
    seen(key) {
      const r = q.seenGet.get(key);
      return r ? { hash: r.hash, info: r.info === null ? null : JSON.parse(r.info) } : null;
    },
    seenWith(prefix) {
      const out = new Map<string, SeenRow>();
      for (const r of q.seenPrefix.all(prefix, `${prefix}\uffff`)) out.set(r.key, { hash: r.hash, info: r.info === null ? null : JSON.parse(r.info) });
      return out;
    },
    pending(venueId, afterSeq, limit) {
      return q.pending.all(venueId, afterSeq, limit).map((r) => JSON.parse(r.body) as Envelope);
    },
    markSent: db.transaction((venueId: string, seqs: number[]) => {
      for (const s of seqs) q.markSent.run(venueId, s);
    }),
    ack(eventIds) {
      let n = 0;
      db.transaction(() => {
        const perVenue = new Map<string, { acked: number; orders: number; lastOrderAt: number | null }>();
        const day = today();
        for (const id of eventIds) {
          const row = q.ack.get(id);
          if (!row) continue;
          n += 1;
          const v = perVenue.get(row.venue_id) ?? { acked: 0, orders: 0, lastOrderAt: null };
          v.acked += 1;
          if (ORDER_EVENTS.has(row.type)) {
            // Counted once per order (its key) or payment (its id) and day; an event with neither counts as one.
            const thing = row.key ?? (row.type === 'PaymentUpdate' ? paymentKey(row.body) : null) ?? `event:${id}`;
            if (q.thing.run(row.venue_id, day, thing).changes > 0) v.orders += 1;
            v.lastOrderAt = Math.max(v.lastOrderAt ?? 0, row.created_at);
          }
          perVenue.set(row.venue_id, v);
        }
        if (perVenue.size) q.oldThings.run(day);
        for (const [venueId, v] of perVenue) q.countDay.run(venueId, day, v.acked, v.orders, v.lastOrderAt);
      })();
      backlog = Math.max(0, backlog - n);
      return n;
    },
    stats(venueId) {
      const oldest = venueId ? q.oldest.get(venueId)?.created_at : undefined;
      const day = venueId ? q.day.get(venueId, today()) : undefined;
      return {
        backlog,
        oldestUnsentAt: oldest ? new Date(oldest).toISOString() : null,
        lastEvent: last,
        coalesced,
        ackedToday: day?.acked ?? 0,
        ordersToday: day?.orders ?? 0,
        lastOrderAt: day?.last_order_at ? new Date(day.last_order_at).toISOString() : null,
      };
    },
    dropOthers(venueId) {
      const n = db.prepare('DELETE FROM events WHERE venue_id <> ?').run(venueId).changes;
      const prefix = `${venueId}|`;
      db.prepare('DELETE FROM seen WHERE substr(key, 1, ?) <> ?').run(prefix.length, prefix);
      backlog = q.count.get()?.n ?? 0;
      return n;
    },
    close() {
      if (db.open) db.close();
    },
  };
}
