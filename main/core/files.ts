/** Small file helpers for the data dir. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Error codes Windows gives a rename (MoveFileEx) whose target another program
 * holds open for a moment: Defender or another antivirus scanning the file just
 * written, a backup agent, the search indexer. They let go within milliseconds
 * to a few seconds, so the rename is tried again instead of failing start-up or
 * pairing. The same retry is what graceful-fs (npm's own file layer) does for
 * EPERM/EACCES/EBUSY renames on Windows.
 */
const HELD_CODES = new Set(['EPERM', 'EACCES', 'EBUSY']);
/** Pauses between rename attempts while the target is held: about 4 s in all, well under what a person waits for a click. */
export const RENAME_RETRY_MS = [10, 20, 40, 80, 160, 320, 640, 1_000, 1_000, 1_000] as const;

/** Blocks the thread for `ms` (the writes here are synchronous, so the wait is too). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Renames `from` to `to`, retrying on Windows while another program holds the
 * target (HELD_CODES). Elsewhere those codes mean a real permission problem,
 * which retrying cannot fix, so they fail at once.
 */
export function renameRetrying(from: string, to: string, wait: (ms: number) => void = pause): void {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.renameSync(from, to);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (process.platform !== 'win32' || !HELD_CODES.has(code)) throw e;
      if (attempt >= RENAME_RETRY_MS.length) {
        const waited = RENAME_RETRY_MS.reduce((a, b) => a + b, 0);
        throw Object.assign(new Error(`Не удалось сохранить файл ${to}: его держит другая программа (${code}), и она не отпустила его за ${(waited / 1000).toFixed(0)} с. `
          + `Обычно это антивирус или программа резервного копирования. Повторите через минуту; если не помогает, добавьте папку ${path.dirname(to)} в исключения антивируса.`), { code, cause: e });
      }
      wait(RENAME_RETRY_MS[attempt]!);
    }
  }
}

/**
 * Writes `content` to `file` readable by the owner only (0600), atomically and
 * durably: the data is fsynced before the rename and the folder after it, so a
 * crash or power loss leaves either the old file or the new one, never half of
 * one; a failure leaves no `.tmp` behind. On Windows a target held for a moment
 * by an antivirus or a backup agent is waited for (renameRetrying).
 */
export function writePrivateFile(file: string, content: string, wait?: (ms: number) => void): void {
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
    renameRetrying(tmp, file, wait);
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
