/**
 * The desktop app's composition root (Electron main process). Thin: the core
 * runs in a utilityProcess and serves the UI; this file wires the window, the
 * tray, notifications, start at login and the IPC the page may use.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, clipboard, ipcMain, Menu, Notification, safeStorage, session, shell, Tray, utilityProcess } from 'electron';
import { reportOf } from '../../protocol/face.ts';
import type { Status } from '../../protocol/local.ts';
import { strings } from '../../protocol/strings.ts';
import { createNotices, paymentOf } from '../core/notices.ts';
import { defaultDataDir } from '../core/settings.ts';
import { startCore, type Core } from './core.ts';
import { enableGuards } from './guards.ts';
import { enableIpc } from './ipc.ts';
import { enableLoginItem, startedHidden } from './login.ts';
import { enableNotifications } from './notify.ts';
import { enableSingleInstance } from './single.ts';
import { answerVault, createVault } from './secrets.ts';
import { openStore } from './store.ts';
import { enableTray } from './tray.ts';
import { enableWindow } from './window.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const iconDir = app.isPackaged ? path.join(process.resourcesPath, 'resources') : path.join(root, 'resources');
const dataDir = process.env.EVVA_DATA_DIR ?? defaultDataDir();
/** Notices are re-checked this often even without a status change (the 60 s link rule needs a clock). */
const NOTICE_TICK_MS = 5_000;

let quitting = false;
let api: { url: string; token: string } | null = null;
let last: Status | null = null;
let core: Core | null = null;

const win = enableWindow({
  BrowserWindow, session: session.defaultSession,
  preload: path.join(root, 'dist/preload/preload.cjs'),
  icon: path.join(iconDir, process.platform === 'win32' ? 'icon.ico' : 'icon.png'),
  size: { width: 1100, height: 760 },
  api: () => api,
  isQuitting: () => quitting,
});

if (!enableSingleInstance(app, () => void win.show())) {
  app.quit();
} else {
  app.on('web-contents-created', (_e, contents) => enableGuards(contents, () => api?.url ?? 'http://127.0.0.1:0'));
  // Closing the last window keeps the app in the tray.
  app.on('window-all-closed', () => undefined);
  app.on('before-quit', () => { quitting = true; });
  void app.whenReady().then(start);
}

async function start(): Promise<void> {
  const store = openStore();
  const login = enableLoginItem(app);
  // A POS PC must come back by itself after a reboot: the installed app starts at login unless someone turns it off.
  if (app.isPackaged && !store.get('loginItemSet')) { login.set(true); store.set('loginItemSet', true); }
  const notices = createNotices('ru');
  const notify = enableNotifications({ Notification, icon: path.join(iconDir, 'icon.png'), open: (route) => void win.show(route) });
  const say = (title: string, body: string) => notify([{ kind: 'front_down', title, body, open: 'status' }]);

  const tray = enableTray({
    Tray, Menu, iconDir, platform: process.platform,
    startAtLogin: () => login.get(),
    actions: {
      open: () => void win.show(),
      diagnostics: () => void win.show('/diagnostics'),
      copyReport: () => { if (last) clipboard.writeText(reportOf(last, 'ru')); },
      openLogs: () => void shell.openPath(path.join(dataDir, 'logs')),
      reconnect: () => core?.send({ type: 'reconnect' }),
      toggleStartAtLogin: (on) => { login.set(on); tray.update(last); },
      quit: () => void quit(),
    },
  });

  enableIpc(ipcMain, {
    api: () => api,
    hide: () => win.hide(),
    openLogs: async () => { await shell.openPath(path.join(dataDir, 'logs')); },
    getStartAtLogin: () => login.get(),
    setStartAtLogin: (on) => { const now = login.set(on); tray.update(last); return now; },
  });

  const vault = createVault(safeStorage);
  core = startCore({
    fork: (entry, args, options) => utilityProcess.fork(entry, args, options),
    entry: path.join(root, 'dist/node/desktop-core.js'),
    args: ['--data-dir', dataDir],
    onMessage: (m, child) => {
      if (answerVault(vault, m, (reply) => child.postMessage(reply))) return;
      if (m.type === 'ready') {
        const fresh = !api || api.url !== m.url || api.token !== m.token;
        api = { url: String(m.url), token: String(m.token) };
        if (fresh) void win.reload();
      } else if (m.type === 'status') {
        last = m.status as Status;
        tray.update(last);
        if (store.get('notifications')) notify(notices.observe(last, Date.now()));
      } else if (m.type === 'failed') {
        say(strings('ru').sentence.offline, String(m.message));
      } else {
        const payment = paymentOf(m);
        if (payment) notify(notices.payment(payment));
      }
    },
    onRestart: () => {
      last = null;
      tray.update(null);
      say(strings('ru').tray.coreRestarted, strings('ru').common.offline);
    },
  });
  setInterval(() => { if (last && store.get('notifications')) notify(notices.observe(last, Date.now())); }, NOTICE_TICK_MS).unref();

  if (!startedHidden(process.argv)) {
    // The first window waits for the core's address (a few hundred ms).
    const until = Date.now() + 15_000;
    while (!api && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    await win.show(last?.tunnel.state === 'unpaired' ? '/setup' : undefined);
  }
}

async function quit(): Promise<void> {
  quitting = true;
  await core?.stop();
  app.quit();
}
