/** Small file helpers for the data dir. */
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes `content` to `file` readable by the owner only (0600), atomically:
 * a crash leaves either the old file or the new one, never half of one.
 */
export function writePrivateFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600); // umask or an existing tmp could have widened it
  fs.renameSync(tmp, file);
}

/** Reads a JSON file; null when it does not exist. Throws on unreadable or invalid JSON. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return JSON.parse(text.replace(/^\uFEFF/, ''));
}

/** Creates the data dir if needed and checks it is writable; throws a Russian message saying what to do. */
export function ensureWritableDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`Нет доступа на запись к папке данных ${dir} (${code}). Укажите другую папку (--data-dir или EVVA_DATA_DIR) или дайте этому пользователю права на запись в неё.`, { cause: e });
  }
}
