/**
 * Who the app is to Windows, and where Electron keeps its own data. All of it
 * before `ready` (docs/api/app.md: sessionData must be set before ready;
 * setAppUserModelId before anything uses the identity).
 *
 * - APP_ID is the AppUserModelID: the installer puts it on the Start Menu
 *   shortcut (electron-builder's appId), Windows shows toasts only for an id a
 *   shortcut carries (docs/tutorial/notifications.md), and Electron names the
 *   login item's Run value after it (browser_win.cc). Without
 *   setAppUserModelId the process would be `electron.app.<name>` (issue 24 item 3).
 * - PRODUCT_NAME names Electron's per-user folder. Set explicitly, so it never
 *   depends on whether a productName reached the packaged package.json (item 2).
 * - Chromium's session data (caches, cookies) goes to the local, non-roaming
 *   profile: a domain's roaming profile would copy it at every logon (item 11).
 */
import path from 'node:path';
import type { App } from 'electron';

/** Must equal electron-builder.yml's appId (tests/unit/desktop/packaging.test.ts checks it). */
export const APP_ID = 'ru.evva.companion';
/** Must equal package.json's productName and electron-builder.yml's productName. */
export const PRODUCT_NAME = 'EVVA Companion';

export interface Identity { userData: string; sessionData: string }

export function setIdentity(app: Pick<App, 'getPath' | 'setPath'> & { setAppUserModelId?: (id: string) => void }, platform: NodeJS.Platform, env: NodeJS.ProcessEnv): Identity {
  if (platform === 'win32') app.setAppUserModelId?.(APP_ID);
  const userData = path.join(app.getPath('appData'), PRODUCT_NAME);
  app.setPath('userData', userData);
  const local = platform === 'win32' && env.LOCALAPPDATA ? path.join(env.LOCALAPPDATA, PRODUCT_NAME) : userData;
  const sessionData = local === userData ? userData : path.join(local, 'Session');
  app.setPath('sessionData', sessionData);
  return { userData, sessionData };
}
