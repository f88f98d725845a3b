/**
 * The tray: an icon per state (shape and colour), a one-line tooltip that is
 * the status screen's sentence, and a short menu.
 */
import type { Menu as MenuType, MenuItemConstructorOptions, NativeImage, Tray as TrayType } from 'electron';
import path from 'node:path';
import { faceOf, tooltipOf, type Tone } from '../../face/face.ts';
import type { Status } from '../../protocol/local.ts';
import { strings } from '../../face/strings.ts';
import type { LoginState } from './login.ts';

export interface TrayActions {
  open(): void;
  diagnostics(): void;
  copyReport(): void;
  openLogs(): void;
  reconnect(): void;
  toggleStartAtLogin(on: boolean): void;
  toggleNotifications(on: boolean): void;
  quit(): void;
}

/** What the menu shows besides the fixed items. */
export interface MenuState {
  login: LoginState;
  /** Reconnect makes sense: paired, and the core is this session's own. */
  canReconnect: boolean;
  /** Notices about the link and the plugin (payments are always shown). */
  notifications: boolean;
}

export interface TrayOptions {
  Tray: new (image: NativeImage | string) => TrayType;
  Menu: { buildFromTemplate(template: MenuItemConstructorOptions[]): MenuType };
  iconDir: string;
  platform: NodeJS.Platform;
  actions: TrayActions;
  menuState(): MenuState;
}

/** The tone the tray shows; grey while the core is starting (no status yet), red when it cannot start. */
export function toneOf(status: Status | null, failed = false): Tone {
  if (failed) return 'red';
  return status ? faceOf(status, 'ru').tone : 'grey';
}

/** The icon file for a tone: .ico on Windows (all sizes in one), PNG elsewhere. */
export function iconFile(iconDir: string, tone: Tone, platform: NodeJS.Platform): string {
  return path.join(iconDir, platform === 'win32' ? `tray-${tone}.ico` : `tray-${tone}.png`);
}

/** Windows shows at most 127 characters of a tray tooltip. */
const TOOLTIP_MAX = 127;

/** The tooltip: the status sentence, that the companion is starting, or why it cannot start (its first sentence). */
export function tooltipFor(status: Status | null, failure?: string | null): string {
  if (failure) {
    const first = failure.split(/(?<=[.!?])\s/)[0] ?? failure;
    const line = `EVVA: ${first}`;
    return line.length <= TOOLTIP_MAX ? line : `${line.slice(0, TOOLTIP_MAX - 1)}…`;
  }
  return status ? tooltipOf(status, 'ru') : 'EVVA: запускается…';
}

/** The menu: Открыть, Диагностика, Скопировать отчёт, Открыть папку логов, Переподключить, Запускать при входе ✓, Сообщать о сбоях связи ✓, Выход. */
export function menuTemplate(actions: TrayActions, state: MenuState): MenuItemConstructorOptions[] {
  const t = strings('ru').tray;
  const login: MenuItemConstructorOptions[] = state.login.supported
    ? [{
      label: state.login.forAll ? t.startAtLoginForAll : t.startAtLogin, type: 'checkbox', checked: state.login.on,
      // The machine-wide entry is an admin's (Task Manager, or the installer); this user's own entry is theirs to change.
      enabled: !state.login.forAll,
      click: (item) => actions.toggleStartAtLogin(item.checked),
    }]
    : [];
  return [
    { label: t.open, click: () => actions.open() },
    { label: t.diagnostics, click: () => actions.diagnostics() },
    { label: t.copyReport, click: () => actions.copyReport() },
    { label: t.logs, click: () => actions.openLogs() },
    { label: t.reconnect, enabled: state.canReconnect, click: () => actions.reconnect() },
    { type: 'separator' },
    ...login,
    { label: t.notifyLink, type: 'checkbox', checked: state.notifications, click: (item) => actions.toggleNotifications(item.checked) },
    { type: 'separator' },
    { label: t.quit, click: () => actions.quit() },
  ];
}

export interface AppTray {
  /** Shows the new state: icon, tooltip and menu (the menu only when something in it changed). */
  update(status: Status | null, failure?: string | null): void;
  destroy(): void;
}

export function enableTray(opts: TrayOptions): AppTray {
  let tone: Tone = 'grey';
  const tray = new opts.Tray(iconFile(opts.iconDir, tone, opts.platform));
  let menuKey = '';
  const setMenu = () => {
    const state = opts.menuState();
    const key = JSON.stringify(state);
    if (key === menuKey) return;
    menuKey = key;
    tray.setContextMenu(opts.Menu.buildFromTemplate(menuTemplate(opts.actions, state)));
  };
  tray.setToolTip(tooltipFor(null));
  tray.on('click', () => opts.actions.open());
  setMenu();
  return {
    update(status, failure) {
      const next = toneOf(status, Boolean(failure));
      if (next !== tone) { tone = next; tray.setImage(iconFile(opts.iconDir, tone, opts.platform)); }
      tray.setToolTip(tooltipFor(status, failure));
      setMenu();
    },
    destroy: () => tray.destroy(),
  };
}
