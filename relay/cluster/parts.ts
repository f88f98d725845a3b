/**
 * The relay cluster's parts, as the composition root (relay/server.ts) sees
 * them. `createCluster` (relay/cluster/cluster.ts) builds them over one Redis;
 * the hop (relay/cluster/hop.ts) forwards calls to the node holding a venue.
 * A single relay (no --redis) builds none of this.
 */
import type { BusMessage } from '../../protocol/cluster.ts';
import type { FollowRules } from './follow.ts';

export interface ClusterOptions {
  /** redis://host:port[/db] */
  redisUrl: string;
  /** This node's name (unique in the cluster). */
  nodeId: string;
  /** Where other nodes reach this one for the hop: http://HOST:PORT. */
  advertise: string;
  /** Signs hops (≥ MIN_CLUSTER_SECRET_CHARS). */
  secret: string;
  /** When a tunnel follows its calls to another node (default FOLLOW_RULES: protocol/cluster.ts); tests shorten them. */
  follow?: Partial<FollowRules>;
}

/** Where a venue's current tunnel is. */
export interface Owner {
  nodeId: string;
  /** The owning node's advertised address (from its live registration). */
  url: string;
  epoch: number;
}

/** Which node holds which venue's tunnel: leases in Redis, renewed by the holder, the highest epoch wins. */
export interface Owners {
  /**
   * Records that this node now holds the venue's tunnel, at a new epoch above
   * every earlier one (so a venue that reconnected elsewhere wins over a stale
   * link), and tells the other nodes (bus `owner`). Resolves null when Redis
   * is unreachable: the link still serves calls that land here, and the claim
   * is made again once Redis is back; until the link goes, `release` and
   * `onLost` speak of that claim as epoch 0.
   */
  claim(venueId: string): Promise<number | null>;
  /** Forgets the claim if it is still this node's at `epoch` (a newer one is left alone). */
  release(venueId: string, epoch: number): Promise<void>;
  /** The venue's owner if its claim and its node's registration are both live, else null. */
  lookup(venueId: string): Promise<Owner | null>;
  /** Of these venues, those with a live owner anywhere in the cluster (one round trip). */
  online(venueIds: string[]): Promise<Set<string>>;
  /** Venues this node currently holds a claim on. */
  held(): number;
}

/** Fan-out to every node, this one included; at most once, best effort (pub/sub): state itself lives in the store. */
export interface Bus {
  publish(msg: DistributiveOmit<BusMessage, 'from' | 'sig'>): Promise<void>;
  /** Calls `fn` for every valid message (malformed ones are dropped and counted). Returns the unsubscribe. */
  on(fn: (msg: BusMessage) => void): () => void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The pairing limits, shared by every node (same rules as relay/pairing.ts RateLimiter). */
export interface SharedLimiter {
  take(ip: string): Promise<{ ok: true } | { ok: false; retryAfterMs: number }>;
}

export interface Health {
  ok: boolean;
  /** Round trip of the last check, or null when it failed. */
  ms: number | null;
  error?: string;
}

export interface ClusterNode {
  readonly nodeId: string;
  readonly advertise: string;
  readonly owners: Owners;
  readonly bus: Bus;
  readonly limiter: SharedLimiter;
  /** The support console's sign-in limits, shared the same way. */
  readonly signins: SharedLimiter;
  /** Registers this node, starts renewing its leases every LEASE_RENEW_MS and subscribes to the bus. */
  start(): Promise<void>;
  /** Redis reachable now, and how fast. */
  health(): Promise<Health>;
  /**
   * Calls `fn` when a venue this node holds was taken by a newer epoch on
   * another node (or its lease was lost): the local link of that epoch is stale.
   */
  onLost(fn: (venueId: string, epoch: number) => void): void;
  /** Deregisters, releases every claim, stops timers and disconnects. */
  stop(): Promise<void>;
}
