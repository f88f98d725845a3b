/**
 * Диагностика: runs the core's checks (POST /api/diagnostics) and shows each
 * with its explanation and fix; copies the report; offers the support bundle;
 * lists what EVVA did remotely (GET /api/audit). Where this core has no such
 * endpoint (404), it says so and shows only what the status already knows.
 */
import { useEffect, useRef, useState } from 'react';
import { faceOf, hhmm, reportOf, type Tone } from '../../../protocol/face.ts';
import type { Status } from '../../../protocol/local.ts';
import type { Lang } from '../../../protocol/strings.ts';
import { call, href } from '../api.ts';
import type { Live } from '../live.ts';
import { Button, Mark, useT } from '../ui.tsx';

interface Check { id: string; title: string; tone: Tone | 'none'; message: string; fix: string | null }
interface Audit { at: string; text: string }

const str = (v: unknown) => (typeof v === 'string' ? v : null);

/** Reads the diagnostics' answer tolerantly: `{ checks: [{ id, title|name, status|level, message, hint|fix }], text? }`. */
function checksOf(body: unknown): { checks: Check[]; text: string | null } {
  const o = (body ?? {}) as Record<string, unknown>;
  const list = Array.isArray(o.checks) ? o.checks : [];
  const tone = (s: unknown): Tone | 'none' => {
    const v = String(s ?? '').toLowerCase();
    return ['ok', 'pass', 'passed', 'green'].includes(v) ? 'green' : ['warn', 'warning', 'amber'].includes(v) ? 'amber' : ['fail', 'failed', 'error', 'red'].includes(v) ? 'red' : 'none';
  };
  return {
    checks: list.map((c, i) => {
      const x = (c ?? {}) as Record<string, unknown>;
      return { id: str(x.id) ?? String(i), title: str(x.title) ?? str(x.name) ?? str(x.id) ?? '—', tone: tone(x.status ?? x.level ?? (x.ok === true ? 'ok' : x.ok === false ? 'fail' : '')), message: str(x.message) ?? '', fix: str(x.hint) ?? str(x.fix) };
    }),
    text: str(o.text) ?? str(o.report),
  };
}

/** What is known without the diagnostics part: the status's own cards. */
function fromStatus(status: Status, lang: Lang): Check[] {
  return faceOf(status, lang).cards.map((c) => ({ id: c.id, title: c.title, tone: c.tone, message: c.state, fix: c.detail }));
}

/** The report: the diagnostics' own text when it sent one, else the status's cards as text. */
function reportText(checks: Check[], status: Status, lang: Lang, fromStatus: boolean): string {
  if (fromStatus) return reportOf(status, lang);
  const [head] = reportOf(status, lang).split('\n');
  return [head, faceOf(status, lang).sentence, ...checks.map((c) => `- ${c.title}: ${c.message}${c.fix ? ` (${c.fix})` : ''}`)].join('\n');
}

export function Diagnostics({ live }: { live: Live }) {
  const { t, lang } = useT();
  const [result, setResult] = useState<{ checks: Check[]; text: string | null; at: string } | null>(null);
  const [available, setAvailable] = useState<boolean | null>(null);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState<string | null>(null);
  const [audit, setAudit] = useState<Audit[] | null | 'none'>(null);
  const area = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    void call<unknown>('GET', '/api/audit').then((r) => {
      if (!r.ok) { setAudit(r.status === 404 ? 'none' : null); return; }
      const items = Array.isArray(r.data) ? r.data : Array.isArray((r.data as { items?: unknown }).items) ? (r.data as { items: unknown[] }).items : [];
      setAudit(items.map((x) => {
        const o = (x ?? {}) as Record<string, unknown>;
        return { at: str(o.at) ?? str(o.time) ?? '', text: str(o.summary) ?? str(o.action) ?? str(o.command) ?? JSON.stringify(o).slice(0, 120) };
      }));
    });
  }, []);

  const run = async () => {
    setBusy(true);
    const r = await call<unknown>('POST', '/api/diagnostics');
    setBusy(false);
    if (r.ok) { setAvailable(true); setResult({ ...checksOf(r.data), at: new Date().toISOString() }); return; }
    setAvailable(r.status === 404 ? false : null);
  };

  const checks = result?.checks ?? fromStatus(live.status!, lang);
  const report = result?.text ?? reportText(checks, live.status!, lang, !result);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(report);
      setCopied(t.diag.copied);
    } catch {
      area.current?.select();
      setCopied(document.execCommand('copy') ? t.diag.copied : t.diag.copyFailed);
    }
  };

  return (
    <div className="diagnostics">
      <h1 tabIndex={-1}>{t.diag.title}</h1>
      <div className="actions">
        <Button kind="primary" onClick={() => void run()} disabled={busy}>{busy ? t.diag.running : t.diag.run}</Button>
        <Button onClick={() => void copy()}>{t.diag.copy}</Button>
        {available ? <a className="btn btn-secondary" href={href('/api/diagnostics/bundle')} download>{t.diag.save}</a> : null}
      </div>
      {copied ? <p className="ok-msg" role="status">{copied}</p> : null}
      {available === false ? <p className="muted note" role="status">{t.diag.notBuilt}</p> : null}
      {!result && available !== false ? <p className="muted">{t.diag.never}</p> : null}
      <ul className="checks">
        {checks.map((c) => (
          <li key={c.id} className={`check tone-${c.tone}`}>
            <Mark tone={c.tone} />
            <div>
              <h2>{c.title}</h2>
              <p>{c.message || t.common.noData}</p>
              {c.fix ? <p className="hint"><span className="sr-only">{t.diag.fix}: </span>{c.fix}</p> : null}
            </div>
          </li>
        ))}
      </ul>
      <label htmlFor="report" className="report-label">{t.diag.report}</label>
      <textarea id="report" ref={area} readOnly value={report} rows={Math.min(12, report.split('\n').length + 1)} />
      <section aria-labelledby="audit-h" className="audit">
        <h2 id="audit-h">{t.diag.audit}</h2>
        {audit === 'none' || audit === null ? <p className="muted">{t.diag.auditNone}</p>
          : audit.length === 0 ? <p className="muted">{t.diag.auditEmpty}</p>
          : <ol className="events">{audit.map((a, i) => <li key={i}><time dateTime={a.at}>{a.at ? hhmm(a.at) : '—'}</time><span>{a.text}</span></li>)}</ol>}
      </section>
    </div>
  );
}
