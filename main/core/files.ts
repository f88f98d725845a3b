/** Small file helpers for the data dir. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes `content` to `file` readable by the owner only (0600), atomically and
 * durably: the data is fsynced before the rename and the folder after it, so a
 * crash or power loss leaves either the old file or the new one, never half of
 * one; a failure leaves no `.tmp` behind.
 */
export function writePrivateFile(file: string, content: string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.fchmodSync(fd, 0o600); // umask could have widened it
      fs.writeFileSync(fd, content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dir);
}

/** Makes a rename in `dir` durable. Windows cannot open a folder for this; there NTFS journals the rename. */
function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a folder; the file itself is already on disk.
  } finally {
    fs.closeSync(fd);
  }
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
