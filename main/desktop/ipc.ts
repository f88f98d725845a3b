/**
 * The few calls the page may make to the shell. Each handler first checks
 * that the sender is a frame of the companion's own UI, and checks its argument.
 */
import type { IpcMain } from 'electron';
import { CHANNELS } from '../../protocol/bridge.ts';
import { senderAllowed } from './guards.ts';

export interface IpcHandlers {
  api(): { url: string; token: string } | null;
  hide(): void;
  openLogs(): Promise<void>;
  getStartAtLogin(): boolean;
  setStartAtLogin(on: boolean): boolean;
}

export class IpcRefused extends Error {}

export function enableIpc(ipcMain: Pick<IpcMain, 'handle' | 'on'>, h: IpcHandlers): void {
  const apiUrl = () => h.api()?.url ?? 'http://127.0.0.1:0';
  const guard = <A extends unknown[], R>(fn: (...args: A) => R) => (event: Parameters<typeof senderAllowed>[0], ...args: A): R => {
    if (!senderAllowed(event, apiUrl())) throw new IpcRefused(`IPC refused from ${event.senderFrame?.url ?? 'unknown frame'}`);
    return fn(...args);
  };
  ipcMain.on(CHANNELS.api, (event) => {
    const api = h.api();
    event.returnValue = senderAllowed(event, apiUrl()) && api ? { apiUrl: api.url, token: api.token } : null;
  });
  ipcMain.handle(CHANNELS.hide, guard(() => { h.hide(); }));
  ipcMain.handle(CHANNELS.openLogs, guard(() => h.openLogs()));
  ipcMain.handle(CHANNELS.getStartAtLogin, guard(() => h.getStartAtLogin()));
  ipcMain.handle(CHANNELS.setStartAtLogin, guard((on: unknown) => {
    if (typeof on !== 'boolean') throw new IpcRefused('setStartAtLogin takes true or false');
    return h.setStartAtLogin(on);
  }));
}
