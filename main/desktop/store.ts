/** The shell's own settings (not the core's): kept by electron-store, checked against a schema. */
import Store from 'electron-store';

export interface ShellSettings {
  /** Notices about the link and the plugin (the tray's «Сообщать о сбоях связи»); payments are always shown. */
  notifications: boolean;
  /** Set once the first start has turned start-at-login on (after that, only the person changes it). */
  loginItemSet: boolean;
  /** The window's last size (the person's choice, per user). */
  window: { width: number; height: number };
}

const schema = {
  notifications: { type: 'boolean', default: true },
  loginItemSet: { type: 'boolean', default: false },
  window: {
    type: 'object',
    properties: { width: { type: 'integer', minimum: 640, maximum: 4000 }, height: { type: 'integer', minimum: 480, maximum: 4000 } },
    required: ['width', 'height'],
    additionalProperties: false,
    default: { width: 1100, height: 760 },
  },
} as const;

/** Opens (or creates) the store in Electron's userData folder; a file that breaks the schema is reset. */
export function openStore(): Store<ShellSettings> {
  return new Store<ShellSettings>({ name: 'shell', schema, clearInvalidConfig: true });
}
