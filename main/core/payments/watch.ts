/**
 * EVVA PAY payments on the companion: takes the relay's `payment.notice`
 * (idempotent by paymentId), then watches the order until iiko settles it:
 * - closed with EVVA payments covering the amount → `reconciled`;
 * - closed without → `mismatch` (an alarm: the guest may have paid twice);
 * - still open `feed.paymentCloseAfterMin` after the notice → `pending-close`,
 *   with a reminder on the live stream every such period after that;
 * - deleted (or gone from the plugin) → `order-deleted` (an alarm).
 * Every change is a PaymentUpdate event written with the ledger row.
 * A waiting payment whose order the feed does not know (a restart forgot the
 * finished order, or the notice's own fetch failed) has its order fetched by
 * id, so it is never stuck because the poll will not list that order again.
 */
import { PaymentNotice, type PaymentState, type PaymentView } from '../../../protocol/events.ts';
import type { FeedOrder } from '../../../protocol/feed.ts';
import type { PaymentsSummary } from '../../../protocol/local.ts';
import type { Clock } from '../../../common/clock.ts';
import { CommandError } from '../commands.ts';
import type { AlongOrders, Feed } from '../feed/feed.ts';
import type { Logger } from '../../../common/logger.ts';
import type { Ledger, PaymentRow } from './ledger.ts';
import { DEFAULTS, MS_PER } from '../table.ts';

/** EVVA's sum counts as covering the payment within a kopeck. */
const EPSILON = 0.005;
/**
 * A waiting payment's unknown order is asked for at every check while the plugin finds it; each miss (no such
 * order, no plugin) doubles the wait, up to this, so a payment for an order the plugin never had costs little.
 */
export const ORDER_ASK_CAP_MS = 60_000;

export interface Payments {
  /** The `payment.notice` command: validates, stores once, answers the current view. */
  notice(args: unknown): Promise<PaymentView>;
  /**
   * The moves that orders whose state changed decide for their payments, as writes for the orders' own
   * transaction (so no crash can leave an order's new state on disk without its payment's), and what to
   * call once that transaction committed; null when no payment moves.
   */
  settleWith(orders: FeedOrder[]): AlongOrders | null;
  list(limit?: number): PaymentView[];
  summary(): PaymentsSummary;
  start(): void;
  stop(): void;
}

export interface PaymentsOptions {
  ledger: Ledger;
  venueId: string;
  feed: Feed;
  clock: Clock;
  logger: Logger;
  /** settings.json's feed.paymentCloseAfterMin; the table's default when not given (tests). */
  paymentCloseAfterMin?: number;
  /** A payment changed state (`reminder` false) or is still waiting for the order to close (`reminder` true). */
  onChange?(view: PaymentView, reminder: boolean): void;
}

/** A payment's move to another state: the row before and after, and the order that decided it (named in the view). */
interface Move { row: PaymentRow; next: PaymentRow; detail: string | undefined; order: FeedOrder | null; at: number }

const rub = (n: number) => `${Math.round(n * 100) / 100} ₽`;

/** The state `row` should be in given its order's latest state (or null when it stays). */
export function judge(row: PaymentRow, order: FeedOrder | null, now: number, closeAfterMs: number): { state: PaymentState; detail?: string } | null {
  const no = order?.number != null ? `№${order.number}` : row.orderId;
  if (order && (order.gone || order.iikoStatus === 'Deleted' || order.status === 'cancelled')) {
    return {
      state: 'order-deleted',
      detail: `Заказ ${no} ${order.gone ? 'исчез из iiko' : 'удалён в iiko'} после оплаты EVVA PAY на ${rub(row.amount)}. Проверьте заказ и при необходимости верните деньги гостю.`,
    };
  }
  if (order?.final) {
    const evva = order.payments.filter((p) => p.isEvva);
    const evvaSum = evva.reduce((s, p) => s + p.sum, 0);
    if (evvaSum + EPSILON >= row.amount) {
      const rule = evva.some((p) => p.rule === 'code') ? 'по коду EVVAP' : 'по названию типа оплаты';
      return { state: 'reconciled', detail: `Заказ ${no} закрыт с оплатой EVVA ${rub(evvaSum)} (тип оплаты опознан ${rule}).` };
    }
    const others = order.payments.map((p) => `${p.typeName ?? p.typeCode ?? 'неизвестный тип'} ${rub(p.sum)}`).join(', ') || 'нет';
    return {
      state: 'mismatch',
      detail: `Заказ ${no} закрыт без оплаты EVVA на ${rub(row.amount)}${evvaSum > 0 ? ` (EVVA только ${rub(evvaSum)})` : ''}; оплаты в iiko: ${others}. Гость мог заплатить дважды: проверьте и верните лишнее.`.slice(0, 500),
    };
  }
  if (row.state === 'notified' && now - row.receivedAt >= closeAfterMs) {
    return {
      state: 'pending-close',
      detail: `Заказ ${no} всё ещё открыт через ${Math.round(closeAfterMs / 60_000)} мин после оплаты EVVA PAY на ${rub(row.amount)}. Закройте его в iiko с типом оплаты EVVA (код EVVAP).`,
    };
  }
  return null;
}

export function createPayments(o: PaymentsOptions): Payments {
  const log = o.logger.child({ part: 'payments' });
  const closeAfterMs = (o.paymentCloseAfterMin ?? DEFAULTS.feed.paymentCloseAfterMin) * MS_PER.min;
  const reminded = new Map<string, number>();
  const checkMs = Math.max(200, Math.min(5_000, closeAfterMs / 4));
  /** Unknown orders asked for in vain, by paymentId: how often, and not before when to ask again. */
  const asks = new Map<string, { misses: number; next: number }>();
  let asking: Promise<void> | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  /** The row as others see it, with the order's number and table when the feed knows the order (so the cashier can find it). */
  const publicView = (r: PaymentRow, known: FeedOrder | null = o.feed.order(r.orderId)): PaymentView => {
    const { venueId: _v, receivedAt: _r, ...v } = r;
    return {
      ...v,
      ...(known?.number != null ? { orderNumber: known.number } : {}),
      ...(known && known.tableNumbers.length > 0 ? { table: known.tableNumbers.join(', ') } : {}),
    };
  };

  /** The move `order` decides for `row`, or null when the payment stays as it is. */
  function moveOf(row: PaymentRow, order: FeedOrder | null): Move | null {
    const at = o.clock.now();
    const verdict = judge(row, order, at, closeAfterMs);
    if (!verdict || (verdict.state === row.state && verdict.detail === row.detail)) return null;
    const next: PaymentRow = { ...row, state: verdict.state, updatedAt: new Date(at).toISOString(), ...(verdict.detail ? { detail: verdict.detail } : {}) };
    return { row, next, detail: verdict.detail, order, at };
  }

  /** The moves' events and ledger rows, for one transaction. */
  function batchOf(moves: Move[]): AlongOrders['batch'] {
    return {
      events: moves.map((m) => ({ type: 'PaymentUpdate' as const, info: publicView(m.next, m.order) })),
      also: (db) => { for (const m of moves) o.ledger.update(m.row.paymentId, m.next.state, m.detail, m.at)(db); },
    };
  }

  /** Once the moves are on disk: the log, the reminder's clock, the listener. */
  function announce(moves: Move[]): void {
    for (const m of moves) {
      log.info('payment state changed', { paymentId: m.row.paymentId, from: m.row.state, to: m.next.state });
      if (m.next.state === 'pending-close') reminded.set(m.row.paymentId, m.at);
      o.onChange?.(publicView(m.next, m.order), false);
    }
  }

  function settle(row: PaymentRow, order: FeedOrder | null): PaymentRow {
    const move = moveOf(row, order);
    if (!move) return row;
    try {
      o.feed.write(batchOf([move]));
    } catch {
      return row; // The disk refused; the feed shows the problem and the next check tries again.
    }
    announce([move]);
    return move.next;
  }

  function check(): void {
    const now = o.clock.now();
    const unknown: PaymentRow[] = [];
    for (const row of o.ledger.active()) {
      const order = o.feed.order(row.orderId);
      if (!order) unknown.push(row);
      const after = settle(row, order);
      if (after.state === 'pending-close' && after === row && now - (reminded.get(row.paymentId) ?? 0) >= closeAfterMs) {
        reminded.set(row.paymentId, now);
        o.onChange?.(publicView(row), true);
      }
    }
    for (const id of asks.keys()) if (!unknown.some((r) => r.paymentId === id)) asks.delete(id);
    if (unknown.length && !asking) asking = ask(unknown).finally(() => { asking = null; });
  }

  /**
   * Fetches the orders the feed does not know (the poll only lists open orders, so a finished one it forgot never
   * comes back by itself) and settles their payments; the fetch also puts the order back into the feed.
   */
  async function ask(rows: PaymentRow[]): Promise<void> {
    for (const row of rows) {
      const now = o.clock.now();
      const prev = asks.get(row.paymentId);
      if (prev && now < prev.next) continue;
      const order = await o.feed.fetchOrder(row.orderId).catch(() => null);
      if (stopped) return;
      if (!order) {
        const misses = (prev?.misses ?? 0) + 1;
        asks.set(row.paymentId, { misses, next: o.clock.now() + Math.min(ORDER_ASK_CAP_MS, checkMs * 2 ** misses) });
        continue;
      }
      asks.delete(row.paymentId);
      const current = o.ledger.get(row.paymentId);
      if (current && (current.state === 'notified' || current.state === 'pending-close')) settle(current, order);
    }
  }

  return {
    async notice(args) {
      const parsed = PaymentNotice.safeParse(args);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new CommandError('bad_args', `payment notice: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
      }
      const n = parsed.data;
      // Know the order before the first view goes out, so even that one names its number and table.
      // Asked before the ledger is read, so no await sits between the duplicate check and the insert.
      const order = o.feed.order(n.orderId.toLowerCase()) ?? await o.feed.fetchOrder(n.orderId.toLowerCase()).catch(() => null);
      const existing = o.ledger.get(n.paymentId);
      if (existing) {
        if (existing.orderId !== n.orderId.toLowerCase() || Math.abs(existing.amount - n.amount) > EPSILON) {
          throw new CommandError('bad_args', `paymentId ${n.paymentId} was already used for another order or amount`);
        }
        return publicView(existing);
      }
      const now = o.clock.now();
      const row: PaymentRow = {
        paymentId: n.paymentId, venueId: o.venueId, orderId: n.orderId.toLowerCase(), state: 'notified', amount: n.amount,
        ...(n.tips !== undefined ? { tips: n.tips } : {}), paidAt: n.paidAt, updatedAt: new Date(now).toISOString(), receivedAt: now,
      };
      try {
        o.feed.write({ events: [{ type: 'PaymentUpdate', info: publicView(row, order) }], also: o.ledger.insert(o.venueId, n, now) });
      } catch {
        throw new CommandError('busy', 'the companion cannot write to its disk now; retry later');
      }
      log.info('payment notice', { paymentId: n.paymentId, orderId: row.orderId, amount: n.amount });
      o.onChange?.(publicView(row, order), false);
      return publicView(settle(o.ledger.get(n.paymentId) ?? row, order), order);
    },
    settleWith(orders) {
      const active = o.ledger.active();
      if (active.length === 0) return null;
      const byId = new Map(orders.map((x) => [x.id, x]));
      const moves = active.flatMap((row) => {
        const order = byId.get(row.orderId);
        const move = order ? moveOf(row, order) : null;
        return move ? [move] : [];
      });
      return moves.length ? { batch: batchOf(moves), written: () => announce(moves) } : null;
    },
    list: (limit = 500) => o.ledger.list(limit).map((r) => publicView(r)),
    summary() {
      const byState = o.ledger.counts();
      const total = Object.values(byState).reduce((s, n) => s + n, 0);
      return { total, byState, alarms: (byState.mismatch ?? 0) + (byState['order-deleted'] ?? 0), pendingClose: byState['pending-close'] ?? 0 };
    },
    start() {
      stopped = false;
      timer = o.clock.setInterval(() => {
        try { check(); } catch (e) { log.warn('payment check failed', { err: (e as Error).message }); }
      }, checkMs);
      timer.unref?.();
    },
    stop() {
      stopped = true;
      o.clock.clearInterval(timer);
    },
  };
}
