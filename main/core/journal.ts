/**
 * The Журнал: what happened at the venue, as a person reads it, kept by the
 * companion in `<data-dir>/journal.sqlite` so a reload, a restart and a second
 * window all show the same rows, each with the time it happened. Rows are
 * small summaries (an order's number, tables, status and sum; a payment's view;
 * a state change of the plugin or the link), never whole iiko records.
 *
 * Bounded twice: rows older than `journalDays` go, and at most MAX_ROWS stay.
 * A state that keeps coming back (a flapping link) is folded into its earlier
 * row (a count and the last time) instead of filling the list.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { PaymentView, type Envelope } from '../../protocol/events.ts';
import { JournalRow, type ActivityItem, type JournalKind } from '../../protocol/local.ts';

export const JOURNAL_FILE = 'journal.sqlite';
/** Rows kept at most, whatever the days (about 10 MB). */
export const MAX_ROWS = 50_000;
/** A state seen again within this long folds into its earlier row. */
export const FOLD_WITHIN_MS = 15 * 60_000;
/** How many recent rows of the same part a returning state may fold into (a flap cycles through three states). */
const FOLD_DEPTH = 4;
/** Old rows are pruned at most this often. */
const PRUNE_EVERY_MS = 3_600_000;

export interface JournalQuery {
  /** Newest first, at most this many (1…500). */
  limit?: number;
  /** Only these kinds. */
  kinds?: JournalKind[];
  /** Rows before this cursor (the `next` of the previous page). */
  before?: string;
}

export interface Journal {
  /** Records state changes (the activity's items); returns the rows added or folded into. */
  activity(items: ActivityItem[]): JournalRow[];
  /** Records the feed events a person reads (orders, staff, payments); returns the rows added. */
  events(events: Envelope[]): JournalRow[];
  /** Records a payment's state (one row per payment and state). */
  payment(p: PaymentView): JournalRow[];
  /** A page of rows, newest first, and the cursor of the next older page (null at the end). */
  list(q?: JournalQuery): { rows: JournalRow[]; next: string | null };
  /** Changes how many days rows are kept (the `journalDays` setting) and prunes now. */
  keepDays(days: number): void;
  close(): void;
}

/** The parts of a feed order the Журнал shows; read leniently (the feed may add fields). */
const OrderPart = z.object({
  id: z.string(), number: z.number().nullable(), kind: z.string(), iikoStatus: z.string().nullable(),
  status: z.string().nullable(), gone: z.boolean(), tableNumbers: z.array(z.number()), sums: z.object({ result: z.number() }).partial(),
}).partial({ iikoStatus: true, status: true, gone: true, tableNumbers: true, sums: true });
const StaffPart = z.array(z.object({ sessionOpen: z.boolean().nullable().optional() }));

interface DbRow { id: number; at: number; last_at: number; count: number; kind: string; key: string; body: string }

/** Opens (creating) the journal; throws when the file cannot be opened (the caller runs without it). */
export function openJournal(opts: { dataDir: string; now: () => number; days: number; maxRows?: number }): Journal {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const db = new Database(path.join(opts.dataDir, JOURNAL_FILE));
  db.pragma('journal_mode = WAL');
  // NORMAL: a journal row lost to a power cut costs a line of history, never an order (those are in the outbox).
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS rows (
      id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, last_at INTEGER NOT NULL, count INTEGER NOT NULL DEFAULT 1,
      kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS rows_last ON rows (last_at, id);
    CREATE INDEX IF NOT EXISTS rows_key ON rows (key, id);
  `);
  const q = {
    insert: db.prepare<[number, number, string, string, string]>('INSERT INTO rows (at, last_at, kind, key, body) VALUES (?, ?, ?, ?, ?)'),
    get: db.prepare<[number], DbRow>('SELECT * FROM rows WHERE id = ?'),
    latestOfKey: db.prepare<[string], DbRow>('SELECT * FROM rows WHERE key = ? ORDER BY id DESC LIMIT 1'),
    recentOfKind: db.prepare<[string, number], DbRow>('SELECT * FROM rows WHERE kind = ? ORDER BY last_at DESC, id DESC LIMIT ?'),
    fold: db.prepare<[number, number]>('UPDATE rows SET count = count + 1, last_at = ? WHERE id = ?'),
    pruneAge: db.prepare<[number]>('DELETE FROM rows WHERE last_at < ?'),
    pruneCount: db.prepare<[number]>('DELETE FROM rows WHERE id <= (SELECT id FROM rows ORDER BY id DESC LIMIT 1 OFFSET ?)'),
  };
  let days = opts.days;
  let prunedAt = 0;
  const prune = () => {
    prunedAt = opts.now();
    q.pruneAge.run(opts.now() - days * 86_400_000);
    q.pruneCount.run(opts.maxRows ?? MAX_ROWS);
  };
  prune();

  const view = (r: DbRow): JournalRow => JournalRow.parse({
    id: r.id, at: new Date(r.at).toISOString(), lastAt: new Date(r.last_at).toISOString(), count: r.count, kind: r.kind, ...JSON.parse(r.body),
  });
  let added = 0;
  const add = (at: number, kind: JournalKind, key: string, body: Record<string, unknown>): JournalRow => {
    // Hourly, and every 1 000 rows (a burst of orders between two prunes stays bounded too).
    if (opts.now() - prunedAt > PRUNE_EVERY_MS || ++added % 1_000 === 0) prune();
    const id = Number(q.insert.run(at, at, kind, key, JSON.stringify(body)).lastInsertRowid);
    return view(q.get.get(id)!);
  };
  const time = (iso: string | undefined, fallback: number) => {
    const t = iso ? Date.parse(iso) : NaN;
    return Number.isFinite(t) ? t : fallback;
  };

  const payment = (p: PaymentView): JournalRow[] => {
    // A change arrives twice (the command's live message and its PaymentUpdate event): one row per payment and state.
    const key = `payment:${p.paymentId}`;
    const last = q.latestOfKey.get(key);
    if (last && (JSON.parse(last.body) as { payment: PaymentView }).payment.state === p.state) return [];
    return [add(time(p.updatedAt, opts.now()), 'payments', key, { payment: p })];
  };

  return {
    activity(items) {
      const out: JournalRow[] = [];
      for (const a of items) {
        const kind: JournalKind = a.part === 'front' ? 'front' : 'link';
        const at = time(a.at, opts.now());
        const key = `${a.part}|${a.state}|${a.message ?? ''}`;
        // A state seen again soon (a link flapping: lost, connecting, up, lost…) folds into its earlier row.
        const earlier = q.recentOfKind.all(kind, FOLD_DEPTH).find((r) => r.key === key && at - r.last_at <= FOLD_WITHIN_MS);
        if (earlier) {
          q.fold.run(at, earlier.id);
          out.push(view(q.get.get(earlier.id)!));
          continue;
        }
        out.push(add(at, kind, key, { activity: { part: a.part, state: a.state, ...(a.message ? { message: a.message } : {}), ...(a.messageEn ? { messageEn: a.messageEn } : {}) } }));
      }
      return out;
    },
    events(events) {
      const out: JournalRow[] = [];
      for (const e of events) {
        const at = time(e.eventTime, opts.now());
        const info = e.eventInfo as Record<string, unknown>;
        if (e.eventType === 'TableOrderUpdate' || e.eventType === 'DeliveryOrderUpdate') {
          const o = OrderPart.safeParse(info.order);
          if (!o.success) continue;
          const order = {
            number: o.data.number, delivery: o.data.kind === 'delivery', pickup: o.data.kind === 'pickup', tables: o.data.tableNumbers ?? [], status: o.data.status ?? null,
            iikoStatus: o.data.iikoStatus ?? null, gone: o.data.gone ?? false, sum: o.data.sums?.result ?? null,
          };
          // An order polled again with nothing a person sees changed reads the same: one row.
          const key = `order:${o.data.id}`;
          const last = q.latestOfKey.get(key);
          if (last && last.body === JSON.stringify({ order })) continue;
          out.push(add(at, 'orders', key, { order }));
        } else if (e.eventType === 'StaffUpdate') {
          const staff = StaffPart.safeParse(info.staff);
          if (!staff.success) continue;
          const body = { staff: { all: staff.data.length, open: staff.data.filter((x) => x.sessionOpen === true).length } };
          const last = q.latestOfKey.get('staff');
          if (last && last.body === JSON.stringify(body)) continue;
          out.push(add(at, 'staff', 'staff', body));
        } else if (e.eventType === 'PaymentUpdate') {
          const p = PaymentView.safeParse(info);
          if (p.success) out.push(...payment(p.data));
        }
      }
      return out;
    },
    payment,
    list(query = {}) {
      const limit = Math.min(Math.max(query.limit ?? 100, 1), 500);
      const kinds = query.kinds?.length ? query.kinds : null;
      const [beforeAt, beforeId] = (query.before ?? '').split(':').map(Number);
      const where: string[] = [];
      const args: Array<number | string> = [];
      if (kinds) { where.push(`kind IN (${kinds.map(() => '?').join(', ')})`); args.push(...kinds); }
      if (Number.isFinite(beforeAt) && Number.isFinite(beforeId)) { where.push('(last_at < ? OR (last_at = ? AND id < ?))'); args.push(beforeAt!, beforeAt!, beforeId!); }
      const rows = db.prepare<Array<number | string>, DbRow>(
        `SELECT * FROM rows ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY last_at DESC, id DESC LIMIT ${limit + 1}`).all(...args);
      const page = rows.slice(0, limit);
      const tail = page.at(-1);
      return { rows: page.map(view), next: rows.length > limit && tail ? `${tail.last_at}:${tail.id}` : null };
    },
    keepDays(d) {
      days = d;
      prune();
    },
    close() {
      if (db.open) db.close();
    },
  };
}
