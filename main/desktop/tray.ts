/**
 * The tray: an icon per state (shape and colour), a one-line tooltip that is
 * the status screen's sentence, and a short menu.
 */
import type { Menu as MenuType, MenuItemConstructorOptions, NativeImage, Tray as TrayType } from 'electron';
import path from 'node:path';
import { faceOf, tooltipOf, type Tone } from '../../protocol/face.ts';
import type { Status } from '../../protocol/local.ts';
import { strings } from '../../protocol/strings.ts';

export interface TrayActions {
  open(): void;
  diagnostics(): void;
  copyReport(): void;
  openLogs(): void;
  reconnect(): void;
  toggleStartAtLogin(on: boolean): void;
  quit(): void;
}

export interface TrayOptions {
  Tray: new (image: NativeImage | string) => TrayType;
  Menu: { buildFromTemplate(template: MenuItemConstructorOptions[]): MenuType };
  iconDir: string;
  platform: NodeJS.Platform;
  actions: TrayActions;
  startAtLogin(): boolean;
}

/** The tone the tray shows; grey while the core is starting (no status yet). */
export function toneOf(status: Status | null): Tone {
  return status ? faceOf(status, 'ru').tone : 'grey';
}

/** The icon file for a tone: .ico on Windows (all sizes in one), PNG elsewhere. */
export function iconFile(iconDir: string, tone: Tone, platform: NodeJS.Platform): string {
  return path.join(iconDir, platform === 'win32' ? `tray-${tone}.ico` : `tray-${tone}.png`);
}

/** The tooltip: the status sentence, or that the companion is starting. */
export function tooltipFor(status: Status | null): string {
  return status ? tooltipOf(status, 'ru') : 'EVVA: запускается…';
}

/** The menu: Открыть, Диагностика, Скопировать отчёт, Открыть папку логов, Переподключить, Запускать при входе ✓, Выход. */
export function menuTemplate(actions: TrayActions, startAtLogin: boolean, paired: boolean): MenuItemConstructorOptions[] {
  const t = strings('ru').tray;
  return [
    { label: t.open, click: () => actions.open() },
    { label: t.diagnostics, click: () => actions.diagnostics() },
    { label: t.copyReport, click: () => actions.copyReport() },
    { label: t.logs, click: () => actions.openLogs() },
    { label: t.reconnect, enabled: paired, click: () => actions.reconnect() },
    { type: 'separator' },
    { label: t.startAtLogin, type: 'checkbox', checked: startAtLogin, click: (item) => actions.toggleStartAtLogin(item.checked) },
    { type: 'separator' },
    { label: t.quit, click: () => actions.quit() },
  ];
}

export interface AppTray {
  /** Shows the new state: icon, tooltip and menu (the menu only when something in it changed). */
  update(status: Status | null): void;
  destroy(): void;
}

export function enableTray(opts: TrayOptions): AppTray {
  let tone: Tone = 'grey';
  const tray = new opts.Tray(iconFile(opts.iconDir, tone, opts.platform));
  let menuKey = '';
  const setMenu = (paired: boolean) => {
    const login = opts.startAtLogin();
    const key = `${login}|${paired}`;
    if (key === menuKey) return;
    menuKey = key;
    tray.setContextMenu(opts.Menu.buildFromTemplate(menuTemplate(opts.actions, login, paired)));
  };
  tray.setToolTip(tooltipFor(null));
  tray.on('click', () => opts.actions.open());
  setMenu(false);
  return {
    update(status) {
      const next = toneOf(status);
      if (next !== tone) { tone = next; tray.setImage(iconFile(opts.iconDir, tone, opts.platform)); }
      tray.setToolTip(tooltipFor(status));
      setMenu(status ? status.tunnel.state !== 'unpaired' : false);
    },
    destroy: () => tray.destroy(),
  };
}
