/**
 * Журнал: what happened, newest first — the link and the plugin (from the
 * core's activity), and orders, shifts and payments as the feed streams them.
 * Until the feed exists it says so instead of showing an empty success.
 */
import { useEffect, useId, useState } from 'react';
import { hhmm } from '../../../protocol/face.ts';
import type { ActivityItem } from '../../../protocol/local.ts';
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

/** Which filter a streamed feed event belongs to, from its type or kind. */
export function kindOf(e: LiveEvent): Kind | null {
  const inner = (e.body.event ?? e.body) as Record<string, unknown>;
  const name = `${e.type} ${String(inner.kind ?? '')} ${String(inner.type ?? '')} ${String(inner.eventType ?? '')}`.toLowerCase();
  if (name.includes('payment')) return 'payments';
  if (name.includes('order')) return 'orders';
  if (name.includes('staff') || name.includes('shift')) return 'staff';
  return null;
}

function eventText(e: LiveEvent): string {
  const inner = (e.body.event ?? e.body) as Record<string, unknown>;
  for (const k of ['summary', 'text', 'message', 'title']) if (typeof inner[k] === 'string') return inner[k] as string;
  const { type: _type, ...rest } = inner;
  return JSON.stringify(rest).slice(0, 160);
}

export function Journal({ live }: { live: Live }) {
  const { t, lang } = useT();
  const [kind, setKind] = useState<'all' | Kind>('all');
  const [feedKnown, setFeedKnown] = useState<boolean | null>(null);
  const name = useId();

  // The feed's payments endpoint tells whether this core relays orders at all.
  useEffect(() => {
    void call('GET', '/api/payments').then((r) => setFeedKnown(r.ok ? true : r.status === 404 ? false : null));
  }, []);

  const rows = [
    ...live.activity.map((a) => ({ key: `a${a.id}`, at: a.at, kind: (a.part === 'front' ? 'front' : 'link') as Kind, text: activityText(a, lang) })),
    ...live.events.map((e, i) => ({ key: `e${i}-${e.at}`, at: e.at, kind: kindOf(e), text: eventText(e) }))
      .filter((r): r is { key: string; at: string; kind: Kind; text: string } => r.kind !== null),
  ].sort((a, b) => (a.at < b.at ? 1 : -1));
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
      {feedKnown === false ? <p className="muted note">{t.journal.feedMissing}</p> : null}
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
