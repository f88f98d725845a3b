/**
 * Настройки: saved through PUT /api/settings, which validates and applies
 * them at once; a bad value comes back with its field's name and is shown there.
 */
import { useEffect, useState, type FormEvent } from 'react';
import type { Lang } from '../../../protocol/strings.ts';
import { call } from '../api.ts';
import { desktop } from '../bridge.ts';
import { Button, useT } from '../ui.tsx';

interface Values { frontUrl: string | null; moduleId: string; probeIntervalSec: number; relayUrl: string | null; proxy: string | null; language: Lang; remoteDiagnostics?: boolean }
type Form = { frontUrl: string; moduleId: string; probeIntervalSec: string; relayUrl: string; proxy: string };
const FIELDS: Array<keyof Form> = ['frontUrl', 'moduleId', 'relayUrl', 'proxy', 'probeIntervalSec'];

const toForm = (v: Values): Form => ({
  frontUrl: v.frontUrl ?? '', moduleId: v.moduleId, probeIntervalSec: String(v.probeIntervalSec), relayUrl: v.relayUrl ?? '', proxy: v.proxy ?? '',
});

export function SettingsScreen() {
  const { t, lang, setLang } = useT();
  const [saved, setSaved] = useState<Values | null>(null);
  const [form, setForm] = useState<Form | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string; fields: string[] } | null>(null);
  const [busy, setBusy] = useState(false);
  const [login, setLogin] = useState<boolean | null>(null);

  useEffect(() => {
    void call<{ values: Values }>('GET', '/api/settings').then((r) => { if (r.ok) { setSaved(r.data.values); setForm(toForm(r.data.values)); } });
    if (desktop) void desktop.getStartAtLogin().then(setLogin);
  }, []);
  if (!form || !saved) return <div><h1 tabIndex={-1}>{t.settings.title}</h1><p className="muted">…</p></div>;

  const before = toForm(saved);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const patch: Record<string, unknown> = {};
    for (const f of FIELDS) {
      if (form[f] === before[f]) continue;
      patch[f] = f === 'probeIntervalSec' ? (form[f].trim() === '' ? null : Number(form[f])) : form[f].trim() === '' ? null : form[f].trim();
    }
    if (Object.keys(patch).length === 0) { setMessage({ ok: true, text: t.settings.nothing, fields: [] }); return; }
    setBusy(true);
    const r = await call<{ values: Values }>('PUT', '/api/settings', patch);
    setBusy(false);
    if (r.ok) { setSaved(r.data.values); setForm(toForm(r.data.values)); setMessage({ ok: true, text: t.settings.saved, fields: [] }); return; }
    setMessage({ ok: false, text: r.error.message || t.common.unknownError, fields: r.error.fields ?? [] });
  };

  const field = (name: keyof Form, label: string, help?: string, type = 'text') => {
    const bad = message?.fields.includes(name);
    return (
      <div className={bad ? 'field bad' : 'field'}>
        <label htmlFor={`f-${name}`}>{label}</label>
        {help ? <p id={`h-${name}`} className="help">{help}</p> : null}
        <input id={`f-${name}`} name={name} type={type} value={form[name]} spellCheck={false}
          aria-invalid={bad ? true : undefined} aria-describedby={[help ? `h-${name}` : '', bad ? 'settings-msg' : ''].join(' ').trim() || undefined}
          onChange={(e) => setForm({ ...form, [name]: e.target.value })} />
      </div>
    );
  };

  return (
    <div className="settings">
      <h1 tabIndex={-1}>{t.settings.title}</h1>
      <form onSubmit={(e) => void submit(e)} noValidate>
        {field('frontUrl', t.settings.frontUrl, t.settings.frontUrlHelp)}
        {field('moduleId', t.settings.moduleId, t.settings.moduleIdHelp)}
        {field('relayUrl', t.settings.relayUrl, t.settings.relayUrlHelp)}
        {field('proxy', t.settings.proxy, t.settings.proxyHelp)}
        {field('probeIntervalSec', t.settings.probeIntervalSec, undefined, 'number')}
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
        <input id="f-login" type="checkbox" disabled={login === null} checked={login ?? false}
          onChange={(e) => { if (desktop) void desktop.setStartAtLogin(e.target.checked).then(setLogin); }} aria-describedby="h-login" />
        <label htmlFor="f-login">{t.settings.startAtLogin}</label>
        <span id="h-login" className="help">{login === null ? t.settings.desktopOnly : ''}</span>
      </div>
      <div className="field check">
        <input id="f-remote" type="checkbox" disabled={saved.remoteDiagnostics === undefined} checked={saved.remoteDiagnostics ?? false}
          onChange={(e) => void call<{ values: Values }>('PUT', '/api/settings', { remoteDiagnostics: e.target.checked }).then((r) => { if (r.ok) setSaved(r.data.values); })} aria-describedby="h-remote" />
        <label htmlFor="f-remote">{t.settings.remote}</label>
        <span id="h-remote" className="help">{saved.remoteDiagnostics === undefined ? t.settings.notHere : ''}</span>
      </div>
      <p className="muted note">{t.settings.restartOnly}</p>
    </div>
  );
}
