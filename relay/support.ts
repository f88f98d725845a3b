/**
 * Remote support (API key): run a venue's diagnostics, read its redacted log
 * tail, and stream its diagnostics bundle, all as commands down the tunnel.
 * The companion decides whether it allows them (its "allow remote
 * diagnostics" setting) and audits each; a refusal here is
 * `403 {"error":"remote_support_disabled"}`.
 *
 * Also the port probe-back route, which the companion calls with its device
 * token: the relay probes only the address the venue's tunnel came from.
 */
import type { IncomingMessage } from 'node:http';
import express, { type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import {
  BundleChunk, BundleOpened, LogTail, MAX_LOG_LINES, PORTCHECK_PATH, PortCheckRequest, Report, SupportCommands, type Requester,
} from '../protocol/diagnostics.ts';
import { RelayErrorCode } from '../protocol/relay.ts';
import { bearer, keyFingerprint } from './auth.ts';
import type { HopCaller } from './cluster/hop.ts';
import { CommandFailed, type RelayLink } from './link.ts';
import type { Pairing } from './pairing.ts';
import { probeBack } from './probeback.ts';
import type { RelayStore } from './db/store.ts';
import type { TunnelRegistry } from './tunnels.ts';

/** The error code the relay answers with when the venue has switched remote support off. */
export const REMOTE_SUPPORT_DISABLED = 'remote_support_disabled';
/** A diagnostics run takes ≤ 5 s on the companion; this leaves room for the tunnel. */
export const DIAGNOSE_TIMEOUT_MS = 10_000;
/** One probe-back per venue this often at most: it makes the relay open a connection on the venue's behalf. */
export const PORTCHECK_MIN_INTERVAL_MS = 3_000;

export interface SupportDeps {
  store: RelayStore;
  tunnels: TunnelRegistry;
  pairing: Pairing;
  clock: Clock;
  log: Logger;
  /** Test mode only: let the probe-back reach loopback addresses. */
  probeLoopback: boolean;
  /** Clustered: whether the venue's tunnel is up on another node (then the call's own source, the venue, is probed). */
  upElsewhere?: (venueId: string) => Promise<boolean>;
  /** Clustered: the verified hop a call came over (its caller as the first node saw it), else undefined. */
  hopOf?: (req: IncomingMessage) => HopCaller | undefined;
  /** Keeps each support action in the store's audit (the support console lists it). */
  record?: (venueId: string, action: string, outcome: string, by: Requester) => void;
}

/**
 * Who asked: a fingerprint of the API key (never the key) and the caller's
 * address; for a call forwarded by another node, as that node saw them.
 */
function requester(req: Request, hop: HopCaller | undefined): Requester {
  if (hop) return { key: hop.key ?? 'unknown', ip: (hop.client ?? 'unknown').slice(0, 64) };
  return { key: keyFingerprint(bearer(req.header('authorization')) ?? ''), ip: (req.ip ?? req.socket.remoteAddress ?? '').slice(0, 64) };
}

function fail(res: Response, e: unknown): void {
  const code = e instanceof CommandFailed ? e.code : 'internal';
  const message = e instanceof Error ? e.message : String(e);
  const [status, error] = code === 'disabled' ? [403, REMOTE_SUPPORT_DISABLED]
    : code === 'link_lost' ? [503, RelayErrorCode.venueOffline]
      : code === 'timeout' ? [504, RelayErrorCode.timeout]
        : code === 'unsupported' ? [501, 'unsupported']
          : code === 'bad_args' ? [400, RelayErrorCode.badRequest]
            : [502, RelayErrorCode.badGateway];
  if (res.headersSent) return void res.destroy();
  res.status(status).json({ error, message });
}

/** Routes under /v1/venues/:venueId that the API key guards. */
export function supportRoutes(d: SupportDeps): Router {
  const r = express.Router();

  const audit = (req: Request, action: string, outcome: string) => {
    const by = requester(req, d.hopOf?.(req));
    d.log.info('support action', { venueId: String(req.params.venueId), action, outcome, by });
    d.record?.(String(req.params.venueId), action, outcome, by);
  };
  const linkOf = async (req: Request, res: Response, action: string): Promise<RelayLink | null> => {
    const id = String(req.params.venueId);
    const link = d.tunnels.get(id);
    if (!link && !(await d.store.getVenue(id))) {
      res.status(404).json({ error: RelayErrorCode.unknownVenue });
      return null;
    }
    if (!link) {
      // Asked for and not done is still a support action on the venue.
      audit(req, action, RelayErrorCode.venueOffline);
      res.status(503).json({ error: RelayErrorCode.venueOffline, message: 'the venue has no tunnel up' });
      return null;
    }
    return link;
  };

  /** Runs one command on the venue's link and answers its validated result as JSON (or the mapped error). */
  const answer = async (req: Request, res: Response, action: string, name: string, args: object, schema: z.ZodTypeAny, timeoutMs?: number) => {
    const link = await linkOf(req, res, action);
    if (!link) return;
    try {
      const result: unknown = schema.parse(await link.command(name, { by: requester(req, d.hopOf?.(req)), ...args }, timeoutMs));
      audit(req, action, 'done');
      res.json(result);
    } catch (e) {
      audit(req, action, e instanceof CommandFailed ? e.code : 'bad_result');
      fail(res, e);
    }
  };

  r.post('/v1/venues/:venueId/diagnostics', (req, res) => answer(req, res, 'diagnose', SupportCommands.diagnose, {}, Report, DIAGNOSE_TIMEOUT_MS));

  r.get('/v1/venues/:venueId/logs', async (req, res) => {
    const raw = req.query.lines ?? '200';
    const lines = typeof raw === 'string' && /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
    if (!(lines >= 1 && lines <= MAX_LOG_LINES)) {
      return void res.status(400).json({ error: RelayErrorCode.badRequest, message: `lines must be 1..${MAX_LOG_LINES}` });
    }
    await answer(req, res, 'logs', SupportCommands.logs, { lines }, LogTail);
  });

  r.get('/v1/venues/:venueId/bundle', async (req, res) => {
    const link = await linkOf(req, res, 'bundle');
    if (!link) return;
    let opened;
    try {
      opened = BundleOpened.parse(await link.command(SupportCommands.bundleOpen, { by: requester(req, d.hopOf?.(req)) }));
    } catch (e) {
      audit(req, 'bundle', e instanceof CommandFailed ? e.code : 'bad_result');
      return fail(res, e);
    }
    audit(req, 'bundle', 'started');
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Disposition', `attachment; filename="${opened.name.replace(/[^\w.-]/g, '_')}"`);
    let gone = false;
    let done = false;
    // Resolves when the caller has gone away (or the answer finished): a pull waiting on backpressure must not wait for ever.
    const left = new Promise<void>((resolve) => res.once('close', () => { gone = true; resolve(); }));
    try {
      // Pull one chunk at a time: the caller's pace (write backpressure) sets the companion's.
      for (let i = 0; i < 1_000_000 && !gone; i++) {
        const chunk = BundleChunk.parse(await link.command(SupportCommands.bundleRead, { id: opened.id }));
        done = chunk.done;
        if (chunk.data && !gone) {
          const ok = res.write(Buffer.from(chunk.data, 'base64'));
          if (!ok) await Promise.race([new Promise((resolve) => res.once('drain', resolve)), left]);
        }
        if (chunk.done) break;
      }
      res.end();
    } catch (e) {
      d.log.warn('bundle stream failed', { venueId: link.venueId, err: e instanceof Error ? e.message : String(e) });
      fail(res, e);
    } finally {
      // A caller that left before the last chunk frees the companion's bundle slot now, not after its idle minute.
      if (!done) {
        void link.command(SupportCommands.bundleClose, { id: opened.id }).catch(() => { /* an older companion: the bundle idles out */ });
        if (gone) audit(req, 'bundle', 'abandoned');
      }
    }
  });

  return r;
}

/** `POST /v1/tunnel/portcheck` with the device token: probe back the tunnel's own source address. */
export function portCheckRoute(d: SupportDeps): Router {
  const r = express.Router();
  const last = new Map<string, number>();
  r.post(PORTCHECK_PATH, express.json({ limit: '1kb' }), async (req, res) => {
    const token = bearer(req.header('authorization'));
    const who = token ? await d.pairing.authenticate(token) : null;
    if (!who) return void res.status(401).json({ error: RelayErrorCode.unauthorized, message: 'device token not accepted' });
    const body = PortCheckRequest.safeParse(req.body);
    if (!body.success) return void res.status(400).json({ error: RelayErrorCode.badRequest, message: 'expected { "port": 1..65535 }' });
    const link = d.tunnels.live(who.venueId);
    let peer = link && !link.closed ? link.peer : null;
    // On a cluster node the venue's tunnel may be held by another node; this call came from the same venue
    // (its device token), so its address as the trusted proxies report it is the venue's address.
    if (!peer && d.upElsewhere && (await d.upElsewhere(who.venueId).catch(() => false))) peer = (req.ip ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1') || null;
    if (!peer) {
      return void res.status(409).json({ error: RelayErrorCode.venueOffline, message: 'probe-back needs the venue tunnel up: it targets only its address' });
    }
    const now = d.clock.mono();
    const prev = last.get(who.venueId);
    if (prev !== undefined && now - prev < PORTCHECK_MIN_INTERVAL_MS) {
      res.setHeader('Retry-After', String(Math.ceil((PORTCHECK_MIN_INTERVAL_MS - (now - prev)) / 1000)));
      return void res.status(429).json({ error: RelayErrorCode.rateLimited });
    }
    last.set(who.venueId, now);
    if (last.size > 10_000) last.clear();
    const result = await probeBack(peer, body.data.port, d.probeLoopback);
    d.log.info('port probe-back', { venueId: who.venueId, ip: result.ip, port: result.port, outcome: result.outcome });
    res.json(result);
  });
  return r;
}
