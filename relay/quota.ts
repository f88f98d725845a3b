/**
 * Per-venue limits on what a companion may have the relay store: events a
 * second, bytes a second, and bytes a day, each a token bucket that refills
 * continuously and may go into debt by one event. A venue over a limit is not
 * refused: its events wait on the link, unacknowledged, until the bucket
 * allows them (the companion keeps them in its outbox and sends nothing more
 * than its window), so nothing is lost and a hostile or broken companion
 * cannot fill the relay's disk. The numbers, and what a busy real venue sends
 * against them, are in docs/relay.md ("Limits per venue").
 *
 * The buckets live in the memory of the node holding the venue's tunnel (a
 * venue's events arrive through that one tunnel); a restart or a move to
 * another node starts a venue with full buckets, which the daily bucket's
 * size bounds.
 */
import type { Clock } from '../common/clock.ts';

export interface FeedLimits {
  /** Sustained events per second, and how many may come at once (a backlog after an outage). */
  eventsPerSecond: number;
  eventBurst: number;
  /** Sustained bytes per second (events as stored, JSON), and the burst. */
  bytesPerSecond: number;
  byteBurst: number;
  /** Bytes in any 24 hours, at most (a bucket of this size refilling over a day). */
  bytesPerDay: number;
}

/**
 * Measured (`npm run bench -- venue`, docs/relay.md "Limits per venue"): the
 * simulator's restaurant sends about 500 events and 0.9 MB an hour, a busy
 * venue perhaps five times that (about 1 event and 1.5 KB a second, 70 MB a
 * day), and a load far past any restaurant (200 open orders, 10 changes a
 * second) about 9 events and 10 KiB a second, 36 MB an hour. The limits sit
 * well above the last: a real venue never meets them, and a busy venue's day
 * offline (about 40 000 events) still goes through in minutes.
 */
export const FEED_LIMITS: FeedLimits = {
  eventsPerSecond: 50,
  eventBurst: 20_000,
  bytesPerSecond: 512 * 1024,
  byteBurst: 128 * 1024 * 1024,
  bytesPerDay: 1024 * 1024 * 1024,
};

interface Buckets { events: number; bytes: number; day: number; at: number }

/** A venue's buckets are looked at for forgetting when unused this long (and forgotten only once full again). */
const FORGET_AFTER_MS = 10 * 60_000;

export class Quota {
  private readonly venues = new Map<string, Buckets>();
  private lastSweep = 0;

  constructor(private readonly clock: Clock, readonly limits: FeedLimits = FEED_LIMITS) {}

  /**
   * How long the venue must wait before it may store `events` events of
   * `bytes` bytes: 0 means now, and the batch is charged; otherwise nothing is
   * charged and the caller asks again after that many ms.
   */
  take(venueId: string, events: number, bytes: number): number {
    const now = this.clock.mono();
    this.sweep(now);
    const b = this.refilled(venueId, now);
    const l = this.limits;
    // Debt of one take is allowed (the intake takes one event at a time): a bucket must only be above zero.
    const wait = Math.max(
      b.events > 0 ? 0 : ((1 - b.events) / l.eventsPerSecond) * 1000,
      b.bytes > 0 ? 0 : ((1 - b.bytes) / l.bytesPerSecond) * 1000,
      b.day > 0 ? 0 : ((1 - b.day) / (l.bytesPerDay / 86_400)) * 1000,
    );
    if (wait > 0) return Math.ceil(wait);
    b.events -= events;
    b.bytes -= bytes;
    b.day -= bytes;
    return 0;
  }

  /** Venues with buckets in memory (for tests and metrics). */
  size(): number {
    return this.venues.size;
  }

  private refilled(venueId: string, now: number): Buckets {
    const l = this.limits;
    let b = this.venues.get(venueId);
    if (!b) {
      b = { events: l.eventBurst, bytes: l.byteBurst, day: l.bytesPerDay, at: now };
      this.venues.set(venueId, b);
      return b;
    }
    const s = Math.max(0, now - b.at) / 1000;
    b.events = Math.min(l.eventBurst, b.events + s * l.eventsPerSecond);
    b.bytes = Math.min(l.byteBurst, b.bytes + s * l.bytesPerSecond);
    b.day = Math.min(l.bytesPerDay, b.day + s * (l.bytesPerDay / 86_400));
    b.at = now;
    return b;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < FORGET_AFTER_MS) return;
    this.lastSweep = now;
    const l = this.limits;
    for (const [id, b] of this.venues) {
      if (now - b.at < FORGET_AFTER_MS) continue;
      // Only a venue back to full buckets is forgotten: pausing must not reset a day's allowance.
      const r = this.refilled(id, now);
      if (r.events >= l.eventBurst && r.bytes >= l.byteBurst && r.day >= l.bytesPerDay) this.venues.delete(id);
    }
  }
}
