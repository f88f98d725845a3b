/**
 * How a relay node takes part in the cluster: its links are claimed in Redis
 * as they come and released as they go, a venue taken by another node closes
 * the stale link here, and what the bus says (tokens changed, settings
 * changed, a payment queued) reaches the part that acts on it.
 */
import type { Logger } from '../../common/logger.ts';
import type { BusMessage } from '../../protocol/cluster.ts';
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

/** Connects the node's parts to the cluster; returns the disconnect. Never throws on a Redis failure: the links keep serving locally. */
export function wireCluster(c: ClusterNode, d: WireDeps): () => void {
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
      if (link.epoch !== null) void c.owners.release(link.venueId, link.epoch).catch(() => { /* the lease runs out on its own */ });
    },
  };
  c.onLost((venueId, epoch) => d.tunnels.lostElsewhere(venueId, epoch));
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
  return () => {
    unTokens();
    unBus();
    d.tunnels.owners = null;
  };
}
