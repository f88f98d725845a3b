/**
 * The core (main/core/agent.ts) runs in an Electron utilityProcess, so a UI
 * crash never stops the relaying. If the core dies, it is started again after
 * a growing pause, and the shell is told so it can say it.
 */
export interface ChildLike {
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  postMessage(message: unknown): void;
  kill(): boolean;
}

export interface CoreOptions {
  /** utilityProcess.fork, injected (tests pass a fake). */
  fork(modulePath: string, args: string[], options: { serviceName: string; stdio: 'inherit' | 'ignore' }): ChildLike;
  entry: string;
  args: string[];
  /** Each message from the core (ready, status, activity, seal requests). */
  onMessage(message: { type: string; [field: string]: unknown }, child: ChildLike): void;
  /** The core died with `code` and is being restarted (the n-th time). */
  onRestart(code: number, restarts: number): void;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (t: unknown) => void;
  now?: () => number;
}

/** First pause before a restart; doubles up to RESTART_MAX_MS; resets after a minute of good running. */
export const RESTART_MIN_MS = 1_000;
export const RESTART_MAX_MS = 30_000;
const STABLE_MS = 60_000;

export interface Core {
  send(message: unknown): void;
  /** Stops the core for good (Quit): asks it to stop cleanly, kills it after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
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
  let pause = RESTART_MIN_MS;
  let startedAt = 0;
  let timer: unknown = null;
  let exited: (() => void) | null = null;

  const spawn = () => {
    timer = null;
    startedAt = now();
    const current = opts.fork(opts.entry, opts.args, { serviceName: 'EVVA Companion core', stdio: 'inherit' });
    child = current;
    current.on('message', (m) => {
      if (m && typeof m === 'object' && typeof (m as { type?: unknown }).type === 'string') opts.onMessage(m as { type: string }, current);
    });
    current.on('exit', (code) => {
      if (child !== current) return;
      child = null;
      if (stopping) { exited?.(); return; }
      if (now() - startedAt >= STABLE_MS) pause = RESTART_MIN_MS;
      restarts += 1;
      opts.onRestart(code, restarts);
      timer = later(spawn, pause);
      pause = Math.min(pause * 2, RESTART_MAX_MS);
    });
  };
  spawn();

  return {
    get restarts() { return restarts; },
    send(message) { child?.postMessage(message); },
    stop(graceMs = 5_000) {
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
