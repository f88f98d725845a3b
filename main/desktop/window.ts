/**
 * The one window: the companion's UI loaded from the core's local API, with
 * Electron's protections on. Closing it hides it to the tray; only Quit quits.
 */
import type { BrowserWindow as BrowserWindowType, BrowserWindowConstructorOptions, Session } from 'electron';
import { enableGuards } from './guards.ts';

export interface WindowOptions {
  BrowserWindow: new (options: BrowserWindowConstructorOptions) => BrowserWindowType;
  session: Pick<Session, 'cookies'>;
  preload: string;
  icon: string;
  size: { width: number; height: number };
  /** The core's API address and token, once it is ready (null before). */
  api(): { url: string; token: string } | null;
  isQuitting(): boolean;
  onResize?(size: { width: number; height: number }): void;
}

export interface AppWindow {
  /** Shows (creating if needed) and focuses the window, at `route` (e.g. '/diagnostics') when given. */
  show(route?: string): Promise<void>;
  hide(): void;
  /** Reloads the UI after the core restarted with a new address or token. */
  reload(): Promise<void>;
  get(): BrowserWindowType | null;
}

/** The renderer's settings: isolated, sandboxed, no Node, preload only. */
export function webPreferences(preload: string): BrowserWindowConstructorOptions['webPreferences'] {
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
  };
}

export function enableWindow(opts: WindowOptions): AppWindow {
  let win: BrowserWindowType | null = null;
  let loadedFor: string | null = null;

  const load = async (route = '/') => {
    const api = opts.api();
    if (!win || !api) return;
    // The same cookie a browser gets from the login link, so the page's WebSocket is authorised too.
    await opts.session.cookies.set({ url: api.url, name: 'evva_token', value: api.token, httpOnly: true, sameSite: 'strict', path: '/' });
    loadedFor = `${api.url}|${api.token}`;
    await win.loadURL(new URL(route, api.url).toString());
  };

  const create = () => {
    const w = new opts.BrowserWindow({
      width: opts.size.width, height: opts.size.height, minWidth: 640, minHeight: 480,
      show: false, title: 'EVVA Companion', icon: opts.icon, autoHideMenuBar: true, backgroundColor: '#f5f6f8',
      webPreferences: webPreferences(opts.preload),
    });
    enableGuards(w.webContents, () => opts.api()?.url ?? 'http://127.0.0.1:0');
    w.on('close', (event) => {
      if (opts.isQuitting()) return;
      event.preventDefault();
      w.hide();
    });
    w.on('resized', () => { const [width, height] = w.getSize(); if (width && height) opts.onResize?.({ width, height }); });
    w.on('closed', () => { if (win === w) { win = null; loadedFor = null; } });
    win = w;
    return w;
  };

  return {
    async show(route) {
      const w = win ?? create();
      const api = opts.api();
      if (route || (api && loadedFor !== `${api.url}|${api.token}`)) await load(route);
      if (w.isMinimized()) w.restore();
      w.show();
      w.focus();
    },
    hide() { win?.hide(); },
    async reload() { if (win) await load(); },
    get: () => win,
  };
}
