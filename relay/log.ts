/**
 * The relay's logger: JSON lines through winston, redacted by the same rules as
 * the companion's logs (common/redact.ts), so a careless call site cannot leak a
 * token, an API key or a pairing code.
 */
import winston from 'winston';
import { redact, redactText } from '../common/redact.ts';
import { limitRepeats } from '../common/repeats.ts';
import type { Logger } from '../common/logger.ts';

function wrap(w: winston.Logger, base: Record<string, unknown>): Logger {
  // winston runs formats before it filters by level: check first, so a filtered line costs nothing (no redaction, no copy).
  const emit = (level: string) => (message: string, meta?: Record<string, unknown>) => {
    if (w.isLevelEnabled(level)) w.log(level, redactText(message), redact({ ...base, ...meta }) as Record<string, unknown>);
  };
  return {
    error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug'),
    child: (meta) => wrap(w, { ...base, ...meta }),
  };
}

/** A JSON-lines logger on stdout (or stderr, for commands whose stdout is data). */
export function createRelayLogger(opts: { level?: string; stderr?: boolean } = {}): Logger {
  const w = winston.createLogger({
    level: opts.level ?? 'info',
    // A flood of one line (refused calls, a misbehaving caller) is written a few times a minute with a count.
    format: winston.format.combine(limitRepeats(), winston.format.timestamp(), winston.format.json()),
    defaultMeta: { svc: 'evva-relay' },
    transports: [new winston.transports.Console({
      stderrLevels: opts.stderr ? ['error', 'warn', 'info', 'debug'] : ['error'],
    })],
  });
  return wrap(w, {});
}
