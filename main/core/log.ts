/**
 * The companion's log sink: winston to the console and to daily-rotated files
 * in `<data-dir>/logs/` (folder 0700, files 0600). Secrets (plugin keys,
 * tokens, passwords) are redacted before any transport sees a line.
 *
 * The POS disk is the venue's: a line repeated in a flood is written a few
 * times a minute with a count, the folder never grows past LOG_TOTAL_MAX_BYTES,
 * and a file that cannot be written (disk full) is dropped for the console
 * only: the companion keeps running and its status says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { Problem } from '../../protocol/local.ts';
import type { Logger } from '../../common/logger.ts';
import { redact } from '../../common/redact.ts';
import { limitRepeats } from '../../common/repeats.ts';

/** Keep two weeks of logs, at most 20 MB a file: enough for support, small on a POS disk. */
export const LOG_KEEP = '14d';
export const LOG_MAX_SIZE = '20m';
/** All log files together stay under this; the oldest go first. */
export const LOG_TOTAL_MAX_BYTES = 100 * 1024 * 1024;
/** How long after a rotation the folder is pruned. */
export const LOG_PRUNE_DELAY_MS = 200;
const LOG_FILE_RE = /^companion-.*\.log(\.\d+)?(\.gz)?$/;

const redactFormat = winston.format((info) => {
  const clean = redact({ ...info }) as winston.Logform.TransformableInfo;
  // winston keeps its level/message symbols on the original object; copy fields back onto it.
  for (const k of Object.keys(clean)) (info as Record<string, unknown>)[k] = clean[k];
  return info;
});

/** Deletes the oldest log files in `dir` until they total at most `maxBytes`; `keep` is never deleted. */
export function pruneLogs(dir: string, maxBytes: number, keep?: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((f) => LOG_FILE_RE.test(f));
  } catch {
    return;
  }
  const files: Array<{ name: string; size: number; mtime: number }> = [];
  for (const name of names) {
    // A file being created as the rotator announces it may not exist yet: skip it, not the whole pass.
    const st = fs.statSync(path.join(dir, name), { throwIfNoEntry: false });
    if (st) files.push({ name, size: st.size, mtime: st.mtimeMs });
  }
  let total = files.reduce((n, f) => n + f.size, 0);
  for (const f of files.sort((a, b) => a.mtime - b.mtime)) {
    if (total <= maxBytes) break;
    if (keep && path.resolve(dir, f.name) === path.resolve(keep)) continue;
    try {
      fs.rmSync(path.join(dir, f.name), { force: true });
      total -= f.size;
    } catch {
      // Still open on Windows or already gone: the next pass tries again.
    }
  }
}

export interface LogOptions {
  /** Where `logs/` goes; no file logging when null (tests). */
  dataDir: string | null;
  level: 'error' | 'warn' | 'info' | 'debug';
  console: boolean;
  /** Total cap of the logs folder (default LOG_TOTAL_MAX_BYTES). */
  maxTotalBytes?: number;
  /** Size of one file before it rotates (winston-daily-rotate-file syntax, default LOG_MAX_SIZE). */
  maxFileSize?: string;
  /** Repeat limiting (tests shorten the window). */
  repeats?: { now?: () => number; burst?: number; windowMs?: number };
}

export interface Log extends Logger {
  /** Why the log file is not being written (then only the console gets lines), or null. */
  fileProblem(): Problem | null;
  /** Calls `fn` when the log file fails. */
  onFileProblem(fn: (p: Problem) => void): void;
  /** Flushes the files, bounded in time. */
  close(): Promise<void>;
}

/** Builds the process's logger; `close()` flushes the files. */
export function createLog(opts: LogOptions): Log {
  const transports: winston.transport[] = [];
  let problem: Problem | null = null;
  const problemListeners: Array<(p: Problem) => void> = [];
  if (opts.console) {
    transports.push(new winston.transports.Console({
      format: winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss' }),
        winston.format.printf((i) => {
          const { level, message, timestamp, part, ...rest } = i as Record<string, unknown>;
          const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
          return `${String(timestamp)} ${String(level).padEnd(5)} ${part ? `[${String(part)}] ` : ''}${String(message)}${extra}`;
        }),
      ),
    }));
  }
  let file: DailyRotateFile | null = null;
  let pruneAtClose = () => {};
  const maxTotal = opts.maxTotalBytes ?? LOG_TOTAL_MAX_BYTES;
  if (opts.dataDir) {
    const dirname = path.join(opts.dataDir, 'logs');
    // Logs name the venue, addresses and errors: the owner's only, like the rest of the data dir.
    fs.mkdirSync(dirname, { recursive: true, mode: 0o700 });
    fs.chmodSync(dirname, 0o700);
    pruneLogs(dirname, maxTotal);
    file = new DailyRotateFile({
      dirname,
      filename: 'companion-%DATE%.log',
      datePattern: 'YYYY-MM-DD',
      maxFiles: LOG_KEEP,
      maxSize: opts.maxFileSize ?? LOG_MAX_SIZE,
      options: { flags: 'a', mode: 0o600 },
      format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    });
    const current = file;
    // Pruned a moment after each rotation: by then the files before it are flushed and their sizes true.
    let pruneTimer: NodeJS.Timeout | undefined;
    let writing: string | undefined;
    current.on('new', (name: string) => {
      writing = name;
      privately(name);
      clearTimeout(pruneTimer);
      pruneTimer = setTimeout(() => pruneLogs(dirname, maxTotal, name), LOG_PRUNE_DELAY_MS);
      pruneTimer.unref();
    });
    pruneAtClose = () => { clearTimeout(pruneTimer); pruneLogs(dirname, maxTotal, writing); };
    transports.push(current);
  }
  if (transports.length === 0) transports.push(new winston.transports.Console({ silent: true }));
  const root = winston.createLogger({ level: opts.level, format: winston.format.combine(limitRepeats(opts.repeats), redactFormat()), transports });

  /** The file failed (disk full, no rights): drop it, keep the console, tell the status. Never throws. */
  const fileFailed = (err: unknown) => {
    if (problem || !file) return;
    const code = (err as NodeJS.ErrnoException)?.code ?? 'error';
    problem = {
      code: 'log_file_failed',
      message: code === 'ENOSPC'
        ? `Журнал не записывается в файл: на диске нет места (${code}). Компаньон работает и пишет журнал только в консоль.`
        : `Журнал не записывается в файл (${code}). Компаньон работает и пишет журнал только в консоль.`,
      hint: `Освободите место на диске или проверьте права на папку ${path.join(opts.dataDir ?? '', 'logs')}, затем перезапустите компаньон.`,
      messageEn: `The log file cannot be written (${code}); logging to the console only.`,
    };
    try { root.remove(file); } catch { /* already detached */ }
    console.error(problem.message);
    for (const fn of problemListeners) fn(problem);
  };
  if (file) {
    // The rotating stream's errors are not the transport's: without these listeners an
    // unwritable file (ENOSPC) is an unhandled 'error' event that ends the process.
    (file as unknown as { logStream: NodeJS.EventEmitter }).logStream.on('error', fileFailed);
    file.on('error', fileFailed);
  }
  root.on('error', fileFailed);
  // winston runs formats (redaction) before it filters by level: a line below the level must cost nothing.
  const wrap = (w: winston.Logger): Logger => ({
    error: (m, meta) => { w.error(m, meta); },
    warn: (m, meta) => { if (w.isWarnEnabled()) w.warn(m, meta); },
    info: (m, meta) => { if (w.isInfoEnabled()) w.info(m, meta); },
    debug: (m, meta) => { if (w.isDebugEnabled()) w.debug(m, meta); },
    child: (meta) => wrap(w.child(meta)),
  });
  return {
    ...wrap(root),
    fileProblem: () => problem,
    onFileProblem: (fn) => { problemListeners.push(fn); },
    // Resolves once the file is flushed to disk, bounded so a stuck disk cannot hold up exit.
    close() {
      const flushed = (async () => {
        const ended = new Promise((resolve) => root.once('finish', resolve));
        root.end();
        await ended;
        // Only close() (called on unpipe) ends the rotating file's own stream; it emits
        // 'finish' once more when that stream has flushed.
        const files = transports.filter((t) => t instanceof DailyRotateFile && !problem);
        const closed = Promise.all(files.map((t) => new Promise((resolve) => t.once('finish', resolve))));
        root.close();
        await closed;
        pruneAtClose();
      })();
      return Promise.race([flushed, new Promise<void>((resolve) => { setTimeout(resolve, 3_000).unref(); })]).then(() => undefined);
    },
  };
}

function privately(file: string): void {
  try {
    fs.chmodSync(file, 0o600);
  } catch {
    // Not there yet or not ours: the mode it was created with stands.
  }
}
