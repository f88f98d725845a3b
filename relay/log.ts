/**
 * The relay's logger: JSON lines through winston, redacted by the same rules as
 * the companion's logs (common/redact.ts), so a careless call site cannot leak a
 * token, an API key or a pairing code.
 */
import winston from 'winston';
import { redact, redactText } from '../common/redact.ts';
import { limitRepeats } from '../common/repeats.ts';
import type { Logger } from '../common/logger.ts';

/**
 * winston's isLevelEnabled walks its transports (a stream getter and a findIndex) on every call; the answer
 * changes only with the logger's level (its transports are fixed at creation here), so it is kept per level.
 */
function levelCheck(w: winston.Logger): (level: string) => boolean {
  let at: string | undefined;
  let known = new Map<string, boolean>();
  return (level) => {
    if (w.level !== at) {
      at = w.level;
      known = new Map();
    }
    let on = known.get(level);
    if (on === undefined) {
      on = w.isLevelEnabled(level);
      known.set(level, on);
    }
    return on;
  };
}

function wrap(w: winston.Logger, base: Record<string, unknown>, enabled: (level: string) => boolean): Logger {
  // winston runs formats before it filters by level: check first, so a filtered line costs nothing (no redaction, no copy).
  const emit = (level: string) => (message: string, meta?: Record<string, unknown>) => {
    if (enabled(level)) w.log(level, redactText(message), redact({ ...base, ...meta }) as Record<string, unknown>);
  };
  return {
    error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug'),
    child: (meta) => wrap(w, { ...base, ...meta }, enabled),
    enabled,
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
  return wrap(w, {}, levelCheck(w));
}
