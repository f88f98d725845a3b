/**
 * Starts the real built bundle (dist/node/desktop.js, run as the copy whose
 * `electron` import names the stand-in: bundle.ts) in its own Node process
 * against the stand-in (child.ts), and drives it: state, clicks, the Windows
 * session end.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/proc.ts';
import { STANDIN_BUNDLE_DIR } from './bundle.ts';
import type { Snapshot } from './child.ts';

export interface ShellOptions {
  platform: NodeJS.Platform;
  /** The app folder (its package.json names the app); default the repository. */
  appPath?: string;
  isPackaged?: boolean;
  resourcesPath?: string;
  exePath?: string;
  shortcutAumid?: string | null;
  secondInstance?: boolean;
  registry?: { hkcuRun?: [string, string][]; hklmRun?: [string, string][]; hkcuApproved?: [string, number[]][]; hklmApproved?: [string, number[]][] };
  /** Arguments after the app's path (e.g. --hidden). */
  argv?: string[];
  /** The machine: a temporary folder with the per-user and per-machine folders Windows would have. */
  machine: Machine;
  /** Which Windows user runs this app (their own APPDATA, LOCALAPPDATA). */
  user?: string;
  env?: NodeJS.ProcessEnv;
  /** safeStorage's key generation (see StandInOptions.keyVersion). */
  keyVersion?: number;
}

/** A fake PC's folders: C:\ProgramData and each user's profile, under one temporary folder. */
export interface Machine {
  root: string;
  programData: string;
  profile(user: string): { home: string; appData: string; localAppData: string };
  remove(): void;
}

export function fakeMachine(): Machine {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-pc-'));
  const programData = path.join(root, 'ProgramData');
  fs.mkdirSync(programData);
  return {
    root, programData,
    profile(user) {
      const home = path.join(root, 'Users', user);
      const appData = path.join(home, 'AppData', 'Roaming');
      const localAppData = path.join(home, 'AppData', 'Local');
      fs.mkdirSync(appData, { recursive: true });
      fs.mkdirSync(localAppData, { recursive: true });
      return { home, appData, localAppData };
    },
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/** Where the app keeps the companion's data on that machine (main/core/settings.ts defaultDataDir). */
export function dataDirOf(machine: Machine, platform: NodeJS.Platform, user = 'Кассир'): string {
  return platform === 'win32' ? path.join(machine.programData, 'EVVA Companion') : path.join(machine.profile(user).home, '.config', 'EVVA Companion');
}

export interface Shell {
  child: ChildProcess;
  output(): string;
  /** Resolves once the stand-in emitted `ready` (the main module has loaded). */
  ready: Promise<void>;
  /** The code the app exited with (app.quit, app.exit, the session end). */
  exited: Promise<number | string>;
  state(): Promise<Snapshot>;
  call<T = unknown>(cmd: string, ...args: unknown[]): Promise<T>;
  /** Polls the state until `ok` holds; fails with the last state after `ms`. */
  until(ok: (s: Snapshot) => boolean, ms?: number, what?: string): Promise<Snapshot>;
  kill(): Promise<void>;
}

export function startShell(o: ShellOptions): Shell {
  const user = o.user ?? 'Кассир';
  const profile = o.machine.profile(user);
  const windowsEnv = o.platform === 'win32'
    ? { APPDATA: profile.appData, LOCALAPPDATA: profile.localAppData, ProgramData: o.machine.programData, USERPROFILE: profile.home, USERNAME: user }
    : { XDG_CONFIG_HOME: path.join(profile.home, '.config') };
  const env: NodeJS.ProcessEnv = {
    ...process.env, VITEST: undefined, EVVA_FROM_SOURCE: undefined, HOME: profile.home, ...windowsEnv, ...o.env,
    EVVA_STANDIN: JSON.stringify({
      platform: o.platform, appPath: o.appPath ?? ROOT, isPackaged: o.isPackaged, exePath: o.exePath, shortcutAumid: o.shortcutAumid,
      secondInstance: o.secondInstance, registry: o.registry, argv: o.argv, resourcesPath: o.resourcesPath, keyVersion: o.keyVersion,
    }),
  };
  // The stand-in compiled by tests/build.ts, under plain Node as Electron runs the bundle; from source (through tsx,
  // whose loader then sees every module the app loads too) with EVVA_FROM_SOURCE=1.
  const fromSource = Boolean(process.env.EVVA_FROM_SOURCE);
  const script = fromSource ? path.join(ROOT, 'tests/standin/child.ts') : path.join(ROOT, '.tmp/standin/child.js');
  // The built bundle, as the copy whose `electron` import names the stand-in (bundle.ts; tests/build.ts writes it).
  const child = fork(script, [path.join(ROOT, STANDIN_BUNDLE_DIR, 'desktop.js')], {
    cwd: ROOT, env, execArgv: fromSource ? ['--expose-gc', '--import', 'tsx'] : ['--expose-gc'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // A process group of its own, so kill() can wait until the app's utility processes are gone too.
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  let next = 0;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let readyResolve: () => void = () => undefined;
  const ready = new Promise<void>((r) => { readyResolve = r; });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`the app exited (${code ?? signal}) before answering:\n${out}`));
    waiting.clear();
    resolve(code ?? signal ?? -1);
  }));
  child.on('message', (m: { id?: number; ok?: boolean; value?: unknown; error?: string; event?: string }) => {
    if (m.event === 'ready') readyResolve();
    if (m.id === undefined) return;
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.value);
    else w.reject(new Error(`${m.error}\n--- app output:\n${out}`));
  });
  const call = <T>(cmd: string, ...args: unknown[]) => new Promise<T>((resolve, reject) => {
    if (!child.connected) { reject(new Error(`the app is not running:\n${out}`)); return; }
    const id = ++next;
    waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
    child.send({ id, cmd, args });
  });
  const state = () => call<Snapshot>('state');
  return {
    child, output: () => out, ready, exited, state, call,
    async until(ok, ms = 20_000, what = 'the expected state') {
      const end = Date.now() + ms;
      let last: Snapshot | null = null;
      while (Date.now() < end) {
        last = await state();
        if (ok(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}; last state:\n${JSON.stringify(last, null, 2)}\n--- app output:\n${out}`);
    },
    async kill() {
      const group = child.pid;
      // The app and its utility processes end together, as the OS ends Electron's: the whole group at once. (The
      // core would end itself when its app's channel closes, parent-port.mjs, but only once its event loop runs, and
      // the test's next step removes the data folder it may still be writing logs to: a flake, ENOTEMPTY, once.)
      if (group !== undefined) { try { process.kill(-group, 'SIGKILL'); } catch { /* already gone */ } }
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      if (group === undefined) return;
      const end = Date.now() + 10_000;
      while (groupAlive(group) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    },
  };
}

/**
 * Whether a process of the group still runs. A killed process stays a zombie until it is reaped, and one whose parent
 * died is reaped by PID 1 when that gets round to it (seconds, in a container): a zombie writes nothing, so only
 * running members count. Read from /proc where there is one; elsewhere any member counts.
 */
function groupAlive(group: number): boolean {
  if (!fs.existsSync('/proc/self/stat')) {
    try { process.kill(-group, 0); return true; } catch { return false; }
  }
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try { stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8'); } catch { continue; }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so read after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === group && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}
