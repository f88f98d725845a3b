/**
 * A process that runs an Electron main script (the real built bundle) against
 * the stand-in, as Electron's lib/browser/init.ts runs it: the app's name from
 * its package.json, the main module imported, `uncaughtException` turned into
 * the "A JavaScript error occurred in the main process" dialog when the app
 * has no handler of its own, then `ready`.
 *
 *   node --expose-gc .tmp/standin/child.js <main.js>   (compiled by tests/build.ts)
 *   node --expose-gc --import tsx tests/standin/child.ts <main.js>   (EVVA_FROM_SOURCE=1)
 *
 * <main.js> imports the stand-in's electron-module.mjs where the app imports
 * `electron`: the bundle's copy that bundle.ts writes (no resolve hook here).
 *
 * Options come in EVVA_STANDIN (JSON: StandInOptions minus functions, plus the
 * registry as entries). The test drives it over the IPC channel (harness.ts):
 * `{ id, cmd, args }` answered `{ id, ok, value | error }`.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createStandIn, emptyRegistry } from './electron.ts';

// Node modules that read process.platform when they load are loaded before it changes,
// so the stand-in's win32 branch changes what the app sees, not how Node works here.
for (const m of ['child_process', 'net', 'fs', 'os', 'path', 'http', 'https', 'url', 'crypto', 'events', 'util', 'stream', 'worker_threads', 'dns', 'tls', 'zlib', 'readline', 'timers', 'fs/promises', 'assert', 'buffer', 'string_decoder', 'querystring', 'perf_hooks', 'v8', 'vm', 'module', 'async_hooks']) {
  await import(`node:${m}`);
}

interface ChildOptions {
  platform: NodeJS.Platform;
  appPath: string;
  isPackaged?: boolean;
  exePath?: string;
  shortcutAumid?: string | null;
  secondInstance?: boolean;
  registry?: { hkcuRun?: [string, string][]; hklmRun?: [string, string][]; hkcuApproved?: [string, number[]][]; hklmApproved?: [string, number[]][] };
  argv?: string[];
  resourcesPath?: string;
  keyVersion?: number;
}
const options = JSON.parse(process.env.EVVA_STANDIN ?? '{}') as ChildOptions;
const main = process.argv[2];
if (!main) throw new Error('usage: child.ts <main.js>');

const registry = emptyRegistry();
for (const [k, v] of options.registry?.hkcuRun ?? []) registry.hkcuRun.set(k, v);
for (const [k, v] of options.registry?.hklmRun ?? []) registry.hklmRun.set(k, v);
for (const [k, v] of options.registry?.hkcuApproved ?? []) registry.hkcuApproved.set(k, Buffer.from(v));
for (const [k, v] of options.registry?.hklmApproved ?? []) registry.hklmApproved.set(k, Buffer.from(v));

const standIn = createStandIn({
  platform: options.platform, appPath: options.appPath, isPackaged: options.isPackaged, exePath: options.exePath,
  shortcutAumid: options.shortcutAumid, secondInstance: options.secondInstance, registry, keyVersion: options.keyVersion,
});
(globalThis as { __evvaStandIn?: unknown }).__evvaStandIn = standIn;
const { control } = standIn;

if (options.platform !== process.platform) Object.defineProperty(process, 'platform', { value: options.platform, enumerable: true, configurable: true });
// Electron's main process: argv[0] is the .exe, then the app's own arguments (no script path when packaged).
process.argv = [options.exePath ?? process.execPath, ...(options.isPackaged ? [] : [options.appPath]), ...(options.argv ?? [])];
if (options.isPackaged) (process as { resourcesPath?: string }).resourcesPath = options.resourcesPath;
(process as { type?: string }).type = 'browser';

// lib/browser/init.ts: the dialog only when the app has no uncaughtException handler of its own.
process.on('uncaughtException', (error) => {
  if (process.listenerCount('uncaughtException') > 1) return;
  control.dialogs.push(`A JavaScript error occurred in the main process: ${error instanceof Error ? error.message : String(error)}`);
  send({ event: 'dialog', text: control.dialogs.at(-1) });
});

function send(message: object): void {
  if (process.connected) process.send!(message);
}

function snapshot() {
  const app = standIn.electron.app as { name: string; getPath(n: string): string };
  const menu = control.applicationMenu();
  return {
    ready: control.isReady(),
    name: app.name,
    userData: app.getPath('userData'),
    sessionData: app.getPath('sessionData'),
    identity: control.identity(),
    quitting: control.quitting(),
    violations: [...control.violations],
    dialogs: [...control.dialogs],
    menu: menu ? menu.items.map((i) => String(i.label ?? i.role ?? '')) : null,
    windows: control.windows.filter((w) => !w.isDestroyed()).map((w) => ({
      kind: w.webContents ? 'BrowserWindow' : 'BaseWindow', visible: w.visible, focused: w.focused, size: w.getSize(),
      url: w.webContents?.url ?? null, loads: w.webContents?.loads ?? [], devTools: w.webContents?.devToolsOpened ?? false,
      webPreferences: (w.options.webPreferences ?? null) as Record<string, unknown> | null,
    })),
    trays: control.trays.filter((t) => !t.isDestroyed()).map((t) => ({
      image: t.image, tooltip: t.tooltip,
      menu: t.menu ? t.menu.items.map((i) => ({ label: i.label as string | undefined, type: i.type as string | undefined, checked: i.checked as boolean | undefined, enabled: i.enabled as boolean | undefined })) : [],
    })),
    children: control.children.map((c) => ({ modulePath: c.modulePath, args: c.args, pid: c.pid ?? null, exitCode: c.exitCode })),
    notifications: control.notifications.map((n) => ({ title: n.title, body: n.body, id: n.id ?? null, aumid: n.aumid })),
    registry: { hkcuRun: [...registry.hkcuRun], hklmRun: [...registry.hklmRun], hkcuApproved: [...registry.hkcuApproved].map(([k, v]) => [k, [...v]]) },
    clipboard: control.clipboard.text,
    opened: [...control.opened],
  };
}
export type Snapshot = ReturnType<typeof snapshot>;

const commands: Record<string, (...args: never[]) => unknown> = {
  state: () => snapshot(),
  collect: () => control.collect(),
  clickNotification: (i: number) => control.clickNotification(i),
  trayClick: (i = 0) => { control.trays.filter((t) => !t.isDestroyed())[i]!.click(); },
  menuClick: (label: string, i = 0) => { control.trays.filter((t) => !t.isDestroyed())[i]!.menu!.click(label); },
  closeWindow: (i = 0) => { control.windows.filter((w) => !w.isDestroyed() && w.webContents)[i]!.emit('close', { defaultPrevented: false, preventDefault() { (this as { defaultPrevented: boolean }).defaultPrevented = true; } }); },
  secondLaunch: (argv: string[]) => control.secondLaunch(argv),
  askPermission: (permission: string, url: string) => control.askPermission(permission, url),
  endSession: (reasons: string[]) => {
    const state = { vetoed: false, at: Date.now() };
    const ended = control.endSession(reasons, () => undefined);
    state.vetoed = !ended;
    const result = { ...state, handlersMs: Date.now() - state.at, snapshot: snapshot() };
    // Windows ends the process right after the handlers returned (the stand-in already ended its children).
    if (ended) setImmediate(() => process.exit(0));
    return result;
  },
  rotateKey: () => control.rotateKey(),
  /** The core's process dies (a crash, or Task Manager's End task). */
  killCore: () => { const c = control.children.at(-1); if (!c?.child) throw new Error('no running core'); c.child.kill('SIGKILL'); },
  ipc: async (channel: string, senderUrl: string, ...args: unknown[]) => {
    const ipc = standIn.electron.ipcMain as { handlers: Map<string, (...a: unknown[]) => unknown> };
    const h = ipc.handlers.get(channel);
    if (!h) throw new Error(`no handler for ${channel}`);
    return h({ senderFrame: { url: senderUrl } }, ...args);
  },
};

process.on('message', (m: { id: number; cmd: string; args?: unknown[] }) => {
  void (async () => {
    try {
      const fn = commands[m.cmd];
      if (!fn) throw new Error(`unknown command ${m.cmd}`);
      const value = await (fn as (...a: unknown[]) => unknown)(...(m.args ?? []));
      send({ id: m.id, ok: true, value });
    } catch (e) {
      send({ id: m.id, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  })();
});
void control.exited.then((code) => { send({ event: 'exit', code }); setImmediate(() => process.exit(code)); });

const loaded = () => { control.ready(); send({ event: 'ready' }); };
import(pathToFileURL(path.resolve(main)).href).then(loaded, (error: unknown) => {
  // lib/browser/init.ts: a main module that fails to load goes to uncaughtException; the app still gets ready.
  process.emit('uncaughtException', error as Error);
  loaded();
});
