/**
 * Which desktop notifications to show, and their words. Pure: fed the status
 * (on every change and on a timer) and payment events, with the time; the
 * Electron shell only displays what this returns. Rare and actionable: the
 * link lost for over a minute and its return, the plugin down, a payment to
 * close, a mismatch. Never one per order.
 */
import { PaymentView } from '../../protocol/events.ts';
import type { Status } from '../../protocol/local.ts';
import { strings, type Lang } from '../../face/strings.ts';

export type NoticeKind = 'link_lost' | 'link_back' | 'front_down' | 'payment' | 'mismatch';

export interface Notice {
  kind: NoticeKind;
  title: string;
  body: string;
  /** Where a click should lead in the UI. */
  open: 'status' | 'diagnostics' | 'journal';
}

/** A payment the feed reports (EVVA took the money; the order must be closed with EVVAP), or a mismatch. */
export interface PaymentEvent {
  id: string;
  kind: 'awaiting_close' | 'mismatch';
  order: string;
  table?: string | null;
  /** In roubles (may have kopecks). */
  amount: number;
}

export interface NoticeTiming {
  /** The link must be down this long before anyone is told (reconnects are usually quick). */
  linkLostAfterMs: number;
  /** The plugin must be down this long (a restart of iikoFront takes a few seconds). */
  frontDownAfterMs: number;
}

export const DEFAULT_TIMING: NoticeTiming = { linkLostAfterMs: 60_000, frontDownAfterMs: 30_000 };

export interface Notices {
  /** Call on every status and on a timer (each few seconds); returns what to show now. */
  observe(status: Status, now: number): Notice[];
  /** Call for each payment event; each payment is announced once. */
  payment(event: PaymentEvent): Notice[];
}

/** Formats roubles the Russian way: «1 200 ₽», «99,50 ₽». */
export function rub(amount: number): string {
  const whole = Number.isInteger(amount);
  return `${new Intl.NumberFormat('ru-RU', { minimumFractionDigits: whole ? 0 : 2, maximumFractionDigits: 2 }).format(amount).replace(/\s/g, ' ')} ₽`;
}

/** Starts with nothing announced; the first status counts as "no change yet". */
export function createNotices(lang: Lang = 'ru', timing: NoticeTiming = DEFAULT_TIMING): Notices {
  const t = strings(lang);
  let linkDownSince: number | null = null;
  let linkLostSaid = false;
  let frontDownSince: number | null = null;
  let frontSaid = false;
  const seen = new Set<string>();
  return {
    observe(status, now) {
      const out: Notice[] = [];
      const paired = status.tunnel.state !== 'unpaired';
      if (paired && status.tunnel.state !== 'connected') {
        linkDownSince ??= now;
        if (!linkLostSaid && now - linkDownSince >= timing.linkLostAfterMs) {
          linkLostSaid = true;
          out.push({ kind: 'link_lost', title: t.notify.linkLost, body: t.notify.linkLostBody, open: 'status' });
        }
      } else {
        if (linkLostSaid && status.tunnel.state === 'connected') out.push({ kind: 'link_back', title: t.notify.linkBack, body: t.notify.linkBackBody, open: 'status' });
        linkDownSince = null;
        linkLostSaid = false;
      }
      const down = status.front.state === 'down' || status.front.state === 'unlicensed';
      if (down) {
        frontDownSince ??= now;
        if (!frontSaid && now - frontDownSince >= timing.frontDownAfterMs) {
          frontSaid = true;
          out.push({ kind: 'front_down', title: t.notify.frontDown, body: t.notify.frontDownBody, open: 'diagnostics' });
        }
      } else if (status.front.state === 'up') {
        frontDownSince = null;
        frontSaid = false;
      }
      return out;
    },
    payment(e) {
      const key = `${e.kind}:${e.id}`;
      if (seen.has(key)) return [];
      seen.add(key);
      if (seen.size > 10_000) seen.delete(seen.values().next().value as string);
      return e.kind === 'awaiting_close'
        ? [{ kind: 'payment', title: t.notify.payment, body: t.notify.paymentBody(e.order, e.table ?? null, rub(e.amount)), open: 'journal' }]
        : [{ kind: 'mismatch', title: t.notify.mismatch, body: t.notify.mismatchBody(e.order), open: 'journal' }];
    },
  };
}

/** PaymentView states (protocol/events.ts) that mean "the cashier must close the order with EVVAP". */
const TO_CLOSE = new Set<string>(['notified', 'pending-close']);

/**
 * Reads a payment event from a live message: `{ type: 'payment', payment: PaymentView }`
 * or a feed envelope `{ type: 'event', event: { eventType: 'PaymentUpdate', eventInfo: PaymentView } }`.
 * Null if it is not one, or if the state needs nobody at the till. The order is
 * named by its number when the companion knows it, else by its iiko id.
 */
export function paymentOf(message: unknown): PaymentEvent | null {
  if (!message || typeof message !== 'object') return null;
  const m = message as { type?: unknown; payment?: unknown; event?: { eventType?: unknown; eventInfo?: unknown } };
  const raw = m.type === 'payment' ? m.payment : m.type === 'event' && m.event?.eventType === 'PaymentUpdate' ? m.event.eventInfo : null;
  const parsed = PaymentView.safeParse(raw);
  if (!parsed.success) return null;
  const p = parsed.data;
  const kind = p.state === 'mismatch' ? 'mismatch' : TO_CLOSE.has(p.state) ? 'awaiting_close' : null;
  if (!kind) return null;
  return { id: p.paymentId, kind, order: p.orderNumber !== undefined ? String(p.orderNumber) : p.orderId, table: p.table ?? null, amount: p.amount };
}
