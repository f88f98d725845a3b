/** One companion per user session: a second launch focuses the first one's window and exits. */
import type { App } from 'electron';

/** Returns false when another instance holds the lock (the caller quits); `focus` runs on each later launch. */
export function enableSingleInstance(app: Pick<App, 'requestSingleInstanceLock' | 'on'>, focus: () => void): boolean {
  if (!app.requestSingleInstanceLock()) return false;
  app.on('second-instance', () => focus());
  return true;
}
