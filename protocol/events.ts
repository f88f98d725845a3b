/**
 * The feed's contract between the companion and the relay (and, through the
 * relay's webhooks, EVVA): the event envelope, whose outer keys are iiko
 * Cloud webhooks' (a receiver in the relay's iiko-cloud format gets Cloud's
 * own body: relay/cloudformat.ts), plus payment notices and the commands that
 * carry them.
 * Shapes of orders, staff, tables and the menu (eventInfo) live in feed.ts.
 */
import { z } from 'zod';

export const EventType = z.enum([
  'TableOrderUpdate', 'DeliveryOrderUpdate', 'StaffUpdate', 'TablesUpdate', 'MenuSnapshot', 'PaymentUpdate', 'CompanionHealth',
]);
export type EventType = z.infer<typeof EventType>;

/** Event ids are the companion's; the relay keys duplicates on them. */
export const EventId = z.string().min(1).max(64);

/**
 * One event as the companion writes it to its outbox and sends it in an
 * `event` frame (`frame.event`). `seq` counts from 1 per venue with no gaps;
 * `eventTime` is when the companion saw the change (ISO 8601, UTC).
 */
export const Envelope = z.object({
  eventId: EventId,
  venueId: z.string().min(1).max(64),
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  eventType: EventType,
  eventTime: z.string().datetime(),
  eventInfo: z.record(z.string(), z.unknown()),
});
export type Envelope = z.infer<typeof Envelope>;

/** What a webhook POSTs: an array of these; `organizationId` = venueId and `correlationId` = eventId, as iiko Cloud names them. */
export const WebhookEvent = Envelope.extend({ organizationId: z.string(), correlationId: z.string() });
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/** At most this many events are sent and not yet acknowledged on one link. */
export const EVENTS_IN_FLIGHT = 256;

/**
 * Largest event the relay stores, as JSON (60 KiB): the companion keeps every
 * event below it (it cuts orders and splits menus, main/core/feed/size.ts), and
 * the relay refuses a larger one. Stated apart from the frame size, so a later
 * protocol revision with larger frames cannot raise it unnoticed.
 */
export const MAX_EVENT_BYTES = 60 * 1024;

/**
 * A new event's `seq` must follow the venue's last stored one: above it, and
 * at most this far above (so one event cannot push the venue's numbering to
 * 2^53 and leave every later page behind). A companion that starts again at 1
 * (its data dir wiped and paired again) continues the venue's numbering: the
 * relay stores its events after the last one (docs/relay.md, "Storing and acknowledging").
 */
export const MAX_SEQ_STEP = 1_000_000;

// ---- Payments -------------------------------------------------------------

export const PaymentId = z.string().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/);

/** True when a rouble sum has no part finer than a kopeck (floating point noise of the decimal form aside). */
export function wholeKopecks(v: number): boolean {
  const k = v * 100;
  return Math.abs(k - Math.round(k)) < 1e-6;
}
const roubles = (max: number) => z.number().max(max).refine(wholeKopecks, 'no part finer than a kopeck (0.01)');

/** A notice's paidAt may be at most this far ahead of the relay's clock (clock skew between EVVA and the relay)… */
export const PAID_AT_MAX_AHEAD_MS = 60 * 60_000;
/** …and at most this old: EVVA posts a notice right after the guest paid; older ones are mistakes. */
export const PAID_AT_MAX_AGE_MS = 90 * 24 * 60 * 60_000;

/** Why `paidAt` cannot be a real payment's time at `now`, or null when it can. */
export function paidAtProblem(paidAt: string, now: number): string | null {
  const t = Date.parse(paidAt);
  if (Number.isNaN(t)) return 'paidAt is not a time';
  if (t > now + PAID_AT_MAX_AHEAD_MS) return 'paidAt is in the future (more than an hour ahead of the relay\'s clock)';
  if (t < now - PAID_AT_MAX_AGE_MS) return 'paidAt is more than 90 days ago';
  return null;
}

/** `POST /v1/venues/:venueId/payments`: EVVA PAY took the guest's money for this iiko order. Idempotent by paymentId. */
export const PaymentNotice = z.object({
  paymentId: PaymentId,
  /** The iiko order id (the plugin's `Id`, a GUID). */
  orderId: z.string().min(1).max(64),
  /** Roubles, as the plugin's sums are, in whole kopecks. */
  amount: roubles(10_000_000).refine((v) => v > 0, 'must be positive'),
  tips: roubles(10_000_000).refine((v) => v >= 0, 'must not be negative').optional(),
  /** When the guest paid (ISO 8601); the relay also refuses one far from its own clock (paidAtProblem). */
  paidAt: z.string().datetime(),
});
export type PaymentNotice = z.infer<typeof PaymentNotice>;

/**
 * Where a payment stands. `queued`: the relay holds the notice while the venue
 * is offline; `notified`: the companion has it and waits for iiko to close the
 * order; the rest are final or alarming outcomes of watching the order.
 */
export const PaymentState = z.enum(['queued', 'notified', 'reconciled', 'mismatch', 'pending-close', 'order-deleted']);
export type PaymentState = z.infer<typeof PaymentState>;

/** `eventInfo` of a PaymentUpdate, and `GET /v1/venues/:venueId/payments/:paymentId`. */
export const PaymentView = z.object({
  paymentId: PaymentId,
  orderId: z.string(),
  state: PaymentState,
  amount: z.number(),
  tips: z.number().optional(),
  paidAt: z.string(),
  /** When the state last changed (ISO). */
  updatedAt: z.string(),
  /** Why, in Russian, for the alarm states (e.g. which payment types iiko closed the order with). */
  detail: z.string().max(500).optional(),
  /** The order's number as the cashier sees it, when the companion knows the order (its feed's cache). */
  orderNumber: z.number().int().optional(),
  /** The order's table numbers ("5" or "5, 6"), when known; absent for deliveries. */
  table: z.string().max(100).optional(),
});
export type PaymentView = z.infer<typeof PaymentView>;

/** Names of the commands the relay sends down the tunnel (main/core/commands.ts). */
export const Commands = {
  /** args: PaymentNotice; result: PaymentView (idempotent by paymentId). */
  paymentNotice: 'payment.notice',
  /** args: none; result: { queued: true } — a fresh MenuSnapshot event follows. */
  menuSync: 'menu.sync',
} as const;
