/**
 * One companion per data dir. Two on one folder would hold two licence slots,
 * replace each other's tunnel and delete each other's local-api.json; the
 * second one refuses to start instead, naming the first.
 *
 * The lock is held by the kernel, not by a file: the holder listens on a local
 * endpoint named after the data dir (a named pipe on Windows, an abstract
 * socket on Linux, a socket file elsewhere). The kernel frees it the moment the
 * holder dies, however it dies, so nothing is ever stale. A pid in a file is
 * not enough (issue 24 item 6): on Windows `process.kill(pid, 0)` answers
 * "access denied" for another user's or a system process, which reads as
 * alive, and after a reboot the pid names some unrelated process.
 * Named pipes live in one namespace for the whole machine (every session and
 * user), so a data dir shared by all users is locked for the whole PC.
 *
 * `companion.lock` is still written, for people and support: it names the
 * holder's pid. It is only information; nothing decides by it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LOCAL_API_FILE, LocalApiFile } from '../../protocol/local.ts';
import { readJsonFile, writePrivateFile } from './files.ts';

export const LOCK_FILE = 'companion.lock';
/** How long a checker waits for the holder to say who it is. */
const ASK_TIMEOUT_MS = 2_000;

/**
 * True when a process with `pid` exists. Only a hint (pids are reused, and on
 * Windows a process of another user answers EPERM); the lock never decides by it.
 */
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
  constructor(readonly pid: number | null, readonly url: string | null, readonly dir: string) {
    super(`Компаньон уже запущен с папкой данных ${dir}${pid ? `: процесс ${pid}` : ''}${url ? `, локальный API ${url}` : ''}. `
      + `Второй экземпляр занял бы вторую лицензию iiko и перебил бы связь с EVVA, поэтому он не запущен. `
      + `Откройте уже запущенный (значок EVVA в трее или evva-companion status) или укажите другую папку (--data-dir).`);
    this.name = 'DataDirLocked';
  }
}

export interface DirLock {
  /** Frees the data dir (only if the lock is still ours). Idempotent. */
  release(): void;
}

/**
 * The endpoint that stands for `dir` on `platform`. Windows paths are compared
 * case-insensitively, as NTFS does, so `C:\ProgramData\EVVA Companion` and
 * `c:\programdata\evva companion` are one lock.
 */
export function lockEndpoint(dir: string, platform: NodeJS.Platform = process.platform): string {
  const key = platform === 'win32' ? path.win32.resolve(dir).toLowerCase() : path.resolve(dir);
  const id = crypto.createHash('sha256').update(key).digest('hex').slice(0, 32);
  if (platform === 'win32') return `\\\\.\\pipe\\evva-companion-${id}`;
  // Linux's abstract namespace: no file, gone with the process.
  if (platform === 'linux') return `\0evva-companion-${id}`;
  return path.join(os.tmpdir(), `evva-companion-${id}.sock`);
}

/** True when the endpoint is a file that a dead holder can leave behind (macOS and other Unixes). */
function leavesFile(endpoint: string): boolean {
  return !endpoint.startsWith('\0') && !endpoint.startsWith('\\\\.\\pipe\\');
}

/**
 * Takes the data dir for this process. Guarantees: at most one live process
 * holds it; a dead holder never blocks (the kernel freed its endpoint);
 * rejects with DataDirLocked, naming the holder's pid as the holder itself
 * reports it, when a live one holds it.
 */
export async function lockDataDir(dir: string, endpoint = lockEndpoint(dir)): Promise<DirLock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let server: net.Server;
    try {
      server = await listen(endpoint, dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      const holder = await ask(endpoint);
      if (holder === 'gone' && leavesFile(endpoint)) {
        // A socket file nobody listens on: its holder died without cleaning up.
        fs.rmSync(endpoint, { force: true });
        continue;
      }
      if (holder === 'gone') continue; // the holder was stopping just now
      const pid = typeof holder === 'number' ? holder : infoPid(dir);
      throw new DataDirLocked(pid, pid ? apiUrlOf(dir, pid) : null, dir);
    }
    const file = path.join(dir, LOCK_FILE);
    try {
      writePrivateFile(file, `${JSON.stringify({ pid: process.pid, since: new Date().toISOString() })}\n`);
    } catch {
      // Only information for people; the endpoint is the lock.
    }
    let held = true;
    return {
      release() {
        if (!held) return;
        held = false;
        server.close();
        if (infoPid(dir) === process.pid) fs.rmSync(file, { force: true });
      },
    };
  }
  throw new Error(`Не удалось занять папку данных ${dir}: другой компаньон запускается и останавливается одновременно с этим. Подождите минуту и запустите снова.`);
}

/** Listens on the endpoint; each checker that connects is told this process's pid. */
function listen(endpoint: string, dir: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.end(`${JSON.stringify({ pid: process.pid, dataDir: dir })}\n`);
    });
    server.once('error', reject);
    server.listen(endpoint, () => {
      server.off('error', reject);
      // The lock must not keep a stopping process alive; the process's own work does that.
      server.unref();
      resolve(server);
    });
  });
}

/** Asks the holder who it is: its pid, 'silent' when it holds the endpoint but says nothing valid, 'gone' when nobody listens. */
function ask(endpoint: string): Promise<number | 'silent' | 'gone'> {
  return new Promise((resolve) => {
    const socket = net.connect(endpoint);
    let text = '';
    const done = (v: number | 'silent' | 'gone') => { clearTimeout(timer); socket.destroy(); resolve(v); };
    const timer = setTimeout(() => done('silent'), ASK_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { text += d; if (text.length > 4096) done('silent'); });
    socket.on('end', () => {
      try {
        const pid = (JSON.parse(text) as { pid?: unknown }).pid;
        done(typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : 'silent');
      } catch {
        done('silent');
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => done(['ECONNREFUSED', 'ENOENT'].includes(e.code ?? '') ? 'gone' : 'silent'));
  });
}

/** The pid companion.lock names, if readable. */
function infoPid(dir: string): number | null {
  try {
    const pid = (readJsonFile(path.join(dir, LOCK_FILE)) as { pid?: unknown } | null)?.pid;
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
