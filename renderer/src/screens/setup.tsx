/**
 * Настройка: three steps — the pairing code, the plugin, done. A wrong or
 * expired code is explained in the UI's language and what was typed stays.
 *
 * The step and what was typed are kept in `kept`, outside the screen, as
 * Настройки keeps its draft: the screen is re-mounted when the page's live
 * channel drops and returns (app.tsx shows nothing of a companion that does
 * not answer, as when it restarts), and a sysadmin halfway through must find
 * the same step and the same code. A paired code and a finished setup are
 * forgotten.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { faceOf, portOf } from '../../../face/face.ts';
import type { FrontCheck, PairResult } from '../../../protocol/local.ts';
import { call } from '../api.ts';
import { desktop } from '../bridge.ts';
import type { Live } from '../live.ts';
import type { Route } from '../router.ts';
import { Button, Mark, problemText, useT } from '../ui.tsx';

/** The step and the fields typed and not yet used, for the life of the page (across re-mounts of the screen). */
const kept: { step: 1 | 2 | 3; code: string; relay: string; port: string } = { step: 1, code: '', relay: '', port: '' };
/** A `useState` whose value is also written to `kept[name]`, and starts from it. */
function useKept<K extends keyof typeof kept>(name: K): [(typeof kept)[K], (v: (typeof kept)[K]) => void] {
  const [value, set] = useState(kept[name]);
  return [value, (v) => { kept[name] = v; set(v); }];
}

export function Setup({ live, go }: { live: Live; go(r: Route): void }) {
  const { t } = useT();
  const [step, setStep] = useKept('step');
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => { if (step > 1) heading.current?.focus(); }, [step]);
  const titles = [t.setup.codeTitle, t.setup.frontTitle, t.setup.doneTitle];
  return (
    <div className="setup">
      <h1 tabIndex={-1}>{t.setup.title}</h1>
      <ol className="steps" aria-label={t.setup.step(step)}>
        {titles.map((title, i) => (
          <li key={title} className={i + 1 === step ? 'now' : i + 1 < step ? 'done' : ''} aria-current={i + 1 === step ? 'step' : undefined}>
            <span className="n">{i + 1}</span>{title}
          </li>
        ))}
      </ol>
      <p className="step-count" data-testid="step">{t.setup.step(step)}</p>
      {/* The step's name is in the counter above; the heading is for screen readers and where focus lands. */}
      <h2 ref={heading} tabIndex={-1} className="sr-only">{titles[step - 1]}</h2>
      {step === 1 && <CodeStep live={live} next={() => setStep(2)} />}
      {step === 2 && <FrontStep live={live} next={() => setStep(3)} back={() => setStep(1)} />}
      {step === 3 && <DoneStep live={live} finish={() => { kept.step = 1; kept.port = ''; if (desktop) void desktop.hide(); go('status'); }} />}
    </div>
  );
}

function CodeStep({ live, next }: { live: Live; next(): void }) {
  const { t, lang } = useT();
  const [code, setCode] = useKept('code');
  const [relay, setRelay] = useKept('relay');
  const [needRelay, setNeedRelay] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; hint: string | null } | null>(null);
  const paired = live.status?.tunnel.venueId ? live.status.tunnel.venueName ?? live.status.tunnel.venueId : null;

  useEffect(() => {
    void call<{ values: { relayUrl: string | null } }>('GET', '/api/settings').then((r) => { if (r.ok && !r.data.values.relayUrl) setNeedRelay(true); });
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const r = await call<PairResult>('POST', '/api/pair', { code: code.trim(), ...(relay.trim() ? { relayUrl: relay.trim() } : {}) });
    setBusy(false);
    if (r.ok) { kept.code = ''; kept.relay = ''; await live.refresh(); next(); return; }
    if (r.error.code === 'relay_url_missing') setNeedRelay(true);
    setError(r.status === 0 ? { message: t.common.offline, hint: null } : problemText(r.error.message ? r.error : { message: t.common.unknownError }, lang));
  };

  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      {paired ? <p className="muted">{t.setup.pairedAlready(paired)}</p> : null}
      <label htmlFor="code" className="big-label">{t.setup.codeLabel}</label>
      <p id="code-help" className="help">{t.setup.codeHelp}</p>
      <input id="code" className="code-input" value={code} autoFocus autoComplete="off" autoCapitalize="characters" spellCheck={false}
        maxLength={32} aria-describedby={error ? 'code-help code-error' : 'code-help'} aria-invalid={error ? true : undefined}
        onChange={(e) => setCode(e.target.value.toUpperCase())}
        onPaste={(e) => { e.preventDefault(); setCode(e.clipboardData.getData('text').trim().toUpperCase()); }}
        placeholder="K7QF-2MXD" />
      {needRelay ? (
        <>
          <label htmlFor="relay">{t.setup.relayLabel}</label>
          <p id="relay-help" className="help">{t.setup.relayHelp}</p>
          <input id="relay" type="url" value={relay} onChange={(e) => setRelay(e.target.value)} aria-describedby="relay-help" placeholder="https://…" spellCheck={false} />
        </>
      ) : null}
      {error ? (
        <div id="code-error" className="problem" role="alert">
          <p>{error.message}</p>
          {error.hint ? <p className="hint">{error.hint}</p> : null}
        </div>
      ) : null}
      <div className="actions">
        <Button kind="primary" type="submit" disabled={busy || code.trim() === ''}>{busy ? t.setup.pairing : t.setup.pair}</Button>
        {paired ? <Button onClick={next}>{t.setup.next}</Button> : null}
      </div>
    </form>
  );
}

function FrontStep({ live, next, back }: { live: Live; next(): void; back(): void }) {
  const { t, lang } = useT();
  const front = live.status!.front;
  const [port, setPort] = useKept('port');
  const [error, setError] = useState<{ message: string; hint: string | null } | null>(null);
  const [busy, setBusy] = useState(false);
  const found = front.state === 'up' || front.state === 'unlicensed';
  // An address given when the companion started outranks anything typed here (docs/settings.md).
  const fixedAtStart = front.source === 'flag' || front.source === 'env';

  const usePort = async (e: FormEvent) => {
    e.preventDefault();
    const n = Number(port);
    if (!/^\d+$/.test(port) || n < 1 || n > 65535) { setError({ message: t.setup.badPort, hint: null }); return; }
    setBusy(true);
    setError(null);
    // Checked first, saved only when the plugin answers there: a port that failed its check is never kept.
    const check = await call<FrontCheck>('POST', '/api/front/check', { port: n });
    if (!check.ok) {
      setBusy(false);
      setError(check.status === 0 ? { message: t.common.offline, hint: null } : problemText(check.error.message ? check.error : { message: t.common.unknownError }, lang));
      return;
    }
    if (!check.data.found) {
      setBusy(false);
      // What is at that port, and that nothing was saved (the problem's own hint is about the settings, not this form).
      setError(check.data.problem ? { message: problemText(check.data.problem, lang).message, hint: t.setup.notSaved } : { message: t.setup.notPluginThere(String(n)), hint: null });
      return;
    }
    const r = await call('PUT', '/api/settings', { frontUrl: `http://127.0.0.1:${n}` });
    setBusy(false);
    if (!r.ok) setError({ message: r.status === 0 ? t.common.offline : r.status === 409 ? t.setup.fixedAtStart : t.common.unknownError, hint: null });
  };

  return (
    <div>
      {found ? (
        <p className="found" role="status"><Mark tone="green" /> {t.setup.frontFound(portOf(front.url) ?? '—', front.version)}</p>
      ) : front.state === 'unknown' ? (
        <p className="found" role="status"><Mark tone="amber" /> {t.setup.frontSearching}</p>
      ) : (
        <div className="problem" role="alert">
          {/* «not found» says what the title says: the title and the hint are enough then. */}
          <p>{t.setup.frontMissing}{front.error && front.error.code !== 'not_found' ? ` ${problemText(front.error, lang).message}` : ''}</p>
          {front.error && lang === 'ru' && front.error.hint ? <p className="hint">{front.error.hint}</p> : null}
        </div>
      )}
      {!found && fixedAtStart ? <p className="locked" data-testid="front-fixed">{t.setup.fixedAtStart}</p> : null}
      {!found && !fixedAtStart ? (
        <form onSubmit={(e) => void usePort(e)} noValidate className="port-form">
          <label htmlFor="port">{t.setup.portLabel}</label>
          <p id="port-help" className="help">{t.setup.portHelp}</p>
          <input id="port" inputMode="numeric" value={port} onChange={(e) => setPort(e.target.value.trim())} aria-describedby={error ? 'port-help port-error' : 'port-help'} aria-invalid={error ? true : undefined} placeholder="9042" />
          {error ? (
            <div id="port-error" className="problem" role="alert">
              <p>{error.message}</p>
              {error.hint ? <p className="hint">{error.hint}</p> : null}
            </div>
          ) : null}
          <div className="actions"><Button type="submit" disabled={busy || !port}>{busy ? t.setup.checking : t.setup.usePort}</Button></div>
        </form>
      ) : null}
      <div className="actions">
        <Button onClick={back}>{t.setup.back}</Button>
        <Button kind="primary" onClick={next} disabled={!found}>{t.setup.next}</Button>
      </div>
    </div>
  );
}

function DoneStep({ live, finish }: { live: Live; finish(): void }) {
  const { t, lang } = useT();
  const face = faceOf(live.status!, lang);
  return (
    <div>
      <p className={`hero-line tone-${face.tone}`} role="status" data-testid="done-sentence"><Mark tone={face.tone} size={28} /> {face.sentence}</p>
      <p className="help">{face.tone === 'green' ? t.setup.doneHelp : t.setup.notYet}</p>
      <div className="actions"><Button kind="primary" onClick={finish}>{t.setup.done}</Button></div>
    </div>
  );
}
