/** Действия поддержки: every support action on the venue, newest first, under the caller's key fingerprint. */
import { useEffect, useState } from 'react';
import type { AuditList } from '../../../../protocol/console.ts';
import { call } from '../api.ts';
import { useC, when } from '../ctx.ts';

export function AuditTab({ venueId }: { venueId: string }) {
  const c = useC();
  const [entries, setEntries] = useState<AuditList['entries'] | null>(null);
  useEffect(() => {
    let alive = true;
    const load = async () => {
      const r = await call<AuditList>('GET', `/venues/${venueId}/audit?limit=100`);
      if (alive && r.ok) setEntries(r.data.entries);
    };
    void load();
    const t = window.setInterval(() => { if (document.visibilityState === 'visible') void load(); }, 5_000);
    return () => { alive = false; window.clearInterval(t); };
  }, [venueId]);
  return (
    <section className="audit-tab" aria-labelledby="audit-h">
      <h2 id="audit-h">{c.audit.title}</h2>
      <p className="help">{c.audit.help}</p>
      {entries === null ? <p className="muted">…</p> : entries.length === 0 ? <p className="muted">{c.audit.empty}</p> : (
        <table className="log" data-testid="audit">
          <thead><tr><th scope="col">{c.audit.cols.at}</th><th scope="col">{c.audit.cols.action}</th><th scope="col">{c.audit.cols.outcome}</th><th scope="col">{c.audit.cols.key}</th><th scope="col">{c.audit.cols.ip}</th></tr></thead>
          <tbody>
            {entries.map((a, i) => (
              <tr key={i} data-action={a.action}>
                <td><time dateTime={a.at}>{when(a.at)}</time></td>
                <td>{c.audit.actions[a.action] ?? a.action}</td>
                <td className={a.outcome === 'done' || a.outcome === 'started' ? '' : 'alarm'}>{c.audit.outcomes[a.outcome] ?? a.outcome}</td>
                <td className="mono">{a.by.key}</td>
                <td className="mono">{a.by.ip}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
