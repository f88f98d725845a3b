/** The console's frame: the session (sign-in or the signed-in header), the language, and the screen for the path. */
import { useEffect, useRef, useState } from 'react';
import type { SessionView } from '../../../protocol/console.ts';
import { strings, type Lang } from '../../../face/strings.ts';
import { LangContext } from '../../src/ui.tsx';
import { call, whenSignedOut } from './api.ts';
import { ConsoleContext, when } from './ctx.ts';
import { usePlace } from './router.ts';
import { SignIn } from './signin.tsx';
import { consoleStrings } from './strings.ts';
import { VenueScreen } from './venue.tsx';
import { Venues } from './venues.tsx';

/** The language is the only thing this page keeps in the browser (never the key). */
const LANG_KEY = 'evva-console-lang';
function initialLang(): Lang {
  const saved = window.localStorage.getItem(LANG_KEY);
  if (saved === 'ru' || saved === 'en') return saved;
  return navigator.language?.toLowerCase().startsWith('ru') ? 'ru' : navigator.language ? 'en' : 'ru';
}

export type Session = { state: 'checking' } | { state: 'out'; why: 'none' | 'signedOut' | 'expired' } | { state: 'in'; view: SessionView };

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [session, setSession] = useState<Session>({ state: 'checking' });
  const [place, go] = usePlace();
  const t = strings(lang);
  const c = consoleStrings(lang);
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  const setLang = (l: Lang) => {
    setLangState(l);
    window.localStorage.setItem(LANG_KEY, l);
  };
  useEffect(() => { document.documentElement.lang = lang; document.title = c.title; }, [lang, c.title]);
  useEffect(() => {
    whenSignedOut(() => setSession((s) => (s.state === 'in' ? { state: 'out', why: 'expired' } : s)));
    void call<SessionView>('GET', '/session').then((r) => setSession(r.ok ? { state: 'in', view: r.data } : { state: 'out', why: 'none' }));
  }, []);
  // A new screen: focus its heading, so keyboard and screen-reader users start there.
  useEffect(() => {
    if (first.current) { first.current = false; return; }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [place.screen, place.screen === 'venue' ? place.venueId : '']);

  const signOut = async () => {
    await call('DELETE', '/session');
    setSession({ state: 'out', why: 'signedOut' });
  };

  return (
    <LangContext.Provider value={{ lang, t, setLang }}>
      <ConsoleContext.Provider value={c}>
        <div className="frame console">
          <header className="top">
            <a className="brand" href="/console/" onClick={(e) => { e.preventDefault(); go({ screen: 'list' }); }}>{c.brand}</a>
            {session.state === 'in' ? (
              <div className="who">
                <span data-testid="who">{c.key(session.view.key)}</span>
                <span className="muted">{c.until(when(session.view.expiresAt))}</span>
                <button type="button" className="btn" onClick={() => void signOut()} data-testid="sign-out">{c.signOut}</button>
              </div>
            ) : null}
            <div className="lang" role="group" aria-label={t.lang.label}>
              {(['ru', 'en'] as const).map((l) => (
                <button key={l} type="button" lang={l} aria-pressed={lang === l} onClick={() => setLang(l)}>{l === 'ru' ? 'RU' : 'EN'}<span className="sr-only"> — {t.lang[l]}</span></button>
              ))}
            </div>
          </header>
          <main ref={main} id="main">
            {session.state === 'checking' ? <p className="muted" role="status">…</p>
              : session.state === 'out' ? <SignIn why={session.why} onIn={(view) => setSession({ state: 'in', view })} />
              : place.screen === 'list' ? <Venues go={go} />
              : <VenueScreen key={place.venueId} venueId={place.venueId} tab={place.tab} go={go} />}
          </main>
        </div>
      </ConsoleContext.Provider>
    </LangContext.Provider>
  );
}
