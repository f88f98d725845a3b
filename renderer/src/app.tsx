/** The frame: navigation, language switch, and the screen for the current path. */
import { useEffect, useRef, useState } from 'react';
import { faceOf } from '../../face/face.ts';
import { strings, type Lang } from '../../face/strings.ts';
import { call } from './api.ts';
import { desktop } from './bridge.ts';
import { useLive } from './live.ts';
import { ROUTES, pathOf, useRoute, type Route } from './router.ts';
import { Diagnostics } from './screens/diagnostics.tsx';
import { Journal } from './screens/journal.tsx';
import { SettingsScreen } from './screens/settings.tsx';
import { Setup } from './screens/setup.tsx';
import { StatusScreen } from './screens/status.tsx';
import { LangContext, Mark } from './ui.tsx';

export function App() {
  const live = useLive();
  const [route, go] = useRoute();
  const [lang, setLangState] = useState<Lang>('ru');
  const t = strings(lang);
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  // The language is a setting of the companion, so the desktop window and a browser agree.
  useEffect(() => {
    if (live.link !== 'up') return;
    void call<{ values: { language: Lang } }>('GET', '/api/settings').then((r) => { if (r.ok) setLangState(r.data.values.language); });
  }, [live.link]);
  useEffect(() => { document.documentElement.lang = lang; }, [lang]);
  const setLang = (l: Lang) => {
    setLangState(l);
    void call('PUT', '/api/settings', { language: l });
  };

  // A new screen: move focus to its heading so keyboard and screen-reader users start there.
  useEffect(() => {
    if (first.current) { first.current = false; return; }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route]);

  const face = live.status ? faceOf(live.status, lang) : null;
  useEffect(() => { document.title = face ? `${face.sentence} — EVVA Companion` : 'EVVA Companion'; }, [face?.sentence]);

  return (
    <LangContext.Provider value={{ lang, t, setLang }}>
      <div className="frame">
        <header className="top">
          <div className="brand">
            {face ? <Mark tone={face.tone} size={22} /> : null}
            <span>{t.appName}</span>
          </div>
          <nav aria-label={t.nav.main}>
            <ul>
              {ROUTES.map((r: Route) => (
                <li key={r}>
                  <a href={pathOf(r)} aria-current={r === route ? 'page' : undefined}
                    onClick={(e) => { e.preventDefault(); go(r); }}>{t.nav[r]}</a>
                </li>
              ))}
            </ul>
          </nav>
          <div className="lang" role="group" aria-label={t.lang.label}>
            {(['ru', 'en'] as const).map((l) => (
              <button key={l} type="button" lang={l} aria-pressed={lang === l} onClick={() => setLang(l)}>{l === 'ru' ? 'RU' : 'EN'}<span className="sr-only"> — {t.lang[l]}</span></button>
            ))}
          </div>
        </header>
        <main ref={main} id="main">
          {live.link === 'login' ? (
            <section className="notice" role="alert"><h1 tabIndex={-1}>{t.common.loginNeeded}</h1><p>{t.common.loginHelp}</p></section>
          ) : live.link === 'down' ? (
            // The companion itself does not answer: nothing it said before is true now, so none of it is shown.
            <section className="hero tone-red" role="alert" data-testid="companion-down">
              <Mark tone="red" size={40} />
              <div>
                <h1 tabIndex={-1} data-testid="sentence">{t.common.downTitle}</h1>
                <p className="todo">{t.common.downTodo}</p>
                <p className="since">{t.common.downRetry}</p>
              </div>
            </section>
          ) : !live.status ? (
            <section className="notice" role="status"><h1 tabIndex={-1}>{t.appName}</h1><p>{t.common.connecting}</p></section>
          ) : (
            <>
              {route === 'status' && <StatusScreen live={live} go={go} />}
              {route === 'setup' && <Setup live={live} go={go} />}
              {route === 'journal' && <Journal live={live} />}
              {route === 'diagnostics' && <Diagnostics live={live} />}
              {route === 'settings' && <SettingsScreen />}
            </>
          )}
        </main>
        <footer className="foot">
          <span>{live.status ? t.common.version(live.status.version) : null}</span>
          {/* A browser's session lasts across restarts; this ends it here. The desktop window has none to end. */}
          {!desktop && live.link === 'up' ? <button type="button" className="link-btn" onClick={() => void call('POST', '/api/logout').then(() => window.location.reload())}>{t.common.logout}</button> : null}
        </footer>
      </div>
    </LangContext.Provider>
  );
}
