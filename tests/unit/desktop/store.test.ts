import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import Conf from 'conf';
import { afterEach, describe, expect, it } from 'vitest';
import { SHELL_SCHEMA, SHELL_STORE, type ShellSettings } from '../../../main/desktop/shell-settings.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });

/** The store as electron-store opens it (electron-store is conf with Electron's userData as `cwd`), over a given file. */
function open(file: unknown): Conf<ShellSettings> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-shell-store-'));
  dirs.push(cwd);
  if (file !== undefined) fs.writeFileSync(path.join(cwd, 'shell.json'), JSON.stringify(file));
  const { name, ...options } = SHELL_STORE;
  return new Conf<ShellSettings>({ ...options, configName: name, cwd });
}

describe("the shell's own settings (shell.json)", () => {
  it('have a schema that is valid JSON Schema 2020-12, the check the store skips at every start', () => {
    // conf validates `{ type: 'object', properties: schema }` with Ajv2020; this is ajv's own meta-schema check.
    const ajv = new Ajv2020({ allErrors: true });
    const valid = ajv.validateSchema({ type: 'object', properties: SHELL_SCHEMA });
    expect(ajv.errors ?? [], ajv.errorsText()).toEqual([]);
    expect(valid).toBe(true);
  });

  it('start from the defaults, keep a valid file, and reset a file that breaks the schema', () => {
    expect(open(undefined).store).toEqual({ notifications: true, loginItemSet: false, window: { width: 1100, height: 760 } });
    expect(open({ notifications: false, loginItemSet: true, window: { width: 900, height: 700 } }).store)
      .toEqual({ notifications: false, loginItemSet: true, window: { width: 900, height: 700 } });
    expect(open({ notifications: false, window: { width: 10, height: 10 } }).store)
      .toEqual({ notifications: true, loginItemSet: false, window: { width: 1100, height: 760 } });
  });

  it('refuse a value that breaks the schema', () => {
    const store = open(undefined);
    expect(() => store.set('window', { width: 200, height: 700 })).toThrow(/window\/width/);
    expect(store.get('window')).toEqual({ width: 1100, height: 760 });
  });
});
