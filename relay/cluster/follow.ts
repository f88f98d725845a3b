/**
 * The tunnel follows its calls. A balancer that hashes on the venue
 * (deploy/haproxy.cfg) sends a venue's tunnel and its calls to the same
 * node, so calls do not hop. After a node comes back (or the set of nodes
 * changes) a venue's calls land on one node while its tunnel stays on
 * another, and every call hops. The owner sees this: the venue's calls reach
 * it over the hop from one and the same other node. It then asks the
 * companion to reconnect (go-away 'drain', make-before-break), and the
 * balancer puts the new tunnel where the calls land. The rules and their
 * bounds are in protocol/cluster.ts (FOLLOW_*): enough calls, nearly all from
 * that node, a link that is not brand new and carried the venue hint, once
 * per venue per cooldown, a few venues a second per node. Under round robin
 * calls come from every node, so nothing moves.
 */
import type { Counter } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import {
  FOLLOW_COOLDOWN_MS, FOLLOW_MIN_AGE_MS, FOLLOW_MIN_CALLS, FOLLOW_PER_SECOND, FOLLOW_SAMPLE, FOLLOW_SHARE, FOLLOW_WINDOW_MS,
} from '../../protocol/cluster.ts';
import type { RelayLink } from '../link.ts';

export interface FollowRules {
  /** The last this many calls of a venue are looked at... */
  sample: number;
  /** ...those within this window count. */
  windowMs: number;
  minCalls: number;
  share: number;
  minAgeMs: number;
  cooldownMs: number;
  perSecond: number;
}

export const FOLLOW_RULES: FollowRules = {
  sample: FOLLOW_SAMPLE, windowMs: FOLLOW_WINDOW_MS, minCalls: FOLLOW_MIN_CALLS, share: FOLLOW_SHARE,
  minAgeMs: FOLLOW_MIN_AGE_MS, cooldownMs: FOLLOW_COOLDOWN_MS, perSecond: FOLLOW_PER_SECOND,
};

export interface FollowDeps {
  tunnels: {
    /** The venue's link that takes new streams here, or null. */
    get(venueId: string): RelayLink | null;
    /** Asks the venue's link to go (its companion reconnects first). */
    goaway(venueId: string, reason: 'drain'): boolean;
  };
  clock: Clock;
  log: Logger;
  /** Venues moved, by the node their calls came from. */
  moved?: Counter<'to'>;
  rules?: Partial<FollowRules>;
}

/** A venue's last calls, oldest first: the node each was forwarded from (null: it came here directly) and when. */
interface Recent {
  via: Array<string | null>;
  at: number[];
}

export class Follow {
  private readonly rules: FollowRules;
  private readonly recent = new Map<string, Recent>();
  private readonly cooldown = new Map<string, number>();
  private bucket: { at: number; left: number };
  private sweptAt: number;

  constructor(private readonly d: FollowDeps) {
    this.rules = { ...FOLLOW_RULES, ...d.rules };
    const now = d.clock.mono();
    this.bucket = { at: now, left: this.rules.perSecond };
    this.sweptAt = now;
  }

  /**
   * A tunnel call for `venueId` served by this node's link: `via` is the node
   * that forwarded it over the hop, or null when it came here directly.
   */
  note(venueId: string, via: string | null): void {
    const r = this.rules;
    const now = this.d.clock.mono();
    this.sweep(now);
    let w = this.recent.get(venueId);
    if (!w) {
      w = { via: [], at: [] };
      this.recent.set(venueId, w);
    }
    w.via.push(via);
    w.at.push(now);
    if (w.via.length > r.sample) {
      w.via.shift();
      w.at.shift();
    }
    if (via === null) return;
    let total = 0;
    let n = 0;
    for (let i = 0; i < w.at.length; i++) {
      if (now - (w.at[i] as number) > r.windowMs) continue;
      total++;
      if (w.via[i] === via) n++;
    }
    if (total < r.minCalls || n < r.share * total) return;
    const until = this.cooldown.get(venueId);
    if (until !== undefined && now < until) return;
    const link = this.d.tunnels.get(venueId);
    if (!link || !link.hinted || this.d.clock.now() - link.connectedAt < r.minAgeMs) return;
    if (!this.take(now)) return;
    this.recent.delete(venueId);
    this.cooldown.set(venueId, now + r.cooldownMs);
    if (!this.d.tunnels.goaway(venueId, 'drain')) return;
    this.d.moved?.inc({ to: via });
    this.d.log.info('moving the tunnel to the node its calls reach', { venueId, to: via, calls: total, fromThere: n });
  }

  /** Venues being watched and venues in their cooldown (for tests and metrics). */
  size(): { watched: number; cooling: number } {
    return { watched: this.recent.size, cooling: this.cooldown.size };
  }

  /** One move from the per-second budget, or false when it is spent. */
  private take(now: number): boolean {
    const r = this.rules;
    this.bucket.left = Math.min(r.perSecond, this.bucket.left + ((now - this.bucket.at) / 1000) * r.perSecond);
    this.bucket.at = now;
    if (this.bucket.left < 1) return false;
    this.bucket.left--;
    return true;
  }

  /** Forgets calls and cooldowns that ran out (at most once a window), so venues that went quiet cost nothing. */
  private sweep(now: number): void {
    if (now - this.sweptAt < this.rules.windowMs) return;
    this.sweptAt = now;
    for (const [v, w] of this.recent) if (now - (w.at.at(-1) as number) > this.rules.windowMs) this.recent.delete(v);
    for (const [v, until] of this.cooldown) if (now >= until) this.cooldown.delete(v);
  }
}
