/**
 * Журнал: what happened, newest first — the link and the plugin (from the
 * core's activity), and orders, shifts and payments as the feed streams them.
 * Until the feed exists it says so instead of showing an empty success.
 */
import { useEffect, useId, useState } from 'react';
import { hhmm } from '../../../protocol/face.ts';
import { PaymentView, type Envelope } from '../../../protocol/events.ts';
import type { FeedOrder, FeedStaff } from '../../../protocol/feed.ts';
import type { ActivityItem, PaymentsList } from '../../../protocol/local.ts';
import { strings, type Lang } from '../../../protocol/strings.ts';
import { call } from '../api.ts';
import type { Live, LiveEvent } from '../live.ts';
import { useT } from '../ui.tsx';

type Kind = 'link' | 'front' | 'orders' | 'payments' | 'staff';
const KINDS: Array<'all' | Kind> = ['all', 'link', 'front', 'orders', 'payments', 'staff'];

/** The sentence for one activity item. */
export function activityText(a: ActivityItem, lang: Lang): string {
  const t = strings(lang);
  const head = (a.part === 'front' ? t.activity.front[a.state] : t.activity.tunnel[a.state]) ?? a.state;
  const why = lang === 'en' ? a.messageEn : a.message;
  return why ? `${head}: ${why}` : head;
}

/** Which filter a live feed message belongs to; null for what the Журнал does not list (tables, menu, health). */
export function kindOf(e: LiveEvent): Kind | null {
  if (e.type === 'payment') return 'payments';
  if (e.type !== 'event') return null;
  const type = (e.body as { event?: Envelope }).event?.eventType;
  return type === 'TableOrderUpdate' || type === 'DeliveryOrderUpdate' ? 'orders'
    : type === 'StaffUpdate' ? 'staff'
    : type === 'PaymentUpdate' ? 'payments' : null;
}

/** The line a person reads for a payment: the order as the cashier knows it, the sum, and what to do. */
export function paymentText(p: PaymentView, lang: Lang): string {
  const t = strings(lang);
  const order = t.journal.order(p.orderNumber !== undefined ? String(p.orderNumber) : null, p.table ?? null);
  return `${t.journal.payment(order, money(p.amount, lang))}: ${t.journal.paymentState[p.state]}${p.detail && lang === 'ru' ? ` ${p.detail}` : ''}`;
}

/** The line for a feed event (protocol/events.ts Envelope, eventInfo as in protocol/feed.ts). */
export function eventText(e: Envelope, lang: Lang): string | null {
  const t = strings(lang);
  const info = e.eventInfo as Record<string, unknown>;
  if (e.eventType === 'TableOrderUpdate' || e.eventType === 'DeliveryOrderUpdate') {
    const o = (info as { order?: FeedOrder }).order;
    if (!o) return null;
    const state = o.gone ? t.journal.orderGone : o.status ? t.journal.orderStatus[o.status] : (o.iikoStatus ?? '—');
    const what = t.journal.order(o.number !== null ? String(o.number) : null, o.tableNumbers.length ? o.tableNumbers.join(', ') : null);
    const sum = ` · ${money(o.sums.result, lang)}`;
    return `${o.kind === 'delivery' ? t.journal.delivery : o.kind === 'pickup' ? t.journal.pickup : ''}${what}: ${state}${sum}`;
  }
  if (e.eventType === 'StaffUpdate') {
    const staff = (info as { staff?: FeedStaff[] }).staff ?? [];
    return t.journal.staffLine(staff.length, staff.filter((x) => x.sessionOpen).length);
  }
  if (e.eventType === 'PaymentUpdate') {
    const p = PaymentView.safeParse(info);
    return p.success ? paymentText(p.data, lang) : null;
  }
  return null;
}

function money(v: number, lang: Lang): string {
  return `${new Intl.NumberFormat(lang === 'en' ? 'en-GB' : 'ru-RU', { maximumFractionDigits: 2 }).format(v)} ₽`;
}

/** The payment a live message carries (a `payment` message or a PaymentUpdate event), if any. */
function paymentIn(e: LiveEvent): PaymentView | null {
  const env = (e.body as { event?: Envelope }).event;
  const raw = e.type === 'payment' ? (e.body as { payment?: unknown }).payment : e.type === 'event' && env?.eventType === 'PaymentUpdate' ? env.eventInfo : null;
  const p = PaymentView.safeParse(raw);
  return p.success ? p.data : null;
}

/** The text of a live message in the Журнал, or null when it lists nothing for it. */
function liveText(e: LiveEvent, lang: Lang): string | null {
  if (e.type === 'payment') {
    const p = PaymentView.safeParse((e.body as { payment?: unknown }).payment);
    return p.success ? paymentText(p.data, lang) : null;
  }
  const env = (e.body as { event?: Envelope }).event;
  return e.type === 'event' && env ? eventText(env, lang) : null;
}

export function Journal({ live }: { live: Live }) {
  const { t, lang } = useT();
  const [kind, setKind] = useState<'all' | Kind>('all');
  // The payments ledger as it stood when the page opened (the live stream adds changes after).
  const [ledger, setLedger] = useState<PaymentView[] | null>(null);
  const name = useId();

  useEffect(() => {
    void call<PaymentsList>('GET', '/api/payments').then((r) => setLedger(r.ok && Array.isArray(r.data?.payments) ? r.data.payments : null));
  }, []);

  type Row = { key: string; at: string; kind: Kind; text: string };
  // A payment change arrives twice (a `payment` message and its PaymentUpdate event):
  // one row per payment and state; the ledger row only for payments the stream has not reported.
  const seen = new Set<string>();
  const streamed = new Set<string>();
  const feedRows: Row[] = live.events.flatMap((e, i) => {
    const k = kindOf(e);
    const text = k ? liveText(e, lang) : null;
    const p = paymentIn(e);
    if (p) {
      streamed.add(p.paymentId);
      if (seen.has(`${p.paymentId}|${p.state}`)) return [];
      seen.add(`${p.paymentId}|${p.state}`);
    }
    return k && text ? [{ key: `e${i}-${e.at}`, at: e.at, kind: k, text }] : [];
  });
  const rows: Row[] = [
    ...live.activity.map((a) => ({ key: `a${a.id}`, at: a.at, kind: (a.part === 'front' ? 'front' : 'link') as Kind, text: activityText(a, lang) })),
    ...(ledger ?? []).filter((p) => !streamed.has(p.paymentId)).map((p) => ({ key: `p${p.paymentId}`, at: p.updatedAt, kind: 'payments' as Kind, text: paymentText(p, lang) })),
    ...feedRows,
  ].sort((a, b) => (a.at < b.at ? 1 : -1))
    // An order polled again with nothing a person sees changed reads the same: shown once.
    .filter((r, i, all) => i === 0 || r.kind === 'link' || r.kind === 'front' || all[i - 1]!.text !== r.text);
  const shown = rows.filter((r) => kind === 'all' || r.kind === kind);
  const label = (k: 'all' | Kind) => (k === 'all' ? t.journal.all : t.journal[k]);

  return (
    <div className="journal">
      <h1 tabIndex={-1}>{t.journal.title}</h1>
      <fieldset className="filters">
        <legend>{t.journal.filter}</legend>
        {KINDS.map((k) => (
          <label key={k} className={kind === k ? 'chip on' : 'chip'}>
            <input type="radio" name={name} value={k} checked={kind === k} onChange={() => setKind(k)} />
            {label(k)}
          </label>
        ))}
      </fieldset>
      {ledger === null ? <p className="muted note">{t.journal.ledgerMissing}</p> : null}
      {shown.length === 0 ? <p className="muted">{t.journal.empty}</p> : (
        <table className="log">
          <thead><tr><th scope="col">{t.journal.time}</th><th scope="col">{t.journal.what}</th></tr></thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.key}><td><time dateTime={r.at}>{hhmm(r.at)}</time></td><td>{r.text}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
