/**
 * Where a venue call is served in a cluster: on this node when the venue's
 * tunnel is here, else forwarded over the signed hop to the node that holds
 * it. Calls that need no tunnel (venue lists, events, webhooks) are served by
 * any node from the shared store and never come here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../common/logger.ts';
import { HOP_MAX, tunnelRouteVenue } from '../../protocol/cluster.ts';
import type { TunnelRegistry } from '../tunnels.ts';
import { forward, hopAuth, type HopInfo } from './hop.ts';
import type { ClusterNode } from './parts.ts';

export interface RouteDeps {
  cluster: ClusterNode;
  tunnels: TunnelRegistry;
  secret: string;
  log: Logger;
  /** The API-key check (answers 401/403 itself). */
  apiKey: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** The caller's address as this node sees it (after trusted proxies). */
  client: (req: IncomingMessage) => string | null;
  /** The scheme this node's callers use (its TLS, or a trusted X-Forwarded-Proto). */
  scheme: (req: IncomingMessage) => string;
  /** Counts forwarded calls by outcome. */
  onForward: (outcome: string) => void;
}

/** A router and the hop facts of the calls it verified (the local handlers read them). */
export interface ClusterRoute {
  /** True when it took the call (forwarded, refused, or handed on asynchronously to `local`). */
  take(req: IncomingMessage, res: ServerResponse, local: (req: IncomingMessage, res: ServerResponse) => void): boolean;
  /** The verified hop a call came over, or undefined for a call from outside the cluster. */
  hopOf(req: IncomingMessage): HopInfo | undefined;
}

export function clusterRoute(d: RouteDeps): ClusterRoute {
  const verify = hopAuth(d.secret);
  const verified = new WeakMap<IncomingMessage, HopInfo>();

  return {
    hopOf: (req) => verified.get(req),
    take(req, res, local) {
      // A hop header on any route must be valid; a bad one is refused, never treated as "no header".
      const hop = verify(req, res);
      if (hop === false) return true;
      if (hop) verified.set(req, hop);
      const venueId = tunnelRouteVenue(req.method, req.url ?? '');
      if (venueId === null || d.tunnels.get(venueId)) return false;
      // Not here. A call that already made its last hop is answered here (offline), never sent round again.
      if (hop && hop.hops >= HOP_MAX) return false;
      if (!hop && !d.apiKey(req, res)) return true;
      d.cluster.owners.lookup(venueId).then((owner) => {
        if (!owner || owner.nodeId === d.cluster.nodeId || d.tunnels.get(venueId)) return local(req, res);
        forward(req, res, { nodeId: owner.nodeId, url: owner.url }, {
          secret: d.secret, fromNode: d.cluster.nodeId, hops: (hop?.hops ?? 0) + 1,
          originalHost: hop?.host ?? String(req.headers.host ?? ''), originalProto: hop?.proto ?? d.scheme(req),
          client: hop?.client ?? d.client(req) ?? '', onOutcome: d.onForward,
        });
      }, (e: unknown) => {
        // Redis away: the node cannot know where the venue is; the local handler answers (offline, or served if it just connected here).
        d.log.warn('could not look the venue up in Redis; answering from this node', { venueId, err: String(e) });
        local(req, res);
      });
      return true;
    },
  };
}
