/**
 * Reconnect delays: full-jitter exponential backoff (each delay uniform in
 * [0, min(cap, base·2^attempt)]), so a thousand companions that lost the relay
 * at the same moment come back spread out instead of as a storm.
 */

/** Ceiling of the first retry's delay. */
export const BACKOFF_BASE_MS = 500;
/**
 * Largest ceiling: a companion retries at least this often while the relay is
 * away, so it is back within 10 s (5 s on average) of the relay's return. For a
 * fleet of N companions that is about N / 5 attempts a second during an outage,
 * spread evenly by the jitter: cheap refusals while the relay is down.
 */
export const BACKOFF_CAP_MS = 10_000;
/**
 * Ceiling while the relay refuses connections outright (ECONNREFUSED: nothing
 * listens, it is restarting). A refused connect costs both sides a SYN and a
 * RST, so retrying this often is cheap even for a large fleet, and a restarted
 * relay gets its companions back within about this long of listening again
 * (with the 10 s ceiling, 95% of 2000 were back only after ~17 s).
 */
export const REFUSED_CAP_MS = 2_000;
/** A link that stayed up this long resets the backoff to the start. */
export const STABLE_AFTER_MS = 30_000;
/** Retry delay after the relay refused the device token: slow, the token will not get better by itself. */
export const TOKEN_REFUSED_RETRY_MS = 5 * 60_000;
/** Retry delay after another companion took over the venue with the same token. */
export const REPLACED_RETRY_MS = 60_000;

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly random: () => number = Math.random,
    private readonly baseMs = BACKOFF_BASE_MS,
    private readonly capMs = BACKOFF_CAP_MS,
  ) {}

  /**
   * The next delay; never negative, never above the current ceiling (which
   * never exceeds capMs, nor REFUSED_CAP_MS when the last attempt was refused).
   */
  next(refused = false): number {
    const ceiling = refused ? Math.min(this.ceiling(), REFUSED_CAP_MS) : this.ceiling();
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.floor(this.random() * ceiling);
  }

  /** The ceiling the next delay is drawn under. */
  ceiling(): number {
    return Math.min(this.capMs, this.baseMs * 2 ** this.attempt);
  }

  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
