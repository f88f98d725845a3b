/**
 * The payment record is EVVA's: EVVA PAY posts it (`POST …/payments`), and a
 * venue's companion may only report how it went. So an update from a venue
 * (a PaymentUpdate event, or its answer to the notice) is taken only for a
 * payment EVVA posted to that venue, only when it names the same order,
 * amount and tips, and only along the moves a payment makes; what EVVA posted
 * (order, amount, tips, paidAt) is never replaced by what the venue says.
 */
import type { PaymentNotice, PaymentState, PaymentView } from '../protocol/events.ts';

/** From each state, the states a venue's update may move a payment to (staying is allowed: a repeated report). */
export const PAYMENT_MOVES: Record<PaymentState, readonly PaymentState[]> = {
  // The notice is in flight (its answer was lost): the venue's own report says it has it.
  queued: ['notified', 'pending-close', 'reconciled', 'mismatch', 'order-deleted'],
  notified: ['notified', 'pending-close', 'reconciled', 'mismatch', 'order-deleted'],
  'pending-close': ['pending-close', 'reconciled', 'mismatch', 'order-deleted'],
  // Final: the companion stops watching an order once it was closed or deleted.
  reconciled: ['reconciled'],
  mismatch: ['mismatch'],
  'order-deleted': ['order-deleted'],
};

/** Kopecks: sums from the venue may carry binary floating point noise. */
const EPS = 0.005;

/** Why the venue's update may not be applied to the payment EVVA posted (`null` when EVVA posted none), or null when it may. */
export function updateProblem(posted: { notice: PaymentNotice; view: PaymentView } | null, update: PaymentView): string | null {
  if (!posted) return `no payment ${update.paymentId} was posted by EVVA for this venue`;
  const n = posted.notice;
  // The companion keeps order ids in lower case (the plugin's GUIDs); EVVA may have posted either.
  if (update.orderId.toLowerCase() !== n.orderId.toLowerCase()) return `payment ${n.paymentId}: the update names another order`;
  if (Math.abs(update.amount - n.amount) > EPS) return `payment ${n.paymentId}: the update changes the amount`;
  if ((update.tips === undefined) !== (n.tips === undefined) || Math.abs((update.tips ?? 0) - (n.tips ?? 0)) > EPS) return `payment ${n.paymentId}: the update changes the tips`;
  const from = posted.view.state;
  if (!PAYMENT_MOVES[from].includes(update.state)) return `payment ${n.paymentId}: ${from} → ${update.state} is not a move a payment makes`;
  return null;
}

/** The payment as stored after an accepted update: EVVA's notice as posted, the venue's state and what it knows of the order. */
export function applied(notice: PaymentNotice, update: PaymentView): PaymentView {
  return {
    paymentId: notice.paymentId, orderId: notice.orderId, amount: notice.amount, ...(notice.tips !== undefined ? { tips: notice.tips } : {}),
    paidAt: notice.paidAt, state: update.state, updatedAt: update.updatedAt,
    ...(update.detail !== undefined ? { detail: update.detail } : {}),
    ...(update.orderNumber !== undefined ? { orderNumber: update.orderNumber } : {}),
    ...(update.table !== undefined ? { table: update.table } : {}),
  };
}
