/**
 * A stand-in for Electron 45's main-process API that keeps Electron's rules,
 * for the shell's tests (the Electron binary cannot be downloaded here).
 * Written from Electron's typings (node_modules/electron/electron.d.ts), its
 * docs (docs/api/*.md) and its source (electron/electron: shell/browser/api/*,
 * lib/browser/init.ts, shell/browser/browser_win.cc,
 * shell/browser/native_window_views_win.cc). Each rule names where it comes from.
 *
 * What it keeps:
 * - What Electron provides only after `ready` throws before it, with Electron's
 *   own messages: `session.defaultSession`, `new BrowserWindow`/`BaseWindow`,
 *   `new Tray`, `new Notification`, `utilityProcess.fork`, `screen`, safeStorage.
 * - Platform APIs exist only on their platform (`app.setAppUserModelId`,
 *   `Notification.handleActivation`: Windows; login items: Windows and macOS,
 *   a no-op on Linux), as Electron binds them only there.
 * - The default application menu (with the View menu's DevTools) is installed
 *   at `will-finish-launching` unless the app set one before.
 * - Notifications are JS objects the app must hold: the stand-in keeps only
 *   weak references, so `collect()` (a real V8 GC, run with --expose-gc) loses
 *   the `click` of every notification the app dropped, as Electron does.
 * - The Windows session end (shell/browser/native_window_views_win.cc):
 *   `query-session-end` to every window, then `session-end`, never
 *   `before-quit`; right after the `session-end` handlers return, the process
 *   and its children are terminated (Windows ends the session "any time after
 *   all applications have returned", per WM_ENDSESSION's documentation).
 * - `app.quit()`: before-quit, windows closed, will-quit, quit, exit; child
 *   (utility) processes die with the app.
 * - Windows login items as browser_win.cc keeps them: HKCU\…\Run values named
 *   after the AppUserModelID unless `name` is given, HKLM entries the app can
 *   read but not write, and StartupApproved (Task Manager's switch).
 * - Things Electron silently ignores or gets wrong are recorded as `violations`
 *   (a path set after ready, a tray icon that does not exist, a toast under an
 *   identity no Start Menu shortcut carries, an insecure renderer…).
 */
import { fork as forkNode, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Windows' registry, the part login items use. Values are command lines; StartupApproved values 12 bytes. */
export interface Registry {
  hkcuRun: Map<string, string>;
  hklmRun: Map<string, string>;
  hkcuApproved: Map<string, Buffer>;
  hklmApproved: Map<string, Buffer>;
}
export const emptyRegistry = (): Registry => ({ hkcuRun: new Map(), hklmRun: new Map(), hkcuApproved: new Map(), hklmApproved: new Map() });

/** A scripted utility process for in-process tests (instead of a real child running the module). */
export interface ScriptedChild extends EventEmitter {
  /** What the app posted to the child. */
  readonly received: unknown[];
  /** The child posts `message` to the app. */
  post(message: unknown): void;
  /** The child exits with `code`. */
  exit(code: number): void;
}

export interface StandInOptions {
  /** What the app sees as process.platform (the harness sets process.platform itself). */
  platform: NodeJS.Platform;
  /** The app's folder: its package.json gives app.name (productName, else name) as lib/browser/init.ts does. */
  appPath: string;
  /** The environment the paths come from (APPDATA, LOCALAPPDATA, XDG_CONFIG_HOME, HOME). */
  env?: NodeJS.ProcessEnv;
  isPackaged?: boolean;
  /** process.execPath as Electron reports it (the installed .exe on Windows). */
  exePath?: string;
  /** The AppUserModelID of the installer's Start Menu shortcut (Windows); toasts under another id are a violation. */
  shortcutAumid?: string | null;
  registry?: Registry;
  /** Another instance of this app holds the single-instance lock. */
  secondInstance?: boolean;
  /** In-process tests: utility processes are scripted, not real. */
  scripted?: (modulePath: string, args: string[]) => ScriptedChild;
  /** Extra environment for real utility processes. */
  childEnv?: NodeJS.ProcessEnv;
  /** safeStorage's key generation on this start (a later one opens older boxes with shouldReEncrypt). */
  keyVersion?: number;
}

export interface ShownNotification { title: string; body: string; id: string | undefined; aumid: string | null; ref: WeakRef<object> }

export interface StandInControl {
  readonly violations: string[];
  /** Every dialog Electron would have shown (an uncaught exception in the main process). */
  readonly dialogs: string[];
  readonly windows: StandInWindow[];
  readonly trays: StandInTray[];
  readonly children: StandInUtility[];
  readonly notifications: ShownNotification[];
  readonly registry: Registry;
  readonly clipboard: { text: string };
  readonly opened: string[];
  /** Emits will-finish-launching and ready (the harness calls it once the main module has loaded). */
  ready(): void;
  isReady(): boolean;
  /** Runs a full V8 GC twice and returns how many shown notifications the app no longer holds. */
  collect(): Promise<number>;
  /** The user clicks the i-th shown toast (on screen or later in the Action Center). */
  clickNotification(i: number): 'object' | 'activation' | 'object+activation' | 'lost';
  /** Plays the Windows session end. Returns false when a window vetoed it in query-session-end. */
  endSession(reasons: string[], onTerminate: () => void): boolean;
  /** What the default session's permission handler answers for `permission` from `url`. */
  askPermission(permission: string, url: string): Promise<boolean>;
  /** The app called app.quit()/exit(); resolves with the exit code. */
  readonly exited: Promise<number>;
  /** A second launch of the app (argv of the new instance). */
  secondLaunch(argv: string[]): void;
  /** The menu Electron shows as the application menu (null when the app removed it). */
  applicationMenu(): StandInMenu | null;
  /** safeStorage's key changed (e.g. after a profile move): earlier boxes open with shouldReEncrypt. */
  rotateKey(): void;
  /** The AppUserModelID set so far (null: none set and none generated yet). */
  identity(): string | null;
  /** True once app.quit() got past before-quit, or the process ended. */
  quitting(): boolean;
}

export interface StandIn {
  electron: Record<string, unknown>;
  control: StandInControl;
}

type Listener = (...args: never[]) => unknown;
const noop = () => undefined;

export function createStandIn(opts: StandInOptions): StandIn {
  const env = opts.env ?? process.env;
  const win32 = opts.platform === 'win32';
  const violations: string[] = [];
  const dialogs: string[] = [];
  const windows: StandInWindow[] = [];
  const trays: StandInTray[] = [];
  const children: StandInUtility[] = [];
  const notifications: ShownNotification[] = [];
  const registry = opts.registry ?? emptyRegistry();
  const clipboardState = { text: '' };
  const opened: string[] = [];
  const cookieJar: Array<{ url: string; name: string; value: string; httpOnly?: boolean; sameSite?: string; path?: string }> = [];
  let ready = false;
  let quitting = false;
  let terminated = false;
  let aumid: string | null = null;
  let appMenu: StandInMenu | null = null;
  let appMenuSet = false;
  let activation: ((details: { type: string; arguments: string }) => void) | null = null;
  let permissionHandler: ((wc: unknown, permission: string, cb: (granted: boolean) => void, details: { requestingUrl: string }) => void) | null = null;
  let keyVersion = opts.keyVersion ?? 1;
  let exitCode: (code: number) => void = noop;
  const exited = new Promise<number>((r) => { exitCode = r; });

  const pkg = JSON.parse(fs.readFileSync(path.join(opts.appPath, 'package.json'), 'utf8')) as { name?: string; productName?: string; version?: string };
  // lib/browser/init.ts: app.name is productName, else name, from the app's package.json.
  let name = `${pkg.productName ?? pkg.name ?? 'Electron'}`.trim();
  const home = env.HOME ?? env.USERPROFILE ?? os.homedir();
  const appData = win32 ? (env.APPDATA ?? path.join(home, 'AppData', 'Roaming')) : (env.XDG_CONFIG_HOME ?? path.join(home, '.config'));
  const paths = new Map<string, string>([
    ['home', home], ['appData', appData], ['temp', os.tmpdir()], ['exe', opts.exePath ?? process.execPath],
    ['userData', path.join(appData, name)],
  ]);
  const exePath = opts.exePath ?? process.execPath;

  const mustBeReady = (message: string, type: 'Error' | 'TypeError' = 'Error') => {
    if (!ready) throw (type === 'TypeError' ? new TypeError(message) : new Error(message));
  };
  // shell/common/application_info_win.cc: without an explicit id, the first use generates electron.app.<name>.
  const currentAumid = () => { aumid ??= `electron.app.${name}`; return aumid; };

  // ---------- app ----------
  const app = new EventEmitter() as EventEmitter & Record<string, unknown>;
  Object.assign(app, {
    get name() { return name; },
    set name(v: string) { name = v; },
    getName: () => name,
    setName: (v: string) => { name = v; },
    getVersion: () => pkg.version ?? '0.0.0',
    isPackaged: opts.isPackaged ?? false,
    getAppPath: () => opts.appPath,
    isReady: () => ready,
    whenReady: () => (ready ? Promise.resolve() : new Promise<void>((r) => app.once('ready', () => r()))),
    getPath(which: string) {
      if (which === 'sessionData') return paths.get('sessionData') ?? paths.get('userData');
      if (which === 'logs') return paths.get('logs') ?? path.join(paths.get('userData')!, 'logs');
      const p = paths.get(which);
      if (!p) throw new Error(`Failed to get '${which}' path`);
      return p;
    },
    setPath(which: string, p: string) {
      // docs/api/app.md: sessionData (and userData, which it defaults to) must be set before ready.
      if (ready && (which === 'userData' || which === 'sessionData')) violations.push(`app.setPath('${which}') after ready: Electron already opened the profile at the old path`);
      if (!path.isAbsolute(p)) throw new Error(`Path must be absolute: ${p}`);
      paths.set(which, p);
    },
    requestSingleInstanceLock: () => !opts.secondInstance,
    quit() { void quit(); },
    exit(code = 0) { terminate(code); },
    focus: noop,
    setAppLogsPath: (p?: string) => { if (p) paths.set('logs', p); },
    getLoginItemSettings: (o: { path?: string; args?: string[] } = {}) => loginGet(o),
    setLoginItemSettings: (s: { openAtLogin?: boolean; path?: string; args?: string[]; enabled?: boolean; name?: string }) => loginSet(s),
    get applicationMenu() { return appMenu; },
  });
  if (win32) {
    Object.assign(app, {
      setAppUserModelId(id: string) {
        if (typeof id !== 'string' || !id) throw new TypeError('Error processing argument at index 0');
        aumid = id;
      },
    });
  }

  function formatCommand(exe: string, args: string[]): string {
    const q = (s: string) => (/[\s"]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s);
    return [`"${exe}"`, ...args.map(q)].join(' ');
  }
  function programOf(command: string): string {
    const m = command.match(/^\s*"([^"]+)"|^\s*(\S+)/);
    return (m?.[1] ?? m?.[2] ?? '').toLowerCase();
  }
  function argsOf(command: string): string[] {
    const rest = command.replace(/^\s*("[^"]+"|\S+)\s*/, '');
    return [...rest.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
  }
  // browser_win.cc: a StartupApproved value enables the item when it is absent or starts 00/02 (Task Manager writes 03 to disable).
  const approved = (b: Buffer | undefined) => b === undefined || b[0] === 0x00 || (b[0] === 0x02 && b[1] === 0x00);
  function loginGet(o: { path?: string; args?: string[] }) {
    if (!win32) return { openAtLogin: false, openAsHidden: false, wasOpenedAtLogin: false, wasOpenedAsHidden: false, restoreState: false, status: 'not-registered', executableWillLaunchAtLogin: false, launchItems: [] };
    const exe = o.path ?? exePath;
    const own = registry.hkcuRun.get(currentAumid());
    const launchItems: Array<{ name: string; path: string; args: string[]; scope: 'user' | 'machine'; enabled: boolean }> = [];
    for (const [scope, run, ok] of [['user', registry.hkcuRun, registry.hkcuApproved], ['machine', registry.hklmRun, registry.hklmApproved]] as const) {
      for (const [valueName, command] of run) {
        if (programOf(command) !== exe.toLowerCase()) continue;
        launchItems.push({ name: valueName, path: exe, args: argsOf(command), scope, enabled: approved(ok.get(valueName)) });
      }
    }
    return {
      openAtLogin: own !== undefined && own === formatCommand(exe, o.args ?? []),
      executableWillLaunchAtLogin: launchItems.some((i) => i.enabled),
      launchItems,
    };
  }
  function loginSet(s: { openAtLogin?: boolean; path?: string; args?: string[]; enabled?: boolean; name?: string }) {
    if (!win32) return; // browser_linux.cc: a no-op
    if (!s.name && aumid === null) violations.push(`login item written before app.setAppUserModelId: its Run value is named ${currentAumid()}`);
    const key = s.name || currentAumid();
    if (s.openAtLogin) {
      registry.hkcuRun.set(key, formatCommand(s.path ?? exePath, s.args ?? []));
      if (s.enabled === false) registry.hkcuApproved.set(key, Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
      else registry.hkcuApproved.delete(key);
    } else {
      registry.hkcuApproved.delete(key);
      registry.hkcuRun.delete(key);
    }
  }

  async function quit(): Promise<void> {
    if (quitting || terminated) return;
    const before = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    app.emit('before-quit', before);
    if (before.defaultPrevented) return;
    quitting = true;
    for (const w of [...windows]) {
      if (w.isDestroyed()) continue;
      const e = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
      w.emit('close', e);
      if (e.defaultPrevented) { quitting = false; return; }
      w.destroy();
    }
    const will = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    app.emit('will-quit', will);
    if (will.defaultPrevented) { quitting = false; return; }
    app.emit('quit', {}, 0);
    terminate(0);
  }
  /** The process ends: utility processes die with it (Electron owns them). */
  function terminate(code: number): void {
    if (terminated) return;
    terminated = true;
    for (const c of children) c.terminate();
    exitCode(code);
  }

  // ---------- session ----------
  const defaultSession = {
    cookies: {
      async set(c: { url: string; name: string; value: string; httpOnly?: boolean; sameSite?: string; path?: string }) {
        const i = cookieJar.findIndex((x) => new URL(x.url).origin === new URL(c.url).origin && x.name === c.name);
        if (i >= 0) cookieJar.splice(i, 1);
        cookieJar.push(c);
      },
      async get(filter: { url?: string; name?: string } = {}) {
        return cookieJar.filter((c) => (!filter.url || new URL(c.url).origin === new URL(filter.url).origin) && (!filter.name || c.name === filter.name));
      },
    },
    setPermissionRequestHandler(h: typeof permissionHandler) { permissionHandler = h; },
    setPermissionCheckHandler: noop,
    setDevicePermissionHandler: noop,
    setDisplayMediaRequestHandler: noop,
    setSpellCheckerEnabled: noop,
    getUserAgent: () => 'EVVA stand-in',
    webRequest: { onHeadersReceived: noop, onBeforeRequest: noop },
  };
  const session = {
    get defaultSession() {
      // shell/browser/api/electron_api_session.cc
      mustBeReady('Session can only be received when app is ready', 'TypeError');
      return defaultSession;
    },
    fromPartition() {
      mustBeReady('Session can only be received when app is ready', 'TypeError');
      return defaultSession;
    },
  };

  // ---------- windows ----------
  /**
   * A page's GET as Chromium makes it: each hop with the session's cookies for its origin, redirects followed (20 at
   * most, as fetch), the body read; resolves with the last status. node:http rather than fetch, which loads Node's
   * undici (~40 ms of CPU a shell). Only http: (the core's loopback UI).
   */
  function navigate(url: string, signal: AbortSignal, hops = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== 'http:') throw new Error(`the stand-in loads only http: and data: pages, not ${url}`);
      const cookie = cookieJar.filter((c) => new URL(c.url).origin === target.origin).map((c) => `${c.name}=${c.value}`).join('; ');
      http.get(target, { headers: cookie ? { cookie } : {}, signal }, (res) => {
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode!;
          const location = res.headers.location;
          if (!location || ![301, 302, 303, 307, 308].includes(status)) resolve(status);
          else if (hops >= 20) reject(new Error(`too many redirects from ${url}`));
          else navigate(new URL(location, target).href, signal, hops + 1).then(resolve, reject);
        });
        res.resume();
      }).on('error', reject);
    });
  }

  let nextId = 1;
  class StandInWebContents extends EventEmitter {
    readonly id = nextId++;
    readonly session = defaultSession;
    url = '';
    loads: Array<{ url: string; status: number | null; error: string | null }> = [];
    openHandler: ((d: { url: string }) => { action: string }) | null = null;
    devToolsOpened = false;
    private destroyed = false;
    setWindowOpenHandler(h: (d: { url: string }) => { action: string }) { this.openHandler = h; }
    getURL() { return this.url; }
    isDestroyed() { return this.destroyed; }
    destroy() { this.destroyed = true; this.emit('destroyed'); }
    send: Listener = noop;
    openDevTools() { this.devToolsOpened = true; }
    isDevToolsOpened() { return this.devToolsOpened; }
    async loadURL(url: string): Promise<void> {
      this.url = url;
      if (url.startsWith('data:')) {
        this.loads.push({ url, status: 200, error: null });
        this.emit('did-finish-load');
        return;
      }
      // A real request, with the session's cookies: a core that is not listening fails the load as Chromium would.
      try {
        const status = await navigate(url, AbortSignal.timeout(10_000));
        this.loads.push({ url, status, error: null });
        this.emit('did-finish-load');
      } catch (e) {
        const error = 'ERR_CONNECTION_REFUSED';
        this.loads.push({ url, status: null, error });
        this.emit('did-fail-load', {}, -102, error, url, true);
        // WebContents.loadURL rejects when the load fails (docs/api/web-contents.md).
        throw Object.assign(new Error(`${error} (-102) loading '${url}'`), { code: error, errno: -102, cause: e });
      }
    }
  }

  class StandInWindowImpl extends EventEmitter {
    readonly id = nextId++;
    visible = false;
    minimized = false;
    focused = false;
    size: [number, number];
    private destroyed = false;
    readonly webContents: StandInWebContents | null;
    constructor(readonly options: Record<string, unknown>, withContents: boolean, kind: string) {
      super();
      // docs/api/browser-window.md, base-window.md: "cannot be used until the ready event"; electron_api_browser_window.cc throws.
      mustBeReady(`Cannot create ${kind} before app is ready`);
      this.size = [Number(options.width ?? 800), Number(options.height ?? 600)];
      this.visible = options.show !== false;
      const icon = options.icon;
      if (typeof icon === 'string' && !fs.existsSync(icon)) violations.push(`${kind} icon does not exist: ${icon}`);
      this.webContents = withContents ? new StandInWebContents() : null;
      if (withContents) checkPreferences((options.webPreferences ?? {}) as Record<string, unknown>);
      windows.push(this as unknown as StandInWindow);
      if (this.webContents) app.emit('web-contents-created', {}, this.webContents);
    }
    loadURL(url: string) { return this.webContents!.loadURL(url); }
    show() { this.visible = true; this.focused = true; this.emit('show'); }
    showInactive() { this.visible = true; }
    hide() { this.visible = false; this.focused = false; this.emit('hide'); }
    focus() { this.focused = true; }
    isVisible() { return this.visible; }
    isFocused() { return this.focused; }
    isMinimized() { return this.minimized; }
    minimize() { this.minimized = true; }
    restore() { this.minimized = false; }
    getSize() { return [...this.size]; }
    setSize(w: number, h: number) { this.size = [w, h]; }
    getBounds() { return { x: 0, y: 0, width: this.size[0], height: this.size[1] }; }
    setMenu: Listener = noop;
    removeMenu: Listener = noop;
    setSkipTaskbar: Listener = noop;
    isDestroyed() { return this.destroyed; }
    close() {
      if (this.destroyed) return;
      const e = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
      this.emit('close', e);
      if (!e.defaultPrevented) this.destroy();
    }
    destroy() {
      if (this.destroyed) return;
      this.destroyed = true;
      this.visible = false;
      this.webContents?.destroy();
      this.emit('closed');
      const i = windows.indexOf(this as unknown as StandInWindow);
      if (i >= 0) windows.splice(i, 1);
    }
  }
  // docs/tutorial/security.md: the renderer settings the checklist asks for.
  function checkPreferences(p: Record<string, unknown>) {
    if (p.contextIsolation === false) violations.push('webPreferences.contextIsolation is off');
    if (p.nodeIntegration === true) violations.push('webPreferences.nodeIntegration is on');
    if (p.sandbox === false) violations.push('webPreferences.sandbox is off');
    if (p.webSecurity === false) violations.push('webPreferences.webSecurity is off');
    if (typeof p.preload === 'string' && !fs.existsSync(p.preload)) violations.push(`preload script does not exist: ${p.preload}`);
    if (opts.isPackaged && p.devTools !== false) violations.push('packaged app keeps DevTools (webPreferences.devTools not false): they show the local API token');
  }
  class BrowserWindow extends StandInWindowImpl {
    constructor(options: Record<string, unknown> = {}) { super(options, true, 'BrowserWindow'); }
    static getAllWindows() { return windows.filter((w) => (w as unknown as { webContents: unknown }).webContents); }
  }
  class BaseWindow extends StandInWindowImpl {
    constructor(options: Record<string, unknown> = {}) { super(options, false, 'BaseWindow'); }
    static getAllWindows() { return [...windows]; }
  }

  // ---------- menu ----------
  const Menu = {
    buildFromTemplate(template: Array<Record<string, unknown>>) { return new StandInMenu(template); },
    setApplicationMenu(menu: StandInMenu | null) { appMenuSet = true; appMenu = menu; },
    getApplicationMenu() { return appMenu; },
  };

  // ---------- tray ----------
  class Tray extends EventEmitter {
    image: string;
    tooltip = '';
    menu: StandInMenu | null = null;
    private destroyed = false;
    constructor(image: string) {
      super();
      // shell/browser/api/electron_api_tray.cc
      mustBeReady('Cannot create Tray before app is ready');
      this.image = image;
      this.checkImage(image);
      trays.push(this as unknown as StandInTray);
    }
    private checkImage(image: unknown) {
      if (typeof image === 'string' && !fs.existsSync(image)) violations.push(`tray image does not exist (Electron shows an empty icon): ${image}`);
    }
    setImage(image: string) { this.image = image; this.checkImage(image); }
    setToolTip(t: string) {
      // NOTIFYICONDATA's szTip holds 128 UTF-16 units with the NUL: Windows cuts the rest.
      if (win32 && t.length > 127) violations.push(`tray tooltip longer than Windows shows (${t.length} > 127)`);
      this.tooltip = t;
    }
    setContextMenu(m: StandInMenu | null) { this.menu = m; }
    isDestroyed() { return this.destroyed; }
    destroy() { this.destroyed = true; }
    /** A left click on the icon. */
    click() { this.emit('click', {}, { x: 0, y: 0, width: 16, height: 16 }); }
  }

  // ---------- notifications ----------
  class Notification extends EventEmitter {
    readonly title: string;
    readonly body: string;
    readonly id: string | undefined;
    constructor(readonly options: Record<string, unknown> = {}) {
      super();
      // shell/browser/api/electron_api_notification.cc
      mustBeReady('Cannot create Notification before app is ready');
      this.title = String(options.title ?? '');
      this.body = String(options.body ?? '');
      this.id = typeof options.id === 'string' ? options.id : undefined;
    }
    static isSupported() { return true; }
    show() {
      const id = win32 ? currentAumid() : null;
      // docs/tutorial/notifications.md: Windows shows a toast only for an AppUserModelID that a Start Menu shortcut carries.
      if (win32 && opts.shortcutAumid !== undefined && id !== opts.shortcutAumid) {
        violations.push(`toast shown as ${id}, but the installer's shortcut carries ${opts.shortcutAumid ?? 'no AppUserModelID'}: Windows shows it under another name or not at all`);
      }
      notifications.push({ title: this.title, body: this.body, id: this.id, aumid: id, ref: new WeakRef(this) });
    }
    close() { this.emit('close', {}); }
  }
  if (win32) {
    // lib/browser/api/notification.ts: bound on Windows only.
    Object.assign(Notification, { handleActivation(cb: typeof activation) { activation = cb; } });
  }

  // ---------- utility processes ----------
  const utilityProcess = {
    fork(modulePath: string, args: string[] = [], options: { env?: NodeJS.ProcessEnv; stdio?: unknown; serviceName?: string; execArgv?: string[] } = {}) {
      // shell/browser/api/electron_api_utility_process.cc
      mustBeReady('utilityProcess cannot be created before app is ready.', 'TypeError');
      if (!fs.existsSync(modulePath)) violations.push(`utilityProcess.fork of a file that does not exist: ${modulePath}`);
      const child = new StandInUtility(modulePath, args, options, opts.scripted, opts.childEnv);
      children.push(child);
      return child;
    },
  };

  // ---------- the rest ----------
  const screen = {
    getPrimaryDisplay: () => ({ id: 1, scaleFactor: 1, bounds: { x: 0, y: 0, width: 1366, height: 768 }, workArea: { x: 0, y: 0, width: 1366, height: 728 }, workAreaSize: { width: 1366, height: 728 }, size: { width: 1366, height: 768 } }),
    getAllDisplays: () => [screen.getPrimaryDisplay()],
    getDisplayMatching: () => screen.getPrimaryDisplay(),
  };
  const ipcHandlers = new Map<string, Listener>();
  const ipcMain = Object.assign(new EventEmitter(), {
    handle(channel: string, fn: Listener) {
      if (ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
      ipcHandlers.set(channel, fn);
    },
    removeHandler(channel: string) { ipcHandlers.delete(channel); },
    handlers: ipcHandlers,
  });
  const safeStorage = {
    // docs/api/safe-storage.md: false until ready.
    isEncryptionAvailable: () => ready,
    isAsyncEncryptionAvailable: async () => ready,
    async encryptStringAsync(plain: string) {
      mustBeReady('safeStorage cannot be used before app is ready');
      return Buffer.from(`v${keyVersion}:${Buffer.from(plain).toString('base64')}`);
    },
    async decryptStringAsync(box: Buffer) {
      mustBeReady('safeStorage cannot be used before app is ready');
      const m = box.toString().match(/^v(\d+):(.*)$/s);
      if (!m) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
      return { result: Buffer.from(m[2]!, 'base64').toString(), shouldReEncrypt: Number(m[1]) !== keyVersion };
    },
  };
  const electron: Record<string, unknown> = {
    app, session, BrowserWindow, BaseWindow, Menu, Tray, Notification, utilityProcess, ipcMain, safeStorage,
    clipboard: { writeText: (t: string) => { clipboardState.text = t; }, readText: () => clipboardState.text },
    shell: {
      openPath: async (p: string) => { opened.push(p); return fs.existsSync(p) ? '' : `Failed to open path ${p}`; },
      openExternal: async (u: string) => { opened.push(u); },
    },
    nativeImage: { createFromPath: (p: string) => ({ path: p, isEmpty: () => !fs.existsSync(p) }) },
    dialog: { showErrorBox: (title: string, content: string) => { dialogs.push(`${title}: ${content}`); } },
  };
  Object.defineProperty(electron, 'screen', {
    enumerable: true,
    get() {
      // shell/browser/api/electron_api_screen.cc
      mustBeReady("The 'screen' module can't be used before the app 'ready' event");
      return screen;
    },
  });

  const control: StandInControl = {
    violations, dialogs, windows, trays, children, notifications, registry, clipboard: clipboardState, opened, exited,
    ready() {
      if (ready) return;
      // lib/browser/init.ts: the default menu at will-finish-launching, unless the app set one before.
      app.emit('will-finish-launching');
      if (!appMenuSet) {
        appMenu = Menu.buildFromTemplate([{ role: 'fileMenu' }, { role: 'editMenu' }, { role: 'viewMenu', submenu: [{ role: 'reload' }, { role: 'toggleDevTools' }] }, { role: 'windowMenu' }]);
      }
      ready = true;
      app.emit('ready', {}, {});
    },
    isReady: () => ready,
    async collect() {
      const gc = fullGc();
      // WeakRefs hold their target until the current job ends: collect between macrotasks, a few times.
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setImmediate(r));
        gc();
      }
      return notifications.filter((n) => n.ref.deref() === undefined).length;
    },
    clickNotification(i) {
      const n = notifications[i];
      if (!n) throw new Error(`no notification #${i}`);
      const obj = n.ref.deref() as EventEmitter | undefined;
      obj?.emit('click', {});
      // Notification.handleActivation's callback runs whether or not the object is still in memory (docs/api/notification.md).
      // A click on the toast's body carries no arguments (windows_toast_notification.cc gives only its buttons `type=action&…&tag=<id>`).
      if (activation) activation({ type: 'click', arguments: '' });
      return obj && activation ? 'object+activation' : obj ? 'object' : activation ? 'activation' : 'lost';
    },
    endSession(reasons, onTerminate) {
      if (!win32) throw new Error('the session end is a Windows event');
      const live = () => windows.filter((w) => !w.isDestroyed());
      let vetoed = false;
      for (const w of live()) {
        const e = { reasons, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
        w.emit('query-session-end', e);
        vetoed ||= e.defaultPrevented;
      }
      if (vetoed) return false;
      for (const w of live()) w.emit('session-end', { reasons, defaultPrevented: false, preventDefault: noop });
      // native_window_views_win.cc: right after WM_ENDSESSION, TerminateCurrentProcessImmediately(0), children with it.
      terminate(0);
      onTerminate();
      return true;
    },
    async askPermission(permission, url) {
      // Without a handler, Electron grants every permission (docs/tutorial/security.md, item 5).
      if (!permissionHandler) return true;
      return new Promise<boolean>((resolve) => permissionHandler!({}, permission, resolve, { requestingUrl: url }));
    },
    secondLaunch(argv) { app.emit('second-instance', {}, argv, process.cwd(), null); },
    applicationMenu: () => appMenu,
    rotateKey() { keyVersion += 1; },
    identity: () => aumid,
    quitting: () => quitting || terminated,
  };
  return { electron, control };
}

/** V8's full GC: the global one under --expose-gc, else switched on at run time. */
function fullGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose_gc');
  return vm.runInNewContext('gc') as () => void;
}

export class StandInMenu {
  readonly items: Array<Record<string, unknown> & { click?: (item: unknown, win: unknown, event: unknown) => void }>;
  constructor(template: Array<Record<string, unknown>>) {
    this.items = template.map((t) => ({ enabled: true, visible: true, ...t })) as StandInMenu['items'];
  }
  /** Clicks the item with `label`, as Electron does: a checkbox flips before its handler runs. */
  click(label: string): void {
    const item = this.items.find((i) => i.label === label);
    if (!item) throw new Error(`no menu item ${label} in ${this.items.map((i) => i.label).join(', ')}`);
    if (item.enabled === false) throw new Error(`menu item ${label} is disabled`);
    if (item.type === 'checkbox') item.checked = !item.checked;
    item.click?.(item, undefined, {});
  }
  labels(): string[] { return this.items.filter((i) => i.label).map((i) => String(i.label)); }
  find(label: string) { return this.items.find((i) => i.label === label); }
}

/** A utility process: a real Node child running the module with `process.parentPort`, or a scripted one. */
export class StandInUtility extends EventEmitter {
  pid: number | undefined;
  exitCode: number | null = null;
  readonly child: ChildProcess | null;
  readonly scripted: ScriptedChild | null;
  constructor(readonly modulePath: string, readonly args: string[], readonly options: { env?: NodeJS.ProcessEnv; execArgv?: string[] }, scripted?: (m: string, a: string[]) => ScriptedChild, childEnv?: NodeJS.ProcessEnv) {
    super();
    if (scripted) {
      this.child = null;
      this.scripted = scripted(modulePath, args);
      this.pid = 100_000 + Math.floor(Math.random() * 1000);
      this.scripted.on('post', (m: unknown) => this.emit('message', m));
      this.scripted.on('exit', (code: number) => this.done(code));
      setImmediate(() => this.emit('spawn'));
      return;
    }
    this.scripted = null;
    const env = { ...process.env, ...childEnv, ...options.env };
    this.child = forkNode(modulePath, args, {
      env, execArgv: ['--import', path.join(HERE, 'parent-port.mjs'), ...(options.execArgv ?? [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.pid = this.child.pid;
    this.child.on('spawn', () => this.emit('spawn'));
    this.child.on('message', (m) => this.emit('message', m));
    this.child.on('exit', (code, signal) => this.done(code ?? (signal ? 1 : 0)));
    this.child.on('error', () => undefined);
  }
  private done(code: number) {
    if (this.exitCode !== null) return;
    this.exitCode = code;
    this.pid = undefined;
    this.emit('exit', code);
  }
  postMessage(message: unknown): void {
    if (this.exitCode !== null) return;
    if (this.scripted) { (this.scripted.received as unknown[]).push(message); this.scripted.emit('message', message); return; }
    if (this.child?.connected) this.child.send(message as object);
  }
  kill(): boolean {
    if (this.exitCode !== null) return false;
    if (this.scripted) { this.scripted.exit(1); return true; }
    return this.child?.kill('SIGTERM') ?? false;
  }
  /** The app process ended: the OS ends its utility processes at once. */
  terminate(): void {
    if (this.exitCode !== null) return;
    if (this.scripted) { this.scripted.exit(1); return; }
    this.child?.kill('SIGKILL');
  }
}

/** A scripted child for in-process tests. */
export function scriptedChild(): ScriptedChild {
  const c = new EventEmitter() as ScriptedChild & { received: unknown[] };
  (c as { received: unknown[] }).received = [];
  c.post = (m: unknown) => { c.emit('post', m); };
  c.exit = (code: number) => { c.emit('exit', code); };
  return c;
}

/** A window as tests see it (BrowserWindow, or BaseWindow without webContents). */
export interface StandInWindow extends EventEmitter {
  visible: boolean;
  focused: boolean;
  minimized: boolean;
  size: [number, number];
  options: Record<string, unknown>;
  webContents: (EventEmitter & { url: string; loads: Array<{ url: string; status: number | null; error: string | null }>; openHandler: ((d: { url: string }) => { action: string }) | null; devToolsOpened: boolean }) | null;
  isDestroyed(): boolean;
  destroy(): void;
  isVisible(): boolean;
  getSize(): number[];
}
export type StandInTray = EventEmitter & { image: string; tooltip: string; menu: StandInMenu | null; click(): void; isDestroyed(): boolean };
