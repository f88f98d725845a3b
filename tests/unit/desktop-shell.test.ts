/**
 * The Electron shell's parts, with Electron's classes replaced by small fakes
 * (the binary cannot run here). Each part gets its Electron pieces injected.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { Status } from '../../protocol/local.ts';
import { RESTART_MIN_MS, startCore, type ChildLike } from '../../main/desktop/core.ts';
import { enableGuards, sameOrigin, senderAllowed } from '../../main/desktop/guards.ts';
import { enableIpc, IpcRefused } from '../../main/desktop/ipc.ts';
import { enableLoginItem, startedHidden } from '../../main/desktop/login.ts';
import { enableSingleInstance } from '../../main/desktop/single.ts';
import { enableTray, iconFile, menuTemplate, toneOf, tooltipFor } from '../../main/desktop/tray.ts';
import { enableWindow, webPreferences } from '../../main/desktop/window.ts';
import { CHANNELS } from '../../preload/bridge.ts';

vi.mock('electron', () => ({})); // nothing here may reach the real module

const API = 'http://127.0.0.1:9142';
const status = (front: Status['front']['state'], tunnel: Status['tunnel']['state'], extra: Partial<Status['tunnel']> = {}): Status => ({
  level: 'ok', version: '0.1.0', startedAt: '2026-11-28T12:00:00Z',
  front: { state: front, url: 'http://127.0.0.1:9042', latencyMs: 8, checkedAt: null, since: '2026-11-28T12:04:00Z', source: 'discovery' },
  tunnel: { state: tunnel, since: null, rttMs: 12, reconnects: 0, venueId: 'v1', relayUrl: 'https://relay', ...extra },
});

describe('tray state', () => {
  it('maps each situation to one of four icons that differ in file (shape) per state', () => {
    expect(toneOf(status('up', 'connected'))).toBe('green');
    expect(toneOf(status('up', 'connecting'))).toBe('amber');
    expect(toneOf(status('down', 'connected'))).toBe('red');
    expect(toneOf(status('up', 'offline'))).toBe('red');
    expect(toneOf(status('unknown', 'unpaired'))).toBe('grey');
    expect(toneOf(null)).toBe('grey');
    expect(iconFile('/r', 'red', 'win32')).toBe('/r/tray-red.ico');
    expect(iconFile('/r', 'green', 'linux')).toBe('/r/tray-green.png');
  });

  it('writes a one-line Russian tooltip of at most 60 characters', () => {
    expect(tooltipFor(status('up', 'connected'))).toBe('EVVA: всё работает · iikoFront 9042 · туннель 12 мс');
    expect(tooltipFor(status('down', 'connected'))).toBe('EVVA: есть проблема: iikoFront не отвечает');
    expect(tooltipFor(status('unknown', 'unpaired'))).toBe('EVVA: не настроено: введите код привязки');
    expect(tooltipFor(null)).toBe('EVVA: запускается…');
    for (const s of [status('up', 'connected'), status('up', 'offline'), status('unlicensed', 'connected'), status('up', 'offline', { error: { code: 'token_refused', message: 'x' } })]) {
      const line = tooltipFor(s);
      expect(line.length).toBeLessThanOrEqual(60);
      expect(line).not.toContain('\n');
    }
  });

  it('offers the menu in order, with start-at-login as a checkbox and reconnect only when paired', () => {
    const actions = { open: vi.fn(), diagnostics: vi.fn(), copyReport: vi.fn(), openLogs: vi.fn(), reconnect: vi.fn(), toggleStartAtLogin: vi.fn(), quit: vi.fn() };
    const menu = menuTemplate(actions, true, false);
    expect(menu.filter((i) => i.label).map((i) => i.label)).toEqual(['Открыть', 'Диагностика', 'Скопировать отчёт для поддержки', 'Открыть папку логов', 'Переподключить', 'Запускать при входе', 'Выход']);
    expect(menu.find((i) => i.label === 'Запускать при входе')).toMatchObject({ type: 'checkbox', checked: true });
    expect(menu.find((i) => i.label === 'Переподключить')!.enabled).toBe(false);
    menu.find((i) => i.label === 'Выход')!.click!({ checked: false } as never, undefined as never, undefined as never);
    expect(actions.quit).toHaveBeenCalledOnce();
  });

  it('changes the icon and tooltip of the real tray object as the status changes', () => {
    const made: FakeTray[] = [];
    class FakeTray extends EventEmitter {
      image: string; tip = ''; menus = 0;
      constructor(image: string) { super(); this.image = image; made.push(this); }
      setImage(i: string) { this.image = i; }
      setToolTip(t: string) { this.tip = t; }
      setContextMenu() { this.menus += 1; }
      destroy() {}
    }
    const open = vi.fn();
    const tray = enableTray({
      Tray: FakeTray as never, Menu: { buildFromTemplate: (t) => t as never }, iconDir: '/r', platform: 'win32', startAtLogin: () => false,
      actions: { open, diagnostics: vi.fn(), copyReport: vi.fn(), openLogs: vi.fn(), reconnect: vi.fn(), toggleStartAtLogin: vi.fn(), quit: vi.fn() },
    });
    const t = made[0]!;
    expect(t.image).toBe('/r/tray-grey.ico');
    tray.update(status('up', 'connected'));
    expect(t.image).toBe('/r/tray-green.ico');
    expect(t.tip).toContain('всё работает');
    tray.update(status('down', 'connected'));
    expect(t.image).toBe('/r/tray-red.ico');
    t.emit('click');
    expect(open).toHaveBeenCalledOnce();
  });
});

/** A BrowserWindow stand-in that records what the shell does to it. */
class FakeWindow extends EventEmitter {
  static made: FakeWindow[] = [];
  visible = false; url = ''; minimized = false;
  webContents = Object.assign(new EventEmitter(), { openHandler: null as null | (() => unknown), setWindowOpenHandler(h: () => unknown) { this.openHandler = h; } });
  constructor(readonly options: Record<string, unknown>) { super(); FakeWindow.made.push(this); }
  loadURL(url: string) { this.url = url; return Promise.resolve(); }
  show() { this.visible = true; }
  hide() { this.visible = false; }
  focus() {}
  isMinimized() { return this.minimized; }
  restore() { this.minimized = false; }
  getSize() { return [1100, 760]; }
}

function makeWindow(quitting: { now: boolean }) {
  FakeWindow.made = [];
  const cookies = { set: vi.fn(async () => undefined) };
  const w = enableWindow({
    BrowserWindow: FakeWindow as never, session: { cookies } as never, preload: '/p/preload.cjs', icon: '/r/icon.png', size: { width: 1100, height: 760 },
    api: () => ({ url: API, token: 'tok' }), isQuitting: () => quitting.now,
  });
  return { w, cookies };
}

describe('window', () => {
  it('runs the page isolated and sandboxed, without Node', () => {
    expect(webPreferences('/p/preload.cjs')).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false, preload: '/p/preload.cjs' });
  });

  it('loads the UI from the local API with the session cookie set first', async () => {
    const { w, cookies } = makeWindow({ now: false });
    await w.show('/diagnostics');
    const win = FakeWindow.made[0]!;
    expect(cookies.set).toHaveBeenCalledWith(expect.objectContaining({ url: API, name: 'evva_token', value: 'tok', httpOnly: true, sameSite: 'strict' }));
    expect(win.url).toBe(`${API}/diagnostics`);
    expect(win.visible).toBe(true);
  });

  it('hides to the tray when closed, and really closes when quitting', async () => {
    const quitting = { now: false };
    const { w } = makeWindow(quitting);
    await w.show();
    const win = FakeWindow.made[0]!;
    const close = { preventDefault: vi.fn() };
    win.emit('close', close);
    expect(close.preventDefault).toHaveBeenCalledOnce();
    expect(win.visible).toBe(false);
    quitting.now = true;
    const quit = { preventDefault: vi.fn() };
    win.emit('close', quit);
    expect(quit.preventDefault).not.toHaveBeenCalled();
  });
});

describe('single instance', () => {
  it('lets the second launch quit and focuses the first one instead', () => {
    const app = Object.assign(new EventEmitter(), { requestSingleInstanceLock: () => true });
    const focus = vi.fn();
    expect(enableSingleInstance(app as never, focus)).toBe(true);
    app.emit('second-instance');
    expect(focus).toHaveBeenCalledOnce();
    const second = Object.assign(new EventEmitter(), { requestSingleInstanceLock: () => false });
    expect(enableSingleInstance(second as never, focus)).toBe(false);
  });
});

describe('guards', () => {
  it('keeps navigation on the local API and refuses new windows and webviews', () => {
    const contents = Object.assign(new EventEmitter(), { openHandler: null as null | ((d: unknown) => unknown), setWindowOpenHandler(h: (d: unknown) => unknown) { this.openHandler = h; } });
    enableGuards(contents as never, () => API);
    const away = { preventDefault: vi.fn() };
    contents.emit('will-navigate', away, 'https://evil.example/');
    expect(away.preventDefault).toHaveBeenCalledOnce();
    const sideways = { preventDefault: vi.fn() };
    contents.emit('will-navigate', sideways, 'http://127.0.0.1:9043/');
    expect(sideways.preventDefault).toHaveBeenCalledOnce();
    const home = { preventDefault: vi.fn() };
    contents.emit('will-navigate', home, `${API}/settings`);
    expect(home.preventDefault).not.toHaveBeenCalled();
    const redirect = { preventDefault: vi.fn() };
    contents.emit('will-redirect', redirect, 'http://localhost:1/');
    expect(redirect.preventDefault).toHaveBeenCalledOnce();
    const webview = { preventDefault: vi.fn() };
    contents.emit('will-attach-webview', webview);
    expect(webview.preventDefault).toHaveBeenCalledOnce();
    expect(contents.openHandler!({ url: `${API}/` })).toEqual({ action: 'deny' });
    expect(sameOrigin('not a url', API)).toBe(false);
  });

  it('answers IPC only from frames of the companion UI, and checks arguments', async () => {
    const handlers = new Map<string, (event: unknown, ...args: unknown[]) => unknown>();
    const listeners = new Map<string, (event: { returnValue?: unknown; senderFrame: { url: string } }) => void>();
    const setStartAtLogin = vi.fn((on: boolean) => on);
    enableIpc({ handle: (c: string, h: never) => { handlers.set(c, h); }, on: (c: string, l: never) => { listeners.set(c, l); } } as never, {
      api: () => ({ url: API, token: 'tok' }), hide: vi.fn(), openLogs: vi.fn(async () => undefined), getStartAtLogin: () => false, setStartAtLogin,
    });
    const ours = { senderFrame: { url: `${API}/settings` } };
    const foreign = { senderFrame: { url: 'https://evil.example/' } };
    expect(senderAllowed(ours as never, API)).toBe(true);
    expect(senderAllowed({ senderFrame: null } as never, API)).toBe(false);
    expect(handlers.get(CHANNELS.setStartAtLogin)!(ours, true)).toBe(true);
    expect(() => handlers.get(CHANNELS.setStartAtLogin)!(foreign, true)).toThrow(IpcRefused);
    expect(() => handlers.get(CHANNELS.setStartAtLogin)!(ours, 'yes')).toThrow(IpcRefused);
    expect(setStartAtLogin).toHaveBeenCalledTimes(1);
    const sync = { ...ours, returnValue: undefined as unknown };
    listeners.get(CHANNELS.api)!(sync);
    expect(sync.returnValue).toEqual({ apiUrl: API, token: 'tok' });
    const stolen = { ...foreign, returnValue: undefined as unknown };
    listeners.get(CHANNELS.api)!(stolen);
    expect(stolen.returnValue).toBeNull();
  });
});

describe('start at login', () => {
  it('registers the login item with --hidden, and a --hidden launch stays in the tray', () => {
    let on = false;
    const app = {
      getLoginItemSettings: vi.fn(() => ({ openAtLogin: on })),
      setLoginItemSettings: vi.fn((s: { openAtLogin: boolean }) => { on = s.openAtLogin; }),
    };
    const item = enableLoginItem(app as never);
    expect(item.set(true)).toBe(true);
    expect(app.setLoginItemSettings).toHaveBeenCalledWith({ openAtLogin: true, args: ['--hidden'] });
    expect(app.getLoginItemSettings).toHaveBeenCalledWith({ args: ['--hidden'] });
    expect(startedHidden(['electron', '.', '--hidden'])).toBe(true);
    expect(startedHidden(['electron', '.'])).toBe(false);
  });
});

describe('the core process', () => {
  /** A utilityProcess stand-in. */
  class FakeChild extends EventEmitter implements ChildLike {
    sent: unknown[] = [];
    killed = false;
    postMessage(m: unknown) { this.sent.push(m); if ((m as { type?: string }).type === 'stop') setImmediate(() => this.emit('exit', 0)); }
    kill() { this.killed = true; this.emit('exit', 1); return true; }
  }

  it('restarts the core after it crashes, with a growing pause, and says so', () => {
    const children: FakeChild[] = [];
    const timers: Array<{ fn: () => void; ms: number }> = [];
    const onRestart = vi.fn();
    const core = startCore({
      fork: () => { const c = new FakeChild(); children.push(c); return c; },
      entry: '/d/desktop-core.js', args: ['--data-dir', '/data'], onMessage: vi.fn(), onRestart,
      setTimeout: (fn, ms) => { timers.push({ fn, ms }); return timers.length; }, clearTimeout: () => undefined, now: () => 0,
    });
    expect(children).toHaveLength(1);
    children[0]!.emit('exit', 134);
    expect(onRestart).toHaveBeenCalledWith(134, 1);
    expect(timers[0]!.ms).toBe(RESTART_MIN_MS);
    timers[0]!.fn();
    expect(children).toHaveLength(2);
    children[1]!.emit('exit', 1);
    expect(timers[1]!.ms).toBe(RESTART_MIN_MS * 2);
    expect(core.restarts).toBe(2);
  });

  it('passes the core messages on, and stops it for good on quit', async () => {
    const children: FakeChild[] = [];
    const onMessage = vi.fn();
    const onRestart = vi.fn();
    const core = startCore({ fork: () => { const c = new FakeChild(); children.push(c); return c; }, entry: '/e', args: [], onMessage, onRestart });
    children[0]!.emit('message', { type: 'ready', url: API, token: 't' });
    children[0]!.emit('message', 'not an object');
    expect(onMessage).toHaveBeenCalledTimes(1);
    core.send({ type: 'reconnect' });
    await core.stop(1_000);
    expect(children[0]!.sent).toEqual([{ type: 'reconnect' }, { type: 'stop' }]);
    expect(onRestart).not.toHaveBeenCalled();
    expect(children).toHaveLength(1);
  });

  it('kills a core that does not stop within the grace time', async () => {
    class Stuck extends FakeChild { override postMessage(m: unknown) { this.sent.push(m); } }
    const child = new Stuck();
    const core = startCore({ fork: () => child, entry: '/e', args: [], onMessage: vi.fn(), onRestart: vi.fn() });
    await core.stop(20);
    expect(child.killed).toBe(true);
  });
});
