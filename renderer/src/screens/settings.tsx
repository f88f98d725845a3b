/**
 * Настройки: saved through PUT /api/settings, which validates and applies
 * them at once. A bad value comes back with its field and is shown there, by
 * the field's own label. A value set when the companion started (a flag or
 * the environment) outranks this form, so it is shown and not editable.
 *
 * What the sysadmin typed and has not saved is kept in `draft`, outside the
 * screen: the screen is re-mounted when the page's live channel drops and
 * returns (app.tsx shows nothing of a companion that does not answer), and a
 * load of the saved values that answers late must not erase it either.
 */
import { useEffect, useState, type FormEvent } from 'react';
import type { Lang } from '../../../face/strings.ts';
import { call } from '../api.ts';
import { desktop } from '../bridge.ts';
import { Button, useT } from '../ui.tsx';

type Source = 'default' | 'file' | 'env' | 'flag';
interface Values {
  frontUrl: string | null; moduleId: string; probeIntervalSec: number; relayUrl: string | null; proxy: string | null; language: Lang;
  allowRemoteDiagnostics: boolean; journalDays: number;
}
interface View { values: Values; sources: Partial<Record<keyof Values, Source>> }
type Form = { frontUrl: string; moduleId: string; probeIntervalSec: string; relayUrl: string; proxy: string; journalDays: string };
const FIELDS: Array<keyof Form> = ['frontUrl', 'moduleId', 'relayUrl', 'proxy', 'probeIntervalSec', 'journalDays'];
const NUMBERS = new Set<keyof Form>(['probeIntervalSec', 'journalDays']);

const toForm = (v: Values): Form => ({
  frontUrl: v.frontUrl ?? '', moduleId: v.moduleId, probeIntervalSec: String(v.probeIntervalSec), relayUrl: v.relayUrl ?? '', proxy: v.proxy ?? '',
  journalDays: String(v.journalDays),
});

/** The fields typed and not yet saved, by name (kept for the life of the page, across re-mounts of the screen). */
let draft: Partial<Form> = {};
/** Notes a typed value; one typed back to the saved value is no longer a change. */
const remember = (name: keyof Form, value: string, saved: string) => {
  const { [name]: _was, ...rest } = draft;
  draft = value === saved ? rest : { ...rest, [name]: value };
};

interface Message { ok: boolean; text: string; fields: string[]; problems: Array<{ field: string; message: string }> }

export function SettingsScreen() {
  const { t, lang, setLang } = useT();
  const [saved, setSaved] = useState<View | null>(null);
  const [form, setForm] = useState<Form | null>(null);
  const [message, setMessage] = useState<Message | null>(null);
  const [busy, setBusy] = useState(false);
  const [login, setLogin] = useState<boolean | null>(null);
  const [remote, setRemote] = useState<{ ok: boolean; text: string } | null>(null);

  useEffect(() => {
    // An answer for a screen already gone is dropped (React runs this twice in development, and a re-mount starts
    // another load); what was typed is laid over the saved values, never under them.
    let gone = false;
    void call<View>('GET', '/api/settings').then((r) => {
      if (gone || !r.ok) return;
      setSaved(r.data);
      setForm({ ...toForm(r.data.values), ...draft });
    });
    if (desktop) void desktop.getStartAtLogin().then((on) => { if (!gone) setLogin(on); });
    return () => { gone = true; };
  }, []);
  if (!form || !saved) return <div><h1 tabIndex={-1}>{t.settings.title}</h1><p className="muted">…</p></div>;

  const locked = (f: keyof Values) => saved.sources[f] === 'flag' || saved.sources[f] === 'env';
  const before = toForm(saved.values);
  const labels: Record<keyof Form, string> = {
    frontUrl: t.settings.frontUrl, moduleId: t.settings.moduleId, relayUrl: t.settings.relayUrl, proxy: t.settings.proxy,
    probeIntervalSec: t.settings.probeIntervalSec, journalDays: t.settings.journalDays,
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const patch: Record<string, unknown> = {};
    for (const f of FIELDS) {
      if (form[f] === before[f] || locked(f)) continue;
      patch[f] = NUMBERS.has(f) ? (form[f].trim() === '' ? null : Number(form[f])) : form[f].trim() === '' ? null : form[f].trim();
    }
    if (Object.keys(patch).length === 0) { setMessage({ ok: true, text: t.settings.nothing, fields: [], problems: [] }); return; }
    setBusy(true);
    const r = await call<View>('PUT', '/api/settings', patch);
    setBusy(false);
    if (r.ok) { draft = {}; setSaved(r.data); setForm(toForm(r.data.values)); setMessage({ ok: true, text: t.settings.saved, fields: [], problems: [] }); return; }
    if (r.status === 0) { setMessage({ ok: false, text: t.common.offline, fields: [], problems: [] }); return; }
    const fields = r.error.fields ?? [];
    const problems = (r.error as { problems?: Array<{ field: string; message: string }> }).problems ?? [];
    setMessage({ ok: false, text: fields.length ? t.settings.fixFields : t.common.unknownError, fields, problems });
  };

  /** What is wrong with `name`, by its label: the core's Russian reason, or the catalogue's in English. */
  const problemOf = (name: keyof Form): string | null => {
    if (!message || message.ok || !message.fields.includes(name)) return null;
    const why = message.problems.find((p) => p.field === name)?.message;
    return lang === 'ru' && why ? why : t.settings.invalid[name];
  };

  const field = (name: keyof Form, help?: string, type = 'text') => {
    const bad = problemOf(name);
    const fixed = locked(name);
    const described = [help ? `h-${name}` : '', fixed ? `l-${name}` : '', bad ? `e-${name}` : ''].filter(Boolean).join(' ') || undefined;
    return (
      <div className={bad ? 'field bad' : 'field'}>
        <label htmlFor={`f-${name}`}>{labels[name]}</label>
        {help ? <p id={`h-${name}`} className="help">{help}</p> : null}
        <input id={`f-${name}`} name={name} type={type} value={form[name]} spellCheck={false} readOnly={fixed}
          aria-invalid={bad ? true : undefined} aria-describedby={described}
          onChange={(e) => { const value = e.target.value; remember(name, value, before[name]); setForm((f) => f && { ...f, [name]: value }); }} />
        {fixed ? <p id={`l-${name}`} className="locked">{t.settings.locked}</p> : null}
        {bad ? <p id={`e-${name}`} className="field-error">{`${labels[name]}: ${bad}`}</p> : null}
      </div>
    );
  };

  const setRemoteAllowed = async (on: boolean) => {
    // Shown at once; put back if the companion did not take it, so the box never claims what is not so.
    const was = saved;
    setSaved({ ...saved, values: { ...saved.values, allowRemoteDiagnostics: on } });
    setRemote(null);
    const r = await call<View>('PUT', '/api/settings', { allowRemoteDiagnostics: on });
    if (r.ok) { setSaved(r.data); setRemote({ ok: true, text: on ? t.settings.remoteOn : t.settings.remoteOff }); return; }
    setSaved(was);
    setRemote({ ok: false, text: r.status === 0 ? t.common.offline : t.common.unknownError });
  };

  return (
    <div className="settings">
      <h1 tabIndex={-1}>{t.settings.title}</h1>
      <form onSubmit={(e) => void submit(e)} noValidate>
        {field('frontUrl', t.settings.frontUrlHelp)}
        {field('moduleId', t.settings.moduleIdHelp)}
        {field('relayUrl', t.settings.relayUrlHelp)}
        {field('proxy', t.settings.proxyHelp)}
        {field('probeIntervalSec', undefined, 'number')}
        {field('journalDays', t.settings.journalDaysHelp, 'number')}
        {message ? <p id="settings-msg" className={message.ok ? 'ok-msg' : 'problem'} role={message.ok ? 'status' : 'alert'}>{message.text}</p> : null}
        <div className="actions"><Button kind="primary" type="submit" disabled={busy}>{busy ? t.settings.saving : t.settings.save}</Button></div>
      </form>
      <div className="field">
        <label htmlFor="f-language">{t.settings.language}</label>
        <select id="f-language" value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
          <option value="ru">{t.lang.ru}</option>
          <option value="en">{t.lang.en}</option>
        </select>
      </div>
      <div className="field check">
        <input id="f-remote" type="checkbox" checked={saved.values.allowRemoteDiagnostics} disabled={locked('allowRemoteDiagnostics')}
          onChange={(e) => void setRemoteAllowed(e.target.checked)} aria-describedby="h-remote" />
        <label htmlFor="f-remote">{t.settings.remote}</label>
        <span id="h-remote" className="help">{t.settings.remoteHelp}</span>
        {remote ? <p className={remote.ok ? 'ok-msg' : 'problem'} role={remote.ok ? 'status' : 'alert'}>{remote.text}</p> : null}
      </div>
      {desktop ? (
        <div className="field check">
          <input id="f-login" type="checkbox" disabled={login === null} checked={login ?? false}
            onChange={(e) => void desktop!.setStartAtLogin(e.target.checked).then(setLogin)} />
          <label htmlFor="f-login">{t.settings.startAtLogin}</label>
        </div>
      ) : null}
      <p className="muted note">{t.settings.restartOnly}</p>
    </div>
  );
}
