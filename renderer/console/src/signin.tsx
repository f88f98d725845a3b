/**
 * Вход: the API key goes once, in the body of the sign-in call, and is then
 * dropped from the page's memory; the relay answers with an HttpOnly session
 * cookie. Nothing is written to storage.
 */
import { useRef, useState, type FormEvent } from 'react';
import type { SessionView } from '../../../protocol/console.ts';
import { useT } from '../../src/ui.tsx';
import { call } from './api.ts';
import { useC } from './ctx.ts';

export function SignIn({ why, onIn }: { why: 'none' | 'signedOut' | 'expired'; onIn(view: SessionView): void }) {
  const c = useC();
  const { lang } = useT();
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const key = input.current?.value ?? '';
    if (!key.trim()) return input.current?.focus();
    setBusy(true);
    setError(null);
    const r = await call<SessionView>('POST', '/session', { key });
    // The key leaves the page's memory whatever the answer.
    if (input.current) input.current.value = '';
    setBusy(false);
    if (r.ok) return onIn(r.data);
    setError(r.status === 0 ? c.errors.offline : (lang === 'en' ? r.error.messageEn : r.error.message) || c.errors.other(r.error.error));
    input.current?.focus();
  };

  return (
    <section className="signin">
      <h1 tabIndex={-1}>{c.signin.title}</h1>
      {why !== 'none' ? <p className="note" role="status">{why === 'expired' ? c.signin.expired : c.signin.signedOut}</p> : null}
      <p>{c.signin.help}</p>
      <form onSubmit={(e) => void submit(e)} autoComplete="off">
        <label htmlFor="key">{c.signin.label}</label>
        <input id="key" ref={input} type="password" autoComplete="off" spellCheck={false} aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'key-error' : 'key-help'} autoFocus />
        <p className="help" id="key-help">{c.signin.keep}</p>
        <div className="actions"><button type="submit" className="btn btn-primary" disabled={busy}>{busy ? c.signin.checking : c.signin.submit}</button></div>
        {error ? <div className="problem" role="alert" id="key-error"><p>{error}</p></div> : null}
      </form>
    </section>
  );
}
