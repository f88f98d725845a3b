/** Start at login: a Windows login item that opens the companion hidden, straight to the tray. */
import type { App } from 'electron';

export const HIDDEN_FLAG = '--hidden';

export interface LoginItem {
  get(): boolean;
  /** Turns it on or off and returns what the system now says. */
  set(on: boolean): boolean;
}

export function enableLoginItem(app: Pick<App, 'getLoginItemSettings' | 'setLoginItemSettings'>): LoginItem {
  const args = [HIDDEN_FLAG];
  const get = () => app.getLoginItemSettings({ args }).openAtLogin;
  return {
    get,
    set(on) {
      app.setLoginItemSettings({ openAtLogin: on, args });
      return get();
    },
  };
}

/** True when this launch came from the login item (or was asked to start hidden). */
export function startedHidden(argv: string[]): boolean {
  return argv.includes(HIDDEN_FLAG);
}
