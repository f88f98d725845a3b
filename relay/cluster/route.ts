/**
 * Where a venue call is served in a cluster: on this node when the venue's
 * tunnel is here, else forwarded over the signed hop to the node that holds
 * it. Calls that need no tunnel (venue lists, events, webhooks) are served by
 * any node from the shared store and never come here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../common/logger.ts';
import { HOP_MAX, HOP_PROOF_PATH, MOVE_WAIT_MS, tunnelRouteVenue } from '../../protocol/cluster.ts';
import { RelayErrorCode, TIMEOUT_HEADER } from '../../protocol/relay.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS } from '../../protocol/tunnel.ts';
import type { TunnelRegistry } from '../tunnels.ts';
import { bearer, keyFingerprint } from '../auth.ts';
import type { Follow } from './follow.ts';
import { HOP_DEFAULT_BODY_BYTES, createHopAgent, forward, hopAuth, refuseHop, withBody, type HopCaller, type HopDenied } from './hop.ts';
import { Prover, answerProof } from './proof.ts';
import { hopOutcome, type ClusterMetrics } from './metrics.ts';
import type { ClusterNode, Owner } from './parts.ts';

const MOVE_POLL_MS = 50;

export interface RouteDeps {
  cluster: ClusterNode;
  tunnels: TunnelRegistry;
  secret: string;
  log: Logger;
  /** The API-key check (answers 401/403 itself). */
  apiKey: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** The caller's address as this node sees it (after trusted proxies). */
  client: (req: IncomingMessage) => string | null;
  /** The scheme this node's callers use. */
  scheme: (req: IncomingMessage) => 'http' | 'https';
  metrics: ClusterMetrics;
  /** The venue API's default deadline (relay option), for calls that name none. */
  requestTimeoutMs?: number;
  /** Told of every tunnel call served here, so a tunnel whose calls land on another node moves there. */
  follow?: Follow;
  /** Most request body bytes a hop carries (the venue API's maxRequestBytes). */
  maxBodyBytes?: number;
}

/** A router and the hop facts of the calls it verified (the local handlers read them). */
export interface ClusterRoute {
  /** True when it took the call (forwarded, refused, or handed on later to `local`). */
  take(req: IncomingMessage, res: ServerResponse, local: (req: IncomingMessage, res: ServerResponse) => void): boolean;
  /** The verified hop a call came over, or undefined for a call from outside the cluster. */
  hopOf(req: IncomingMessage): HopCaller | undefined;
}

export function clusterRoute(d: RouteDeps): ClusterRoute {
  const verify = hopAuth(d.secret, d.cluster.nodeId);
  const verified = new WeakMap<IncomingMessage, HopCaller>();
  const agent = createHopAgent();
  const prover = new Prover(d.secret, agent);
  const cap = d.maxBodyBytes ?? HOP_DEFAULT_BODY_BYTES;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** The node to send the call to, or null to answer here. Waits (bounded) while the venue moves off this node. */
  const destination = async (venueId: string, deadline: number): Promise<Owner | null> => {
    for (;;) {
      const owner = await d.cluster.owners.lookup(venueId);
      if (d.tunnels.get(venueId)) return null; // it (re)connected here meanwhile
      if (owner && owner.nodeId !== d.cluster.nodeId) return owner;
      // Owned by nobody or by this node, with no usable link here: moving if its old link is draining here or just left.
      if (!d.tunnels.leaving(venueId) || performance.now() >= deadline) return null;
      await sleep(MOVE_POLL_MS);
    }
  };

  const refuse = (req: IncomingMessage, res: ServerResponse, hop: HopDenied) => {
    d.metrics.hopsIn.inc({ result: hop.reason });
    d.log.warn('hop refused', { reason: hop.reason, from: req.socket.remoteAddress });
    refuseHop(res, hop);
  };

  /** Routes a call (checked already, if it came over a hop): true when taken here, false for the local handlers. */
  const route = (req: IncomingMessage, res: ServerResponse, local: (req: IncomingMessage, res: ServerResponse) => void, hop: HopCaller | undefined): boolean => {
    const venueId = tunnelRouteVenue(req.method, req.url ?? '');
    if (venueId === null) return false;
    if (d.tunnels.get(venueId)) {
      d.follow?.note(venueId, hop?.from ?? null);
      if (d.tunnels.get(venueId)) return false;
      // This very call made the tunnel move: it goes where the venue goes, like any call for a moving venue.
    }
    // A call that already made its last hop is answered here (offline), never sent round again.
    if (hop && hop.hops >= HOP_MAX) return false;
    if (!hop && !d.apiKey(req, res)) return true;
    const timeoutMs = deadlineOf(req, venueId, d.requestTimeoutMs);
    const started = performance.now();
    destination(venueId, started + Math.min(MOVE_WAIT_MS, timeoutMs / 2)).then(async (owner) => {
      if (!owner || res.destroyed) return local(req, res);
      // The node Redis names must prove it holds the cluster secret before it gets the call, its body or the caller's key fingerprint.
      const left = Math.max(1, Math.round(timeoutMs - (performance.now() - started)));
      const proof = await prover.ensure(owner, left);
      if (proof !== 'ok') {
        d.metrics.hopsOut.inc({ outcome: proof === 'refused' ? 'unproven' : 'offline' });
        if (proof === 'refused') {
          d.log.error('hop not sent: the node Redis names for the venue did not prove it holds the cluster secret (is someone writing to Redis?)', {
            venueId, node: owner.nodeId, url: owner.url,
          });
        }
        if (!res.headersSent) {
          res.writeHead(503, { 'content-type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify({ error: RelayErrorCode.venueOffline, message: 'the relay node holding the venue cannot be reached; retry shortly' }));
        }
        return;
      }
      forward(req, res, owner, {
        secret: d.secret, nodeId: d.cluster.nodeId, hops: hop?.hops ?? 0, maxBodyBytes: cap,
        timeoutMs: Math.max(1, Math.round(timeoutMs - (performance.now() - started))),
        originalHost: hop?.host ?? String(req.headers.host ?? ''), originalProto: hop?.proto ?? d.scheme(req),
        client: hop?.client ?? d.client(req), agent, onOutcome: hopOutcome(d.metrics, started),
        key: hop ? hop.key : keyFingerprint(bearer(req.headers.authorization) ?? ''),
      });
    }, (e: unknown) => {
      // Redis away: this node cannot know where the venue is; the local handler answers (offline, or served if it connected here).
      d.log.warn('could not look the venue up in Redis; answering from this node', { venueId, err: String(e) });
      local(req, res);
    });
    return true;
  };

  return {
    hopOf: (req) => verified.get(req),
    take(req, res, local) {
      const path = (req.url ?? '').split('?', 1)[0];
      if (path === HOP_PROOF_PATH) {
        answerProof(req, res, d.secret, d.cluster.nodeId, d.cluster.advertise);
        return true;
      }
      // A hop header on any route must be valid; a bad one is refused, never treated as "no header".
      const hop = verify(req);
      if (hop && 'denied' in hop) {
        refuse(req, res, hop);
        return true;
      }
      if (!hop) return route(req, res, local, undefined);
      // Nothing acts on a hop's body before it matches the digest the first node signed.
      void withBody(req, hop.digest, cap).then((checked) => {
        if (checked === 'gone') return;
        if (checked === 'too_large') {
          d.metrics.hopsIn.inc({ result: 'too_large' });
          res.writeHead(413, { 'content-type': 'application/json; charset=utf-8' });
          return void res.end(JSON.stringify({ error: RelayErrorCode.tooLarge, message: `request body over ${cap} bytes` }));
        }
        if (checked === 'body') {
          return refuse(req, res, { denied: true, status: 403, error: RelayErrorCode.forbidden, message: 'hop refused: body', reason: 'body' });
        }
        verified.set(checked, hop);
        d.metrics.hopsIn.inc({ result: 'accepted' });
        if (!route(checked, res, local, hop)) local(checked, res);
      });
      return true;
    },
  };
}

/**
 * What the call may take, as the owner will count it: the caller's
 * x-evva-timeout-ms (clamped as the venue API clamps it) on the venue API,
 * else the default; support and payment routes keep their own longer
 * deadlines on the owner, so the hop allows the most a call may ask for.
 */
function deadlineOf(req: IncomingMessage, venueId: string, dflt = DEFAULT_REQUEST_TIMEOUT_MS): number {
  const front = (req.url ?? '').startsWith(`/v1/venues/${venueId}/front`);
  if (!front) return MAX_REQUEST_TIMEOUT_MS;
  const raw = req.headers[TIMEOUT_HEADER];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isFinite(n) && n >= 1 ? Math.min(Math.floor(n), MAX_REQUEST_TIMEOUT_MS) : dflt;
}
