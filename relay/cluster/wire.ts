/**
 * How a relay node takes part in the cluster: its links are claimed in Redis
 * as they come and released as they go, a venue taken by another node closes
 * the stale link here, and what the bus says (tokens changed, settings
 * changed, a payment queued) reaches the part that acts on it.
 */
import type { Logger } from '../../common/logger.ts';
import { MOVE_WAIT_MS, type BusMessage } from '../../protocol/cluster.ts';
import type { Payments } from '../payments.ts';
import type { RelayStore } from '../store.ts';
import type { TunnelRegistry } from '../tunnels.ts';
import type { Webhooks } from '../webhooks.ts';
import type { ClusterNode } from './parts.ts';

export interface WireDeps {
  tunnels: TunnelRegistry;
  webhooks: Webhooks;
  payments: Payments;
  store: RelayStore;
  log: Logger;
}

export interface Wired {
  /**
   * Venues whose link here was asked to go and has closed, while no other node
   * has claimed them yet: their claim stays here (see onGone), so a draining
   * node keeps serving hops until this is 0.
   */
  moving(): number;
  /** Disconnects the parts from the cluster. */
  unwire(): void;
}

/** Connects the node's parts to the cluster. Never throws on a Redis failure: the links keep serving locally. */
export function wireCluster(c: ClusterNode, d: WireDeps): Wired {
  /** Delayed releases (onGone), by venue: the epoch this node's link knew and the timer. */
  const moving = new Map<string, { epoch: number; timer: NodeJS.Timeout }>();
  const settled = (venueId: string, epoch: number) => {
    const m = moving.get(venueId);
    if (!m || m.epoch !== epoch) return;
    clearTimeout(m.timer);
    moving.delete(venueId);
  };
  d.tunnels.owners = {
    onCurrent(link) {
      void c.owners.claim(link.venueId).then((claimed) => {
        // Redis away: the cluster claims it again once Redis is back, and speaks of this link as epoch 0
        // (release and onLost), so it is still released when it goes and closed when the venue moves.
        const epoch = claimed ?? 0;
        if (link.closed) return void c.owners.release(link.venueId, epoch);
        link.epoch = epoch;
      }, (e: unknown) => d.log.warn('could not claim the venue in Redis; calls through other nodes will not find it until the next renewal', { venueId: link.venueId, err: String(e) }));
    },
    onGone(link) {
      const epoch = link.epoch;
      if (epoch === null) return;
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
  c.onLost((venueId, epoch) => {
    // Claimed elsewhere: a delayed release of ours has nothing left to release.
    settled(venueId, epoch);
    d.tunnels.lostElsewhere(venueId, epoch);
  });
  // Token changes made here (revocation, pairing) reach every node; each re-reads the venue's tokens from the store.
  const unTokens = d.store.onTokenChange((venueId) => void c.bus.publish({ t: 'tokens', venueId }).catch(() => { /* each node also polls the tokens mark every second */ }));
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
  return {
    moving: () => moving.size,
    unwire() {
      unTokens();
      unBus();
      d.tunnels.owners = null;
      for (const m of moving.values()) clearTimeout(m.timer);
      moving.clear();
    },
  };
}
