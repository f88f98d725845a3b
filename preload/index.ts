/**
 * The preload: the page gets the local API's address and token and four named
 * calls, nothing else (no ipcRenderer, no Node). Bundled to CommonJS because a
 * sandboxed preload cannot be an ES module.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { CHANNELS, type Bridge } from '../protocol/bridge.ts';

const api = ipcRenderer.sendSync(CHANNELS.api) as { apiUrl: string; token: string } | null;

if (api) {
  const bridge: Bridge = {
    apiUrl: api.apiUrl,
    token: api.token,
    hide: () => ipcRenderer.invoke(CHANNELS.hide),
    openLogs: () => ipcRenderer.invoke(CHANNELS.openLogs),
    getStartAtLogin: () => ipcRenderer.invoke(CHANNELS.getStartAtLogin),
    setStartAtLogin: (on: boolean) => ipcRenderer.invoke(CHANNELS.setStartAtLogin, on === true),
  };
  contextBridge.exposeInMainWorld('evva', bridge);
}
