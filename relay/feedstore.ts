/**
 * The feed's storage on the relay: events, webhook targets and delivery state,
 * payments. `FeedStore` is the interface the rest of the relay codes against
 * (async, so a Postgres implementation fits it); `SqliteFeedStore` is the
 * embedded default in the relay's own SQLite file.
 *
 * Portability rules for the later Postgres + Redis issue: DML uses only
 * `INSERT … ON CONFLICT … DO NOTHING/UPDATE`, `COALESCE`, plain joins and
 * `?` placeholders (a driver maps them to `$n`); DDL differs per dialect only
 * in `id INTEGER PRIMARY KEY` (Postgres: `BIGINT GENERATED ALWAYS AS IDENTITY`).
 * Nothing another node would need lives only in memory: delivery cursors,
 * retry times, leases and queued payments are all rows here.
 */
import type Database from 'better-sqlite3';
import type { Envelope, PaymentNotice, PaymentView } from '../protocol/events.ts';
import { statementCache } from './sqlite.ts';

/** One stored event: the envelope plus where and when the relay stored it. */
export interface StoredEvent {
  /** Storage order on this relay (webhooks deliver in this order). */
  id: number;
  envelope: Envelope;
  storedAt: number;
}

export interface WebhookTarget {
  url: string;
  secret: string;
}

/** A batch a webhook worker holds the lease for; a retry resends exactly these events under the same delivery id. */
export interface WebhookBatch {
  deliveryId: string;
  events: StoredEvent[];
  /** Attempts already made for this batch (0 on the first). */
  attempts: number;
}

export interface DeliveryState {
  /** The last event (by storage order) the receiver accepted, or 0. */
  deliveredId: number;
  /** Events stored and not yet accepted. */
  backlog: number;
  attempts: number;
  nextAt: number | null;
  lastError: string | null;
  /** When the receiver last accepted a batch. */
  deliveredAt: number | null;
}

export interface PaymentRow {
  notice: PaymentNotice;
  view: PaymentView;
}

/** A payment view as a PaymentUpdate event carries it, with the event's seq to order updates. */
export interface PaymentUpdate {
  view: PaymentView;
  seq: number;
}

export interface FeedStore {
  /**
   * Stores the events of one venue in one transaction, skipping eventIds it
   * already has, and applies the payment updates they carry. When it resolves,
   * every event is durable (the caller may ack them all).
   */
  appendEvents(venueId: string, events: Envelope[], payments: PaymentUpdate[], now: number): Promise<{ inserted: number; duplicates: number }>;
  /** Events of the venue with seq > afterSeq, in seq order, at most `limit`. */
  listEvents(venueId: string, afterSeq: number, limit: number): Promise<Envelope[]>;

  setWebhook(venueId: string, target: WebhookTarget | null, now: number): Promise<void>;
  getWebhook(venueId: string): Promise<WebhookTarget | null>;
  /** Venues with events not yet delivered: all venues when `everyVenue` (a relay-wide URL), else those with their own target. */
  pendingWebhookVenues(everyVenue: boolean): Promise<string[]>;
  /**
   * Takes the venue's next batch under a lease for `owner` until `leaseUntil`,
   * or null (nothing to send, another owner holds a live lease, or the retry
   * time has not come). A batch, once formed, is fixed until it is delivered.
   */
  claimBatch(venueId: string, owner: string, now: number, leaseUntil: number, max: number, newDeliveryId: () => string): Promise<WebhookBatch | null>;
  /** Advances the cursor past the batch and drops the lease; false if `owner` no longer held it. */
  finishBatch(venueId: string, owner: string, deliveryId: string, now: number): Promise<boolean>;
  /** Records a failed attempt and when to retry, and drops the lease. */
  failBatch(venueId: string, owner: string, deliveryId: string, error: string, nextAt: number): Promise<void>;
  deliveryState(venueId: string): Promise<DeliveryState>;
  /** Events not yet delivered, summed over the venues `pendingWebhookVenues` would list. */
  webhookBacklog(everyVenue: boolean): Promise<number>;

  /** Adds a notice as `queued` unless its paymentId is known; returns the row either way. */
  addPayment(venueId: string, notice: PaymentNotice, now: number): Promise<{ created: boolean; row: PaymentRow }>;
  getPayment(venueId: string, paymentId: string): Promise<PaymentRow | null>;
  /** Payments of the venue still `queued`, oldest first. */
  queuedPayments(venueId: string): Promise<PaymentRow[]>;
  /** Venues that have queued payments. */
  venuesWithQueuedPayments(): Promise<string[]>;
  /** The companion's answer to a notice: applied only while the payment is still `queued` (an event may already have moved it on). */
  paymentNotified(venueId: string, view: PaymentView): Promise<void>;
}

/** Each entry brings the feed's tables from version i to i+1; never edit a shipped one, append. */
const FEED_MIGRATIONS: string[] = [
  `CREATE TABLE feed_events (
     id INTEGER PRIMARY KEY,
     venue_id TEXT NOT NULL,
     event_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     event_type TEXT NOT NULL,
     body TEXT NOT NULL,
     stored_at INTEGER NOT NULL,
     UNIQUE (venue_id, event_id)
   );
   CREATE INDEX feed_events_seq ON feed_events (venue_id, seq, id);
   CREATE INDEX feed_events_order ON feed_events (venue_id, id);
   CREATE TABLE webhook_targets (
     venue_id TEXT PRIMARY KEY,
     url TEXT NOT NULL,
     secret TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE webhook_state (
     venue_id TEXT PRIMARY KEY,
     delivered_id INTEGER NOT NULL,
     delivered_at INTEGER,
     batch_last_id INTEGER,
     delivery_id TEXT,
     attempts INTEGER NOT NULL,
     next_at INTEGER,
     lease_owner TEXT,
     lease_until INTEGER,
     last_error TEXT
   );
   CREATE TABLE payments (
     id INTEGER PRIMARY KEY,
     venue_id TEXT NOT NULL,
     payment_id TEXT NOT NULL,
     notice TEXT NOT NULL,
     state TEXT NOT NULL,
     view TEXT NOT NULL,
     updated_seq INTEGER,
     created_at INTEGER NOT NULL,
     UNIQUE (venue_id, payment_id)
   );
   CREATE INDEX payments_state ON payments (state, venue_id, id);`,
];

interface RawEvent { id: number; body: string; stored_at: number }
interface RawState {
  delivered_id: number; delivered_at: number | null; batch_last_id: number | null; delivery_id: string | null;
  attempts: number; next_at: number | null; lease_owner: string | null; lease_until: number | null; last_error: string | null;
}
interface RawPayment { notice: string; view: string; state: string }

const toPayment = (r: RawPayment): PaymentRow => ({ notice: JSON.parse(r.notice) as PaymentNotice, view: JSON.parse(r.view) as PaymentView });

/** The embedded FeedStore: one SQLite connection shared with the venue store (WAL, so readers never wait for the writer). */
export class SqliteFeedStore implements FeedStore {
  private readonly q: (sql: string) => Database.Statement;

  /** Migrates the feed's tables in `db` (its own version track, so venue migrations stay independent). */
  constructor(private readonly db: Database.Database) {
    db.exec('CREATE TABLE IF NOT EXISTS schema_parts (part TEXT PRIMARY KEY, version INTEGER NOT NULL)');
    const row = db.prepare("SELECT version FROM schema_parts WHERE part = 'feed'").get() as { version: number } | undefined;
    for (let v = row?.version ?? 0; v < FEED_MIGRATIONS.length; v++) {
      const sql = FEED_MIGRATIONS[v] as string;
      db.transaction(() => {
        db.exec(sql);
        db.prepare(`INSERT INTO schema_parts (part, version) VALUES ('feed', ?)
                    ON CONFLICT (part) DO UPDATE SET version = excluded.version`).run(v + 1);
      }).immediate();
    }
    this.q = statementCache(db);
  }


  async appendEvents(venueId: string, events: Envelope[], payments: PaymentUpdate[], now: number) {
    return this.db.transaction(() => {
      let inserted = 0;
      const ins = this.q(`INSERT INTO feed_events (venue_id, event_id, seq, event_type, body, stored_at) VALUES (?, ?, ?, ?, ?, ?)
                          ON CONFLICT (venue_id, event_id) DO NOTHING`);
      for (const e of events) inserted += ins.run(venueId, e.eventId, e.seq, e.eventType, JSON.stringify(e), now).changes;
      const upd = this.q(`INSERT INTO payments (venue_id, payment_id, notice, state, view, updated_seq, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                          ON CONFLICT (venue_id, payment_id) DO UPDATE SET state = excluded.state, view = excluded.view, updated_seq = excluded.updated_seq
                          WHERE payments.updated_seq IS NULL OR payments.updated_seq < excluded.updated_seq`);
      for (const p of payments) {
        const v = p.view;
        const notice: PaymentNotice = { paymentId: v.paymentId, orderId: v.orderId, amount: v.amount, paidAt: v.paidAt, ...(v.tips !== undefined ? { tips: v.tips } : {}) };
        upd.run(venueId, v.paymentId, JSON.stringify(notice), v.state, JSON.stringify(v), p.seq, now);
      }
      return { inserted, duplicates: events.length - inserted };
    }).immediate();
  }

  async listEvents(venueId: string, afterSeq: number, limit: number): Promise<Envelope[]> {
    const rows = this.q('SELECT id, body, stored_at FROM feed_events WHERE venue_id = ? AND seq > ? ORDER BY seq, id LIMIT ?')
      .all(venueId, afterSeq, limit) as RawEvent[];
    return rows.map((r) => JSON.parse(r.body) as Envelope);
  }

  async setWebhook(venueId: string, target: WebhookTarget | null, now: number): Promise<void> {
    if (!target) return void this.q('DELETE FROM webhook_targets WHERE venue_id = ?').run(venueId);
    this.q(`INSERT INTO webhook_targets (venue_id, url, secret, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (venue_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, updated_at = excluded.updated_at`)
      .run(venueId, target.url, target.secret, now);
    // A receiver just (re)configured is tried at once, not after the old one's backoff.
    this.q('UPDATE webhook_state SET next_at = NULL WHERE venue_id = ?').run(venueId);
  }

  async getWebhook(venueId: string): Promise<WebhookTarget | null> {
    const r = this.q('SELECT url, secret FROM webhook_targets WHERE venue_id = ?').get(venueId) as WebhookTarget | undefined;
    return r ? { url: r.url, secret: r.secret } : null;
  }

  /**
   * Per venue, one range probe on (venue_id, id) past its cursor: cheap with
   * months of delivered events, which a join over all events would not be.
   */
  private pendingSql(everyVenue: boolean, select: string): string {
    const scope = everyVenue ? '' : 'AND v.id IN (SELECT venue_id FROM webhook_targets)';
    return `SELECT ${select} FROM venues v LEFT JOIN webhook_state s ON s.venue_id = v.id
            WHERE EXISTS (SELECT 1 FROM feed_events e WHERE e.venue_id = v.id AND e.id > COALESCE(s.delivered_id, 0)) ${scope}`;
  }

  async pendingWebhookVenues(everyVenue: boolean): Promise<string[]> {
    return (this.q(this.pendingSql(everyVenue, 'v.id AS v')).all() as Array<{ v: string }>).map((r) => r.v);
  }

  async webhookBacklog(everyVenue: boolean): Promise<number> {
    const n = this.q(this.pendingSql(everyVenue,
      'SUM((SELECT COUNT(*) FROM feed_events e WHERE e.venue_id = v.id AND e.id > COALESCE(s.delivered_id, 0))) AS n')).get() as { n: number | null };
    return n.n ?? 0;
  }

  async claimBatch(venueId: string, owner: string, now: number, leaseUntil: number, max: number, newDeliveryId: () => string): Promise<WebhookBatch | null> {
    return this.db.transaction((): WebhookBatch | null => {
      this.q(`INSERT INTO webhook_state (venue_id, delivered_id, attempts) VALUES (?, 0, 0) ON CONFLICT (venue_id) DO NOTHING`).run(venueId);
      const s = this.q('SELECT * FROM webhook_state WHERE venue_id = ?').get(venueId) as RawState;
      if (s.lease_owner !== null && s.lease_owner !== owner && (s.lease_until ?? 0) > now) return null;
      if (s.next_at !== null && s.next_at > now) return null;
      let rows: RawEvent[];
      if (s.batch_last_id !== null) {
        rows = this.q('SELECT id, body, stored_at FROM feed_events WHERE venue_id = ? AND id > ? AND id <= ? ORDER BY id')
          .all(venueId, s.delivered_id, s.batch_last_id) as RawEvent[];
      } else {
        rows = this.q('SELECT id, body, stored_at FROM feed_events WHERE venue_id = ? AND id > ? ORDER BY id LIMIT ?')
          .all(venueId, s.delivered_id, max) as RawEvent[];
      }
      if (rows.length === 0) return null;
      const last = (rows[rows.length - 1] as RawEvent).id;
      const deliveryId = s.delivery_id ?? newDeliveryId();
      this.q('UPDATE webhook_state SET batch_last_id = ?, delivery_id = ?, lease_owner = ?, lease_until = ? WHERE venue_id = ?')
        .run(last, deliveryId, owner, leaseUntil, venueId);
      return {
        deliveryId, attempts: s.attempts,
        events: rows.map((r) => ({ id: r.id, envelope: JSON.parse(r.body) as Envelope, storedAt: r.stored_at })),
      };
    }).immediate();
  }

  async finishBatch(venueId: string, owner: string, deliveryId: string, now: number): Promise<boolean> {
    const r = this.q(`UPDATE webhook_state SET delivered_id = batch_last_id, delivered_at = ?, batch_last_id = NULL, delivery_id = NULL,
                        attempts = 0, next_at = NULL, lease_owner = NULL, lease_until = NULL, last_error = NULL
                      WHERE venue_id = ? AND lease_owner = ? AND delivery_id = ?`).run(now, venueId, owner, deliveryId);
    return r.changes === 1;
  }

  async failBatch(venueId: string, owner: string, deliveryId: string, error: string, nextAt: number): Promise<void> {
    this.q(`UPDATE webhook_state SET attempts = attempts + 1, next_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL
            WHERE venue_id = ? AND lease_owner = ? AND delivery_id = ?`).run(nextAt, error.slice(0, 300), venueId, owner, deliveryId);
  }

  async deliveryState(venueId: string): Promise<DeliveryState> {
    const s = this.q('SELECT * FROM webhook_state WHERE venue_id = ?').get(venueId) as RawState | undefined;
    const deliveredId = s?.delivered_id ?? 0;
    const backlog = (this.q('SELECT COUNT(*) AS n FROM feed_events WHERE venue_id = ? AND id > ?').get(venueId, deliveredId) as { n: number }).n;
    return {
      deliveredId, backlog, attempts: s?.attempts ?? 0, nextAt: s?.next_at ?? null,
      lastError: s?.last_error ?? null, deliveredAt: s?.delivered_at ?? null,
    };
  }

  async addPayment(venueId: string, notice: PaymentNotice, now: number) {
    return this.db.transaction(() => {
      const view: PaymentView = { ...notice, state: 'queued', updatedAt: new Date(now).toISOString() };
      const r = this.q(`INSERT INTO payments (venue_id, payment_id, notice, state, view, created_at) VALUES (?, ?, ?, 'queued', ?, ?)
                        ON CONFLICT (venue_id, payment_id) DO NOTHING`)
        .run(venueId, notice.paymentId, JSON.stringify(notice), JSON.stringify(view), now);
      const row = this.q('SELECT notice, view, state FROM payments WHERE venue_id = ? AND payment_id = ?').get(venueId, notice.paymentId) as RawPayment;
      return { created: r.changes === 1, row: toPayment(row) };
    }).immediate();
  }

  async getPayment(venueId: string, paymentId: string): Promise<PaymentRow | null> {
    const r = this.q('SELECT notice, view, state FROM payments WHERE venue_id = ? AND payment_id = ?').get(venueId, paymentId) as RawPayment | undefined;
    return r ? toPayment(r) : null;
  }

  async queuedPayments(venueId: string): Promise<PaymentRow[]> {
    return (this.q("SELECT notice, view, state FROM payments WHERE state = 'queued' AND venue_id = ? ORDER BY id").all(venueId) as RawPayment[]).map(toPayment);
  }

  async venuesWithQueuedPayments(): Promise<string[]> {
    return (this.q("SELECT DISTINCT venue_id AS v FROM payments WHERE state = 'queued'").all() as Array<{ v: string }>).map((r) => r.v);
  }

  async paymentNotified(venueId: string, view: PaymentView): Promise<void> {
    this.q(`UPDATE payments SET state = ?, view = ? WHERE venue_id = ? AND payment_id = ? AND state = 'queued'`)
      .run(view.state, JSON.stringify(view), venueId, view.paymentId);
  }
}
