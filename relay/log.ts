/**
 * The relay's logger: JSON lines through winston. Any meta field whose name
 * suggests a secret is redacted before it is written, so a careless call site
 * cannot leak a token or an API key.
 */
import winston from 'winston';
import type { Logger } from '../main/core/logger.ts';

const SECRET_KEY = /token|key|secret|password|authorization|cookie|pairingcode/i;

/** Replaces the values of secret-looking fields (at any depth) with `[redacted]`. */
export function redact(meta: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (SECRET_KEY.test(k)) out[k] = '[redacted]';
    else if (v && typeof v === 'object' && !Array.isArray(v) && depth < 4) out[k] = redact(v as Record<string, unknown>, depth + 1);
    else out[k] = v;
  }
  return out;
}

function wrap(w: winston.Logger, base: Record<string, unknown>): Logger {
  const emit = (level: string) => (message: string, meta?: Record<string, unknown>) => w.log(level, message, redact({ ...base, ...meta }));
  return {
    error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug'),
    child: (meta) => wrap(w, { ...base, ...meta }),
  };
}

/** A JSON-lines logger on stdout (or stderr, for commands whose stdout is data). */
export function createRelayLogger(opts: { level?: string; stderr?: boolean } = {}): Logger {
  const w = winston.createLogger({
    level: opts.level ?? 'info',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { svc: 'evva-relay' },
    transports: [new winston.transports.Console({
      stderrLevels: opts.stderr ? ['error', 'warn', 'info', 'debug'] : ['error'],
    })],
  });
  return wrap(w, {});
}
