/**
 * The logging contract every core part receives from the composition root.
 * `meta` is structured; secrets in it are redacted by the sink (see log.ts).
 */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): Logger;
  /**
   * Whether a line at `level` would be written: a hot path asks before it builds a line's meta for a level
   * that is usually filtered. Optional: a logger without it is taken to write every level.
   */
  enabled?(level: 'error' | 'warn' | 'info' | 'debug'): boolean;
}

/** A logger that drops everything: for tests that do not look at logs. */
export const silentLogger: Logger = {
  error() {}, warn() {}, info() {}, debug() {},
  child() { return silentLogger; },
  enabled() { return false; },
};
