/**
 * Диагностика: runs the venue's checks through the tunnel and shows the
 * report exactly as the companion's own Диагностика screen does; the support
 * bundle downloads as a file (the browser saves it under its own name).
 */
import { useRef, useState } from 'react';
import type { Report } from '../../../../protocol/diagnostics.ts';
import { hhmm } from '../../../../protocol/face.ts';
import { Button, useT } from '../../../src/ui.tsx';
import { ReportChecks, TONE, reportText } from '../../../src/screens/diagnostics.tsx';
import { call } from '../api.ts';
import { useC } from '../ctx.ts';
import { errorText } from './errors.ts';

export function DiagnosticsTab({ venueId }: { venueId: string }) {
  const c = useC();
  const { t, lang } = useT();
  const [report, setReport] = useState<Report | null>(null);
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<string | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);

  const run = async () => {
    setBusy(true);
    setFailed(null);
    const r = await call<Report>('POST', `/venues/${venueId}/diagnostics`);
    setBusy(false);
    if (r.ok) setReport(r.data);
    else setFailed(errorText(r, c, lang));
  };
  const text = report ? reportText(report, lang) : '';
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
      <div className="actions">
        <Button kind="primary" onClick={() => void run()} disabled={busy}>{busy ? c.diag.running : c.diag.run}</Button>
        <Button onClick={() => void copy()} disabled={!report}>{t.diag.copy}</Button>
        <a className="btn btn-secondary" href={`/console/api/venues/${venueId}/bundle`} download>{c.diag.bundle}</a>
      </div>
      <p className="help">{c.diag.bundleHelp}</p>
      {copied ? <p className="ok-msg" role="status">{copied}</p> : null}
      {failed ? <div className="problem" role="alert" data-testid="diag-error"><p>{failed}</p></div> : null}
      {report ? <p className={`summary tone-${TONE[report.summary.result]}`} data-testid="diag-summary">{lang === 'en' && report.summary.textEn ? report.summary.textEn : report.summary.text}{' · '}{t.diag.checkedAt(hhmm(report.summary.startedAt))}</p>
        : failed ? null : <p className="muted">{c.diag.never}</p>}
      {report ? <ReportChecks report={report} /> : null}
      {report ? (
        <>
          <label htmlFor="report" className="report-label">{t.diag.report}</label>
          <textarea id="report" ref={area} readOnly value={text} rows={Math.min(14, text.split('\n').length + 1)} />
        </>
      ) : null}
    </div>
  );
}
