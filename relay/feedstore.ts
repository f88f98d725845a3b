/**
 * The feed's storage on the relay: events, webhook targets and delivery state,
 * payments. `FeedStore` is the interface the rest of the relay codes against;
 * relay/db/feed.ts implements it on SQLite and Postgres alike. Nothing another
 * node would need lives only in memory: delivery cursors, retry times, leases
 * and queued payments are all rows.
 */
import type { Envelope, PaymentNotice, PaymentView } from '../protocol/events.ts';
import type { WebhookFormat } from '../protocol/relay.ts';

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

export interface FeedStore {
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
  appendEvents(venueId: string, arrivals: Arrival[], now: number): Promise<AppendResult>;
  /** Events of the venue with seq > afterSeq, in seq order, at most `limit`. */
  listEvents(venueId: string, afterSeq: number, limit: number): Promise<Envelope[]>;
  /** The venue's refused events, newest first. */
  listRefused(venueId: string, limit: number): Promise<RefusedEvent[]>;
  /**
   * Retention: deletes at most `max` events stored before `cutoff` that no
   * receiver still needs (delivered, for venues with a receiver; all, for
   * venues EVVA pulls) and refusals older than it. Returns how many went.
   */
  prune(cutoff: number, everyVenue: boolean, max: number): Promise<number>;

  setWebhook(venueId: string, target: WebhookTarget | null, now: number): Promise<void>;
  getWebhook(venueId: string): Promise<WebhookTarget | null>;
  /** Sets the venue's iiko ids; a field left undefined keeps its value, null clears it. */
  setIikoIds(venueId: string, ids: Partial<IikoIds>, now: number): Promise<IikoIds>;
  getIikoIds(venueId: string): Promise<IikoIds>;
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
  /** The companion's answer to a notice (already checked against the notice): applied only while the payment is still `queued` (an event may already have moved it on). */
  paymentNotified(venueId: string, view: PaymentView): Promise<void>;
}
