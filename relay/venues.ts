/**
 * The relay's management routes: venues (API key), pairing (the code is the
 * credential, rate-limited), revocation. All bodies are validated with the
 * shapes of protocol/relay.ts.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { CreateVenueRequest, PairRequest, RelayErrorCode, VENUE_PAGE_MAX, type VenueView } from '../protocol/relay.ts';
import type { RelayMetrics } from './metrics.ts';
import type { Pairing } from './pairing.ts';
import type { RelayStore, VenueRow } from './db/store.ts';
import type { TunnelRegistry } from './tunnels.ts';

type Allowance = { ok: true } | { ok: false; retryAfterMs: number };

export interface VenueRouteDeps {
  store: RelayStore;
  pairing: Pairing;
  /** The pairing limits: this process's own (RateLimiter), or shared by the cluster's nodes through Redis. */
  limiter: { take(ip: string): Allowance | Promise<Allowance> };
  tunnels: TunnelRegistry;
  metrics: RelayMetrics;
  clock: Clock;
  log: Logger;
  /** Clustered: of these venues, those whose tunnel is up on any node. */
  online?: (venueIds: string[]) => Promise<Set<string>>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const json = express.json({ limit: '16kb' });

/** The view of one venue: stored facts overlaid with the live tunnel, if any. */
export function venueView(row: VenueRow, tunnels: TunnelRegistry, elsewhere = false): VenueView {
  const live = tunnels.live(row.id);
  return {
    venueId: row.id,
    name: row.name,
    createdAt: new Date(row.createdAt).toISOString(),
    online: (live !== null && !live.closed) || elsewhere,
    connectedAt: iso(live ? live.connectedAt : row.connectedAt),
    lastSeenAt: iso(live ? live.lastSeenAt : row.lastSeenAt),
    pairedAt: iso(row.pairedAt),
    revoked: row.revokedAt !== null,
    companion: live?.hello?.companion ?? row.companion,
    front: row.front,
  };
}

/** Venues whose tunnel is up on another cluster node (none on a single relay; none known while Redis is away). */
async function elsewhere(d: VenueRouteDeps, rows: VenueRow[]): Promise<Set<string>> {
  if (!d.online) return new Set();
  const away = rows.filter((r) => !d.tunnels.live(r.id)).map((r) => r.id);
  if (away.length === 0) return new Set();
  return d.online(away).catch(() => new Set<string>());
}

function badRequest(res: Response, message: string): void {
  res.status(400).json({ error: RelayErrorCode.badRequest, message });
}

/** Routes that need the API key (the caller mounts them behind it). */
export function venueRoutes(d: VenueRouteDeps): Router {
  const r = express.Router();

  r.post('/v1/venues', json, async (req: Request, res: Response) => {
    const body = CreateVenueRequest.safeParse(req.body);
    if (!body.success) return badRequest(res, 'expected { "name": string }');
    const created = await d.pairing.createVenue(body.data.name);
    d.log.info('venue created', { venueId: created.venueId, name: body.data.name });
    res.status(201).json(created);
  });

  // Paged (a cursor, not an offset: stable while venues are added): 20 000 venues in one answer were 9.8 MB and 0.4 s of the one thread.
  r.get('/v1/venues', async (req, res) => {
    const limitRaw = req.query.limit === undefined ? VENUE_PAGE_MAX : Number(req.query.limit);
    if (!Number.isInteger(limitRaw) || limitRaw < 1 || limitRaw > VENUE_PAGE_MAX) return badRequest(res, `limit must be 1..${VENUE_PAGE_MAX}`);
    const after = typeof req.query.after === 'string' && req.query.after ? req.query.after : null;
    if (after !== null && !(await d.store.getVenue(after))) return badRequest(res, 'after must be the id of a venue (the previous page\'s next)');
    const rows = await d.store.pageVenues(after, limitRaw + 1);
    const page = rows.slice(0, limitRaw);
    const up = await elsewhere(d, page);
    res.json({ venues: page.map((v) => venueView(v, d.tunnels, up.has(v.id))), next: rows.length > limitRaw ? page[page.length - 1]!.id : null });
  });

  r.get('/v1/venues/:venueId', async (req, res) => {
    const v = await d.store.getVenue(String(req.params.venueId));
    if (!v) return void res.status(404).json({ error: RelayErrorCode.unknownVenue });
    res.json(venueView(v, d.tunnels, (await elsewhere(d, [v])).has(v.id)));
  });

  r.post('/v1/venues/:venueId/pairing', async (req, res) => {
    const v = await d.store.getVenue(String(req.params.venueId));
    if (!v) return void res.status(404).json({ error: RelayErrorCode.unknownVenue });
    res.status(201).json(await d.pairing.issueCode(v.id));
  });

  r.post('/v1/venues/:venueId/revoke', async (req, res) => {
    const id = String(req.params.venueId);
    if (!(await d.store.revoke(id, d.clock.now()))) return void res.status(404).json({ error: RelayErrorCode.unknownVenue });
    d.tunnels.revoke(id);
    d.log.info('venue revoked', { venueId: id });
    const v = await d.store.getVenue(id);
    res.json(v ? venueView(v, d.tunnels) : {});
  });

  return r;
}

/** `POST /v1/pair`: no API key; rate-limited per client address and globally. */
export function pairRoute(d: VenueRouteDeps): Router {
  const r = express.Router();
  r.post('/v1/pair', json, async (req, res) => {
    const ip = req.ip ?? req.socket.remoteAddress ?? '?';
    const allowed = await d.limiter.take(ip);
    if (!allowed.ok) {
      d.metrics.pairAttempts.inc({ result: 'rate_limited' });
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(allowed.retryAfterMs / 1000))));
      return void res.status(429).json({ error: RelayErrorCode.rateLimited, message: 'too many pairing attempts; wait and retry' });
    }
    const body = PairRequest.safeParse(req.body);
    if (!body.success) {
      d.metrics.pairAttempts.inc({ result: 'malformed' });
      return badRequest(res, 'expected { "pairingCode": string, "companion": { "version", "hostname" } }');
    }
    const r2 = await d.pairing.pair(body.data.pairingCode, body.data.companion);
    if (r2.ok) {
      d.metrics.pairAttempts.inc({ result: 'ok' });
      d.log.info('venue paired', { venueId: r2.venueId, companion: body.data.companion });
      // A venue paired again gets a new token; the old one keeps working until the new one's tunnel is up.
      // The name lets the venue's staff see which venue they paired with, not an id.
      const venue = await d.store.getVenue(r2.venueId).catch(() => null);
      return void res.json({ venueId: r2.venueId, deviceToken: r2.deviceToken, ...(venue?.name ? { venueName: venue.name } : {}) });
    }
    d.metrics.pairAttempts.inc({ result: r2.reason });
    d.log.warn('pairing refused', { reason: r2.reason, ip });
    switch (r2.reason) {
      case 'malformed':
      case 'invalid':
        return void res.status(404).json({ error: RelayErrorCode.invalidCode, message: 'no such pairing code' });
      case 'expired':
        return void res.status(410).json({ error: RelayErrorCode.codeExpired, message: 'the pairing code has expired' });
      case 'used':
        return void res.status(409).json({ error: RelayErrorCode.codeUsed, message: 'the pairing code was already used' });
    }
  });
  return r;
}
