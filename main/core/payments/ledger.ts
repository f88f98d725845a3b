/**
 * The payment ledger: every EVVA PAY notice the relay handed over, and where
 * it stands, in the feed's SQLite file. Writes go through the feed's batch so
 * a state change and its PaymentUpdate event land together or not at all.
 */
import type Database from 'better-sqlite3';
import type { PaymentNotice, PaymentState, PaymentView } from '../../../protocol/events.ts';

export interface PaymentRow extends PaymentView {
  venueId: string;
  /** When the companion received the notice (epoch ms), for the pending-close timer. */
  receivedAt: number;
}

export interface Ledger {
  get(paymentId: string): PaymentRow | null;
  /** Payments whose state can still change (notified, pending-close); reconciled, mismatch and order-deleted are final. */
  active(): PaymentRow[];
  /** Newest first, at most `limit`. */
  list(limit: number): PaymentRow[];
  counts(): Record<string, number>;
  /** The write of a new notice, to run inside the feed's batch. */
  insert(venueId: string, n: PaymentNotice, now: number): (db: Database.Database) => void;
  /** The write of a state change, to run inside the feed's batch. */
  update(paymentId: string, state: PaymentState, detail: string | undefined, now: number): (db: Database.Database) => void;
}

interface Raw {
  payment_id: string; venue_id: string; order_id: string; amount: number; tips: number | null; paid_at: string;
  state: PaymentState; detail: string | null; updated_at: number; received_at: number;
}

function view(r: Raw): PaymentRow {
  return {
    paymentId: r.payment_id, venueId: r.venue_id, orderId: r.order_id, state: r.state, amount: r.amount,
    ...(r.tips !== null ? { tips: r.tips } : {}), paidAt: r.paid_at, updatedAt: new Date(r.updated_at).toISOString(),
    ...(r.detail ? { detail: r.detail } : {}), receivedAt: r.received_at,
  };
}

export function openLedger(db: Database.Database): Ledger {
  db.exec(`CREATE TABLE IF NOT EXISTS payments (
    payment_id TEXT PRIMARY KEY, venue_id TEXT NOT NULL, order_id TEXT NOT NULL, amount REAL NOT NULL, tips REAL,
    paid_at TEXT NOT NULL, state TEXT NOT NULL, detail TEXT, updated_at INTEGER NOT NULL, received_at INTEGER NOT NULL)`);
  db.exec('CREATE INDEX IF NOT EXISTS payments_state ON payments (state)');
  const q = {
    get: db.prepare<[string], Raw>('SELECT * FROM payments WHERE payment_id = ?'),
    active: db.prepare<[], Raw>("SELECT * FROM payments WHERE state IN ('notified', 'pending-close') ORDER BY received_at"),
    list: db.prepare<[number], Raw>('SELECT * FROM payments ORDER BY received_at DESC LIMIT ?'),
    counts: db.prepare<[], { state: string; n: number }>('SELECT state, COUNT(*) AS n FROM payments GROUP BY state'),
    insert: db.prepare(`INSERT INTO payments (payment_id, venue_id, order_id, amount, tips, paid_at, state, detail, updated_at, received_at)
      VALUES (?, ?, ?, ?, ?, ?, 'notified', NULL, ?, ?)`),
    update: db.prepare('UPDATE payments SET state = ?, detail = ?, updated_at = ? WHERE payment_id = ?'),
  };
  return {
    get: (id) => { const r = q.get.get(id); return r ? view(r) : null; },
    active: () => q.active.all().map(view),
    list: (limit) => q.list.all(limit).map(view),
    counts: () => Object.fromEntries(q.counts.all().map((r) => [r.state, r.n])),
    insert: (venueId, n, now) => () => {
      q.insert.run(n.paymentId, venueId, n.orderId.toLowerCase(), n.amount, n.tips ?? null, n.paidAt, now, now);
    },
    update: (paymentId, state, detail, now) => () => {
      q.update.run(state, detail ?? null, now, paymentId);
    },
  };
}
