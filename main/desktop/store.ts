/** The shell's own settings (not the core's): kept by electron-store, checked against a schema (shell-settings.ts). */
import Store from 'electron-store';
import { SHELL_STORE, type ShellSettings } from './shell-settings.ts';

/** Opens (or creates) the store in Electron's userData folder; a file that breaks the schema is reset. */
export function openStore(): Store<ShellSettings> {
  return new Store<ShellSettings>(SHELL_STORE);
}
