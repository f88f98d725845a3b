/**
 * Журнал: what happened, newest first — the link, the plugin, orders, shifts
 * and payments — as the companion keeps it (GET /api/journal), so a reload, a
 * restart and a second window show the same rows, each at the time it
 * happened. New rows arrive live; older ones page in on request.
 */
import { useEffect, useId, useState } from 'react';
import { when } from '../../../face/face.ts';
import { PaymentView, type Envelope } from '../../../protocol/events.ts';
import type { FeedOrder, FeedStaff } from '../../../protocol/feed.ts';
import type { JournalKind, JournalPage, JournalRow } from '../../../protocol/local.ts';
import { strings, type Lang } from '../../../face/strings.ts';
import { call } from '../api.ts';
import { mergeRows, type Live } from '../live.ts';
import { Button, useT } from '../ui.tsx';

const KINDS: Array<'all' | JournalKind> = ['all', 'link', 'front', 'orders', 'payments', 'staff'];
const PAGE = 100;

/** The line a person reads for a payment: the order as the cashier knows it, the sum, and what to do. */
export function paymentText(p: PaymentView, lang: Lang): string {
  const t = strings(lang);
  const order = t.journal.order(p.orderNumber !== undefined ? String(p.orderNumber) : null, p.table ?? null);
  return `${t.journal.payment(order, money(p.amount, lang))}: ${t.journal.paymentState[p.state]}${p.detail && lang === 'ru' ? ` ${p.detail}` : ''}`;
}

/** The line for one feed event (protocol/events.ts Envelope, eventInfo as in protocol/feed.ts): EVVA's support console lists a venue's recent events with it. */
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

/** The sentence for one Журнал row, in the page's language; a folded row says how often and when last. */
export function rowText(r: JournalRow, lang: Lang): string {
  const t = strings(lang);
  let text = '';
  if (r.activity) {
    const a = r.activity;
    const head = (a.part === 'front' ? t.activity.front[a.state] : t.activity.tunnel[a.state]) ?? a.state;
    const why = lang === 'en' ? a.messageEn : a.message;
    text = why ? `${head}: ${why}` : head;
  } else if (r.order) {
    const o = r.order;
    const state = o.gone ? t.journal.orderGone : o.status ? t.journal.orderStatus[o.status as keyof typeof t.journal.orderStatus] ?? o.status : (o.iikoStatus ?? '—');
    const what = t.journal.order(o.number !== null ? String(o.number) : null, o.tables.length ? o.tables.join(', ') : null);
    text = `${o.delivery ? t.journal.delivery : o.pickup ? t.journal.pickup : ''}${what}: ${state}${o.sum !== null ? ` · ${money(o.sum, lang)}` : ''}`;
  } else if (r.staff) {
    text = t.journal.staffLine(r.staff.all, r.staff.open);
  } else if (r.payment) {
    text = paymentText(r.payment, lang);
  }
  return r.count > 1 ? `${text} ${t.journal.repeated(r.count, when(r.at, lang))}` : text;
}

function money(v: number, lang: Lang): string {
  return `${new Intl.NumberFormat(lang === 'en' ? 'en-GB' : 'ru-RU', { maximumFractionDigits: 2 }).format(v)} ₽`;
}

/** «Сегодня», «Вчера» or the date, for the rows of one day. */
function dayOf(iso: string, lang: Lang, now = new Date()): string {
  const t = strings(lang);
  const d = new Date(iso);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (d.toDateString() === now.toDateString()) return t.journal.today;
  if (d.toDateString() === yesterday.toDateString()) return t.journal.yesterday;
  return d.toLocaleDateString(lang === 'en' ? 'en-GB' : 'ru-RU', { day: 'numeric', month: 'long', ...(d.getFullYear() !== now.getFullYear() ? { year: 'numeric' } : {}) });
}

const hhmm = (iso: string) => {
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};

export function Journal({ live }: { live: Live }) {
  const { t, lang } = useT();
  const [kind, setKind] = useState<'all' | JournalKind>('all');
  const [rows, setRows] = useState<JournalRow[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  const [busy, setBusy] = useState(false);
  const name = useId();
  const query = (before?: string) => `/api/journal?limit=${PAGE}${kind === 'all' ? '' : `&kind=${kind}`}${before ? `&before=${encodeURIComponent(before)}` : ''}`;

  useEffect(() => {
    let gone = false;
    setRows(null);
    void call<JournalPage>('GET', query()).then((r) => {
      if (gone) return;
      if (!r.ok) { setFailed(true); setRows([]); return; }
      setFailed(false);
      setRows(r.data.rows);
      setNext(r.data.next);
    });
    return () => { gone = true; };
    // The filter is the only input; the live rows merge in below.
  }, [kind]);

  const more = async () => {
    if (!next) return;
    setBusy(true);
    const r = await call<JournalPage>('GET', query(next));
    setBusy(false);
    if (!r.ok) return;
    setRows((old) => [...(old ?? []), ...r.data.rows]);
    setNext(r.data.next);
  };

  // Rows that arrived live since the page loaded, of the kind shown.
  const fresh = live.rows.filter((r) => kind === 'all' || r.kind === kind);
  const shown = rows === null ? null : mergeRows(rows, fresh, Number.MAX_SAFE_INTEGER);
  const label = (k: 'all' | JournalKind) => (k === 'all' ? t.journal.all : t.journal[k]);
  let lastDay = '';

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
      {failed ? <p className="muted note" role="status">{t.journal.unavailable}</p> : null}
      {shown === null ? <p className="muted">…</p> : shown.length === 0 ? <p className="muted">{failed ? t.common.noData : t.journal.empty}</p> : (
        <table className="log" data-testid="journal">
          <thead><tr><th scope="col">{t.journal.time}</th><th scope="col">{t.journal.what}</th></tr></thead>
          <tbody>
            {shown.flatMap((r) => {
              const day = dayOf(r.lastAt, lang);
              const head = day !== lastDay ? [<tr key={`d${day}`} className="day"><th colSpan={2} scope="rowgroup">{day}</th></tr>] : [];
              lastDay = day;
              return [...head, <tr key={r.id} data-kind={r.kind}><td><time dateTime={r.lastAt}>{hhmm(r.lastAt)}</time></td><td>{rowText(r, lang)}</td></tr>];
            })}
          </tbody>
        </table>
      )}
      {next ? <div className="actions"><Button onClick={() => void more()} disabled={busy}>{busy ? t.journal.loading : t.journal.more}</Button></div> : null}
      <p className="muted note">{t.journal.kept}</p>
    </div>
  );
}
