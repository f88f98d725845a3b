/**
 * Retention: events are not kept for ever. Every hour (and soon after start)
 * the relay deletes, in chunks, the events stored longer ago than the
 * retention that no receiver still needs: for a venue with a webhook receiver
 * those it has accepted (a receiver that is down keeps its backlog), for a
 * venue EVVA pulls every one older than that (it had the whole retention to
 * pull them), and refusals older than that. Every node of a cluster may run
 * it: deleting what is gone already deletes nothing.
 */
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { FeedStore } from './db/feed.ts';

/** Default retention of stored events (`--retention-days`). */
export const DEFAULT_RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;
/** Rows per delete: short transactions, so event intake is never held up behind a long one. */
const CHUNK = 5_000;
/** Chunks per round at most; the next round (an hour later) continues. */
const MAX_CHUNKS = 200;
const EVERY_MS = 60 * 60_000;
const FIRST_AFTER_MS = 60_000;

export interface RetentionOptions {
  days: number;
  /** True when a relay-wide receiver exists (every venue then has one). */
  everyVenue: boolean;
  /** Tests shorten them. */
  everyMs?: number;
  firstAfterMs?: number;
}

export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | null = null;

  constructor(private readonly feed: FeedStore, private readonly clock: Clock, private readonly log: Logger, private readonly o: RetentionOptions) {}

  start(): void {
    const first = this.clock.setTimeout(() => {
      void this.run();
      this.timer = this.clock.setInterval(() => void this.run(), this.o.everyMs ?? EVERY_MS);
      this.timer.unref?.();
    }, this.o.firstAfterMs ?? FIRST_AFTER_MS);
    first.unref?.();
    this.timer = first;
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.clock.clearInterval(this.timer);
  }

  /** One round now (also what the timer runs); resolves with how many rows went. Never rejects. */
  run(): Promise<number> {
    this.running ??= this.round().finally(() => { this.running = null; });
    return this.running;
  }

  private async round(): Promise<number> {
    const cutoff = this.clock.now() - this.o.days * DAY_MS;
    let total = 0;
    try {
      for (let i = 0; i < MAX_CHUNKS; i++) {
        const n = await this.feed.prune(cutoff, this.o.everyVenue, CHUNK);
        total += n;
        if (n < CHUNK) break;
      }
      if (total > 0) this.log.info('retention: deleted old events', { deleted: total, olderThanDays: this.o.days });
    } catch (e) {
      this.log.warn('retention round failed; the next one retries', { err: String(e) });
    }
    return total;
  }
}
