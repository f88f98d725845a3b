/**
 * Диагностика: runs the venue's checks through the tunnel and shows the
 * report exactly as the companion's own Диагностика screen does; the support
 * bundle downloads as a file (the browser saves it under its own name).
 */
import { useRef, useState } from 'react';
import type { Report } from '../../../../protocol/diagnostics.ts';
import { hhmm } from '../../../../face/face.ts';
import { Button, useT } from '../../../src/ui.tsx';
import { ReportChecks, TONE } from '../../../src/screens/diagnostics.tsx';
import { reportText } from '../../../../face/report.ts';
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
  const [fetching, setFetching] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);

  const run = async () => {
    setBusy(true);
    setFailed(null);
    const r = await call<Report>('POST', `/venues/${venueId}/diagnostics`);
    setBusy(false);
    if (r.ok) setReport(r.data);
    else setFailed(errorText(r, c, lang));
  };
  /** The zip is fetched first, so a refusal (remote diagnostics off, venue offline) is said here instead of saved as a file. */
  const download = async () => {
    setFetching(true);
    setFailed(null);
    let res: Response | null = null;
    try {
      res = await fetch(`/console/api/venues/${venueId}/bundle`, { credentials: 'same-origin', cache: 'no-store' });
    } catch { /* offline: said below */ }
    if (!res || !res.ok) {
      const e = res ? (await res.json().catch(() => null)) as { error?: string; message?: string; messageEn?: string } | null : null;
      setFailed(errorText({ ok: false, status: res?.status ?? 0, error: { error: e?.error ?? `http_${res?.status ?? 0}`, message: e?.message ?? '', messageEn: e?.messageEn ?? e?.message ?? '' } }, c, lang));
      return setFetching(false);
    }
    const blob = await res.blob();
    setFetching(false);
    const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `evva-diagnostics-${venueId}.zip`;
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
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
        <Button kind="primary" onClick={() => void run()} disabled={busy} testId="diag-run">{busy ? c.diag.running : c.diag.run}</Button>
        <Button onClick={() => void copy()} disabled={!report}>{t.diag.copy}</Button>
        <Button onClick={() => void download()} disabled={fetching} testId="bundle">{fetching ? c.diag.bundling : c.diag.bundle}</Button>
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
