/**
 * The core (main/core/agent.ts) runs in an Electron utilityProcess, so a UI
 * crash never stops the relaying. If the core dies, it is started again after
 * a growing pause, and the shell is told so it can say it.
 *
 * A core that could not start tells why before it exits (`failed` with a
 * kind). Retrying cannot fix some of those at once (issue 24 item 7): the data
 * dir held by the companion of another Windows session, the port held by
 * another program, a folder it may not write. The shell decides what each
 * means (wait for the other session's companion, retry slowly and quietly);
 * only a crash is retried on the fast schedule.
 */
export interface ChildLike {
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  postMessage(message: unknown): void;
  kill(): boolean;
  readonly pid?: number | undefined;
}

/** Why a core could not start, as core-entry.ts reports it. */
export type FailureKind = 'locked' | 'port' | 'disk' | 'other';
export interface Failure { kind: FailureKind; message: string }

/** What to do after the core ended: start it again after `ms`, or wait until resume() is called. */
export type Next = { restartInMs: number } | 'hold';

export interface CoreOptions {
  /** utilityProcess.fork, injected (tests pass the stand-in's). */
  fork(modulePath: string, args: string[], options: { serviceName: string; stdio: 'inherit' | 'ignore' }): ChildLike;
  entry: string;
  args: string[];
  /** Each message from the core (ready, failed, seal requests). */
  onMessage(message: { type: string; [field: string]: unknown }, child: ChildLike): void;
  /**
   * The core ended on its own (`failure` when it said why first; null for a
   * crash), for the `n`-th time in a row without a good run. The default
   * schedule (1 s, 2 s, 4 s … 30 s) is `pause`.
   */
  onExit(code: number, failure: Failure | null, n: number, pause: number): Next;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (t: unknown) => void;
  now?: () => number;
}

/** First pause before a restart; doubles up to RESTART_MAX_MS; resets after a minute of good running. */
export const RESTART_MIN_MS = 1_000;
export const RESTART_MAX_MS = 30_000;
const STABLE_MS = 60_000;
/** How long the core may take to stop cleanly at Quit before it is killed. */
export const STOP_GRACE_MS = 5_000;

export interface Core {
  send(message: unknown): void;
  /** Stops the core for good (Quit): asks it to stop cleanly, kills it after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Asks the core to stop now without waiting (the session is ending); no restart follows. */
  stopSoon(): void;
  /** Starts the core again now if it is waiting (held, or between restarts). */
  resume(): void;
  /** Undoes stopSoon() (the session end was cancelled): the core runs again. */
  revive(): void;
  /** The running core's process id, if any. */
  pid(): number | undefined;
  readonly restarts: number;
}

/** Starts the core now and keeps it running until stop(). */
export function startCore(opts: CoreOptions): Core {
  const later = opts.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
  const cancel = opts.clearTimeout ?? ((t) => clearTimeout(t as NodeJS.Timeout));
  const now = opts.now ?? Date.now;
  let child: ChildLike | null = null;
  let stopping = false;
  let restarts = 0;
  let inRow = 0;
  let pause = RESTART_MIN_MS;
  let startedAt = 0;
  let timer: unknown = null;
  let exited: (() => void) | null = null;
  /** The child asked to stop: its exit is expected, not a crash. */
  let asked: ChildLike | null = null;

  const spawn = () => {
    timer = null;
    if (stopping) return;
    startedAt = now();
    let failure: Failure | null = null;
    const current = opts.fork(opts.entry, opts.args, { serviceName: 'EVVA Companion core', stdio: 'inherit' });
    child = current;
    current.on('message', (m) => {
      if (!m || typeof m !== 'object' || typeof (m as { type?: unknown }).type !== 'string') return;
      const msg = m as { type: string; kind?: unknown; message?: unknown };
      if (msg.type === 'failed') {
        const kind = (['locked', 'port', 'disk'] as const).find((k) => k === msg.kind) ?? 'other';
        failure = { kind, message: String(msg.message ?? '') };
      }
      opts.onMessage(msg, current);
    });
    current.on('exit', (code) => {
      if (child !== current) return;
      child = null;
      if (stopping) { exited?.(); return; }
      // Asked to stop, then revived before it was gone: start the next one at once, quietly.
      if (asked === current) { asked = null; spawn(); return; }
      if (now() - startedAt >= STABLE_MS) { pause = RESTART_MIN_MS; inRow = 0; }
      inRow += 1;
      const next = opts.onExit(code, failure, inRow, pause);
      if (next === 'hold') return;
      restarts += 1;
      timer = later(spawn, next.restartInMs);
      if (!failure) pause = Math.min(pause * 2, RESTART_MAX_MS);
    });
  };
  spawn();

  return {
    get restarts() { return restarts; },
    send(message) { child?.postMessage(message); },
    pid: () => child?.pid,
    resume() {
      if (stopping || child) return;
      if (timer !== null) { cancel(timer); timer = null; }
      spawn();
    },
    revive() {
      stopping = false;
      if (!child && timer === null) spawn();
    },
    stopSoon() {
      stopping = true;
      if (timer !== null) { cancel(timer); timer = null; }
      asked = child;
      child?.postMessage({ type: 'stop' });
    },
    stop(graceMs = STOP_GRACE_MS) {
      stopping = true;
      if (timer !== null) { cancel(timer); timer = null; }
      const c = child;
      if (!c) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const t = later(() => { c.kill(); resolve(); }, graceMs);
        exited = () => { cancel(t); resolve(); };
        c.postMessage({ type: 'stop' });
      });
    },
  };
}
