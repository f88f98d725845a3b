/**
 * Start at login: the companion opens hidden, straight to the tray.
 *
 * On Windows the installer registers it for every user of the PC, under
 * HKLM\Software\Microsoft\Windows\CurrentVersion\Run (resources/installer.nsh),
 * because a POS PC is set up by an admin and used by cashier accounts (issue
 * 24 item 8). What Windows will really do is read the way Electron's
 * browser_win.cc reads it: `executableWillLaunchAtLogin` counts every Run entry
 * of this .exe, per user and per machine, and honours StartupApproved (Task
 * Manager's Startup tab), so an app disabled there is shown as off (item 11).
 * A person may add or remove their own entry (HKCU, named after the app's
 * AppUserModelID, item 3); the machine-wide one is an admin's to change.
 */
import type { App } from 'electron';
import { APP_ID } from './identity.ts';

export const HIDDEN_FLAG = '--hidden';

export interface LoginState {
  /** Windows (or macOS) will start the companion at this user's login. */
  on: boolean;
  /** On because of the machine-wide entry the installer wrote: only an admin can turn it off. */
  forAll: boolean;
  /** False where Electron has no login items (Linux). */
  supported: boolean;
}

export interface LoginItem {
  get(): LoginState;
  /** Turns this user's entry on or off and returns what the system now says. */
  set(on: boolean): LoginState;
}

type LoginApp = Pick<App, 'getLoginItemSettings' | 'setLoginItemSettings'>;

export function enableLoginItem(app: LoginApp, platform: NodeJS.Platform): LoginItem {
  const args = [HIDDEN_FLAG];
  if (platform === 'win32') {
    const get = (): LoginState => {
      const s = app.getLoginItemSettings({ args });
      const forAll = (s.launchItems ?? []).some((i) => i.scope === 'machine' && i.enabled);
      return { on: s.executableWillLaunchAtLogin === true, forAll, supported: true };
    };
    return {
      get,
      set(on) {
        if (get().forAll) return get();
        // `name` is the identity the installer uses too; `enabled: true` clears a "disabled" left in Task Manager, since the person asked for it now.
        app.setLoginItemSettings({ openAtLogin: on, args, name: APP_ID, enabled: true });
        return get();
      },
    };
  }
  if (platform === 'darwin') {
    const get = (): LoginState => ({ on: app.getLoginItemSettings({ args }).openAtLogin, forAll: false, supported: true });
    return { get, set(on) { app.setLoginItemSettings({ openAtLogin: on, args }); return get(); } };
  }
  const none: LoginState = { on: false, forAll: false, supported: false };
  return { get: () => none, set: () => none };
}

/** True when this launch came from the login item (or was asked to start hidden). */
export function startedHidden(argv: string[]): boolean {
  return argv.includes(HIDDEN_FLAG);
}
