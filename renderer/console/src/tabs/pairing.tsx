/**
 * Привязка: a new pairing code, and revoking the device. Each asks first, in
 * a dialog that says what happens to the venue, and names the venue.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { VenueDetail } from '../../../../protocol/console.ts';
import type { CreateVenueResponse } from '../../../../protocol/relay.ts';
import { useT } from '../../../src/ui.tsx';
import { call } from '../api.ts';
import { useC, when } from '../ctx.ts';
import { errorText } from './errors.ts';

export function PairingTab({ detail, reload }: { detail: VenueDetail; reload(): Promise<void> }) {
  const c = useC();
  const { lang } = useT();
  const v = detail.venue;
  const [asking, setAsking] = useState<'code' | 'revoke' | null>(null);
  const [busy, setBusy] = useState(false);
  const [code, setCode] = useState<CreateVenueResponse | null>(null);
  const [said, setSaid] = useState<{ ok: boolean; text: string } | null>(null);

  const issue = async () => {
    setBusy(true);
    const r = await call<CreateVenueResponse>('POST', `/venues/${v.venueId}/pairing`);
    setBusy(false);
    setAsking(null);
    if (r.ok) { setCode(r.data); setSaid(null); } else setSaid({ ok: false, text: errorText(r, c, lang) });
  };
  const revoke = async () => {
    setBusy(true);
    const r = await call('POST', `/venues/${v.venueId}/revoke`);
    setBusy(false);
    setAsking(null);
    setSaid(r.ok ? { ok: true, text: c.pairing.revoked } : { ok: false, text: errorText(r, c, lang) });
    await reload();
  };

  return (
    <div className="pairing">
      <section aria-labelledby="code-h" className="panel">
        <h2 id="code-h">{c.pairing.codeTitle}</h2>
        <p className="help">{c.pairing.codeHelp}</p>
        <button type="button" className="btn" onClick={() => setAsking('code')} data-testid="code-open">{c.pairing.codeAction}</button>
        {code ? <p className="ok-msg code-line" role="status" data-testid="code">{c.pairing.code(code.pairingCode, when(code.pairingExpiresAt))}</p> : null}
      </section>
      <section aria-labelledby="revoke-h" className="panel">
        <h2 id="revoke-h">{c.pairing.revokeTitle}</h2>
        <p className="help">{c.pairing.revokeHelp}</p>
        {detail.revoked ? <p className="muted">{c.pairing.alreadyRevoked}</p>
          : <button type="button" className="btn btn-danger" onClick={() => setAsking('revoke')} data-testid="revoke-open">{c.pairing.revokeAction}</button>}
      </section>
      {said ? <p className={said.ok ? 'ok-msg' : 'problem'} role="status" data-testid="pairing-said">{said.text}</p> : null}
      {asking === 'code' ? (
        <Confirm title={c.pairing.codeConfirm(v.name)} yes={c.pairing.codeYes} busy={busy} onYes={() => void issue()} onNo={() => setAsking(null)}>{c.pairing.codeWhat}</Confirm>
      ) : null}
      {asking === 'revoke' ? (
        <Confirm title={c.pairing.revokeConfirm(v.name)} yes={c.pairing.revokeYes} danger busy={busy} onYes={() => void revoke()} onNo={() => setAsking(null)}>{c.pairing.revokeWhat}</Confirm>
      ) : null}
    </div>
  );
}

/** A modal question (the browser's <dialog>: focus stays inside, Esc cancels). */
function Confirm({ title, children, yes, danger, busy, onYes, onNo }: { title: string; children: ReactNode; yes: string; danger?: boolean; busy: boolean; onYes(): void; onNo(): void }) {
  const c = useC();
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} className="confirm" aria-labelledby="confirm-h" onCancel={(e) => { e.preventDefault(); onNo(); }}>
      <h2 id="confirm-h">{title}</h2>
      <p>{children}</p>
      <div className="actions">
        <button type="button" className={danger ? 'btn btn-danger' : 'btn btn-primary'} disabled={busy} onClick={onYes} data-testid="confirm-yes">{yes}</button>
        <button type="button" className="btn" onClick={onNo} autoFocus data-testid="confirm-no">{c.pairing.cancel}</button>
      </div>
    </dialog>
  );
}
