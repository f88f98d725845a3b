/**
 * Log flood control shared by the companion's and the relay's loggers: a line
 * repeated in a flood is written a few times a minute with a count.
 */
import winston from 'winston';

/** The same line (level, part, message) is written at most this many times per window... */
export const LOG_REPEAT_BURST = 10;
/** ...and the rest are counted and reported on the first line of the next window. */
export const LOG_REPEAT_WINDOW_MS = 60_000;

/**
 * A winston format that lets each distinct line (level, part, message) through
 * LOG_REPEAT_BURST times per window and drops the rest; the first line let
 * through after a drop carries `repeated: <how many were dropped>`.
 */
export function limitRepeats(opts: { now?: () => number; burst?: number; windowMs?: number } = {}): winston.Logform.Format {
  const now = opts.now ?? Date.now;
  const burst = opts.burst ?? LOG_REPEAT_BURST;
  const windowMs = opts.windowMs ?? LOG_REPEAT_WINDOW_MS;
  const seen = new Map<string, Seen>();
  return winston.format((info) => {
    const key = `${info.level}|${String((info as Record<string, unknown>).part ?? '')}|${String(info.message)}`;
    const t = now();
    let s = seen.get(key);
    if (!s || t - s.start >= windowMs) {
      const dropped = s?.dropped ?? 0;
      if (seen.size >= 1_000) seen.clear(); // bounded memory under a flood of distinct lines
      s = { start: t, count: 0, dropped: 0 };
      seen.set(key, s);
      if (dropped > 0) (info as Record<string, unknown>).repeated = dropped;
    }
    s.count += 1;
    if (s.count > burst) {
      s.dropped += 1;
      return false;
    }
    return info;
  })();
}
interface Seen { start: number; count: number; dropped: number }
