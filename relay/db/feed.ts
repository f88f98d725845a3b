/**
 * The feed's storage on the relay, on Kysely for SQLite and Postgres alike:
 * events, webhook targets and delivery state, payments. The races two relay
 * nodes can run into are settled by the database: an event is stored once by
 * (venue_id, event_id), a webhook lease is taken under the venue's state-row
 * lock, and nothing a node needs lives only in its memory (delivery cursors,
 * retry times, leases and queued payments are all rows).
 */
import { sql, type CompiledQuery, type Kysely } from 'kysely';
import { MAX_SEQ_STEP, type Envelope, type PaymentNotice, type PaymentView } from '../../protocol/events.ts';
import type { WebhookFormat } from '../../protocol/relay.ts';
import { applied, updateProblem } from '../moves.ts';
import { compiled } from './hot.ts';
import type { Db } from './open.ts';
import type { Tables, WebhookStateTable } from './schema.ts';

/** One stored event: the envelope plus where and when the relay stored it. */
export interface StoredEvent {
  /** Storage order on this relay (webhooks deliver in this order). */
  id: number;
  envelope: Envelope;
  storedAt: number;
}

export interface WebhookTarget {
  url: string;
  /** The HMAC secret; null when the receiver has none (an iiko-cloud one that authenticates by its token). */
  secret: string | null;
  /** What body the receiver takes (protocol/relay.ts WebhookFormat). */
  format: WebhookFormat;
  /** The iiko-cloud receiver's authToken, sent as `Authorization`. */
  authToken: string | null;
}

/** A venue's iiko ids, as the iiko-cloud format names them. */
export interface IikoIds {
  organizationId: string | null;
  terminalGroupId: string | null;
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

/** One event as it arrived on a venue's tunnel, after the intake judged what it can judge alone (relay/events.ts). */
export interface Arrival {
  /** The frame's event id and seq: what the companion acks by and numbers with. */
  eventId: string;
  seq: number;
  /** The envelope to store; null when the intake already refused the event (`refused` says why). */
  envelope: Envelope | null;
  /** A PaymentUpdate's view (its shape checked): applied to EVVA's payment record if the update is allowed (relay/moves.ts). */
  payment?: PaymentView;
  /** Why the intake refused it. */
  refused?: string;
  /** For a refusal's record: the event type if known, and the event as it came (cut short). */
  eventType?: string;
  raw?: string;
  /** Its size as JSON (what the venue's limits count). */
  bytes?: number;
}

export interface AppendResult {
  inserted: number;
  /** Event ids the venue already had (stored or refused): acked again, nothing written. */
  duplicates: number;
  /** Recorded as refused (never delivered), with why: acked, so they do not hold back the events behind them. */
  refused: Array<{ eventId: string; seq: number; reason: string }>;
}

/** An event the relay refused and recorded (GET …/events/refused). */
export interface RefusedEvent {
  eventId: string;
  seq: number;
  eventType: string | null;
  reason: string;
  at: number;
}

interface RawEvent { id: number; body: string; stored_at: number }

/** Most event ids per lookup of those already stored (one parameter each). */
const LOOKUP_CHUNK = 500;
/** A refused event is kept this long (characters of its JSON), for support to see what came. */
export const REFUSED_BODY_CHARS = 4_096;

/** Most rows per INSERT: well under SQLite's and Postgres's parameter limits (6 per row). A power of two. */
const INSERT_CHUNK = 256;

/** Splits n into powers of two, largest first (100 → 64, 32, 4): a handful of distinct INSERTs serve every batch size. */
function pieces(n: number): number[] {
  const out: number[] = [];
  for (let size = INSERT_CHUNK; n > 0; size >>= 1) {
    while (n >= size) { out.push(size); n -= size; }
  }
  return out;
}

interface RawPayment { notice: string; view: string }
const toPayment = (r: RawPayment): PaymentRow => ({ notice: JSON.parse(r.notice) as PaymentNotice, view: JSON.parse(r.view) as PaymentView });

export class FeedStore {
  private readonly db: Kysely<Tables>;
  /** The insert of k events (k a power of two), compiled once per k: building it costs more than running it. */
  private readonly inserts = new Map<number, (...p: unknown[]) => CompiledQuery>();
  /** What the webhook worker runs for every batch, compiled once (parameters in the order they appear). */
  private readonly hot: {
    stateRow: (venueId: string) => CompiledQuery;
    lockState: (venueId: string) => CompiledQuery<WebhookStateTable>;
    pendingEvents: (venueId: string, after: number, max: number) => CompiledQuery<RawEvent>;
    batchEvents: (venueId: string, after: number, upTo: number) => CompiledQuery<RawEvent>;
    hold: (batchLast: number, deliveryId: string, owner: string, leaseUntil: number, venueId: string) => CompiledQuery;
    finish: (now: number, venueId: string, owner: string, deliveryId: string) => CompiledQuery;
    target: (venueId: string) => CompiledQuery<{ url: string; secret: string; format: string | null; auth_token: string | null }>;
  };

  constructor(private readonly base: Db) {
    this.db = base.db;
    const db = this.db;
    const events = () => db.selectFrom('feed_events').select(['id', 'body', 'stored_at']).where('venue_id', '=', '').where('id', '>', 0);
    this.hot = {
      stateRow: compiled(db.insertInto('webhook_state').values({ venue_id: '', delivered_id: sql<number>`0`, attempts: sql<number>`0` })
        .onConflict((oc) => oc.column('venue_id').doNothing())),
      // The row lock makes the lease check and take one step for every node (SQLite's single writer already does).
      lockState: compiled(db.selectFrom('webhook_state').selectAll().where('venue_id', '=', '')
        .$if(base.dialect === 'postgres', (q) => q.forUpdate())),
      pendingEvents: compiled(events().orderBy('id').limit(0)),
      batchEvents: compiled(events().where('id', '<=', 0).orderBy('id')),
      hold: compiled(db.updateTable('webhook_state').set({ batch_last_id: 0, delivery_id: '', lease_owner: '', lease_until: 0 }).where('venue_id', '=', '')),
      finish: compiled(db.updateTable('webhook_state')
        .set((eb) => ({ delivered_id: sql<number>`${eb.ref('batch_last_id')}`, delivered_at: 0, batch_last_id: sql<null>`null`, delivery_id: sql<null>`null`,
          attempts: sql<number>`0`, next_at: sql<null>`null`, lease_owner: sql<null>`null`, lease_until: sql<null>`null`, last_error: sql<null>`null` }))
        .where('venue_id', '=', '').where('lease_owner', '=', '').where('delivery_id', '=', '')),
      target: compiled(db.selectFrom('webhook_targets').select(['url', 'secret', 'format', 'auth_token']).where('venue_id', '=', '')),
    };
  }

  private insertOf(k: number): (...p: unknown[]) => CompiledQuery {
    let q = this.inserts.get(k);
    if (!q) {
      const row = { venue_id: '', event_id: '', seq: 0, event_type: '', body: '', stored_at: 0 };
      q = compiled(this.db.insertInto('feed_events').values(Array.from({ length: k }, () => row))
        .onConflict((oc) => oc.columns(['venue_id', 'event_id']).doNothing()));
      this.inserts.set(k, q);
    }
    return q;
  }

  /**
   * Stores the events of one venue in one transaction, in order: an event id
   * the venue already has is a duplicate; a new event must follow the venue's
   * last seq (MAX_SEQ_STEP; a companion starting again at 1 continues after
   * it, and the stored envelope carries the venue's seq); a PaymentUpdate
   * must be a move of a payment EVVA posted (relay/moves.ts) and is applied to
   * it. An event that fails, or that the intake refused, is recorded as
   * refused and its seq still counts. When it resolves every event is durable
   * or recorded (the caller may ack them all).
   */
  async appendEvents(venueId: string, arrivals: Arrival[], now: number): Promise<AppendResult> {
    const result: AppendResult = { inserted: 0, duplicates: 0, refused: [] };
    if (arrivals.length === 0) return result;
    const pg = this.base.dialect === 'postgres';
    return this.base.tx(async (t) => {
      // The venue's numbering, locked for the transaction (two nodes holding two links of one venue take turns).
      await t.insertInto('feed_state')
        .values({ venue_id: venueId, last_seq: sql<number>`coalesce((select max(seq) from feed_events where venue_id = ${venueId}), 0)`, seq_base: 0 })
        .onConflict((oc) => oc.column('venue_id').doNothing()).execute();
      const state = await t.selectFrom('feed_state').select(['last_seq', 'seq_base']).where('venue_id', '=', venueId)
        .$if(pg, (q) => q.forUpdate()).executeTakeFirstOrThrow();
      let last = state.last_seq;
      let base = state.seq_base;
      const ids = [...new Set(arrivals.map((a) => a.eventId))];
      const known = new Set<string>();
      for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
        const chunk = ids.slice(i, i + LOOKUP_CHUNK);
        for (const r of await t.selectFrom('feed_events').select('event_id').where('venue_id', '=', venueId).where('event_id', 'in', chunk).execute()) known.add(r.event_id);
        for (const r of await t.selectFrom('feed_refused').select('event_id').where('venue_id', '=', venueId).where('event_id', 'in', chunk).execute()) known.add(r.event_id);
      }
      const payIds = [...new Set(arrivals.flatMap((a) => (a.payment ? [a.payment.paymentId] : [])))];
      const posted = new Map<string, { notice: PaymentNotice; view: PaymentView; updatedSeq: number | null }>();
      if (payIds.length) {
        const rows = await t.selectFrom('payments').select(['payment_id', 'notice', 'view', 'updated_seq'])
          .where('venue_id', '=', venueId).where('payment_id', 'in', payIds).$if(pg, (q) => q.forUpdate()).execute();
        for (const r of rows) posted.set(r.payment_id, { ...toPayment(r), updatedSeq: r.updated_seq });
      }
      const store: Array<{ env: Envelope; body: string }> = [];
      const refused: Array<{ a: Arrival; seq: number; reason: string }> = [];
      const changed = new Map<string, { view: PaymentView; seq: number }>();
      for (const a of arrivals) {
        if (known.has(a.eventId)) {
          result.duplicates++;
          continue;
        }
        known.add(a.eventId);
        // A new event follows the venue's last one; a companion starting again at 1 (wiped, paired anew) continues after it.
        let seq = base + a.seq;
        if (!(seq > last && seq <= last + MAX_SEQ_STEP)) {
          if (a.seq === 1 && last > 0) {
            base = last;
            seq = last + 1;
          } else {
            // Not counted: the numbering stays where it was, so the next good event still follows.
            const reason = `seq ${a.seq} does not follow the venue's last event (seq ${last - base}): a new event comes after it, at most ${MAX_SEQ_STEP} later`;
            refused.push({ a, seq: a.seq, reason });
            continue;
          }
        }
        last = seq;
        let why = a.refused ?? (a.envelope ? null : 'not an event');
        if (why === null && a.payment) {
          const p = posted.get(a.payment.paymentId) ?? null;
          why = updateProblem(p, a.payment);
          if (why === null && p) {
            const view = applied(p.notice, a.payment);
            posted.set(a.payment.paymentId, { ...p, view });
            changed.set(a.payment.paymentId, { view, seq });
          }
        }
        if (why !== null) {
          refused.push({ a, seq, reason: why });
          continue;
        }
        const env = { ...(a.envelope as Envelope), seq };
        store.push({ env, body: JSON.stringify(env) });
      }
      let at = 0;
      for (const k of pieces(store.length)) {
        const chunk = store.slice(at, at += k);
        // Parameters row by row, in the order of the compiled row's columns.
        const params = chunk.flatMap((e) => [venueId, e.env.eventId, e.env.seq, e.env.eventType, e.body, now]);
        const r = await t.executeQuery(this.insertOf(chunk.length)(...params));
        result.inserted += Number(r.numAffectedRows ?? 0n);
      }
      for (const r of refused) {
        await t.insertInto('feed_refused').values({
          venue_id: venueId, event_id: r.a.eventId, seq: r.seq, event_type: r.a.envelope?.eventType ?? r.a.eventType ?? null,
          reason: r.reason.slice(0, 500), body: r.a.raw === undefined ? null : r.a.raw.slice(0, REFUSED_BODY_CHARS), stored_at: now,
        }).onConflict((oc) => oc.columns(['venue_id', 'event_id']).doNothing()).execute();
        result.refused.push({ eventId: r.a.eventId, seq: r.seq, reason: r.reason });
      }
      for (const [paymentId, c] of changed) {
        await t.updateTable('payments').set({ state: c.view.state, view: JSON.stringify(c.view), updated_seq: c.seq })
          .where('venue_id', '=', venueId).where('payment_id', '=', paymentId)
          .where((eb) => eb.or([eb('updated_seq', 'is', null), eb('updated_seq', '<', c.seq)])).execute();
      }
      if (last !== state.last_seq || base !== state.seq_base) {
        await t.updateTable('feed_state').set({ last_seq: last, seq_base: base }).where('venue_id', '=', venueId).execute();
      }
      return result;
    });
  }

  /** The venue's refused events, newest first. */
  async listRefused(venueId: string, limit: number): Promise<RefusedEvent[]> {
    const rows = await this.db.selectFrom('feed_refused').select(['event_id', 'seq', 'event_type', 'reason', 'stored_at'])
      .where('venue_id', '=', venueId).orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({ eventId: r.event_id, seq: r.seq, eventType: r.event_type, reason: r.reason, at: r.stored_at }));
  }

  /**
   * Retention: deletes at most `max` events stored before `cutoff` that no
   * receiver still needs (delivered, for venues with a receiver; all, for
   * venues EVVA pulls) and refusals older than it. Returns how many went.
   */
  async prune(cutoff: number, everyVenue: boolean, max: number): Promise<number> {
    // A venue with a receiver keeps what it has not accepted yet; a venue EVVA pulls had the whole retention to pull.
    const hasReceiver = everyVenue ? sql<boolean>`1 = 1` : sql<boolean>`e.venue_id in (select venue_id from webhook_targets)`;
    const doomed = this.db.selectFrom('feed_events as e').leftJoin('webhook_state as s', 's.venue_id', 'e.venue_id').select('e.id')
      .where('e.stored_at', '<', cutoff)
      .where((eb) => eb.or([eb.not(hasReceiver), eb('e.id', '<=', sql<number>`coalesce(s.delivered_id, 0)`)]))
      .orderBy('e.id').limit(max);
    const r = await this.db.deleteFrom('feed_events').where('id', 'in', doomed).executeTakeFirst();
    const left = Math.max(0, max - Number(r.numDeletedRows));
    let refused = 0n;
    if (left > 0) {
      const old = this.db.selectFrom('feed_refused').select('id').where('stored_at', '<', cutoff).orderBy('id').limit(left);
      refused = (await this.db.deleteFrom('feed_refused').where('id', 'in', old).executeTakeFirst()).numDeletedRows;
    }
    return Number(r.numDeletedRows) + Number(refused);
  }

  /** Events of the venue with seq > afterSeq, in seq order, at most `limit`. */
  async listEvents(venueId: string, afterSeq: number, limit: number): Promise<Envelope[]> {
    const rows = await this.db.selectFrom('feed_events').select('body')
      .where('venue_id', '=', venueId).where('seq', '>', afterSeq).orderBy('seq').orderBy('id').limit(limit).execute();
    return rows.map((r) => JSON.parse(r.body) as Envelope);
  }

  async setWebhook(venueId: string, target: WebhookTarget | null, now: number): Promise<void> {
    if (!target) {
      await this.db.deleteFrom('webhook_targets').where('venue_id', '=', venueId).execute();
      return;
    }
    await this.base.tx(async (t) => {
      const row = { venue_id: venueId, url: target.url, secret: target.secret ?? '', format: target.format, auth_token: target.authToken, updated_at: now };
      await t.insertInto('webhook_targets').values(row)
        .onConflict((oc) => oc.column('venue_id').doUpdateSet((eb) => ({
          url: eb.ref('excluded.url'), secret: eb.ref('excluded.secret'), format: eb.ref('excluded.format'),
          auth_token: eb.ref('excluded.auth_token'), updated_at: eb.ref('excluded.updated_at'),
        })))
        .execute();
      // A receiver just (re)configured is tried at once, not after the old one's backoff.
      await t.updateTable('webhook_state').set({ next_at: null }).where('venue_id', '=', venueId).execute();
    });
  }

  async getWebhook(venueId: string): Promise<WebhookTarget | null> {
    const r = (await this.db.executeQuery(this.hot.target(venueId))).rows[0];
    return r ? { url: r.url, secret: r.secret || null, format: r.format === 'iiko-cloud' ? 'iiko-cloud' : 'evva', authToken: r.auth_token } : null;
  }

  /** Sets the venue's iiko ids; a field left undefined keeps its value, null clears it. */
  async setIikoIds(venueId: string, ids: Partial<IikoIds>, now: number): Promise<IikoIds> {
    return this.base.tx(async (t) => {
      const old = await t.selectFrom('venue_iiko').selectAll().where('venue_id', '=', venueId).executeTakeFirst();
      const next: IikoIds = {
        organizationId: ids.organizationId !== undefined ? ids.organizationId : old?.organization_id ?? null,
        terminalGroupId: ids.terminalGroupId !== undefined ? ids.terminalGroupId : old?.terminal_group_id ?? null,
      };
      await t.insertInto('venue_iiko').values({ venue_id: venueId, organization_id: next.organizationId, terminal_group_id: next.terminalGroupId, updated_at: now })
        .onConflict((oc) => oc.column('venue_id').doUpdateSet((eb) => ({
          organization_id: eb.ref('excluded.organization_id'), terminal_group_id: eb.ref('excluded.terminal_group_id'), updated_at: eb.ref('excluded.updated_at'),
        })))
        .execute();
      return next;
    });
  }

  async getIikoIds(venueId: string): Promise<IikoIds> {
    const r = await this.db.selectFrom('venue_iiko').select(['organization_id', 'terminal_group_id']).where('venue_id', '=', venueId).executeTakeFirst();
    return { organizationId: r?.organization_id ?? null, terminalGroupId: r?.terminal_group_id ?? null };
  }

  /**
   * Per venue, one range probe on (venue_id, id) past its cursor: cheap with
   * months of delivered events, which a join over all events would not be.
   */
  private pending(everyVenue: boolean) {
    return this.db.selectFrom('venues as v').leftJoin('webhook_state as s', 's.venue_id', 'v.id')
      .where(({ exists, selectFrom }) => exists(selectFrom('feed_events as e').select(sql.lit(1).as('one'))
        .whereRef('e.venue_id', '=', 'v.id').where('e.id', '>', sql<number>`coalesce(s.delivered_id, 0)`)))
      .$if(!everyVenue, (q) => q.where('v.id', 'in', (eb) => eb.selectFrom('webhook_targets').select('venue_id')));
  }

  /** Venues with events not yet delivered: all venues when `everyVenue` (a relay-wide URL), else those with their own target. */
  async pendingWebhookVenues(everyVenue: boolean): Promise<string[]> {
    return (await this.pending(everyVenue).select('v.id as v').execute()).map((r) => r.v);
  }

  /** Events not yet delivered, summed over the venues `pendingWebhookVenues` would list. */
  async webhookBacklog(everyVenue: boolean): Promise<number> {
    const r = await this.pending(everyVenue)
      .select(sql<number | null>`sum((select count(*) from feed_events e where e.venue_id = v.id and e.id > coalesce(s.delivered_id, 0)))`.as('n'))
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /**
   * Takes the venue's next batch under a lease for `owner` until `leaseUntil`,
   * or null (nothing to send, another owner holds a live lease, or the retry
   * time has not come). A batch, once formed, is fixed until it is delivered.
   */
  async claimBatch(venueId: string, owner: string, now: number, leaseUntil: number, max: number, newDeliveryId: () => string): Promise<WebhookBatch | null> {
    return this.base.tx(async (t) => {
      await t.executeQuery(this.hot.stateRow(venueId));
      const s = (await t.executeQuery(this.hot.lockState(venueId))).rows[0];
      if (!s) throw new Error(`webhook state of ${venueId} vanished`);
      if (s.lease_owner !== null && s.lease_owner !== owner && (s.lease_until ?? 0) > now) return null;
      if (s.next_at !== null && s.next_at > now) return null;
      // A batch once formed is resent as it was; else the next events past the cursor.
      const q = s.batch_last_id !== null ? this.hot.batchEvents(venueId, s.delivered_id, s.batch_last_id) : this.hot.pendingEvents(venueId, s.delivered_id, max);
      const rows = (await t.executeQuery(q)).rows;
      const last = rows.at(-1);
      if (!last) return null;
      const deliveryId = s.delivery_id ?? newDeliveryId();
      await t.executeQuery(this.hot.hold(last.id, deliveryId, owner, leaseUntil, venueId));
      return {
        deliveryId, attempts: s.attempts,
        events: rows.map((r) => ({ id: r.id, envelope: JSON.parse(r.body) as Envelope, storedAt: r.stored_at })),
      };
    });
  }

  /** Advances the cursor past the batch and drops the lease; false if `owner` no longer held it. */
  async finishBatch(venueId: string, owner: string, deliveryId: string, now: number): Promise<boolean> {
    const r = await this.db.executeQuery(this.hot.finish(now, venueId, owner, deliveryId));
    return Number(r.numAffectedRows) === 1;
  }

  /** Records a failed attempt and when to retry, and drops the lease. */
  async failBatch(venueId: string, owner: string, deliveryId: string, error: string, nextAt: number): Promise<void> {
    await this.db.updateTable('webhook_state')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), next_at: nextAt, last_error: error.slice(0, 300), lease_owner: null, lease_until: null }))
      .where('venue_id', '=', venueId).where('lease_owner', '=', owner).where('delivery_id', '=', deliveryId)
      .execute();
  }

  async deliveryState(venueId: string): Promise<DeliveryState> {
    const s = await this.db.selectFrom('webhook_state').selectAll().where('venue_id', '=', venueId).executeTakeFirst();
    const deliveredId = s?.delivered_id ?? 0;
    const n = await this.db.selectFrom('feed_events').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('venue_id', '=', venueId).where('id', '>', deliveredId).executeTakeFirstOrThrow();
    return {
      deliveredId, backlog: Number(n.n), attempts: s?.attempts ?? 0, nextAt: s?.next_at ?? null,
      lastError: s?.last_error ?? null, deliveredAt: s?.delivered_at ?? null,
    };
  }

  /** Adds a notice as `queued` unless its paymentId is known; returns the row either way. */
  async addPayment(venueId: string, notice: PaymentNotice, now: number) {
    return this.base.tx(async (t) => {
      const view: PaymentView = { ...notice, state: 'queued', updatedAt: new Date(now).toISOString() };
      const r = await t.insertInto('payments')
        .values({ venue_id: venueId, payment_id: notice.paymentId, notice: JSON.stringify(notice), state: 'queued', view: JSON.stringify(view), created_at: now })
        .onConflict((oc) => oc.columns(['venue_id', 'payment_id']).doNothing()).executeTakeFirst();
      const row = await t.selectFrom('payments').select(['notice', 'view'])
        .where('venue_id', '=', venueId).where('payment_id', '=', notice.paymentId).executeTakeFirstOrThrow();
      return { created: Number(r.numInsertedOrUpdatedRows ?? 0n) === 1, row: toPayment(row) };
    });
  }

  async getPayment(venueId: string, paymentId: string): Promise<PaymentRow | null> {
    const r = await this.db.selectFrom('payments').select(['notice', 'view'])
      .where('venue_id', '=', venueId).where('payment_id', '=', paymentId).executeTakeFirst();
    return r ? toPayment(r) : null;
  }

  /** Payments of the venue still `queued`, oldest first. */
  async queuedPayments(venueId: string): Promise<PaymentRow[]> {
    const rows = await this.db.selectFrom('payments').select(['notice', 'view'])
      .where('state', '=', 'queued').where('venue_id', '=', venueId).orderBy('id').execute();
    return rows.map(toPayment);
  }

  /** Venues that have queued payments. */
  async venuesWithQueuedPayments(): Promise<string[]> {
    return (await this.db.selectFrom('payments').select('venue_id').distinct().where('state', '=', 'queued').execute()).map((r) => r.venue_id);
  }

  /** The companion's answer to a notice (already checked against the notice): applied only while the payment is still `queued` (an event may already have moved it on). */
  async paymentNotified(venueId: string, view: PaymentView): Promise<void> {
    await this.db.updateTable('payments').set({ state: view.state, view: JSON.stringify(view) })
      .where('venue_id', '=', venueId).where('payment_id', '=', view.paymentId).where('state', '=', 'queued')
      .execute();
  }
}
