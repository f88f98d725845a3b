/**
 * Заведения: every venue's verdict at a glance. The relay searches, filters,
 * sorts and pages (keyset cursors), so the page holds one screenful whatever
 * the number of venues; it refreshes itself every few seconds.
 */
import { useEffect, useId, useRef, useState } from 'react';
import { VERDICT_ORDER, type VenuePage, type VenueRow, type VenueSort, type Verdict } from '../../../protocol/console.ts';
import { Mark, useT } from '../../src/ui.tsx';
import { call, withLang } from './api.ts';
import { clock, useC, when } from './ctx.ts';
import type { Place } from './router.ts';

/** How often the list refreshes while the page is visible. */
const REFRESH_MS = 5_000;
const SORTS: VenueSort[] = ['verdict', 'name', 'created'];

interface Query { q: string; verdict: Verdict | null; sort: VenueSort; cursor: string | null; dir: 'next' | 'prev'; offset: number }

function queryOfUrl(): Query {
  const p = new URLSearchParams(window.location.search);
  const v = p.get('v');
  const s = p.get('sort');
  return {
    q: p.get('q') ?? '', verdict: (VERDICT_ORDER as string[]).includes(v ?? '') ? (v as Verdict) : null,
    sort: (SORTS as string[]).includes(s ?? '') ? (s as VenueSort) : 'verdict',
    cursor: p.get('c'), dir: p.get('d') === 'prev' ? 'prev' : 'next', offset: Math.max(0, Number(p.get('o')) || 0),
  };
}
function searchOf(q: Query): string {
  const p = new URLSearchParams();
  if (q.q) p.set('q', q.q);
  if (q.verdict) p.set('v', q.verdict);
  if (q.sort !== 'verdict') p.set('sort', q.sort);
  if (q.cursor) { p.set('c', q.cursor); p.set('d', q.dir); p.set('o', String(q.offset)); }
  const s = p.toString();
  return s ? `?${s}` : '';
}

export function Venues({ go }: { go(p: Place, search?: string): void }) {
  const c = useC();
  const { lang } = useT();
  const [query, setQuery] = useState<Query>(queryOfUrl);
  const [typed, setTyped] = useState(query.q);
  // The page shown and where it starts in the list (set together, so the range always describes the rows on screen).
  const [page, setPage] = useState<(VenuePage & { offset: number }) | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const [at, setAt] = useState<Date | null>(null);
  const seq = useRef(0);
  const searchId = useId();

  const load = async (q: Query) => {
    const n = ++seq.current;
    const p = new URLSearchParams({ sort: q.sort, dir: q.dir, limit: '50' });
    if (q.q) p.set('q', q.q);
    if (q.verdict) p.set('verdict', q.verdict);
    if (q.cursor) p.set('cursor', q.cursor);
    const r = await call<VenuePage>('GET', withLang(`/venues?${p}`, lang));
    if (n !== seq.current) return; // a newer query was asked meanwhile
    if (r.ok) { setPage({ ...r.data, offset: q.offset }); setFailed(null); setAt(new Date()); } else setFailed(r.status === 0 ? c.errors.offline : (lang === 'en' ? r.error.messageEn : r.error.message));
  };

  useEffect(() => {
    window.history.replaceState(null, '', `/console/${searchOf(query)}`);
    void load(query);
    const timer = window.setInterval(() => { if (document.visibilityState === 'visible') void load(query); }, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [query, lang]);

  // The search is asked for once typing pauses.
  useEffect(() => {
    if (typed.trim() === query.q) return;
    const t = window.setTimeout(() => setQuery((q) => ({ ...q, q: typed.trim(), cursor: null, dir: 'next', offset: 0 })), 300);
    return () => window.clearTimeout(t);
  }, [typed]);

  const change = (patch: Partial<Query>) => setQuery((q) => ({ ...q, ...patch, cursor: null, dir: 'next', offset: 0 }));
  const rows = page?.venues ?? [];
  const from = rows.length && page ? page.offset + 1 : 0;
  const to = (page?.offset ?? 0) + rows.length;

  return (
    <div className="venues">
      <div className="head-line">
        <h1 tabIndex={-1}>{c.list.title}</h1>
        {at ? <span className="muted updated" aria-live="off">{c.list.updated(clock(at))}</span> : null}
      </div>
      <div className="toolbar">
        <div className="field search">
          <label htmlFor={searchId}>{c.list.search}</label>
          <input id={searchId} data-testid="search" type="search" value={typed} placeholder={c.list.searchHint} onChange={(e) => setTyped(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="sort">{c.list.sort}</label>
          <select id="sort" data-testid="sort" value={query.sort} onChange={(e) => change({ sort: e.target.value as VenueSort })}>
            {SORTS.map((s) => <option key={s} value={s}>{c.list.sorts[s]}</option>)}
          </select>
        </div>
      </div>
      <fieldset className="filters">
        <legend>{c.list.show}</legend>
        {([null, ...VERDICT_ORDER] as Array<Verdict | null>).map((v) => (
          <label key={v ?? 'all'} className={query.verdict === v ? 'chip on' : 'chip'} data-verdict={v ?? 'all'}>
            <input type="radio" name="verdict" checked={query.verdict === v} onChange={() => change({ verdict: v })} />
            {v ? <Mark tone={v} size={16} /> : null}
            {v ? c.verdict[v] : c.list.all}
            <span className="count">{page ? (v ? page.counts[v] : page.counts.all) : '…'}</span>
          </label>
        ))}
      </fieldset>
      {failed ? <p className="banner" role="alert">{failed}</p> : null}
      {!page ? <p className="muted" role="status">…</p>
        : rows.length === 0 ? <p className="muted" data-testid="empty">{page.counts.all === 0 && !query.q ? c.list.none : c.list.empty}</p>
        : (
          <table className="log venue-table">
            <thead>
              <tr>
                <th scope="col">{c.list.cols.state}</th><th scope="col">{c.list.cols.venue}</th><th scope="col">{c.list.cols.link}</th>
                <th scope="col">{c.list.cols.versions}</th><th scope="col">{c.list.cols.last}</th><th scope="col">{c.list.cols.webhook}</th>
                <th scope="col">{c.list.cols.payments}</th>
              </tr>
            </thead>
            <tbody>{rows.map((v) => <Row key={v.venueId} v={v} go={go} />)}</tbody>
          </table>
        )}
      {page && rows.length > 0 ? (
        <nav className="pager" aria-label={c.list.pages}>
          <span data-testid="range">{c.list.range(from, to, page.total)}</span>
          <button type="button" className="btn" disabled={!page.prev}
            onClick={() => setQuery((q) => ({ ...q, cursor: page.prev, dir: 'prev', offset: Math.max(0, page.offset - 50) }))}>{c.list.prev}</button>
          <button type="button" className="btn" disabled={!page.next}
            onClick={() => setQuery((q) => ({ ...q, cursor: page.next, dir: 'next', offset: page.offset + rows.length }))}>{c.list.next}</button>
        </nav>
      ) : null}
    </div>
  );
}

function Row({ v, go }: { v: VenueRow; go(p: Place): void }) {
  const c = useC();
  const href = `/console/venues/${v.venueId}`;
  return (
    <tr data-venue={v.venueId} className={`tone-${v.verdict.tone}`}>
      <td className="state"><div><Mark tone={v.verdict.tone} size={18} /><span>{v.verdict.sentence}</span></div></td>
      <td>
        <a href={href} onClick={(e) => { e.preventDefault(); go({ screen: 'venue', venueId: v.venueId, tab: 'overview' }); }}>{v.name}</a>
        <div className="muted small mono">{v.venueId}</div>
      </td>
      <td className={v.online ? '' : 'muted'}>{v.online ? c.list.online(v.since ? when(v.since) : null) : c.list.offline(v.since ? when(v.since) : null)}</td>
      <td className="small">
        {v.companionVersion ? <div>{c.list.companion(v.companionVersion)}</div> : null}
        {v.pluginVersion ? <div className="muted">{c.list.plugin(v.pluginVersion)}</div> : null}
        {!v.companionVersion && !v.pluginVersion ? c.list.nothing : null}
      </td>
      <td className="small">{v.lastEvent ? <><div>{c.events[v.lastEvent.type] ?? v.lastEvent.type}</div><div className="muted">{when(v.lastEvent.at)}</div></> : c.list.nothing}</td>
      <td className="small">{v.webhook === null ? <span className="muted">{c.list.noWebhook}</span> : v.webhook.backlog === 0 ? c.list.delivered : <strong>{c.list.backlog(v.webhook.backlog, v.webhook.more)}</strong>}</td>
      <td className="small">
        {v.payments.alarms > 0 ? <div className="alarm">{c.list.alarms(v.payments.alarms)}</div> : null}
        {v.payments.waiting > 0 ? <div>{c.list.waiting(v.payments.waiting)}</div> : null}
        {v.payments.alarms === 0 && v.payments.waiting === 0 ? c.list.nothing : null}
      </td>
    </tr>
  );
}
