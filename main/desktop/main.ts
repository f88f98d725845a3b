/**
 * The desktop app's composition root (Electron main process). Thin: the core
 * runs in a utilityProcess and serves the UI; this file wires the window, the
 * tray, notifications, start at login and the IPC the page may use.
 *
 * Electron's order (issue 24 item 1): while this module loads, only what
 * Electron allows before `ready` (docs/api/app.md): the app's identity and
 * folders, the application menu, the single-instance lock, event listeners.
 * Sessions, windows, trays, notifications and utility processes exist only
 * after `ready` (they throw before it), so all of that is in start().
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BaseWindow, BrowserWindow, clipboard, dialog, ipcMain, Menu, Notification, safeStorage, screen, session, shell, Tray, utilityProcess } from 'electron';
import { reportOf } from '../../face/face.ts';
import type { LiveMessage, Status } from '../../protocol/local.ts';
import { createNotices, paymentOf } from '../core/notices.ts';
import { defaultDataDir } from '../core/settings.ts';
import { enableGuards, enablePermissions } from './guards.ts';
import { startHost, type Host } from './host.ts';
import { setIdentity } from './identity.ts';
import { enableIpc } from './ipc.ts';
import { enableLoginItem, startedHidden } from './login.ts';
import { enableNotifications } from './notify.ts';
import { answerVault, createVault } from './secrets.ts';
import { enableSessionEnd } from './shutdown.ts';
import { enableSingleInstance } from './single.ts';
import { openStore } from './store.ts';
import { enableTray } from './tray.ts';
import { enableWindow, fitWindow, type AppWindow } from './window.ts';

const platform = process.platform;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const iconDir = app.isPackaged ? path.join(process.resourcesPath, 'resources') : path.join(root, 'resources');
/** On Windows the whole PC's folder (%ProgramData%\EVVA Companion): one companion per PC, whoever is signed in (host.ts). */
const dataDir = process.env.EVVA_DATA_DIR ?? defaultDataDir();
/** Notices are re-checked this often even without a status change (the 60 s link rule needs a clock). */
const NOTICE_TICK_MS = 5_000;

// Before ready, in this order: the identity first, so nothing (a notification, a login item) ever uses Electron's default one.
setIdentity(app, platform, process.env);
// No application menu: Electron's default one has View → Toggle Developer Tools, which would show the local API's token.
Menu.setApplicationMenu(null);

let quitting = false;
let win: AppWindow | null = null;
let pending = false;

if (!enableSingleInstance(app, () => { if (win) void win.show(); else pending = true; })) {
  app.quit();
} else {
  app.on('web-contents-created', (_e, contents) => enableGuards(contents, () => host?.api()?.url ?? 'http://127.0.0.1:0'));
  // Closing the last window keeps the app in the tray.
  app.on('window-all-closed', () => undefined);
  app.on('before-quit', () => { quitting = true; });
  app.whenReady().then(start).catch((e: Error) => {
    // Something the app cannot run without failed: say it, rather than leave a process with no tray.
    dialog.showErrorBox('EVVA Companion не запустился', `${e.message}\n\nПерезапустите компьютер. Если это повторяется, сообщите в поддержку EVVA текст этого сообщения.`);
    app.exit(1);
  });
}

let host: Host | null = null;

async function start(): Promise<void> {
  const store = openStore();
  const login = enableLoginItem(app, platform);
  // Windows: the installer registers start at login for every user (resources/installer.nsh). macOS: the first start turns it on.
  if (platform === 'darwin' && app.isPackaged && !store.get('loginItemSet')) { login.set(true); store.set('loginItemSet', true); }
  const notices = createNotices('ru');
  let last: Status | null = null;

  enablePermissions(session.defaultSession, () => host?.api()?.url ?? 'http://127.0.0.1:0');
  const size = fitWindow(store.get('window'), screen.getPrimaryDisplay().workAreaSize);
  const window = enableWindow({
    BrowserWindow, session: session.defaultSession,
    preload: path.join(root, 'dist/preload/preload.cjs'),
    icon: path.join(iconDir, platform === 'win32' ? 'icon.ico' : 'icon.png'),
    size, devTools: !app.isPackaged,
    api: () => host?.api() ?? null,
    isQuitting: () => quitting,
    onResize: (s) => store.set('window', s),
  });
  win = window;
  const notify = enableNotifications({ Notification, icon: path.join(iconDir, 'icon.png'), open: (route) => void window.show(route) });
  const say = (title: string, body: string) => notify([{ kind: 'front_down', title, body, open: 'status' }]);

  const tray = enableTray({
    Tray, Menu, iconDir, platform,
    menuState: () => ({
      login: login.get(),
      canReconnect: host?.mode() === 'own' && last !== null && last.tunnel.state !== 'unpaired',
      notifications: store.get('notifications'),
    }),
    actions: {
      open: () => void window.show(),
      diagnostics: () => void window.show('/diagnostics'),
      copyReport: () => { if (last) clipboard.writeText(reportOf(last, 'ru')); },
      openLogs: () => void shell.openPath(path.join(dataDir, 'logs')),
      reconnect: () => { host?.reconnect(); },
      toggleStartAtLogin: (on) => { login.set(on); refresh(); },
      toggleNotifications: (on) => { store.set('notifications', on); refresh(); },
      quit: () => void quit(),
    },
  });
  const refresh = () => tray.update(last, host?.failure()?.message ?? null);

  enableIpc(ipcMain, {
    api: () => host?.api() ?? null,
    hide: () => window.hide(),
    openLogs: async () => { await shell.openPath(path.join(dataDir, 'logs')); },
    getStartAtLogin: () => login.get().on,
    setStartAtLogin: (on) => { const now = login.set(on).on; refresh(); return now; },
  });

  let guided = false;
  const onLive = (m: LiveMessage) => {
    if (m.type === 'status') {
      last = m.status;
      refresh();
      // A companion not yet paired opens at the wizard, once, if the window is up.
      if (!guided && last.tunnel.state === 'unpaired' && window.get()?.isVisible()) void window.show('/setup');
      guided = true;
      if (store.get('notifications')) notify(notices.observe(last, Date.now()));
      return;
    }
    const payment = paymentOf(m);
    if (payment) notify(notices.payment(payment));
  };

  // Sealing with safeStorage is one user's key: on Windows the data is the whole PC's (host.ts), so the folder's ACL keeps the token instead.
  const seal = platform !== 'win32';
  const vault = seal ? createVault(safeStorage) : null;
  let apiSeen = '';
  host = startHost({
    fork: (entry, args, options) => utilityProcess.fork(entry, args, options),
    entry: path.join(root, 'dist/node/desktop-core.js'),
    args: ['--data-dir', dataDir, ...(seal ? ['--seal'] : [])],
    dataDir,
    answer: (m, child) => (vault ? answerVault(vault, m, (reply) => child.postMessage(reply)) : false),
    onLive,
    say,
    onChange: () => {
      const api = host?.api() ?? null;
      const key = api ? `${api.url}|${api.token}` : '';
      if (!api) last = null;
      refresh();
      // A new address or token (first start, a restart, another session's core): the window shows it.
      if (key !== apiSeen) { apiSeen = key; void window.reload(); }
    },
  });
  setInterval(() => { if (last && store.get('notifications')) notify(notices.observe(last, Date.now())); }, NOTICE_TICK_MS).unref();

  if (platform === 'win32') {
    enableSessionEnd({
      BaseWindow,
      begin: () => { quitting = true; host?.stopSoon(); },
      finish: (until) => { host?.waitStoppedSync(until); },
      resume: () => { quitting = false; host?.revive(); },
    });
  }

  if (pending || !startedHidden(process.argv)) await window.show();
}

async function quit(): Promise<void> {
  quitting = true;
  await host?.stop();
  app.quit();
}
