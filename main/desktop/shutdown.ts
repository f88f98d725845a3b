/**
 * A POS PC is switched off, not quit (issue 24 item 5). On Windows shutdown,
 * restart or log-off Electron emits no `before-quit`; each window gets
 * `query-session-end`, then `session-end`, and right after the `session-end`
 * handlers return Electron ends the process (shell/browser/native_window_views_win.cc,
 * WM_ENDSESSION: "the session can end any time after all applications have
 * returned from processing this message"). The core in its utility process
 * goes with it.
 *
 * So: the core is asked to stop at `query-session-end` (a head start), and the
 * `session-end` handler blocks until the core has logged out of the plugin,
 * closed its stores and freed the data dir, or until STOP_WAIT_MS after the
 * query, within the ~5 s Windows gives a running app before it offers to close
 * it anyway. The shutdown is never vetoed.
 *
 * Those events go to top-level windows only. A tray app whose window was never
 * opened has none, so a hidden window (a BaseWindow: no page, no renderer) is
 * kept just to hear them.
 */
import type { BaseWindow as BaseWindowType, BaseWindowConstructorOptions } from 'electron';

/** From the query to the latest moment the session-end handler returns. */
export const STOP_WAIT_MS = 4_000;
/** A query with no session end this long after it: another app or the person cancelled the shutdown. */
export const CANCELLED_AFTER_MS = 30_000;

export interface SessionEndOptions {
  BaseWindow: new (options: BaseWindowConstructorOptions) => BaseWindowType;
  /** The session is ending: start stopping now (called once). */
  begin(reasons: string[]): void;
  /** Block until stopped or `until` (a Date.now() value); Electron ends the process when this returns. */
  finish(until: number): void;
  /** The shutdown was cancelled after `begin`: carry on (start the core again). */
  resume(): void;
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (t: unknown) => void;
}

/** Listens for Windows' session end; call on Windows only (the events exist only there). */
export function enableSessionEnd(opts: SessionEndOptions): BaseWindowType {
  const now = opts.now ?? Date.now;
  const later = opts.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
  const cancel = opts.clearTimeout ?? ((t) => clearTimeout(t as NodeJS.Timeout));
  let deadline: number | null = null;
  let cancelled: unknown = null;
  const begin = (reasons: string[]) => {
    if (deadline !== null) return;
    deadline = now() + STOP_WAIT_MS;
    opts.begin(reasons);
    // Electron emits nothing when a shutdown is cancelled (WM_ENDSESSION with wParam FALSE is ignored): a timer notices instead.
    cancelled = later(() => { deadline = null; cancelled = null; opts.resume(); }, CANCELLED_AFTER_MS);
  };
  const listener = new opts.BaseWindow({ show: false, width: 1, height: 1, skipTaskbar: true, focusable: false, title: 'EVVA Companion' });
  listener.on('query-session-end', (e) => begin(e.reasons));
  listener.on('session-end', (e) => {
    // Windows may skip the query (a forced log-off): then the whole wait starts here.
    begin(e.reasons);
    if (cancelled !== null) cancel(cancelled);
    opts.finish(deadline!);
  });
  return listener;
}
