/**
 * The companion's log sink: winston to the console and to daily-rotated files
 * in `<data-dir>/logs/`. Secrets (plugin keys, tokens, passwords) are redacted
 * before any transport sees a line.
 */
import path from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { Logger } from './logger.ts';

/** Keep two weeks of logs, at most 20 MB a file: enough for support, small on a POS disk. */
export const LOG_KEEP = '14d';
export const LOG_MAX_SIZE = '20m';

const SECRET_KEY = /(token|secret|passw|authorization|cookie|api_?key|pairing_?code|^key$|^pin(code)?$)/i;
const MASK = '[скрыто]';
/** How deep `redact` looks into objects; anything deeper is replaced, never logged unread. */
export const REDACT_MAX_DEPTH = 6;
const TOO_DEEP = '[слишком глубоко]';

/** Replaces secrets inside free text: `key=…` query params, bearer tokens, logout paths, device tokens. */
export function redactText(s: string): string {
  return s
    .replace(/([?&;\s]key=)[^&\s;"']+/gi, `$1${MASK}`)
    .replace(/(bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${MASK}`)
    .replace(/(\/api\/logout\/)[^/?\s"']+/gi, `$1${MASK}`)
    .replace(/\bev[dk]_[A-Za-z0-9_-]{8,}/g, MASK);
}

/** Deep-copies `value` with secret-looking fields masked and secrets in strings removed. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > REDACT_MAX_DEPTH) return TOO_DEEP;
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && typeof v !== 'boolean' && typeof v !== 'number' ? MASK : redact(v, depth + 1);
  }
  return out;
}

const redactFormat = winston.format((info) => {
  const clean = redact({ ...info }) as winston.Logform.TransformableInfo;
  // winston keeps its level/message symbols on the original object; copy fields back onto it.
  for (const k of Object.keys(clean)) (info as Record<string, unknown>)[k] = clean[k];
  return info;
});

export interface LogOptions {
  /** Where `logs/` goes; no file logging when null (tests). */
  dataDir: string | null;
  level: 'error' | 'warn' | 'info' | 'debug';
  console: boolean;
}

/** Builds the process's logger; `close()` flushes the files. */
export function createLog(opts: LogOptions): Logger & { close(): Promise<void> } {
  const transports: winston.transport[] = [];
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
  if (opts.dataDir) {
    transports.push(new DailyRotateFile({
      dirname: path.join(opts.dataDir, 'logs'),
      filename: 'companion-%DATE%.log',
      datePattern: 'YYYY-MM-DD',
      maxFiles: LOG_KEEP,
      maxSize: LOG_MAX_SIZE,
      format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    }));
  }
  if (transports.length === 0) transports.push(new winston.transports.Console({ silent: true }));
  const root = winston.createLogger({ level: opts.level, format: redactFormat(), transports });
  const wrap = (w: winston.Logger): Logger => ({
    error: (m, meta) => { w.error(m, meta); },
    warn: (m, meta) => { w.warn(m, meta); },
    info: (m, meta) => { w.info(m, meta); },
    debug: (m, meta) => { w.debug(m, meta); },
    child: (meta) => wrap(w.child(meta)),
  });
  return {
    ...wrap(root),
    // Resolves once the file is flushed to disk, bounded so a stuck disk cannot hold up exit.
    close() {
      const flushed = (async () => {
        const ended = new Promise((resolve) => root.once('finish', resolve));
        root.end();
        await ended;
        // Only close() (called on unpipe) ends the rotating file's own stream; it emits
        // 'finish' once more when that stream has flushed.
        const files = transports.filter((t) => t instanceof DailyRotateFile);
        const closed = Promise.all(files.map((t) => new Promise((resolve) => t.once('finish', resolve))));
        root.close();
        await closed;
      })();
      return Promise.race([flushed, new Promise<void>((resolve) => { setTimeout(resolve, 3_000).unref(); })]).then(() => undefined);
    },
  };
}
