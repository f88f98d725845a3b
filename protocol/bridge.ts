/**
 * The contract between the preload and the page (an IPC wire: the main
 * process answers on these channels, main/desktop/ipc.ts): the local API's address and
 * token, and a few named desktop calls. Nothing else crosses the bridge.
 */
export interface Bridge {
  /** e.g. http://127.0.0.1:9142 */
  readonly apiUrl: string;
  /** Bearer token for the local API (new on every core start). */
  readonly token: string;
  /** Hides the window to the tray (the wizard's «Готово»). */
  hide(): Promise<void>;
  /** Opens the log folder in the file manager. */
  openLogs(): Promise<void>;
  /** Start at login: read and change (Windows login item with --hidden). */
  getStartAtLogin(): Promise<boolean>;
  setStartAtLogin(on: boolean): Promise<boolean>;
}

/** IPC channel names, one per call; the main process validates the sender of each. */
export const CHANNELS = {
  hide: 'evva:hide',
  openLogs: 'evva:open-logs',
  getStartAtLogin: 'evva:get-start-at-login',
  setStartAtLogin: 'evva:set-start-at-login',
  /** Synchronous: the API address and token for this window. */
  api: 'evva:api',
} as const;
