/**
 * The one window: the companion's UI loaded from the core's local API, with
 * Electron's protections on. Closing it hides it to the tray; only Quit quits.
 *
 * A tray click always shows the window at once (issue 24 item 9): before the
 * core is ready, or while its page cannot load (the core restarting), the
 * window says so in Russian and loads the UI by itself once the core answers.
 */
import type { BrowserWindow as BrowserWindowType, BrowserWindowConstructorOptions, Session } from 'electron';
import { enableGuards } from './guards.ts';

export interface WindowOptions {
  BrowserWindow: new (options: BrowserWindowConstructorOptions) => BrowserWindowType;
  session: Pick<Session, 'cookies'>;
  preload: string;
  icon: string;
  /** The window's size (the last one the person chose, within the screen). */
  size: { width: number; height: number };
  /** The core's API address and token, once it is ready (null before). */
  api(): { url: string; token: string } | null;
  isQuitting(): boolean;
  /** DevTools only in development: they would show the local API's token (docs/tutorial/security.md). */
  devTools: boolean;
  onResize?(size: { width: number; height: number }): void;
}

export interface AppWindow {
  /** Shows (creating if needed) and focuses the window at once, then loads `route` (e.g. '/diagnostics') when the UI can be had. */
  show(route?: string): Promise<void>;
  hide(): void;
  /** Loads the UI again (the core became ready, or restarted with a new address or token); a no-op while hidden and never shown. */
  reload(): Promise<void>;
  get(): BrowserWindowType | null;
}

/** The renderer's settings: isolated, sandboxed, no Node, preload only. */
export function webPreferences(preload: string, devTools = false): BrowserWindowConstructorOptions['webPreferences'] {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
    devTools,
  };
}

/** A page of our own for the moments the UI cannot be loaded; plain text, no script. */
export function placeholder(kind: 'starting' | 'unreachable'): string {
  const [title, text, en] = kind === 'starting'
    ? ['EVVA Companion запускается…', 'Окно покажет состояние само, как только служба компаньона будет готова (обычно за несколько секунд).', 'The companion is starting; this window updates by itself.']
    : ['Служба компаньона не отвечает', 'Она перезапускается. Окно обновится само; если это длится дольше минуты, откройте «Диагностика» в меню значка EVVA в трее или перезагрузите компьютер.', 'The companion service does not answer; it is restarting and this window updates by itself.'];
  const html = `<!doctype html><html lang="ru"><meta charset="utf-8"><title>EVVA Companion</title>`
    + `<body style="font:15px/1.5 system-ui,sans-serif;margin:48px;color:#1d2330;background:#f5f6f8">`
    + `<h1 style="font-size:20px;font-weight:600">${title}</h1><p>${text}</p><p style="color:#5b6475">${en}</p></body></html>`;
  return `data:text/html;charset=utf-8,${encodeURIComponent(html)}`;
}

/** The saved window size, made to fit the screen it opens on (a smaller monitor since, a lower resolution). */
export function fitWindow(saved: { width: number; height: number } | undefined, work: { width: number; height: number }): { width: number; height: number } {
  const want = saved ?? { width: 1100, height: 760 };
  return { width: Math.max(640, Math.min(want.width, work.width)), height: Math.max(480, Math.min(want.height, work.height)) };
}

export function enableWindow(opts: WindowOptions): AppWindow {
  let win: BrowserWindowType | null = null;
  /** What the window shows: the UI for `api|token`, or one of the placeholders. */
  let showing: string | null = null;
  let wanted = '/';

  const put = async (w: BrowserWindowType, what: string, url: string) => {
    showing = what;
    try {
      await w.loadURL(url);
    } catch {
      // The core went away between its address and the load; the next `ready` reloads.
      if (showing === what && !w.isDestroyed()) {
        showing = 'unreachable';
        await w.loadURL(placeholder('unreachable')).catch(() => undefined);
      }
    }
  };

  const load = async (w: BrowserWindowType, route: string) => {
    const api = opts.api();
    if (!api) {
      if (showing !== 'starting') await put(w, 'starting', placeholder('starting'));
      return;
    }
    // The same cookie a browser gets from the login link, so the page's WebSocket is authorised too.
    try {
      await opts.session.cookies.set({ url: api.url, name: 'evva_token', value: api.token, httpOnly: true, sameSite: 'strict', path: '/' });
    } catch {
      // Without the cookie the page asks to log in; the load below still shows the window something.
    }
    await put(w, `${api.url}|${api.token}`, new URL(route, api.url).toString());
  };

  const create = () => {
    const w = new opts.BrowserWindow({
      width: opts.size.width, height: opts.size.height, minWidth: 640, minHeight: 480,
      show: false, title: 'EVVA Companion', icon: opts.icon, autoHideMenuBar: true, backgroundColor: '#f5f6f8',
      webPreferences: webPreferences(opts.preload, opts.devTools),
    });
    enableGuards(w.webContents, () => opts.api()?.url ?? 'http://127.0.0.1:0');
    w.on('close', (event) => {
      if (opts.isQuitting()) return;
      event.preventDefault();
      w.hide();
    });
    w.on('resized', () => { const [width, height] = w.getSize(); if (width && height) opts.onResize?.({ width, height }); });
    w.on('closed', () => { if (win === w) { win = null; showing = null; } });
    win = w;
    return w;
  };

  return {
    async show(route) {
      const w = win ?? create();
      if (w.isMinimized()) w.restore();
      // Shown first, loaded after: the person sees the window whatever the page does.
      w.show();
      w.focus();
      const api = opts.api();
      if (route) wanted = route;
      if (route || showing !== (api ? `${api.url}|${api.token}` : 'starting')) await load(w, route ?? wanted);
    },
    hide() { win?.hide(); },
    async reload() { if (win && !win.isDestroyed()) await load(win, wanted); },
    get: () => win,
  };
}
