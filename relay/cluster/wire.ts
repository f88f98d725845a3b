/**
 * How a relay node takes part in the cluster: its links are claimed in Redis
 * as they come and released as they go (claimLinks: the registry's owner
 * hooks, given to it when it is built), a venue taken by another node closes
 * the stale link here, and what the bus says (tokens changed, settings
 * changed, a payment queued) reaches the part that acts on it (wireCluster).
 */
import type { Logger } from '../../common/logger.ts';
import { MOVE_WAIT_MS, type BusMessage } from '../../protocol/cluster.ts';
import type { Payments } from '../payments.ts';
import type { RelayStore } from '../db/store.ts';
import type { OwnerHooks, TunnelRegistry } from '../tunnels.ts';
import type { Webhooks } from '../webhooks.ts';
import type { ClusterNode } from './parts.ts';

export interface WireDeps {
  tunnels: TunnelRegistry;
  webhooks: Webhooks;
  payments: Payments;
  store: RelayStore;
  log: Logger;
}

/** The cluster's claims on this node's links: the registry's owner hooks (given to it when built), and what is still moving. */
export interface Claims {
  readonly hooks: OwnerHooks;
  /**
   * Venues whose link here was asked to go and has closed, while no other node
   * has claimed them yet: their claim stays here (see onGone), so a draining
   * node keeps serving hops until this is 0.
   */
  moving(): number;
  /** The venue was claimed elsewhere at `epoch`: a delayed release of that epoch has nothing left to release. */
  settled(venueId: string, epoch: number): void;
  /** Stops claiming (the node closes): the hooks do nothing from now on. */
  stop(): void;
}

/** Claims the venue in Redis when a link becomes current here, and releases it when the link goes. Never throws on a Redis failure. */
export function claimLinks(c: ClusterNode, log: Logger): Claims {
  /** Delayed releases (onGone), by venue: the epoch this node's link knew and the timer. */
  const moving = new Map<string, { epoch: number; timer: NodeJS.Timeout }>();
  let stopped = false;
  const settled = (venueId: string, epoch: number) => {
    const m = moving.get(venueId);
    if (!m || m.epoch !== epoch) return;
    clearTimeout(m.timer);
    moving.delete(venueId);
  };
  const hooks: OwnerHooks = {
    onCurrent(link) {
      if (stopped) return;
      void c.owners.claim(link.venueId).then((claimed) => {
        // Redis away: the cluster claims it again once Redis is back, and speaks of this link as epoch 0
        // (release and onLost), so it is still released when it goes and closed when the venue moves.
        const epoch = claimed ?? 0;
        if (link.closed) return void c.owners.release(link.venueId, epoch);
        link.epoch = epoch;
      }, (e: unknown) => log.warn('could not claim the venue in Redis; calls through other nodes will not find it until the next renewal', { venueId: link.venueId, err: String(e) }));
    },
    onGone(link) {
      const epoch = link.epoch;
      if (epoch === null || stopped) return;
      const release = () => {
        settled(link.venueId, epoch);
        void c.owners.release(link.venueId, epoch).catch(() => { /* the lease runs out on its own */ });
      };
      if (!link.draining) return release();
      // A link that was asked to go (moved, drained) closes as soon as it is idle, before its companion's new link
      // is claimed elsewhere. Its claim stays a little longer, so calls that reach other nodes meanwhile still come
      // here and wait for the new owner (route.ts) instead of finding the venue unowned, i.e. offline. A newer claim
      // wins anyway; the release only removes this link's own epoch.
      // An older link's release still pending here has nothing left to do: this newer claim replaced it.
      clearTimeout(moving.get(link.venueId)?.timer);
      moving.set(link.venueId, { epoch, timer: setTimeout(release, MOVE_WAIT_MS).unref() });
    },
  };
  return {
    hooks,
    moving: () => moving.size,
    settled,
    stop() {
      stopped = true;
      for (const m of moving.values()) clearTimeout(m.timer);
      moving.clear();
    },
  };
}

/** Connects the node's parts to the cluster: a venue taken elsewhere, and the bus. Returns the disconnect. */
export function wireCluster(c: ClusterNode, claims: Claims, d: WireDeps): () => void {
  c.onLost((venueId, epoch) => {
    claims.settled(venueId, epoch);
    d.tunnels.lostElsewhere(venueId, epoch);
  });
  // Token changes made here (revocation, pairing) reach every node; each re-reads the venue's tokens from the store.
  // A message Redis loses (it is away, or a node is between reconnects) is caught by each node's poll of the
  // store's token mark (tunnels.ts): pub/sub delivers at most once.
  const unTokens = d.store.onTokenChange((venueId) => void c.bus.publish({ t: 'tokens', venueId }).catch(() => { /* the poll catches up */ }));
  const unBus = c.bus.on((m: BusMessage) => {
    switch (m.t) {
      case 'tokens':
        void d.tunnels.recheck(m.venueId);
        return;
      case 'settings':
        d.webhooks.kick(m.venueId);
        return;
      case 'payment':
        if (d.tunnels.get(m.venueId)) void d.payments.drain(m.venueId);
        return;
      case 'owner':
        return; // the cluster itself turns these into onLost
    }
  });
  return () => {
    unTokens();
    unBus();
    claims.stop();
  };
}
