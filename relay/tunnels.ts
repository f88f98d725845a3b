/**
 * The live tunnel registry: at most one current link per venue. A newer link
 * makes the older one drain (go-away); a revoked token closes its links at
 * once when this relay revoked it (its API; `evva-relay venue revoke` goes
 * through it), when another cluster node did (the bus, cluster/wire.ts), and,
 * on a shared store only, within REVOCATION_POLL_MS when a message was lost or
 * another process wrote the store directly.
 */
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { FrontStatus, Status } from '../protocol/local.ts';
import { CloseCode, GOAWAY_DRAIN_MS, type HelloFrame } from '../protocol/tunnel.ts';
import { MOVE_WAIT_MS } from '../protocol/cluster.ts';
import { RelayLink, DEFAULT_LINK_TIMING, type EventFrame, type LinkEvents, type LinkSocket, type LinkTiming } from './link.ts';
import type { RelayMetrics } from './metrics.ts';
import type { RelayStore } from './db/store.ts';

/** How often a registry on a shared store (Postgres) checks whether another process or node changed a device token. */
export const REVOCATION_POLL_MS = 1_000;
/** How often lastSeenAt of online venues is written to the store (it is exact in memory). */
export const LAST_SEEN_PERSIST_MS = 30_000;
/** The plugin state a venue reports is written at most this often; in between only the latest is kept. */
export const STATUS_WRITE_MS = 1_000;
/**
 * Links the heartbeat sweep checks in one turn of the event loop; the rest
 * follow in the next turns. Why: from revision 5 the sweep writes the pings,
 * about a third of the links each second; 10 000 links' third in one turn
 * would hold every proxied call for ~50 ms, a slice of this many holds it for
 * a few (about 170 pings).
 */
export const SWEEP_SLICE_LINKS = 512;

/** Goes on with a registry's heartbeat sweep (module-level: no closure per sweep). */
function sweepOn(r: TunnelRegistry): void {
  r.sweepSlice();
}

/** What the feed does with a tunnel (wired by the server): store its events, and send what waited for it. */
export interface FeedHooks {
  onEvent(link: RelayLink, frame: EventFrame): void;
  onReady(venueId: string): void;
}

/** What the cluster does with a venue's current link (wired by the server when clustered): claim it in Redis, release it. */
export interface OwnerHooks {
  /** The link became the venue's current one on this node. */
  onCurrent(link: RelayLink): void;
  /** A link this node claimed closed (a newer claim, here or elsewhere, is left alone by the epoch). */
  onGone(link: RelayLink): void;
}

/** What the support console follows (relay/console/faces.ts): a venue's current link, what it reports, its end. */
export interface WatchHooks {
  /** The link became the venue's current one on this node (after its connection was recorded). */
  up(link: RelayLink): void;
  /** The link reported its plugin state, and (newer companions) the companion's whole status. */
  status(link: RelayLink, front: FrontStatus, status: Status | undefined): void;
  /** A link closed (it may or may not have been the current one). */
  down(link: RelayLink): void;
}

/** What the registry tells the rest of the relay; given by the composition root when it builds the registry. */
export interface RegistryHooks {
  /** Without it events are ignored (never acked), as the protocol allows. */
  feed: FeedHooks | null;
  /** A cluster node's claims (cluster/wire.ts claimLinks); null on a single relay. */
  owners: OwnerHooks | null;
  /** The support console's verdicts; null without a console. */
  watch: WatchHooks | null;
}

export interface RegistryOptions {
  timing?: LinkTiming;
  /** How long a replaced or drained link may finish its streams. */
  drainMs?: number;
  /**
   * Poll the store's token mark every REVOCATION_POLL_MS. Wanted on a shared
   * store (Postgres): a cluster's bus may lose a revocation (Redis pub/sub is
   * at most once), and a command on another machine may write the store
   * directly. Not on SQLite: its one file is this relay's, and the commands on
   * this machine go through the relay's API while it runs.
   */
  pollRevocations?: boolean;
}

export class TunnelRegistry {
  private readonly feed: FeedHooks | null;
  private readonly owners: OwnerHooks | null;
  private readonly watch: WatchHooks | null;
  private readonly timing: LinkTiming;
  private readonly drainMs: number;
  private readonly current = new Map<string, RelayLink>();
  private readonly all = new Set<RelayLink>();
  /** Venues whose link was asked to go: when (mono ms; again when it closed), for MOVE_WAIT_MS (see leaving()). */
  private readonly left = new Map<string, number>();
  private readonly frontWrites = new Map<string, { at: number; pending: FrontStatus | null; timer?: NodeJS.Timeout }>();
  /** The plugin state each link last reported in a status frame. */
  private readonly reported = new WeakMap<RelayLink, FrontStatus>();
  private readonly pollTimer: NodeJS.Timeout | undefined;
  private readonly persistTimer: NodeJS.Timeout;
  /** One timer for the heartbeats of every link (not one per link). */
  private readonly heartbeatTimer: NodeJS.Timeout;
  /** The sweep under way: the links it has still to check (null between sweeps), and its next slice. */
  private sweeping: IterableIterator<RelayLink> | null = null;
  private sweepNext: NodeJS.Immediate | undefined;
  /** The store's token mark last checked for revocations by other processes or nodes. */
  private seenVersion = -1;
  /** A check still waiting for the store is not started again (a slow store must not pile them up). */
  private checking = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: RelayStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: RelayMetrics,
    hooks: RegistryHooks,
    o: RegistryOptions = {},
  ) {
    this.feed = hooks.feed;
    this.owners = hooks.owners;
    this.watch = hooks.watch;
    const timing = this.timing = o.timing ?? DEFAULT_LINK_TIMING;
    this.drainMs = o.drainMs ?? GOAWAY_DRAIN_MS;
    this.pollTimer = o.pollRevocations ? clock.setInterval(() => void this.checkRevocations(), REVOCATION_POLL_MS) : undefined;
    this.persistTimer = clock.setInterval(() => this.persistSeen(), LAST_SEEN_PERSIST_MS);
    // Pushed: a token changed by this process (re-pairing, revocation) closes the venue's old links at once.
    this.unsubscribe = store.onTokenChange((venueId) => this.recheck(venueId));
    this.heartbeatTimer = clock.setInterval(() => {
      // A sweep still going (a relay too busy to finish one within checkMs) starts over: every link is checked from now.
      this.sweeping = this.all.values();
      this.sweepSlice();
    }, timing.checkMs);
    this.pollTimer?.unref?.();
    this.persistTimer.unref?.();
    this.heartbeatTimer.unref?.();
  }

  /** Takes an authenticated, upgraded socket; it becomes the venue's current link once its hello is valid. */
  attach(ws: LinkSocket, venueId: string, tokenHash: string, peer: string | null = null, hint: string | null = null): RelayLink {
    const link = new RelayLink(ws, venueId, tokenHash, this.clock, this.log, this.linkEvents, this.timing);
    link.peer = peer;
    link.hinted = hint === venueId;
    this.all.add(link);
    return link;
  }

  /** What every link tells the registry: one object for all of them, not closures per link (10 000 idle links add up). */
  private readonly linkEvents: LinkEvents = {
    onReady: (l, hello) => {
      const old = this.current.get(l.venueId);
      this.current.set(l.venueId, l);
      this.metrics.tunnelsOpened.inc();
      this.log.info('tunnel up', { venueId: l.venueId, linkId: l.id, companion: hello.companion, frontOrigin: hello.frontOrigin, replaces: old?.id });
      void this.settle(l, hello, old);
    },
    onEvent: (l, f) => this.feed?.onEvent(l, f),
    onStatus: (l, front, _origin, status) => {
      this.reported.set(l, front);
      this.recordFront(l, front);
      this.watch?.status(l, front, status);
    },
    onClose: (l, code, reason) => {
      const venueId = l.venueId;
      this.all.delete(l);
      if (l.draining) this.noteLeft(venueId);
      if (this.current.get(venueId) === l) this.current.delete(venueId);
      // A claimed link is released when it closes, not when it is asked to go: until its companion's new link is
      // claimed elsewhere, calls that reach other nodes still find their way here, and wait for the move.
      if (l.epoch !== null) this.owners?.onGone(l);
      this.watch?.down(l);
      this.log.info('tunnel closed', { venueId, linkId: l.id, code, reason });
      this.store.markSeen(venueId, l.lastSeenAt).catch(() => { /* store closed during shutdown */ });
    },
  };

  /**
   * A new current link's bookkeeping, in order: its token may retire the old
   * one, the connection is recorded, older links are told to go, and only then
   * does the feed send what waited for the venue.
   */
  private async settle(l: RelayLink, hello: HelloFrame, old: RelayLink | undefined): Promise<void> {
    const venueId = l.venueId;
    let retired = false;
    try {
      // A re-paired companion's new token has proven itself: only now does the old one stop working.
      retired = await this.store.promoteToken(venueId, l.tokenHash);
      if (retired) l.log.info('new device token in use, the previous one is retired', { linkId: l.id });
      // A status frame may have arrived while this waited for the store: the newest plugin state is recorded, not the hello's.
      await this.store.markConnected(venueId, hello.companion, this.reported.get(l) ?? hello.front ?? null, l.connectedAt);
    } catch (e) {
      l.log.error('could not record the connection', { err: String(e) });
    }
    if (retired) {
      // Links on the retired token are told so (revoked), not asked to come back (they would be refused).
      for (const o of [...this.all]) if (o.venueId === venueId && o.tokenHash !== l.tokenHash) o.close(CloseCode.revoked, 'device token replaced by a new pairing');
    } else if (old && old !== l) {
      this.away(old, 'replaced', this.drainMs);
    }
    if (l.closed || this.current.get(venueId) !== l) return;
    this.owners?.onCurrent(l);
    this.watch?.up(l);
    this.feed?.onReady(venueId);
  }

  /**
   * Another node took the venue at a newer epoch than this node's link holds:
   * the link here is stale and goes, as an older link on this node would.
   */
  lostElsewhere(venueId: string, epoch: number): void {
    const l = this.current.get(venueId);
    if (!l || l.epoch === null || l.epoch > epoch) return;
    this.current.delete(venueId);
    this.log.info('the venue connected through another relay node; this link is stale', { venueId, linkId: l.id, epoch });
    this.away(l, 'replaced', this.drainMs);
  }

  /**
   * Stores a venue's plugin state, coalesced: at most one SQLite write per
   * STATUS_WRITE_MS per venue, the latest state always written in the end.
   */
  private recordFront(l: RelayLink, front: FrontStatus): void {
    const venueId = l.venueId;
    const w = this.frontWrites.get(venueId) ?? { at: -Infinity, pending: null };
    this.frontWrites.set(venueId, w);
    const write = (f: FrontStatus) => {
      w.at = this.clock.mono();
      this.store.setFront(venueId, f).catch((e: unknown) => l.log.error('could not record the plugin state', { err: String(e) }));
    };
    const wait = w.at + STATUS_WRITE_MS - this.clock.mono();
    if (wait <= 0 && !w.timer) return write(front);
    w.pending = front;
    w.timer ??= this.clock.setTimeout(() => {
      w.timer = undefined;
      const f = w.pending;
      w.pending = null;
      if (f) write(f);
    }, Math.max(0, wait));
  }

  /** The venue's link that takes new streams, or null when the venue is offline. */
  get(venueId: string): RelayLink | null {
    const l = this.current.get(venueId);
    return l && !l.draining && !l.closed ? l : null;
  }

  /** Any live link of the venue (current first), for status views. */
  live(venueId: string): RelayLink | null {
    return this.current.get(venueId) ?? null;
  }

  /**
   * True for MOVE_WAIT_MS after a link of the venue here was asked to go
   * (go-away: drain, shutdown, moved to another node) and after it closed:
   * its companion is connecting anew, so the venue is moving, not offline.
   */
  leaving(venueId: string): boolean {
    // Asked to go, or closed after that, this recently: its companion's new link may not be claimed yet (an idle
    // old link closes at once). O(1): a node answers calls for offline venues through here too.
    const at = this.left.get(venueId);
    if (at === undefined) return false;
    if (this.clock.mono() - at < MOVE_WAIT_MS) return true;
    this.left.delete(venueId);
    return false;
  }

  /** Every go-away the registry sends goes through here, so leaving() knows the venue is moving. */
  private away(l: RelayLink, reason: 'drain' | 'replaced' | 'shutdown', drainMs: number): void {
    l.goaway(reason, drainMs);
    this.noteLeft(l.venueId);
  }

  private noteLeft(venueId: string): void {
    const now = this.clock.mono();
    this.left.delete(venueId);
    this.left.set(venueId, now);
    // Oldest first (re-inserted above): drop what ran out, so venues that never come up again cost nothing.
    for (const [v, at] of this.left) {
      if (now - at < MOVE_WAIT_MS) break;
      this.left.delete(v);
    }
  }

  /** How many links are open (including draining ones). */
  count(): number {
    return this.all.size;
  }

  /** Asks the venue's current link to drain; the companion reconnects first. Returns false when offline. */
  goaway(venueId: string, reason: 'drain' | 'shutdown' = 'drain'): boolean {
    const l = this.current.get(venueId);
    if (!l) return false;
    this.current.delete(venueId);
    this.away(l, reason, this.drainMs);
    return true;
  }

  /**
   * Node shutdown: every ready link gets go-away ('shutdown') and drains within
   * `drainMs` (the companion connects anew first); links still saying hello are
   * closed, their companions simply reconnect. Cluster claims are not released
   * here: the node the companion moves to claims the venue at a newer epoch,
   * and ClusterNode.stop() releases what is left when the node closes.
   */
  goawayAll(drainMs: number): void {
    const ready = new Set(this.current.values());
    this.current.clear();
    const ms = Math.max(0, Math.min(Math.floor(drainMs), this.drainMs));
    for (const l of [...this.all]) {
      if (ready.has(l)) this.away(l, 'shutdown', ms);
      else if (!l.draining) l.close(CloseCode.goingAway, 'relay shutting down');
    }
  }

  /** Every venue with a current link here. */
  venues(): string[] {
    return [...this.current.keys()];
  }

  /** @internal checks the next SWEEP_SLICE_LINKS links of the sweep, and schedules the rest for the next turn. */
  sweepSlice(): void {
    this.sweepNext = undefined;
    const it = this.sweeping;
    if (!it) return;
    for (let i = 0; i < SWEEP_SLICE_LINKS; i++) {
      const r = it.next();
      if (r.done) {
        this.sweeping = null;
        return;
      }
      r.value.tick();
    }
    this.sweepNext ??= setImmediate(sweepOn, this);
  }

  /** Closes every link of the venue at once with `revoked`. */
  revoke(venueId: string): void {
    for (const l of [...this.all]) if (l.venueId === venueId) l.close(CloseCode.revoked, 'device token revoked');
  }

  /** Closes every link (server shutdown). */
  closeAll(): void {
    this.clock.clearInterval(this.pollTimer);
    this.clock.clearInterval(this.persistTimer);
    this.clock.clearInterval(this.heartbeatTimer);
    clearImmediate(this.sweepNext);
    this.sweeping = null;
    this.unsubscribe();
    for (const [venueId, w] of this.frontWrites) {
      this.clock.clearTimeout(w.timer);
      if (w.pending) {
        this.store.setFront(venueId, w.pending).catch(() => { /* store closing */ });
      }
    }
    this.frontWrites.clear();
    for (const l of [...this.all]) l.close(CloseCode.goingAway, 'relay shutting down');
  }

  /** Closes the venue's links whose token is no longer the venue's. */
  async recheck(venueId: string): Promise<void> {
    let hashes: string[];
    try {
      hashes = await this.store.tokenHashesOf(venueId);
    } catch (e) {
      this.log.error('revocation check failed', { err: String(e) });
      return;
    }
    for (const l of [...this.all]) {
      if (l.venueId === venueId && !hashes.includes(l.tokenHash)) {
        this.log.info('device token no longer valid, closing tunnel', { venueId, linkId: l.id });
        l.close(CloseCode.revoked, 'device token revoked');
      }
    }
  }

  /**
   * Revocations made in this process arrive through the store's token-change
   * events at once, and those of another cluster node over the bus. On a
   * shared store, what those miss is noticed through the store's token mark:
   * one row read per second, and the token hashes are re-read (in one query)
   * only after a token actually changed.
   */
  private async checkRevocations(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    let hashes: Map<string, string[]>;
    try {
      const v = await this.store.tokenMark();
      if (v === this.seenVersion) return;
      hashes = await this.store.tokenHashes();
      this.seenVersion = v;
    } catch (e) {
      this.log.error('revocation check failed', { err: String(e) });
      return;
    } finally {
      this.checking = false;
    }
    for (const l of [...this.all]) {
      if (!(hashes.get(l.venueId) ?? []).includes(l.tokenHash)) {
        this.log.info('device token no longer valid, closing tunnel', { venueId: l.venueId, linkId: l.id });
        l.close(CloseCode.revoked, 'device token revoked');
      }
    }
  }

  private persistSeen(): void {
    const seen: Array<[string, number]> = [];
    for (const l of this.current.values()) seen.push([l.venueId, l.lastSeenAt]);
    this.store.markSeenMany(seen).catch((e: unknown) => this.log.warn('could not record last-seen times; next round', { err: String(e) }));
  }
}
