/**
 * The shell's own settings (not the core's): their shape, defaults and JSON
 * schema, and the options store.ts opens them with. Apart from electron-store
 * (which loads Electron) so a test can check the schema and the reset.
 */
export interface ShellSettings {
  /** Notices about the link and the plugin (the tray's «Сообщать о сбоях связи»); payments are always shown. */
  notifications: boolean;
  /** Set once the first start has turned start-at-login on (after that, only the person changes it). */
  loginItemSet: boolean;
  /** The window's last size (the person's choice, per user). */
  window: { width: number; height: number };
}

export const SHELL_SCHEMA = {
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

/**
 * `shell.json` in Electron's userData; a file that breaks the schema is reset to the defaults. ajv does not check
 * the schema itself against the JSON Schema meta-schema at every start (compiling that meta-schema was ~50 ms of a
 * shell's CPU to its tray): the schema is a constant, and tests/unit/desktop/store.test.ts checks it once.
 */
export const SHELL_STORE = { name: 'shell', schema: SHELL_SCHEMA, clearInvalidConfig: true, ajvOptions: { validateSchema: false } } as const;
