/**
 * The desktop app's composition root (main/desktop/main.ts) against a mocked
 * `electron`: launch, the window, the tray, a core crash, a second launch, quit.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- loose fakes of Electron's classes; main.ts's calls define their shape */
import type { EventEmitter as Events } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Status } from '../../protocol/local.ts';

const h = vi.hoisted(() => {
  // vi.hoisted runs before the imports, so node:events comes in through require.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { EventEmitter: Emitter } = require('node:events') as { EventEmitter: typeof Events };
  const state = {
    lock: true, login: false, argv: [] as string[],
    windows: [] as any[], trays: [] as any[], children: [] as any[], notes: [] as any[], menus: [] as any[],
    quit: 0, cookies: [] as any[], clipboard: '',
  };
  class BrowserWindow extends Emitter {
    visible = false; url = '';
    webContents = Object.assign(new Emitter(), { setWindowOpenHandler() {} });
    constructor(readonly options: any) { super(); state.windows.push(this); }
    loadURL(u: string) { this.url = u; return Promise.resolve(); }
    show() { this.visible = true; } hide() { this.visible = false; } focus() {}
    isMinimized() { return false; } restore() {} getSize() { return [1100, 760]; }
  }
  class Tray extends Emitter {
    image: string; tip = ''; menu: any[] = [];
    constructor(i: string) { super(); this.image = i; state.trays.push(this); }
    setImage(i: string) { this.image = i; } setToolTip(t: string) { this.tip = t; } setContextMenu(m: any[]) { this.menu = m; } destroy() {}
  }
  class Notification extends Emitter {
    static isSupported() { return true; }
    constructor(readonly options: any) { super(); }
    show() { state.notes.push(this.options); }
  }
  class Child extends Emitter {
    sent: any[] = [];
    constructor(readonly entry: string, readonly args: string[]) { super(); state.children.push(this); }
    postMessage(m: any) { this.sent.push(m); if (m.type === 'stop') setImmediate(() => this.emit('exit', 0)); }
    kill() { this.emit('exit', 1); return true; }
  }
  const app = Object.assign(new Emitter(), {
    isPackaged: false,
    requestSingleInstanceLock: () => state.lock,
    whenReady: () => Promise.resolve(),
    quit: () => { state.quit += 1; },
    getLoginItemSettings: () => ({ openAtLogin: state.login }),
    setLoginItemSettings: (s: { openAtLogin: boolean }) => { state.login = s.openAtLogin; },
  });
  const handlers = new Map<string, any>();
  const electron = {
    app, BrowserWindow, Tray, Notification,
    Menu: { buildFromTemplate: (t: any[]) => t },
    clipboard: { writeText: (s: string) => { state.clipboard = s; } },
    shell: { openPath: async () => '' },
    session: { defaultSession: { cookies: { set: async (c: any) => { state.cookies.push(c); } } } },
    ipcMain: { handle: (c: string, f: any) => handlers.set(c, f), on: (c: string, f: any) => handlers.set(c, f) },
    utilityProcess: { fork: (entry: string, args: string[]) => new Child(entry, args) },
    // A stand-in for DPAPI: reversible, and visibly not the plain text.
    safeStorage: {
      isAsyncEncryptionAvailable: async () => true,
      encryptStringAsync: async (s: string) => Buffer.from(`dpapi:${s}`),
      decryptStringAsync: async (b: Buffer) => ({ result: b.toString().replace(/^dpapi:/, ''), shouldReEncrypt: false }),
    },
  };
  return { state, electron, handlers };
});

vi.mock('electron', () => ({ ...h.electron, default: h.electron }));
vi.mock('electron-store', () => ({
  default: class { get(key: string) { return ({ notifications: true, window: { width: 1100, height: 760 } } as Record<string, unknown>)[key]; } set() {} },
}));

const API = 'http://127.0.0.1:9142';
const status = (front: Status['front']['state'], tunnel: Status['tunnel']['state']): Status => ({
  level: 'ok', version: '0.1.0', startedAt: '2026-11-28T12:00:00Z',
  front: { state: front, url: 'http://127.0.0.1:9042', latencyMs: 8, checkedAt: null, since: null, source: 'settings' },
  tunnel: { state: tunnel, since: null, rttMs: 12, reconnects: 0, venueId: 'v1', relayUrl: 'https://relay' },
});
const until = async (ok: () => boolean) => { for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10)); expect(ok()).toBe(true); };

beforeEach(() => {
  vi.resetModules();
  Object.assign(h.state, { lock: true, login: false, windows: [], trays: [], children: [], notes: [], quit: 0, cookies: [], clipboard: '' });
  h.electron.app.removeAllListeners();
  h.handlers.clear();
});
afterEach(() => { vi.useRealTimers(); });

async function launch() {
  await import('../../main/desktop/main.ts');
  await until(() => h.state.children.length === 1);
  const core = h.state.children[0];
  core.emit('message', { type: 'ready', url: API, token: 'tok' });
  core.emit('message', { type: 'status', status: status('up', 'connected') });
  await until(() => h.state.windows[0]?.visible === true);
  return { core, win: h.state.windows[0], tray: h.state.trays[0] };
}

describe('the desktop app', () => {
  it('starts the core in a utilityProcess, then shows the UI from its local API', async () => {
    const { core, win, tray } = await launch();
    expect(core.entry).toMatch(/dist[/\\]node[/\\]desktop-core\.js$/);
    expect(core.args[0]).toBe('--data-dir');
    expect(win.url).toBe(`${API}/`);
    expect(win.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(h.state.cookies[0]).toMatchObject({ name: 'evva_token', value: 'tok', httpOnly: true });
    expect(tray.tip).toBe('EVVA: всё работает · iikoFront 9042 · туннель 12 мс');
    expect(tray.image).toMatch(/tray-green\.(png|ico)$/);
  });

  it('hides to the tray on close and quits only from the tray menu, stopping the core first', async () => {
    const { core, win, tray } = await launch();
    const close = { preventDefault: vi.fn() };
    win.emit('close', close);
    expect(close.preventDefault).toHaveBeenCalled();
    expect(win.visible).toBe(false);
    expect(h.state.quit).toBe(0);
    tray.menu.find((i: { label?: string }) => i.label === 'Выход').click({ checked: false });
    await until(() => h.state.quit === 1);
    expect(core.sent).toContainEqual({ type: 'stop' });
    const after = { preventDefault: vi.fn() };
    win.emit('close', after);
    expect(after.preventDefault).not.toHaveBeenCalled();
  });

  it('focuses the open window when launched a second time, and a second copy quits at once', async () => {
    const { win } = await launch();
    win.hide();
    h.electron.app.emit('second-instance');
    await until(() => win.visible);

    vi.resetModules();
    h.state.lock = false;
    h.state.children = [];
    await import('../../main/desktop/main.ts');
    expect(h.state.quit).toBe(1);
    expect(h.state.children).toHaveLength(0);
  });

  it('restarts a crashed core, says so, and reloads the UI at the new address', async () => {
    const { core, win, tray } = await launch();
    core.emit('exit', 134);
    expect(tray.tip).toBe('EVVA: запускается…');
    expect(h.state.notes.at(-1).title).toBe('Служба компаньона перезапущена после сбоя.');
    await until(() => h.state.children.length === 2);
    h.state.children[1].emit('message', { type: 'ready', url: 'http://127.0.0.1:9150', token: 'new' });
    await until(() => win.url === 'http://127.0.0.1:9150/');
  });

  it('copies the support report from the tray and tells the cashier about a payment to close', async () => {
    const { core, tray } = await launch();
    tray.menu.find((i: { label?: string }) => i.label === 'Скопировать отчёт для поддержки').click({ checked: false });
    expect(h.state.clipboard).toContain('Всё работает');
    expect(h.state.clipboard).toContain('iikoFront: Отвечает · порт 9042');
    // The core's live `payment` message: a PaymentView (protocol/events.ts) with the order's number and table.
    core.emit('message', { type: 'payment', reminder: false, payment: { paymentId: 'p9', orderId: '6f1c0000-0000-4000-8000-000000000023', orderNumber: 23, table: '5', state: 'notified', amount: 1200, paidAt: '2026-11-28T12:00:00Z', updatedAt: '2026-11-28T12:00:01Z' } });
    expect(h.state.notes.at(-1)).toMatchObject({ title: 'Оплата через EVVA: закройте заказ', body: 'Заказ №23, стол 5: оплачено через EVVA 1 200 ₽ — закройте заказ типом оплаты EVVAP' });
  });

  it('seals the device token for the core with safeStorage and opens it again', async () => {
    const { core } = await launch();
    core.emit('message', { type: 'seal', id: 1, text: 'evd_secret-token' });
    await until(() => core.sent.some((m: { type: string }) => m.type === 'sealed'));
    const sealed = core.sent.find((m: { type: string }) => m.type === 'sealed');
    expect(sealed.id).toBe(1);
    expect(Buffer.from(sealed.text, 'base64').toString()).toBe('dpapi:evd_secret-token');
    core.emit('message', { type: 'open', id: 2, text: sealed.text });
    await until(() => core.sent.some((m: { type: string; id: number }) => m.type === 'sealed' && m.id === 2));
    expect(core.sent.find((m: { id: number }) => m.id === 2).text).toBe('evd_secret-token');
  });

  it('turns start-at-login on from the tray with --hidden', async () => {
    const { tray } = await launch();
    tray.menu.find((i: { label?: string }) => i.label === 'Запускать при входе').click({ checked: true });
    expect(h.state.login).toBe(true);
    expect(tray.menu.find((i: { label?: string }) => i.label === 'Запускать при входе').checked).toBe(true);
  });
});
