/**
 * One companion per data dir. Two on one folder would hold two licence slots,
 * replace each other's tunnel and delete each other's local-api.json; the
 * second one refuses to start instead, naming the first.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LOCAL_API_FILE, LocalApiFile } from '../../protocol/local.ts';
import { readJsonFile } from './files.ts';

export const LOCK_FILE = 'companion.lock';

/** True when a process with `pid` exists (EPERM: it exists but is not ours to signal). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The data dir is held by another live companion; the message names it in Russian. */
export class DataDirLocked extends Error {
  constructor(readonly pid: number, readonly url: string | null, dir: string) {
    super(`Компаньон уже запущен с папкой данных ${dir}: процесс ${pid}${url ? `, локальный API ${url}` : ''}. `
      + `Второй экземпляр занял бы вторую лицензию iiko и перебил бы связь с EVVA, поэтому он не запущен. `
      + `Остановите первый или укажите другую папку (--data-dir). Если процесса ${pid} нет или это не компаньон, удалите файл ${path.join(dir, LOCK_FILE)}.`);
    this.name = 'DataDirLocked';
  }
}

export interface DirLock {
  /** Frees the data dir (only if the lock is still ours). Idempotent. */
  release(): void;
}

/**
 * Takes the data dir for this process. Guarantees: at most one live process
 * holds it; a lock left by a dead process is taken over; throws DataDirLocked
 * when a live one holds it.
 */
export function lockDataDir(dir: string): DirLock {
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, `${JSON.stringify({ pid: process.pid })}\n`);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      let held = true;
      return {
        release() {
          if (!held) return;
          held = false;
          if (holder(file) === process.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = holder(file);
    if (pid !== null && pid !== process.pid && pidAlive(pid)) throw new DataDirLocked(pid, apiUrlOf(dir, pid), dir);
    // Left by a process that is gone (or unreadable half-written junk): take it over.
    fs.rmSync(file, { force: true });
  }
  throw new Error(`Не удалось занять папку данных ${dir}: файл ${LOCK_FILE} появляется снова. Проверьте, не запускается ли компаньон одновременно в другом окне.`);
}

function holder(file: string): number | null {
  try {
    const pid = (readJsonFile(file) as { pid?: unknown } | null)?.pid;
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** The running companion's API address, if its local-api.json is the same process's. */
function apiUrlOf(dir: string, pid: number): string | null {
  try {
    const info = LocalApiFile.safeParse(readJsonFile(path.join(dir, LOCAL_API_FILE)));
    return info.success && info.data.pid === pid ? info.data.url : null;
  } catch {
    return null;
  }
}
