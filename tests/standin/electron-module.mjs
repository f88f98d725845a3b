// What the bundle's copy (tests/standin/bundle.ts) imports where the app
// imports `electron`: the stand-in that child.ts created.
const e = globalThis.__evvaStandIn.electron;
export const app = e.app;
export const session = e.session;
export const BrowserWindow = e.BrowserWindow;
export const BaseWindow = e.BaseWindow;
export const Menu = e.Menu;
export const Tray = e.Tray;
export const Notification = e.Notification;
export const utilityProcess = e.utilityProcess;
export const ipcMain = e.ipcMain;
export const safeStorage = e.safeStorage;
export const clipboard = e.clipboard;
export const shell = e.shell;
export const nativeImage = e.nativeImage;
export const dialog = e.dialog;
// A getter on the stand-in: reading it before ready throws, as Electron's does.
export const screen = new Proxy({}, { get: (_t, k) => e.screen[k] });
export default e;
