/**
 * The window shows only the companion's own UI: navigation anywhere else,
 * new windows and webviews are refused, and IPC is answered only for frames
 * from the local API's origin.
 */
import type { IpcMainEvent, IpcMainInvokeEvent, Session, WebContents } from 'electron';

/** True when `url` is on the local API's origin (scheme, host and port). */
export function sameOrigin(url: string, apiUrl: string): boolean {
  try {
    return new URL(url).origin === new URL(apiUrl).origin;
  } catch {
    return false;
  }
}

/** True when the IPC message comes from a frame showing the companion's UI. */
export function senderAllowed(event: IpcMainEvent | IpcMainInvokeEvent, apiUrl: string): boolean {
  const url = event.senderFrame?.url;
  return typeof url === 'string' && sameOrigin(url, apiUrl);
}

/** Applies the navigation, redirect, window-open and webview guards to one WebContents. */
export function enableGuards(contents: WebContents, apiUrl: () => string): void {
  const stay = (event: { preventDefault(): void }, url: string) => { if (!sameOrigin(url, apiUrl())) event.preventDefault(); };
  contents.on('will-navigate', stay);
  contents.on('will-redirect', stay);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** The one permission the UI uses: copying the support report (navigator.clipboard.writeText). */
const ALLOWED_PERMISSIONS = new Set(['clipboard-sanitized-write']);

/**
 * Answers the page's permission requests and checks instead of Electron's
 * default, which grants every one (docs/tutorial/security.md, "Handle session
 * permission requests from remote content"): only the clipboard write, and
 * only for the companion's own UI.
 */
export function enablePermissions(session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>, apiUrl: () => string): void {
  const allowed = (permission: string, url: string | undefined) => ALLOWED_PERMISSIONS.has(permission) && typeof url === 'string' && sameOrigin(url, apiUrl());
  session.setPermissionRequestHandler((_contents, permission, callback, details) => callback(allowed(permission, details?.requestingUrl)));
  session.setPermissionCheckHandler((_contents, permission, origin) => allowed(permission, origin));
}
