/**
 * One venue: its face and cards as the companion's own window shows them,
 * refreshed every two seconds, and the tabs support works in: diagnostics,
 * the companion's log, the audit of support actions, pairing.
 */
import { useEffect, useRef, useState } from 'react';
import type { VenueDetail } from '../../../protocol/console.ts';
import { Mark, StateCard, useT } from '../../src/ui.tsx';
import { call, withLang } from './api.ts';
import { clock, useC, when } from './ctx.ts';
import { TABS, type Place, type Tab } from './router.ts';
import { AuditTab } from './tabs/audit.tsx';
import { DiagnosticsTab } from './tabs/diagnostics.tsx';
import { LogsTab } from './tabs/logs.tsx';
import { OverviewTab } from './tabs/overview.tsx';
import { PairingTab } from './tabs/pairing.tsx';

/** How often the venue's face refreshes while the page is visible. */
const REFRESH_MS = 2_000;

export function VenueScreen({ venueId, tab, go }: { venueId: string; tab: Tab; go(p: Place): void }) {
  const c = useC();
  const { lang } = useT();
  const [detail, setDetail] = useState<VenueDetail | null>(null);
  const [missing, setMissing] = useState(false);
  const [failed, setFailed] = useState<string | null>(null);
  const [at, setAt] = useState<Date | null>(null);
  const alive = useRef(true);

  const load = async () => {
    const r = await call<VenueDetail>('GET', withLang(`/venues/${venueId}`, lang));
    if (!alive.current) return;
    if (r.ok) { setDetail(r.data); setFailed(null); setAt(new Date()); return; }
    if (r.status === 404) setMissing(true);
    else setFailed(r.status === 0 ? c.errors.offline : (lang === 'en' ? r.error.messageEn : r.error.message));
  };
  useEffect(() => {
    alive.current = true;
    void load();
    const timer = window.setInterval(() => { if (document.visibilityState === 'visible') void load(); }, REFRESH_MS);
    return () => { alive.current = false; window.clearInterval(timer); };
  }, [venueId, lang]);

  const back = <a className="back" href="/console/" onClick={(e) => { e.preventDefault(); go({ screen: 'list' }); }}>{c.venue.back}</a>;
  if (missing) return <div>{back}<h1 tabIndex={-1}>{c.venue.notFound}</h1></div>;
  if (!detail) return <div>{back}<p className="muted" role="status">{failed ?? '…'}</p></div>;

  const v = detail.venue;
  const face = detail.face;
  const since = face.since ? (lang === 'en' ? `since ${when(face.since)}` : `с ${when(face.since)}`) : null;
  return (
    <div className="venue">
      {back}
      <div className="venue-head">
        <div>
          <h1 tabIndex={-1}>{v.name}</h1>
          <p className="facts muted">
            <span className="mono">{v.venueId}</span>
            <span className={v.online ? 'online' : detail.pairedAt && !detail.revoked ? 'offline' : ''} data-testid="link">{v.online ? c.list.online(v.since ? when(v.since) : null) : c.list.offline(v.since ? when(v.since) : null)}</span>
            {detail.hostname ? <span>{c.venue.host(detail.hostname)}</span> : null}
            {v.companionVersion ? <span>{c.list.companion(v.companionVersion)}</span> : null}
            {v.pluginVersion ? <span>{c.list.plugin(v.pluginVersion)}</span> : null}
            {detail.revoked ? <span className="alarm">{c.venue.revoked}</span> : detail.pairedAt ? <span>{c.venue.paired(when(detail.pairedAt))}</span> : <span>{c.venue.created(when(detail.createdAt))}</span>}
          </p>
        </div>
        {at ? <span className="muted updated">{c.list.updated(clock(at))}</span> : null}
      </div>
      {failed ? <p className="banner" role="alert">{failed}</p> : null}
      {tab === 'overview' ? (
        <>
          <section className={`hero tone-${face.tone}`} aria-live="polite">
            <Mark tone={face.tone} size={40} />
            <div>
              <p className="hero-sentence" data-testid="sentence">{face.sentence}</p>
              {since ? <p className="since">{since}</p> : null}
              {face.todo ? <p className="todo">{face.todo}</p> : null}
            </div>
          </section>
          {!v.online && detail.pairedAt && !detail.revoked ? <p className="note">{c.venue.offlineNote(v.since ? when(v.since) : null)}</p> : null}
          {!detail.reported && v.online ? <p className="note">{c.venue.notReported}</p> : null}
          <div className="cards">{face.cards.map((card) => <StateCard key={card.id} card={card} />)}</div>
        </>
      ) : (
        // The other tabs keep the verdict in one line, so their own content starts on the first screen.
        <section className={`strip tone-${face.tone}`} aria-live="polite">
          <Mark tone={face.tone} size={24} />
          <p data-testid="sentence">{face.sentence}{since ? <span className="since muted"> · {since}</span> : null}</p>
        </section>
      )}
      <nav className="tabs" aria-label={c.venue.sections}>
        <ul>
          {TABS.map((x) => (
            <li key={x}>
              <a href={`/console/venues/${venueId}${x === 'overview' ? '' : `/${x}`}`} aria-current={x === tab ? 'page' : undefined}
                onClick={(e) => { e.preventDefault(); go({ screen: 'venue', venueId, tab: x }); }}>{c.venue.tabs[x]}</a>
            </li>
          ))}
        </ul>
      </nav>
      <div className="tab-body">
        {tab === 'overview' && <OverviewTab detail={detail} reload={load} />}
        {tab === 'diagnostics' && <DiagnosticsTab venueId={venueId} />}
        {tab === 'logs' && <LogsTab venueId={venueId} />}
        {tab === 'audit' && <AuditTab venueId={venueId} />}
        {tab === 'pairing' && <PairingTab detail={detail} reload={load} />}
      </div>
    </div>
  );
}
