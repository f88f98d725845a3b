/**
 * One companion per PC, whatever the number of Windows users (issue 24 item 8;
 * the design and its reasons: docs/desktop.md, "One companion per PC").
 *
 * The data dir is the whole machine's (%ProgramData%\EVVA Companion) and its
 * lock is machine-wide (a named pipe, main/core/lock.ts). Every signed-in
 * user's app starts its own core; the first one takes the lock and hosts the
 * companion. A later one is told so (`failed` with kind `locked`) and exits;
 * that session's shell then attaches to the hosting core through its local
 * API (local-api.json in the shared data dir, checked with the proof of
 * main/core/api/proof.ts before the token is used), so its tray and window
 * show the same companion. When the host's session ends, its core stops
 * cleanly and frees the lock; the attached shells see their live channel
 * close and start their own core, and one of them takes over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LOCAL_API_FILE, LocalApiFile, type LiveMessage } from '../../protocol/local.ts';
import { verifyCompanion } from '../core/api/proof.ts';
import { strings } from '../../face/strings.ts';
import { readJsonFile } from '../core/files.ts';
import { LOCK_FILE, pidAlive } from '../core/lock.ts';
import { startCore, type ChildLike, type CoreOptions, type Failure } from './core.ts';
import { openLive, type Live, type LiveOptions } from './live.ts';

/** own: this session's core hosts the companion; other: another session's does; failed: it cannot start (see failure). */
export type Mode = 'starting' | 'own' | 'other' | 'failed';

export interface HostOptions {
  fork: CoreOptions['fork'];
  entry: string;
  args: string[];
  dataDir: string;
  /** Mode, API address or failure changed (tray, window). */
  onChange(): void;
  /** Every live message from the companion, own or another session's. */
  onLive(message: LiveMessage): void;
  /** Something a person should be told once (a crash, a failure retrying cannot fix). */
  say(title: string, body: string): void;
  /** Seal requests from the own core; returns true when it handled the message. */
  answer?(message: { type: string; [k: string]: unknown }, child: ChildLike): boolean;
  /** Injected in tests. */
  openLive?: (o: LiveOptions) => Live;
  verify?: (info: LocalApiFile) => Promise<boolean>;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (t: unknown) => void;
}

export interface Host {
  mode(): Mode;
  api(): { url: string; token: string } | null;
  failure(): Failure | null;
  /** Only this session's own core can be told to reconnect. */
  reconnect(): boolean;
  /** Quit: stops the own core cleanly (nothing to stop when another session hosts it). */
  stop(graceMs?: number): Promise<void>;
  /** The session is ending: ask the own core to stop now, without waiting. */
  stopSoon(): void;
  /** The session end was cancelled: run again (own core, or attach). */
  revive(): void;
  /**
   * Blocks until the own core has let the data dir go (its lock named in
   * companion.lock is gone) or `until` (a Date.now() value). For the session
   * end only, where Windows ends the process as soon as the handler returns.
   * True when it stopped in time.
   */
  waitStoppedSync(until: number): boolean;
}

/** A failure retrying cannot fix at once is tried again this rarely, and quietly. */
export const SLOW_RETRY_MS = 60_000;
/** How soon an attach is tried again while the other session's core is still starting. */
const ATTACH_RETRY_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000];

export function startHost(o: HostOptions): Host {
  const later = o.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
  const cancel = o.clearTimeout ?? ((t) => clearTimeout(t as NodeJS.Timeout));
  const live = o.openLive ?? openLive;
  const verify = o.verify ?? (async (info: LocalApiFile) => (await verifyCompanion(info)).ok);
  let mode: Mode = 'starting';
  let api: { url: string; token: string } | null = null;
  let failure: Failure | null = null;
  let said = '';
  /** A crash was announced and the core has not been ready since. */
  let crashSaid = false;
  let channel: Live | null = null;
  let ownPid: number | null = null;
  let stopping = false;
  let attachTimer: unknown = null;
  let attempts = 0;

  const set = (m: Mode, a: typeof api, f: Failure | null) => { mode = m; api = a; failure = f; o.onChange(); };
  const drop = () => { channel?.close(); channel = null; };
  const listen = (a: { url: string; token: string }, onClose: () => void) => {
    drop();
    channel = live({ api: a, onMessage: (m) => o.onLive(m), onClose: () => { channel = null; onClose(); } });
  };

  const core = startCore({
    fork: o.fork, entry: o.entry, args: o.args, setTimeout: later, clearTimeout: cancel,
    onMessage(m, child) {
      if (o.answer?.(m, child)) return;
      if (m.type === 'ready') {
        const a = { url: String(m.url), token: String(m.token) };
        ownPid = typeof m.pid === 'number' ? m.pid : child.pid ?? null;
        said = '';
        crashSaid = false;
        attempts = 0;
        set('own', a, null);
        // The own core's channel closing means it died: its exit below decides what follows.
        listen(a, () => undefined);
      }
    },
    onExit(_code, f, _n, pause) {
      drop();
      ownPid = null;
      if (f?.kind === 'locked') {
        // Another Windows session hosts the companion: show that one, and take over when it stops.
        attach();
        return 'hold';
      }
      if (f && (f.kind === 'port' || f.kind === 'disk')) {
        set('failed', null, f);
        if (f.message !== said) { said = f.message; o.say(strings('ru').tray.notStarted, f.message); }
        return { restartInMs: SLOW_RETRY_MS };
      }
      set('starting', null, null);
      // One notice per run of crashes, not one per restart.
      if (!crashSaid) o.say(strings('ru').tray.coreRestarted, strings('ru').tray.coreRestartedBody);
      crashSaid = true;
      return { restartInMs: pause };
    },
  });

  async function attach(): Promise<void> {
    attachTimer = null;
    if (stopping) return;
    const info = readApiFile(o.dataDir);
    if (info && await verify(info)) {
      attempts = 0;
      const a = { url: info.url, token: info.token };
      set('other', a, null);
      listen(a, () => {
        // The hosting session's core stopped (log-off, shutdown, quit): try to host it here.
        if (stopping) return;
        set('starting', null, null);
        core.resume();
      });
      return;
    }
    // The other core is still starting (no local-api.json yet), or it just went away: try to host, then attach again.
    const wait = ATTACH_RETRY_MS[Math.min(attempts, ATTACH_RETRY_MS.length - 1)]!;
    attempts += 1;
    attachTimer = later(() => { attachTimer = null; if (!stopping) core.resume(); }, wait);
  }

  return {
    mode: () => mode,
    api: () => api,
    failure: () => failure,
    reconnect() {
      if (mode !== 'own') return false;
      core.send({ type: 'reconnect' });
      return true;
    },
    async stop(graceMs) {
      stopping = true;
      if (attachTimer !== null) cancel(attachTimer);
      drop();
      await core.stop(graceMs);
    },
    stopSoon() {
      stopping = true;
      if (attachTimer !== null) cancel(attachTimer);
      drop();
      core.stopSoon();
    },
    revive() {
      if (!stopping) return;
      stopping = false;
      set('starting', null, null);
      core.revive();
    },
    waitStoppedSync(until) {
      const pid = ownPid;
      if (pid === null) return true;
      const file = path.join(o.dataDir, LOCK_FILE);
      const holds = () => {
        try {
          return (readJsonFile(file) as { pid?: unknown } | null)?.pid === pid && pidAlive(pid);
        } catch {
          return fs.existsSync(file) && pidAlive(pid);
        }
      };
      const tick = new Int32Array(new SharedArrayBuffer(4));
      while (holds()) {
        if (Date.now() >= until) return false;
        Atomics.wait(tick, 0, 0, 20);
      }
      return true;
    },
  };
}

/** The hosting core's address and token from the shared data dir, if the file is there and well-formed. */
function readApiFile(dataDir: string): LocalApiFile | null {
  try {
    const parsed = LocalApiFile.safeParse(readJsonFile(path.join(dataDir, LOCAL_API_FILE)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
