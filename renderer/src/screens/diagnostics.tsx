/**
 * Диагностика: runs the core's checks (POST /api/diagnostics → Report) and
 * shows each with its explanation and fix; copies the report; downloads the
 * support bundle (GET /api/diagnostics/bundle); lists what EVVA did remotely
 * (GET /api/audit → { entries }). Shapes are protocol/diagnostics.ts.
 */
import { useEffect, useRef, useState } from 'react';
import type { AuditEntry, Check, Report } from '../../../protocol/diagnostics.ts';
import { hhmm, when, type Tone } from '../../../face/face.ts';
import { reportText } from '../../../face/report.ts';
import type { Lang } from '../../../face/strings.ts';
import { call, href } from '../api.ts';
import type { Live } from '../live.ts';
import { Button, Mark, useT } from '../ui.tsx';

export const TONE: Record<Check['result'], Tone | 'none'> = { ok: 'green', warn: 'amber', fail: 'red', skip: 'none' };

/** A check's texts in the page's language (the report carries the English twin in `en`). */
export function textsOf(c: Check, lang: Lang): { title: string; explanation: string; fix: string | null } {
  const x = lang === 'en' && c.en ? c.en : c;
  return { title: x.title, explanation: x.explanation, fix: x.fix ?? null };
}

/** The checks of a report, each with its explanation and fix (also EVVA's support console shows a venue's report this way). */
export function ReportChecks({ report }: { report: Report }) {
  const { t, lang } = useT();
  return (
    <ul className="checks">
      {report.checks.map((c) => {
        const x = textsOf(c, lang);
        return (
          <li key={c.id} className={`check tone-${TONE[c.result]}`} data-check={c.id}>
            <Mark tone={TONE[c.result]} />
            <div>
              <h2>{x.title} <span className="sr-only">— {t.diag.result[c.result]}</span></h2>
              <p>{x.explanation}</p>
              {x.fix ? <p className="hint"><span className="sr-only">{t.diag.fix}: </span>{x.fix}</p> : null}
            </div>
          </li>
        );
      })}
    </ul>
  );
}

export function Diagnostics({ live }: { live: Live }) {
  const { t, lang } = useT();
  const [report, setReport] = useState<Report | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState<string | null>(null);
  const [audit, setAudit] = useState<AuditEntry[] | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);

  const loadAudit = async () => {
    const r = await call<{ entries: AuditEntry[] }>('GET', '/api/audit?limit=50');
    setAudit(r.ok && Array.isArray(r.data?.entries) ? r.data.entries : null);
  };
  useEffect(() => { void loadAudit(); }, []);

  const run = async () => {
    setBusy(true);
    setFailed(null);
    const r = await call<Report>('POST', '/api/diagnostics');
    setBusy(false);
    if (r.ok) setReport(r.data);
    else setFailed((lang === 'en' ? r.error.messageEn : r.error.message) || t.common.unknownError);
    void loadAudit();
  };

  const tunnel = live.status?.tunnel;
  const text = report ? reportText(report, lang, tunnel?.venueName ? `${tunnel.venueName} (${tunnel.venueId})` : null) : '';
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
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
        <Button onClick={() => void copy()} disabled={!report}>{t.diag.copy}</Button>
        {/* The bundle runs the checks itself; a plain link lets the browser save the zip with its name. */}
        <a className="btn btn-secondary" href={href('/api/diagnostics/bundle')} download>{t.diag.save}</a>
      </div>
      {copied ? <p className="ok-msg" role="status">{copied}</p> : null}
      {failed ? <p className="error-msg" role="alert">{failed}</p> : null}
      {report ? <p className={`summary tone-${TONE[report.summary.result]}`} data-testid="diag-summary">{lang === 'en' && report.summary.textEn ? report.summary.textEn : report.summary.text}{' · '}{t.diag.checkedAt(hhmm(report.summary.startedAt))}</p>
        : <p className="muted">{t.diag.never}</p>}
      {report ? <ReportChecks report={report} /> : null}
      {report ? (
        <>
          <label htmlFor="report" className="report-label">{t.diag.report}</label>
          <textarea id="report" ref={area} readOnly value={text} rows={Math.min(14, text.split('\n').length + 1)} />
        </>
      ) : null}
      <section aria-labelledby="audit-h" className="audit">
        <h2 id="audit-h">{t.diag.audit}</h2>
        {audit === null ? <p className="muted">{t.diag.auditNone}</p>
          : audit.length === 0 ? <p className="muted">{t.diag.auditEmpty}</p>
          : <ol className="events">{audit.map((a, i) => {
            const detail = lang === 'en' ? a.detailEn : a.detail;
            return <li key={i}><time dateTime={a.at}>{when(a.at, lang)}</time><span>{t.diag.auditLine(t.diag.actions[a.action] ?? a.action, t.diag.outcomes[a.outcome], a.by.ip ?? a.by.key)}{detail ? ` — ${detail}` : ''}</span></li>;
          })}</ol>}
      </section>
    </div>
  );
}
