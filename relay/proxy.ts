/**
 * The venue API: `ANY /v1/venues/:venueId/front/<path>` becomes one stream on
 * the venue's tunnel and the plugin sees `/<path>` (query kept, raw, so the
 * companion's gate judges exactly what the caller sent). Bodies stream both
 * ways within credit; the response is written as fast as the caller reads it.
 */
import type { Request, RequestHandler } from 'express';
import type { Clock } from '../main/core/clock.ts';
import type { Logger } from '../main/core/logger.ts';
import { RelayErrorCode, TIMEOUT_HEADER } from '../protocol/relay.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS, MAX_PATH_CHARS, MAX_REQUEST_TIMEOUT_MS, forwardableHeaders, type ResFrame, type StreamErrorCode } from '../protocol/tunnel.ts';
import type { RelayMetrics, RequestOutcome } from './metrics.ts';
import { LinkRewriter, isTextual, linkReplacements } from './rewrite.ts';
import type { RelayStore } from './store.ts';
import type { TunnelRegistry } from './tunnels.ts';
import type { RelayStream } from './link.ts';

/** The venue API prefix; group 1 is the venue id, group 2 the plugin path, group 3 the query. */
export const FRONT_ROUTE = /^\/v1\/venues\/([^/?#]+)\/front(\/[^?#]*)?(\?[^#]*)?$/;
/** Default largest request body the relay forwards. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;
/**
 * After the head, a caller whose socket accepts no bytes for this long is cut
 * off: a caller that stops reading must not hold a venue stream (and, behind
 * it, a plugin connection) for ever.
 */
export const RESPONSE_WRITE_TIMEOUT_MS = 30_000;
/** Request headers of the EVVA call that never reach the companion. */
const CALLER_ONLY = new Set(['authorization', 'cookie', TIMEOUT_HEADER]);

export interface ProxyDeps {
  store: RelayStore;
  tunnels: TunnelRegistry;
  metrics: RelayMetrics;
  clock: Clock;
  log: Logger;
  /** The relay's public base URL for rewritten links; else derived from the request. */
  publicUrl?: string;
  requestTimeoutMs?: number;
  maxRequestBytes?: number;
  /** See RESPONSE_WRITE_TIMEOUT_MS. */
  responseWriteTimeoutMs?: number;
}

const errorStatus: Record<StreamErrorCode | 'link_lost', [number, string]> = {
  forbidden: [403, RelayErrorCode.forbidden],
  unreachable: [502, RelayErrorCode.unreachable],
  bad_gateway: [502, RelayErrorCode.badGateway],
  unlicensed: [502, RelayErrorCode.unlicensed],
  timeout: [504, RelayErrorCode.timeout],
  too_large: [413, RelayErrorCode.tooLarge],
  bad_request: [400, RelayErrorCode.badRequest],
  overloaded: [503, RelayErrorCode.overloaded],
  internal: [502, RelayErrorCode.badGateway],
  link_lost: [503, RelayErrorCode.venueOffline],
};

/** The express handler of the venue API; it answers every call exactly once (a JSON error, or the plugin's answer). */
export function frontProxy(deps: ProxyDeps): RequestHandler {
  const defaultTimeout = deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const maxBody = deps.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const writeTimeoutMs = deps.responseWriteTimeoutMs ?? RESPONSE_WRITE_TIMEOUT_MS;

  return (req, res, next) => {
    const m = FRONT_ROUTE.exec(req.originalUrl);
    if (!m) return next();
    const venueId = m[1] as string;
    const path = (m[2] || '/') + (m[3] ?? '');
    const started = deps.clock.mono();
    const log = deps.log.child({ venueId });
    let outcome: RequestOutcome | null = null;
    const done = (o: RequestOutcome, status: number) => {
      if (outcome) return;
      outcome = o;
      const secs = (deps.clock.mono() - started) / 1000;
      deps.metrics.requests.inc({ outcome: o });
      deps.metrics.latency.observe({ outcome: o }, secs);
      // The query may carry a caller's key: log the path only.
      log.info('venue call', { method: req.method, path: m[2] || '/', status, outcome: o, ms: Math.round(secs * 1000) });
    };
    const fail = (o: RequestOutcome, status: number, error: string, message?: string) => {
      done(o, status);
      if (!res.headersSent) res.status(status).json(message ? { error, message } : { error });
      else res.destroy();
    };

    if (!deps.store.getVenue(venueId)) return fail('unknown_venue', 404, RelayErrorCode.unknownVenue, 'no such venue');
    const link = deps.tunnels.get(venueId);
    if (!link) return fail('offline', 503, RelayErrorCode.venueOffline, 'the venue companion is not connected');

    if (path.length > MAX_PATH_CHARS) return fail('bad_request', 414, RelayErrorCode.badRequest, `target longer than ${MAX_PATH_CHARS} characters`);
    const timeoutMs = clampTimeout(req.header(TIMEOUT_HEADER), defaultTimeout);
    const declared = Number(req.headers['content-length'] ?? 0);
    const hasBody = declared > 0 || req.headers['transfer-encoding'] !== undefined;
    if (declared > maxBody) return fail('too_large', 413, RelayErrorCode.tooLarge, `request body over ${maxBody} bytes`);

    const headers = forwardableHeaders(req.headers);
    for (const h of CALLER_ONLY) delete headers[h];
    const venueBase = `${(deps.publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`).replace(/\/+$/, '')}/v1/venues/${venueId}/front`;

    let rewriter: LinkRewriter | null = null;
    let unacked = 0;
    let drainWaiting = false;
    let writeTimer: NodeJS.Timeout | undefined;
    let stream: RelayStream | null = null;

    const timer = deps.clock.setTimeout(() => {
      stream?.cancel('timeout');
      fail('timeout', 504, RelayErrorCode.timeout, `the plugin did not answer within ${timeoutMs} ms`);
    }, timeoutMs);

    stream = link.open({ method: req.method, path, headers, body: hasBody, timeoutMs }, {
      onHead(f: ResFrame) {
        deps.clock.clearTimeout(timer);
        if (outcome) return;
        if (f.status < 200) return fail('bad_gateway', 502, RelayErrorCode.badGateway, `plugin answered ${f.status}`);
        const h = forwardableHeaders(f.headers);
        const origin = link.frontOrigin;
        if (f.body && origin && isTextual(h['content-type']) && !h['content-encoding']) {
          rewriter = new LinkRewriter(linkReplacements(origin, venueBase));
          delete h['content-length'];
        }
        res.status(f.status);
        for (const [k, v] of Object.entries(h)) {
          try {
            res.setHeader(k, v);
          } catch {
            // A header Node refuses to send (odd characters from the plugin) is dropped, not fatal.
          }
        }
        if (f.body) res.flushHeaders();
      },
      onData(chunk) {
        if (outcome) return;
        deps.metrics.bytes.inc({ direction: 'from_venue' }, chunk.length);
        const out = rewriter ? rewriter.push(chunk) : chunk;
        if (out.length === 0 || res.write(out)) {
          stream?.consumed(chunk.length);
          return;
        }
        // The caller reads slower than the venue sends: grant credit back only as its socket drains.
        unacked += chunk.length;
        if (!drainWaiting) {
          drainWaiting = true;
          writeTimer = deps.clock.setTimeout(() => {
            if (outcome) return;
            log.info('caller stopped reading; cutting the answer', { path: m[2] || '/', ms: writeTimeoutMs });
            stream?.cancel('caller stopped reading');
            done('cancelled', 499);
            res.destroy();
          }, writeTimeoutMs);
          res.once('drain', () => {
            deps.clock.clearTimeout(writeTimer);
            drainWaiting = false;
            const n = unacked;
            unacked = 0;
            stream?.consumed(n);
          });
        }
      },
      onEnd() {
        deps.clock.clearTimeout(timer);
        if (outcome) return;
        if (rewriter) {
          const tail = rewriter.flush();
          if (tail.length) res.write(tail);
        }
        done('ok', res.statusCode);
        res.end();
      },
      onError(code, message) {
        deps.clock.clearTimeout(timer);
        const [status, error] = errorStatus[code];
        if (code === 'forbidden') log.warn('companion refused the path', { method: req.method, path: m[2] || '/', reason: message });
        fail(code === 'internal' ? 'internal' : code, status, error, message);
      },
    });
    if (!stream) {
      deps.clock.clearTimeout(timer);
      return fail('overloaded', 503, RelayErrorCode.overloaded, 'too many requests in flight for this venue');
    }
    const s = stream;

    res.on('close', () => {
      deps.clock.clearTimeout(timer);
      deps.clock.clearTimeout(writeTimer);
      if (!outcome) {
        s.cancel('caller disconnected');
        done('cancelled', 499);
      }
    });

    if (hasBody) void pumpBody(req, s, maxBody, (n) => deps.metrics.bytes.inc({ direction: 'to_venue' }, n)).then((r) => {
      if (r === 'too_large') {
        s.cancel('request body too large');
        fail('too_large', 413, RelayErrorCode.tooLarge, `request body over ${maxBody} bytes`);
      }
    });
  };
}

/** Streams the caller's body into the tunnel, never reading faster than the companion grants credit. */
async function pumpBody(req: Request, s: RelayStream, max: number, count: (n: number) => void): Promise<'ok' | 'too_large' | 'aborted'> {
  let total = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > max) return 'too_large';
      await s.write(chunk);
      count(chunk.length);
      if (s.done) return 'aborted';
    }
    s.end();
    return 'ok';
  } catch {
    return 'aborted';
  }
}

function clampTimeout(header: string | undefined, dflt: number): number {
  const n = header === undefined ? NaN : Number(header);
  if (!Number.isFinite(n) || n < 1) return dflt;
  return Math.min(Math.floor(n), MAX_REQUEST_TIMEOUT_MS);
}
