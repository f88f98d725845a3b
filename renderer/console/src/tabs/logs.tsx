/**
 * Журнал компаньона: the newest lines of the companion's log, already
 * redacted on the POS PC, read through the tunnel; filtered here by text and
 * level (the filter never asks the venue again).
 */
import { useId, useState } from 'react';
import type { LogTail } from '../../../../protocol/diagnostics.ts';
import { useT } from '../../../src/ui.tsx';
import { call } from '../api.ts';
import { useC, when } from '../ctx.ts';
import { errorText } from './errors.ts';

const LINE_CHOICES = [200, 500, 2000];
type Level = 'all' | 'error' | 'warn';

interface Line { raw: string; at: string | null; level: string; message: string; rest: string }

/** A log line: the companion writes JSON lines (winston); anything else is shown as it is. */
function parseLine(raw: string): Line {
  try {
    const j = JSON.parse(raw) as Record<string, unknown>;
    if (j && typeof j === 'object' && typeof j.message === 'string') {
      const { timestamp, level, message, ...rest } = j;
      return { raw, at: typeof timestamp === 'string' ? timestamp : null, level: typeof level === 'string' ? level : '', message, rest: Object.keys(rest).length ? JSON.stringify(rest) : '' };
    }
  } catch { /* plain text */ }
  return { raw, at: null, level: '', message: raw, rest: '' };
}

export function LogsTab({ venueId }: { venueId: string }) {
  const c = useC();
  const { lang } = useT();
  const [lines, setLines] = useState(200);
  const [tail, setTail] = useState<{ lines: Line[]; dropped: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const [level, setLevel] = useState<Level>('all');
  const filterId = useId();

  const load = async () => {
    setBusy(true);
    setFailed(null);
    const r = await call<LogTail>('GET', `/venues/${venueId}/logs?lines=${lines}`);
    setBusy(false);
    if (r.ok) setTail({ lines: r.data.lines.map(parseLine).reverse(), dropped: r.data.dropped });
    else setFailed(errorText(r, c, lang));
  };

  const needle = filter.trim().toLowerCase();
  const shown = (tail?.lines ?? []).filter((l) => (level === 'all' || l.level === 'error' || (level === 'warn' && l.level === 'warn'))
    && (!needle || l.raw.toLowerCase().includes(needle)));

  return (
    <div className="logs">
      <div className="toolbar">
        <div className="field">
          <label htmlFor="lines">{c.logs.lines}</label>
          <select id="lines" value={lines} onChange={(e) => setLines(Number(e.target.value))}>
            {LINE_CHOICES.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </div>
        <div className="field end"><button type="button" className="btn btn-primary" disabled={busy} onClick={() => void load()} data-testid="logs-load">{busy ? c.logs.loading : c.logs.load}</button></div>
        <div className="field search">
          <label htmlFor={filterId}>{c.logs.filter}</label>
          <input id={filterId} data-testid="logs-filter" type="search" value={filter} placeholder={c.logs.filterHint} onChange={(e) => setFilter(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="level">{c.logs.level}</label>
          <select id="level" value={level} onChange={(e) => setLevel(e.target.value as Level)}>
            {(['all', 'warn', 'error'] as Level[]).map((l) => <option key={l} value={l}>{c.logs.levels[l]}</option>)}
          </select>
        </div>
      </div>
      {failed ? <div className="problem" role="alert" data-testid="logs-error"><p>{failed}</p></div> : null}
      {!tail ? (failed ? null : <p className="muted">{c.logs.never}</p>) : (
        <>
          <p className="muted small" data-testid="logs-count">{c.logs.shown(shown.length, tail.lines.length)}</p>
          {tail.dropped ? <p className="note">{c.logs.dropped(tail.dropped)}</p> : null}
          {shown.length === 0 ? <p className="muted">{tail.lines.length ? c.logs.emptyFiltered : c.logs.empty}</p> : (
            <ol className="loglines" data-testid="loglines">
              {shown.map((l, i) => (
                <li key={i} className={`lvl-${l.level}`}>
                  <time>{l.at ? when(l.at) : ''}</time>
                  <span className="lvl">{l.level}</span>
                  <span className="msg">{l.message}{l.rest ? <span className="muted"> {l.rest}</span> : null}</span>
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </div>
  );
}
