/**
 * The Electron shell's parts, each with its Electron pieces injected from the
 * rule-keeping stand-in (tests/standin/electron.ts) instead of fakes that
 * accept anything: a window before `ready` throws, a tray icon that does not
 * exist is a violation, a checkbox flips before its handler runs, login items
 * live in a registry kept the way Electron's browser_win.cc keeps it.
 */
import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi, type Mock } from 'vitest';
import type { Status } from '../../../protocol/local.ts';
import { RESTART_MIN_MS, startCore, type ChildLike, type CoreOptions } from '../../../main/desktop/core.ts';
import { enableGuards, enablePermissions, sameOrigin, senderAllowed } from '../../../main/desktop/guards.ts';
import { SLOW_RETRY_MS, startHost } from '../../../main/desktop/host.ts';
import { APP_ID, PRODUCT_NAME, setIdentity } from '../../../main/desktop/identity.ts';
import { enableIpc, IpcRefused } from '../../../main/desktop/ipc.ts';
import type { LiveOptions } from '../../../main/desktop/live.ts';
import { enableLoginItem, startedHidden } from '../../../main/desktop/login.ts';
import { enableNotifications, HELD } from '../../../main/desktop/notify.ts';
import { CANCELLED_AFTER_MS, enableSessionEnd, STOP_WAIT_MS } from '../../../main/desktop/shutdown.ts';
import { enableSingleInstance } from '../../../main/desktop/single.ts';
import { enableTray, iconFile, menuTemplate, toneOf, tooltipFor, type MenuState } from '../../../main/desktop/tray.ts';
import { enableWindow, fitWindow, webPreferences } from '../../../main/desktop/window.ts';
import { CHANNELS } from '../../../protocol/bridge.ts';
import { ROOT } from '../../helpers/proc.ts';
import { createStandIn, emptyRegistry, scriptedChild, type ScriptedChild, type StandIn, type StandInMenu, type StandInOptions } from '../../standin/electron.ts';

vi.mock('electron', () => ({})); // nothing here may reach the real module: every Electron piece is injected

const API = 'http://127.0.0.1:9142';
const RESOURCES = path.join(ROOT, 'resources');
const status = (front: Status['front']['state'], tunnel: Status['tunnel']['state'], extra: Partial<Status['tunnel']> = {}): Status => ({
  level: 'ok', version: '0.1.0', startedAt: '2026-11-28T12:00:00Z',
  front: { state: front, url: 'http://127.0.0.1:9042', latencyMs: 8, checkedAt: null, since: '2026-11-28T12:04:00Z', source: 'discovery' },
  tunnel: { state: tunnel, since: null, rttMs: 12, reconnects: 0, venueId: 'v1', relayUrl: 'https://relay', ...extra },
});

/** A ready stand-in (tests that are about `ready` make their own). */
/** The stand-in's pieces, typed loosely: each is handed to a part that declares the Electron type it needs. */
type Pieces = Record<'app' | 'Tray' | 'Menu' | 'BrowserWindow' | 'BaseWindow' | 'Notification' | 'utilityProcess' | 'ipcMain', never>;
function electron(o: Partial<StandInOptions> = {}): StandIn & { e: Pieces } {
  const s = createStandIn({ platform: 'linux', appPath: ROOT, ...o });
  s.control.ready();
  return Object.assign(s, { e: s.electron as Pieces });
}
const actions = () => ({ open: vi.fn(), diagnostics: vi.fn(), copyReport: vi.fn(), openLogs: vi.fn(), reconnect: vi.fn(), toggleStartAtLogin: vi.fn(), toggleNotifications: vi.fn(), quit: vi.fn() });
const menuState = (over: Partial<MenuState> = {}): MenuState => ({ login: { on: false, forAll: false, supported: true }, canReconnect: true, notifications: true, ...over });

describe('tray state', () => {
  it('maps each situation to one of four icons that differ in file (shape) per state', () => {
    expect(toneOf(status('up', 'connected'))).toBe('green');
    expect(toneOf(status('up', 'connecting'))).toBe('amber');
    expect(toneOf(status('down', 'connected'))).toBe('red');
    expect(toneOf(status('up', 'offline'))).toBe('red');
    expect(toneOf(status('unknown', 'unpaired'))).toBe('grey');
    expect(toneOf(null)).toBe('grey');
    expect(toneOf(null, true)).toBe('red');
    expect(iconFile('/r', 'red', 'win32')).toBe('/r/tray-red.ico');
    expect(iconFile('/r', 'green', 'linux')).toBe('/r/tray-green.png');
  });

  it('writes a one-line Russian tooltip; a failure to start says why in its first sentence, within what Windows shows', () => {
    expect(tooltipFor(status('up', 'connected'))).toBe('EVVA: всё работает · iikoFront 9042 · связь 12 мс');
    expect(tooltipFor(status('down', 'connected'))).toBe('EVVA: есть проблема: iikoFront не отвечает');
    expect(tooltipFor(status('unknown', 'unpaired'))).toBe('EVVA: не настроено: введите код привязки');
    expect(tooltipFor(null)).toBe('EVVA: запускается…');
    for (const s of [status('up', 'connected'), status('up', 'offline'), status('unlicensed', 'connected'), status('up', 'offline', { error: { code: 'token_refused', message: 'x' } })]) {
      const line = tooltipFor(s);
      expect(line.length).toBeLessThanOrEqual(60);
      expect(line).not.toContain('\n');
    }
    expect(tooltipFor(null, 'Порт 9142 уже занят: возможно, компаньон уже запущен. Закройте другую копию.')).toBe('EVVA: Порт 9142 уже занят: возможно, компаньон уже запущен.');
    expect(tooltipFor(null, 'х'.repeat(300)).length).toBeLessThanOrEqual(127);
  });

  it('offers the menu in order; reconnect only for its own paired core; start at login as the system says it', () => {
    const a = actions();
    const menu = menuTemplate(a, menuState({ canReconnect: false, login: { on: true, forAll: false, supported: true } }));
    expect(menu.filter((i) => i.label).map((i) => i.label)).toEqual(['Открыть', 'Диагностика', 'Скопировать отчёт для поддержки', 'Открыть папку логов', 'Переподключить', 'Запускать при входе', 'Сообщать о сбоях связи', 'Выход']);
    expect(menu.find((i) => i.label === 'Запускать при входе')).toMatchObject({ type: 'checkbox', checked: true, enabled: true });
    expect(menu.find((i) => i.label === 'Переподключить')!.enabled).toBe(false);
    const forAll = menuTemplate(a, menuState({ login: { on: true, forAll: true, supported: true } }));
    expect(forAll.find((i) => String(i.label).startsWith('Запускать'))).toMatchObject({ label: 'Запускать при входе (для всех, задано при установке)', enabled: false, checked: true });
    // Linux has no login items in Electron: no item rather than one that does nothing.
    expect(menuTemplate(a, menuState({ login: { on: false, forAll: false, supported: false } })).some((i) => String(i.label).startsWith('Запускать'))).toBe(false);
  });

  it('drives the stand-in Tray: icons that exist, tooltip and menu follow the status, a click opens, a checkbox flips', () => {
    const s = electron({ platform: 'win32' });
    const a = actions();
    const tray = enableTray({ Tray: s.e.Tray, Menu: s.e.Menu, iconDir: RESOURCES, platform: 'win32', actions: a, menuState: () => menuState() });
    const t = s.control.trays[0]!;
    expect(t.image).toBe(path.join(RESOURCES, 'tray-grey.ico'));
    tray.update(status('up', 'connected'));
    expect(t.image).toBe(path.join(RESOURCES, 'tray-green.ico'));
    expect(t.tooltip).toContain('всё работает');
    tray.update(null, 'Порт 9142 уже занят. Закройте другую копию.');
    expect(t.image).toBe(path.join(RESOURCES, 'tray-red.ico'));
    t.click();
    expect(a.open).toHaveBeenCalledOnce();
    (t.menu as StandInMenu).click('Сообщать о сбоях связи');
    expect(a.toggleNotifications).toHaveBeenCalledWith(false);
    expect(s.control.violations).toEqual([]);
  });

  it('cannot be made before ready, and an icon folder that is wrong is caught', () => {
    const early = createStandIn({ platform: 'win32', appPath: ROOT });
    expect(() => enableTray({ Tray: early.electron.Tray as never, Menu: early.electron.Menu as never, iconDir: RESOURCES, platform: 'win32', actions: actions(), menuState: () => menuState() })).toThrow('Cannot create Tray before app is ready');
    const s = electron({ platform: 'win32' });
    enableTray({ Tray: s.e.Tray, Menu: s.e.Menu, iconDir: '/nowhere', platform: 'win32', actions: actions(), menuState: () => menuState() });
    expect(s.control.violations).toEqual([expect.stringContaining('tray image does not exist')]);
  });
});

describe('identity (before ready)', () => {
  it('sets the AppUserModelID on Windows and Electron\'s folders by product name, the session data in the local profile', () => {
    const env = { APPDATA: '/pc/Users/k/AppData/Roaming', LOCALAPPDATA: '/pc/Users/k/AppData/Local' };
    const s = createStandIn({ platform: 'win32', appPath: ROOT, env });
    const app = s.electron.app as Parameters<typeof setIdentity>[0] & { getPath(n: string): string };
    setIdentity(app, 'win32', env);
    expect(s.control.identity()).toBe(APP_ID);
    expect(app.getPath('userData')).toBe(path.join(env.APPDATA, PRODUCT_NAME));
    expect(app.getPath('sessionData')).toBe(path.join(env.LOCALAPPDATA, PRODUCT_NAME, 'Session'));
    s.control.ready();
    expect(s.control.violations).toEqual([]);
    // Elsewhere there is no AppUserModelID to set (Electron binds setAppUserModelId on Windows only).
    const l = createStandIn({ platform: 'linux', appPath: ROOT, env: { XDG_CONFIG_HOME: '/home/k/.config' } });
    expect((l.electron.app as { setAppUserModelId?: unknown }).setAppUserModelId).toBeUndefined();
    setIdentity(l.electron.app as never, 'linux', {});
    expect((l.electron.app as { getPath(n: string): string }).getPath('sessionData')).toBe(path.join('/home/k/.config', PRODUCT_NAME));
  });
});

/** A page server that answers 200, for the window tests. */
async function page(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_q, r) => r.end('<!doctype html><title>ui</title>'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
const closing: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of closing.splice(0)) await c(); vi.useRealTimers(); });

function makeWindow(s: StandIn & { e: Pieces }, api: () => { url: string; token: string } | null, quitting = { now: false }) {
  return enableWindow({
    BrowserWindow: s.e.BrowserWindow, session: (s.electron.session as { defaultSession: never }).defaultSession,
    preload: path.join(ROOT, 'preload/index.ts'), icon: path.join(RESOURCES, 'icon.png'), size: { width: 1100, height: 760 },
    api, isQuitting: () => quitting.now, devTools: false,
  });
}

describe('window', () => {
  it('runs the page isolated and sandboxed, without Node, and without DevTools when packaged', () => {
    expect(webPreferences('/p/preload.cjs')).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false, preload: '/p/preload.cjs', devTools: false });
  });

  it('loads the UI from the local API with the session cookie set first', async () => {
    const ui = await page();
    closing.push(ui.close);
    const s = electron();
    const w = makeWindow(s, () => ({ url: ui.url, token: 'tok' }));
    await w.show('/diagnostics');
    const win = s.control.windows.find((x) => x.webContents)!;
    expect(win.webContents!.loads.at(-1)).toMatchObject({ url: `${ui.url}/diagnostics`, status: 200 });
    expect(win.visible).toBe(true);
    const cookies = await (s.electron.session as { defaultSession: { cookies: { get(f: object): Promise<unknown[]> } } }).defaultSession.cookies.get({ url: ui.url });
    expect(cookies).toEqual([expect.objectContaining({ name: 'evva_token', value: 'tok', httpOnly: true, sameSite: 'strict' })]);
    expect(s.control.violations).toEqual([]);
  });

  it('shows at once on a tray click even before the core is ready, saying it is starting, and loads the UI when it is', async () => {
    const ui = await page();
    closing.push(ui.close);
    const s = electron();
    let api: { url: string; token: string } | null = null;
    const w = makeWindow(s, () => api);
    await w.show('/diagnostics');
    const win = s.control.windows.find((x) => x.webContents)!;
    expect(win.visible).toBe(true);
    expect(decodeURIComponent(win.webContents!.url)).toContain('EVVA Companion запускается');
    api = { url: ui.url, token: 'tok' };
    await w.reload();
    expect(win.webContents!.url).toBe(`${ui.url}/diagnostics`);
  });

  it('shows the window, not nothing, when the UI cannot be loaded (the core is restarting)', async () => {
    const gone = await page();
    await gone.close();
    const s = electron();
    const w = makeWindow(s, () => ({ url: gone.url, token: 'tok' }));
    await w.show();
    const win = s.control.windows.find((x) => x.webContents)!;
    expect(win.visible).toBe(true);
    expect(win.webContents!.loads.map((l) => l.error)).toEqual(['ERR_CONNECTION_REFUSED', null]);
    expect(decodeURIComponent(win.webContents!.url)).toContain('Служба компаньона не отвечает');
  });

  it('hides to the tray when closed, and really closes when quitting', async () => {
    const s = electron();
    const quitting = { now: false };
    const w = makeWindow(s, () => null, quitting);
    await w.show();
    const win = s.control.windows.find((x) => x.webContents)!;
    const close = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    win.emit('close', close);
    expect(close.defaultPrevented).toBe(true);
    expect(win.visible).toBe(false);
    quitting.now = true;
    const quit = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    win.emit('close', quit);
    expect(quit.defaultPrevented).toBe(false);
  });

  it('cannot be created before ready', async () => {
    const early = createStandIn({ platform: 'linux', appPath: ROOT });
    const w = enableWindow({ BrowserWindow: early.electron.BrowserWindow as never, session: { cookies: { set: async () => undefined } } as never, preload: '', icon: '', size: { width: 800, height: 600 }, api: () => null, isQuitting: () => false, devTools: false });
    await expect(w.show()).rejects.toThrow('Cannot create BrowserWindow before app is ready');
  });

  it('keeps the person\'s size, within the screen it opens on', () => {
    expect(fitWindow({ width: 1400, height: 900 }, { width: 1366, height: 728 })).toEqual({ width: 1366, height: 728 });
    expect(fitWindow({ width: 900, height: 600 }, { width: 1920, height: 1040 })).toEqual({ width: 900, height: 600 });
    expect(fitWindow(undefined, { width: 800, height: 560 })).toEqual({ width: 800, height: 560 });
  });
});

describe('single instance', () => {
  it('lets the second launch quit and focuses the first one instead', () => {
    const first = electron();
    const focus = vi.fn();
    expect(enableSingleInstance(first.e.app, focus)).toBe(true);
    first.control.secondLaunch(['--hidden']);
    expect(focus).toHaveBeenCalledOnce();
    expect(enableSingleInstance(electron({ secondInstance: true }).e.app, focus)).toBe(false);
  });
});

describe('guards', () => {
  it('keeps navigation on the local API and refuses new windows and webviews', async () => {
    const s = electron();
    const w = new (s.electron.BrowserWindow as new (o: object) => { webContents: EventEmitter & { openHandler: ((d: { url: string }) => unknown) | null } })({ webPreferences: { sandbox: true } });
    const contents = w.webContents;
    enableGuards(contents as never, () => API);
    const ev = () => ({ defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } });
    const away = ev();
    contents.emit('will-navigate', away, 'https://evil.example/');
    expect(away.defaultPrevented).toBe(true);
    const sideways = ev();
    contents.emit('will-navigate', sideways, 'http://127.0.0.1:9043/');
    expect(sideways.defaultPrevented).toBe(true);
    const home = ev();
    contents.emit('will-navigate', home, `${API}/settings`);
    expect(home.defaultPrevented).toBe(false);
    const redirect = ev();
    contents.emit('will-redirect', redirect, 'http://localhost:1/');
    expect(redirect.defaultPrevented).toBe(true);
    const webview = ev();
    contents.emit('will-attach-webview', webview);
    expect(webview.defaultPrevented).toBe(true);
    expect(contents.openHandler!({ url: `${API}/` })).toEqual({ action: 'deny' });
    expect(sameOrigin('not a url', API)).toBe(false);
  });

  it('grants the page only the clipboard write, and only on its own origin (Electron grants everything by default)', async () => {
    const s = electron();
    const sess = (s.electron.session as { defaultSession: never }).defaultSession;
    expect(await s.control.askPermission('media', `${API}/`)).toBe(true);
    enablePermissions(sess, () => API);
    expect(await s.control.askPermission('clipboard-sanitized-write', `${API}/diagnostics`)).toBe(true);
    expect(await s.control.askPermission('clipboard-sanitized-write', 'http://127.0.0.1:9042/')).toBe(false);
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal']) expect(await s.control.askPermission(p, `${API}/`)).toBe(false);
  });

  it('answers IPC only from frames of the companion UI, and checks arguments', async () => {
    const s = electron();
    const ipc = s.electron.ipcMain as { handlers: Map<string, (event: unknown, ...args: unknown[]) => unknown> } & EventEmitter;
    const setStartAtLogin = vi.fn((on: boolean) => on);
    enableIpc(ipc as never, { api: () => ({ url: API, token: 'tok' }), hide: vi.fn(), openLogs: vi.fn(async () => undefined), getStartAtLogin: () => false, setStartAtLogin });
    const ours = { senderFrame: { url: `${API}/settings` } };
    const foreign = { senderFrame: { url: 'https://evil.example/' } };
    expect(senderAllowed(ours as never, API)).toBe(true);
    expect(senderAllowed({ senderFrame: null } as never, API)).toBe(false);
    expect(ipc.handlers.get(CHANNELS.setStartAtLogin)!(ours, true)).toBe(true);
    expect(() => ipc.handlers.get(CHANNELS.setStartAtLogin)!(foreign, true)).toThrow(IpcRefused);
    expect(() => ipc.handlers.get(CHANNELS.setStartAtLogin)!(ours, 'yes')).toThrow(IpcRefused);
    expect(setStartAtLogin).toHaveBeenCalledTimes(1);
    const sync = { ...ours, returnValue: undefined as unknown };
    ipc.emit(CHANNELS.api, sync);
    expect(sync.returnValue).toEqual({ apiUrl: API, token: 'tok' });
    const stolen = { ...foreign, returnValue: undefined as unknown };
    ipc.emit(CHANNELS.api, stolen);
    expect(stolen.returnValue).toBeNull();
  });
});

describe('start at login (Windows registry as Electron reads and writes it)', () => {
  const exe = 'C:\\Program Files\\EVVA Companion\\EVVA Companion.exe';
  it('reads the installer\'s machine-wide entry as on for everyone and does not try to change it', () => {
    const registry = emptyRegistry();
    registry.hklmRun.set(APP_ID, `"${exe}" --hidden`);
    const s = electron({ platform: 'win32', exePath: exe, registry });
    (s.electron.app as { setAppUserModelId(id: string): void }).setAppUserModelId(APP_ID);
    const item = enableLoginItem(s.e.app, 'win32');
    expect(item.get()).toEqual({ on: true, forAll: true, supported: true });
    expect(item.set(false)).toEqual({ on: true, forAll: true, supported: true });
    expect([...registry.hkcuRun]).toEqual([]);
  });

  it('honours Task Manager\'s switch, and writes the person\'s own entry named after the app, with --hidden', () => {
    const registry = emptyRegistry();
    registry.hklmRun.set(APP_ID, `"${exe}" --hidden`);
    registry.hklmApproved.set(APP_ID, Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    const s = electron({ platform: 'win32', exePath: exe, registry });
    const item = enableLoginItem(s.e.app, 'win32');
    expect(item.get()).toEqual({ on: false, forAll: false, supported: true });
    expect(item.set(true).on).toBe(true);
    expect([...registry.hkcuRun]).toEqual([[APP_ID, `"${exe}" --hidden`]]);
    // The person turned their own entry off in Task Manager, then on again in the tray: on.
    registry.hkcuApproved.set(APP_ID, Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    expect(item.get().on).toBe(false);
    expect(item.set(true).on).toBe(true);
    expect(item.set(false).on).toBe(false);
    expect(s.control.violations).toEqual([]);
    expect(startedHidden(['EVVA Companion.exe', '--hidden'])).toBe(true);
    expect(startedHidden(['EVVA Companion.exe'])).toBe(false);
  });

  it('says unsupported on Linux, where Electron has no login items', () => {
    expect(enableLoginItem(electron().e.app, 'linux').get()).toEqual({ on: false, forAll: false, supported: false });
  });
});

describe('notifications', () => {
  const notice = { kind: 'payment' as const, title: 'Оплата через EVVA: закройте заказ', body: 'Заказ №23', open: 'journal' as const };

  it('are held, so a click after garbage collection still opens the window (Linux: no handleActivation)', async () => {
    const s = electron();
    const open = vi.fn();
    const show = enableNotifications({ Notification: s.e.Notification, icon: path.join(RESOURCES, 'icon.png'), open });
    show([notice]);
    expect(await s.control.collect()).toBe(0);
    expect(s.control.clickNotification(0)).toBe('object');
    expect(open).toHaveBeenCalledWith('/journal');
  });

  it('on Windows, a toast clicked in the Action Center after the object is gone opens the window once, through handleActivation', async () => {
    const s = electron({ platform: 'win32' });
    const open = vi.fn();
    const show = enableNotifications({ Notification: s.e.Notification, icon: path.join(RESOURCES, 'icon.png'), open });
    for (let i = 0; i < HELD + 5; i++) show([{ ...notice, open: i === HELD + 4 ? 'diagnostics' : 'journal' }]);
    // The oldest ones were let go: collected, their objects' clicks lost; the activation still answers.
    expect(await s.control.collect()).toBe(5);
    expect(s.control.clickNotification(0)).toBe('activation');
    expect(open).toHaveBeenLastCalledWith('/diagnostics');
    // A held one: its own click and the activation both come, and the window opens once.
    open.mockClear();
    expect(s.control.clickNotification(HELD + 4)).toBe('object+activation');
    expect(open).toHaveBeenCalledTimes(1);
  });
});

/** A scripted core for the host: posts ready or failed as told. */
function scripted() {
  const made: ScriptedChild[] = [];
  return { made, fork: (_m: string, _a: string[]) => { const c = scriptedChild(); made.push(c); return c; } };
}

describe('the core process', () => {
  function withCore(onExit: Mock<CoreOptions['onExit']> = vi.fn<CoreOptions['onExit']>(() => ({ restartInMs: RESTART_MIN_MS }))) {
    const s = electron({ scripted: scripted().fork });
    const timers: Array<{ fn: () => void; ms: number }> = [];
    const fork = (s.electron.utilityProcess as { fork(m: string, a: string[], o: object): ChildLike }).fork;
    const core = startCore({
      fork: (m, a, o) => fork(m, a, o), entry: path.join(ROOT, 'main/desktop/core-entry.ts'), args: ['--data-dir', '/data'], onMessage: vi.fn(), onExit,
      setTimeout: (fn, ms) => { timers.push({ fn, ms }); return timers.length; }, clearTimeout: () => undefined, now: () => 0,
    });
    const child = (i: number) => s.control.children[i]!.scripted!;
    return { s, core, timers, onExit, child };
  }

  it('cannot fork before ready (Electron throws), nor from a file that does not exist', () => {
    const early = createStandIn({ platform: 'win32', appPath: ROOT });
    const fork = (early.electron.utilityProcess as { fork(m: string, a: string[], o: object): ChildLike }).fork;
    expect(() => startCore({ fork, entry: '/x.js', args: [], onMessage: vi.fn(), onExit: vi.fn() })).toThrow('utilityProcess cannot be created before app is ready.');
    const s = electron({ scripted: scripted().fork });
    startCore({ fork: (s.electron.utilityProcess as { fork: never }).fork, entry: '/nowhere/desktop-core.js', args: [], onMessage: vi.fn(), onExit: vi.fn() });
    expect(s.control.violations).toEqual(['utilityProcess.fork of a file that does not exist: /nowhere/desktop-core.js']);
  });

  it('restarts a crashed core after a growing pause, telling the shell how many crashes in a row', () => {
    const { core, timers, onExit, child } = withCore(vi.fn<CoreOptions['onExit']>((_c, _f, _n, pause) => ({ restartInMs: pause })));
    child(0).exit(134);
    expect(onExit).toHaveBeenLastCalledWith(134, null, 1, RESTART_MIN_MS);
    timers[0]!.fn();
    child(1).exit(1);
    expect(onExit).toHaveBeenLastCalledWith(1, null, 2, RESTART_MIN_MS * 2);
    expect(core.restarts).toBe(2);
  });

  it('passes on why a core could not start, and holds when told to until resumed', () => {
    const { s, core, onExit, child } = withCore(vi.fn<CoreOptions['onExit']>(() => 'hold'));
    child(0).post({ type: 'failed', kind: 'locked', message: 'Компаньон уже запущен' });
    child(0).exit(3);
    expect(onExit).toHaveBeenCalledWith(3, { kind: 'locked', message: 'Компаньон уже запущен' }, 1, RESTART_MIN_MS);
    expect(s.control.children).toHaveLength(1);
    core.resume();
    expect(s.control.children).toHaveLength(2);
  });

  it('stops for good on quit, and kills a core that does not stop within the grace time', async () => {
    const { core, child, timers, onExit } = withCore();
    core.send({ type: 'reconnect' });
    const stopped = core.stop(20);
    expect(child(0).received).toEqual([{ type: 'reconnect' }, { type: 'stop' }]);
    let done = false;
    void stopped.then(() => { done = true; });
    await Promise.resolve();
    expect(done).toBe(false);
    // The grace timer: the scripted core ignored the stop and is killed.
    expect(timers.at(-1)!.ms).toBe(20);
    timers.at(-1)!.fn();
    await stopped;
    expect(onExit).not.toHaveBeenCalled();
  });

  it('stops soon for a session end and comes back when the shutdown was cancelled, quietly', () => {
    const { s, core, onExit, child } = withCore();
    core.stopSoon();
    expect(child(0).received).toEqual([{ type: 'stop' }]);
    core.revive();
    child(0).exit(0);
    expect(onExit).not.toHaveBeenCalled();
    expect(s.control.children).toHaveLength(2);
  });
});

describe('one companion per PC (host)', () => {
  function host(verify = async () => true) {
    const s = electron({ scripted: scripted().fork });
    const fork = (s.electron.utilityProcess as { fork(m: string, a: string[], o: object): ChildLike }).fork;
    const lives: Array<LiveOptions & { closed: boolean }> = [];
    const said: string[] = [];
    const changes: string[] = [];
    const timers: Array<{ fn: () => void; ms: number }> = [];
    const dataDir = fsTmp();
    const h = startHost({
      fork: (m, a, o) => fork(m, a, o), entry: path.join(ROOT, 'main/desktop/core-entry.ts'), args: [], dataDir,
      onChange: () => changes.push(h?.mode() ?? 'starting'), onLive: vi.fn(), say: (t) => said.push(t), verify,
      openLive: (o) => { const l = { ...o, closed: false }; lives.push(l); return { close: () => { l.closed = true; } }; },
      setTimeout: (fn, ms) => { timers.push({ fn, ms }); return timers.length; }, clearTimeout: () => undefined,
    });
    return { s, h, lives, said, changes, timers, dataDir, child: (i: number) => s.control.children[i]!.scripted! };
  }

  it('hosts the companion when its core starts, and listens to it like any other client', () => {
    const { h, lives, child } = host();
    child(0).post({ type: 'ready', url: API, token: 'tok', pid: 4242 });
    expect(h.mode()).toBe('own');
    expect(h.api()).toEqual({ url: API, token: 'tok' });
    expect(lives.at(-1)!.api).toEqual({ url: API, token: 'tok' });
    expect(h.reconnect()).toBe(true);
  });

  it('attaches to the companion another Windows session hosts, says nothing, and takes over when its channel closes', async () => {
    const { s, h, lives, said, child, dataDir } = host();
    writeApi(dataDir, { url: 'http://127.0.0.1:9150', token: 'other', pid: 99 });
    child(0).post({ type: 'failed', kind: 'locked', message: 'Компаньон уже запущен с папкой данных' });
    child(0).exit(3);
    await settle(() => h.mode() === 'other');
    expect(h.api()).toEqual({ url: 'http://127.0.0.1:9150', token: 'other' });
    expect(h.reconnect()).toBe(false);
    expect(said).toEqual([]);
    expect(s.control.children).toHaveLength(1);
    // The other session logs off: its core stops, the channel closes, this one starts its own.
    lives.at(-1)!.onClose();
    expect(h.mode()).toBe('starting');
    expect(s.control.children).toHaveLength(2);
    child(1).post({ type: 'ready', url: API, token: 'mine', pid: 5 });
    expect(h.mode()).toBe('own');
  });

  it('does not trust a local-api.json whose server cannot prove it is the companion, and tries again later', async () => {
    const { h, child, dataDir, timers } = host(async () => false);
    writeApi(dataDir, { url: 'http://127.0.0.1:9150', token: 'other', pid: 99 });
    child(0).post({ type: 'failed', kind: 'locked', message: 'x' });
    child(0).exit(3);
    await settle(() => timers.length > 0);
    expect(h.api()).toBeNull();
    expect(timers.at(-1)!.ms).toBeGreaterThanOrEqual(1_000);
  });

  it('a failure retrying cannot fix: one notice, a slow quiet retry; a crash: one notice per run of crashes', () => {
    const { h, said, child, timers } = host();
    child(0).post({ type: 'failed', kind: 'port', message: 'Порт 9142 уже занят.' });
    child(0).exit(3);
    expect(h.mode()).toBe('failed');
    expect(h.failure()).toEqual({ kind: 'port', message: 'Порт 9142 уже занят.' });
    expect(timers.at(-1)!.ms).toBe(SLOW_RETRY_MS);
    timers.at(-1)!.fn();
    child(1).post({ type: 'failed', kind: 'port', message: 'Порт 9142 уже занят.' });
    child(1).exit(3);
    expect(said).toEqual(['EVVA Companion не запущен']);
    timers.at(-1)!.fn();
    child(2).exit(134);
    timers.at(-1)!.fn();
    child(3).exit(134);
    expect(said).toEqual(['EVVA Companion не запущен', 'Служба компаньона перезапущена после сбоя.']);
  });
});

describe('Windows session end', () => {
  it('starts stopping at the query, blocks in session-end until done or the deadline, never vetoes', () => {
    const s = electron({ platform: 'win32' });
    const calls: string[] = [];
    let until = 0;
    enableSessionEnd({ BaseWindow: s.e.BaseWindow, begin: (r) => calls.push(`begin ${r.join()}`), finish: (u) => { until = u; calls.push('finish'); }, resume: () => calls.push('resume'), now: () => 1_000 });
    expect(s.control.windows).toHaveLength(1);
    expect(s.control.windows[0]!.visible).toBe(false);
    const t0 = Date.now();
    expect(s.control.endSession(['logoff'], () => calls.push('terminated'))).toBe(true);
    expect(calls).toEqual(['begin logoff', 'finish', 'terminated']);
    expect(until).toBe(1_000 + STOP_WAIT_MS);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('carries on when a shutdown was cancelled after the query (Electron emits nothing then)', () => {
    const s = electron({ platform: 'win32' });
    const calls: string[] = [];
    const timers: Array<{ fn: () => void; ms: number }> = [];
    const w = enableSessionEnd({
      BaseWindow: s.e.BaseWindow, begin: () => calls.push('begin'), finish: () => calls.push('finish'), resume: () => calls.push('resume'),
      setTimeout: (fn, ms) => { timers.push({ fn, ms }); return timers.length; }, clearTimeout: () => undefined,
    });
    w.emit('query-session-end', { reasons: ['shutdown'], preventDefault: () => undefined });
    expect(timers[0]!.ms).toBe(CANCELLED_AFTER_MS);
    timers[0]!.fn();
    expect(calls).toEqual(['begin', 'resume']);
  });
});

// ---- small helpers ----
function fsTmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-host-'));
  closing.push(async () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
function writeApi(dir: string, info: { url: string; token: string; pid: number }): void {
  fs.writeFileSync(path.join(dir, 'local-api.json'), JSON.stringify(info));
}
async function settle(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setImmediate(r));
  expect(ok()).toBe(true);
}
