/** Обзор: the venue's recent events and payments, as the companion's Журнал words them, and its webhook with "retry now". */
import { useEffect, useState } from 'react';
import type { PaymentList, RecentEvents, VenueDetail } from '../../../../protocol/console.ts';
import type { Envelope } from '../../../../protocol/events.ts';
import type { HealthInfo } from '../../../../protocol/feed.ts';
import { Mark, useT } from '../../../src/ui.tsx';
import { eventText, paymentText } from '../../../src/screens/journal.tsx';
import { call } from '../api.ts';
import { useC, when } from '../ctx.ts';

const REFRESH_MS = 5_000;
const ALARM = new Set(['mismatch', 'order-deleted']);
const WAITING = new Set(['queued', 'notified', 'pending-close']);

export function OverviewTab({ detail, reload }: { detail: VenueDetail; reload(): Promise<void> }) {
  const c = useC();
  const { lang } = useT();
  const id = detail.venue.venueId;
  const [events, setEvents] = useState<RecentEvents['events'] | null>(null);
  const [payments, setPayments] = useState<PaymentList['payments'] | null>(null);
  useEffect(() => {
    let alive = true;
    const load = async () => {
      const [e, p] = await Promise.all([call<RecentEvents>('GET', `/venues/${id}/events?limit=15`), call<PaymentList>('GET', `/venues/${id}/payments?limit=20`)]);
      if (!alive) return;
      if (e.ok) setEvents(e.data.events);
      if (p.ok) setPayments(p.data.payments);
    };
    void load();
    const t = window.setInterval(() => { if (document.visibilityState === 'visible') void load(); }, REFRESH_MS);
    return () => { alive = false; window.clearInterval(t); };
  }, [id]);

  const line = (e: Envelope): string => {
    const info = e.eventInfo as Record<string, unknown>;
    if (e.eventType === 'CompanionHealth') {
      const h = info as Partial<HealthInfo>;
      return c.health(String(h.front ?? '—'), Number(h.backlog ?? 0));
    }
    if (e.eventType === 'TablesUpdate') return c.tables(Array.isArray(info.tables) ? info.tables.length : 0);
    if (e.eventType === 'MenuSnapshot') return c.menu(Array.isArray(info.sections) ? info.sections.length : 0);
    return eventText(e, lang) ?? c.events[e.eventType] ?? e.eventType;
  };

  return (
    <div className="overview">
      <div className="two">
        <section aria-labelledby="events-h">
          <h2 id="events-h">{c.venue.eventsTitle}</h2>
          {events === null ? <p className="muted">…</p> : events.length === 0 ? <p className="muted">{c.venue.eventsEmpty}</p> : (
            <ol className="events" data-testid="events">
              {events.map((x) => (
                <li key={x.event.eventId} data-type={x.event.eventType}><time dateTime={x.event.eventTime}>{when(x.event.eventTime)}</time><span>{line(x.event)}</span></li>
              ))}
            </ol>
          )}
        </section>
        <section aria-labelledby="payments-h">
          <h2 id="payments-h">{c.venue.paymentsTitle}</h2>
          {payments === null ? <p className="muted">…</p> : payments.length === 0 ? <p className="muted">{c.venue.paymentsEmpty}</p> : (
            <ol className="events" data-testid="payments">
              {payments.map((p) => (
                <li key={p.paymentId} className={ALARM.has(p.state) ? 'alarm' : ''}>
                  <time dateTime={p.updatedAt}>{when(p.updatedAt)}</time>
                  <Mark tone={ALARM.has(p.state) ? 'red' : WAITING.has(p.state) ? 'amber' : 'green'} size={16} />
                  <span>{paymentText(p, lang)}</span>
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>
      <Webhook detail={detail} reload={reload} />
    </div>
  );
}

function Webhook({ detail, reload }: { detail: VenueDetail; reload(): Promise<void> }) {
  const c = useC();
  const { lang } = useT();
  const w = detail.webhook;
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState<{ ok: boolean; text: string } | null>(null);
  const retry = async () => {
    setBusy(true);
    setSaid(null);
    const r = await call<{ scheduled: boolean }>('POST', `/venues/${detail.venue.venueId}/webhook/retry`);
    setBusy(false);
    if (r.ok) setSaid({ ok: true, text: r.data.scheduled ? c.webhook.retried : c.webhook.nothingPending });
    else setSaid({ ok: false, text: (lang === 'en' ? r.error.messageEn : r.error.message) || c.errors.other(r.error.error) });
    await reload();
  };
  return (
    <section aria-labelledby="webhook-h" className="webhook">
      <h2 id="webhook-h">{c.webhook.title}</h2>
      {w.url === null ? <p className="muted">{c.webhook.none}</p> : (
        <>
          <dl className="pairs" data-testid="webhook">
            <dt>{c.webhook.url}</dt><dd><span className="mono">{w.url}</span> <span className="muted">({w.source ? c.webhook.source[w.source] : '—'})</span></dd>
            <dt>{c.webhook.backlog}</dt><dd className={w.backlog > 0 ? 'strong' : ''}>{w.backlog}</dd>
            <dt>{c.webhook.lastDelivered}</dt><dd>{w.lastDeliveredAt ? when(w.lastDeliveredAt) : c.webhook.never}</dd>
            {w.attempts > 0 ? <><dt>{c.webhook.attempts}</dt><dd>{w.attempts}</dd></> : null}
            {w.nextAttemptAt ? <><dt>{c.webhook.next}</dt><dd>{when(w.nextAttemptAt)}</dd></> : null}
            {w.lastError ? <><dt>{c.webhook.lastError}</dt><dd className="alarm">{w.lastError}</dd></> : null}
          </dl>
          <div className="actions">
            <button type="button" className="btn" disabled={busy} onClick={() => void retry()} data-testid="webhook-retry">{busy ? c.webhook.retrying : c.webhook.retry}</button>
          </div>
          {said ? <p className={said.ok ? 'ok-msg' : 'problem'} role="status">{said.text}</p> : null}
        </>
      )}
    </section>
  );
}
