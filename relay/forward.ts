/**
 * The venue API forwarded into the tunnel (the relay's reverse proxy; the
 * companion's outbound HTTP proxy is main/core/tunnel/proxy.ts):
 * `ANY /v1/venues/:venueId/front/<path>` becomes one stream on
 * the venue's tunnel and the plugin sees `/<path>` (query kept, raw, so the
 * companion's gate judges exactly what the caller sent). Bodies stream both
 * ways within credit; the response is written as fast as the caller reads it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { RelayErrorCode, TIMEOUT_HEADER } from '../protocol/relay.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS, MAX_PATH_CHARS, MAX_REQUEST_TIMEOUT_MS, forwardableHeaders, type ResFrame, type StreamErrorCode } from '../protocol/tunnel.ts';
import type { RelayMetrics, RequestOutcome } from './metrics.ts';
import { LinkRewriter, isTextual, linkReplacements, rewriteWhole, whenWritten } from './rewrite.ts';
import type { RelayStore } from './db/store.ts';
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
/** Link replacement lists kept for reuse (one per venue and Host it is called by, in practice a handful). */
const REPLACEMENTS_KEPT = 1_000;
/** Request headers of the EVVA call that never reach the companion. */
const CALLER_ONLY = new Set(['authorization', 'cookie', TIMEOUT_HEADER]);

/** A venue API handler: true when it took the request (answered or answering), false when the URL is not its. */
export type FrontHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface ForwardDeps {
  store: RelayStore;
  tunnels: TunnelRegistry;
  metrics: RelayMetrics;
  clock: Clock;
  log: Logger;
  /** The relay's public base URL for rewritten links; else derived from the request. */
  publicUrl?: string;
  requestTimeoutMs?: number;
  maxRequestBytes?: number;
  /** The API-key check (answers 401/403 itself). */
  auth: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Express's compiled `trust proxy` check: X-Forwarded-Proto counts only from a trusted peer (as express's req.protocol). */
  trustProxy?: (addr: string, hop: number) => boolean;
  /** The scheme this server speaks, for rewritten links when no publicUrl is set. */
  scheme: 'http' | 'https';
  /** See RESPONSE_WRITE_TIMEOUT_MS. */
  responseWriteTimeoutMs?: number;
  /** Clustered: the caller's Host and scheme as the first node saw them, for a call that came over the hop. */
  hopOrigin?: (req: IncomingMessage) => { host: string; proto: string } | undefined;
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

/**
 * The venue API as a plain Node handler, ahead of express (routing and its
 * request/response wrappers cost more than the rest of a small call). It
 * answers every call it takes exactly once: a JSON error, or the plugin's answer.
 */
export function frontProxy(deps: ForwardDeps): FrontHandler {
  const defaultTimeout = deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const maxBody = deps.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const writeTimeoutMs = deps.responseWriteTimeoutMs ?? RESPONSE_WRITE_TIMEOUT_MS;
  const publicBase = deps.publicUrl === undefined ? undefined : deps.publicUrl.replace(/\/+$/, '');
  /**
   * The link replacements per plugin origin and venue base, made once and reused (rewriteWhole
   * keeps its prepared form per list): building them was per-call work for an answer that is
   * the same for every call of a venue. Bounded: cleared when it grows past REPLACEMENTS_KEPT.
   */
  const replacements = new Map<string, Array<[string, string]>>();
  const replacementsFor = (origin: string, venueBase: string): Array<[string, string]> => {
    const key = `${origin}\n${venueBase}`;
    let r = replacements.get(key);
    if (!r) {
      if (replacements.size >= REPLACEMENTS_KEPT) replacements.clear();
      r = linkReplacements(origin, venueBase);
      replacements.set(key, r);
    }
    return r;
  };

  return (req, res) => {
    const url = req.url ?? '';
    if (!url.startsWith('/v1/venues/')) return false;
    const m = FRONT_ROUTE.exec(url);
    if (!m) return false;
    if (!deps.auth(req, res)) return true;
    const venueId = m[1] as string;
    const path = (m[2] || '/') + (m[3] ?? '');
    const started = deps.clock.mono();
    let outcome: RequestOutcome | null = null;
    const done = (o: RequestOutcome, status: number) => {
      if (outcome) return;
      outcome = o;
      const secs = (deps.clock.mono() - started) / 1000;
      deps.metrics.requests.inc({ outcome: o });
      deps.metrics.latency.observe({ outcome: o }, secs);
      // Every call is counted in /metrics; a line per call only at debug, or when it went wrong
      // (a call that went well builds no line at all unless debug is on).
      const quiet = o === 'ok' || o === 'cancelled';
      if (quiet && deps.log.enabled?.('debug') === false) return;
      // The query may carry a caller's key: log the path only.
      const meta = { venueId, method: req.method, path: m[2] || '/', status, outcome: o, ms: Math.round(secs * 1000) };
      if (quiet) deps.log.debug('venue call', meta);
      else deps.log.info('venue call', meta);
    };
    const fail = (o: RequestOutcome, status: number, error: string, message?: string): true => {
      done(o, status);
      if (res.headersSent) {
        res.destroy();
        return true;
      }
      const text = JSON.stringify(message ? { error, message } : { error });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return true;
    };

    // The live link proves the venue exists (revocation and deletion close it), so
    // the store is read only for calls to offline venues: none on the hot path.
    const link = deps.tunnels.get(venueId);
    if (!link) {
      deps.store.getVenue(venueId).then(
        (v) => v ? fail('offline', 503, RelayErrorCode.venueOffline, 'the venue companion is not connected')
          : fail('unknown_venue', 404, RelayErrorCode.unknownVenue, 'no such venue'),
        () => fail('offline', 503, RelayErrorCode.venueOffline, 'the venue companion is not connected (the relay could not read its store)'));
      return true;
    }

    if (path.length > MAX_PATH_CHARS) return fail('bad_request', 414, RelayErrorCode.badRequest, `target longer than ${MAX_PATH_CHARS} characters`);
    const header = req.headers[TIMEOUT_HEADER];
    const timeoutMs = clampTimeout(Array.isArray(header) ? header[0] : header, defaultTimeout);
    const declared = Number(req.headers['content-length'] ?? 0);
    const hasBody = declared > 0 || req.headers['transfer-encoding'] !== undefined;
    if (declared > maxBody) return fail('too_large', 413, RelayErrorCode.tooLarge, `request body over ${maxBody} bytes`);

    const headers = forwardableHeaders(req.headers, CALLER_ONLY);
    const hopped = deps.hopOrigin?.(req);
    const origin = hopped ? `${hopped.proto}://${hopped.host}` : `${schemeOf(req, deps)}://${req.headers.host ?? 'localhost'}`;
    const base = publicBase ?? (origin.endsWith('/') ? origin.replace(/\/+$/, '') : origin);
    const venueBase = `${base}/v1/venues/${venueId}/front`;

    let rewriter: LinkRewriter | null = null;
    let unacked = 0;
    let drainWaiting = false;
    let writeTimer: NodeJS.Timeout | undefined;
    let stream: RelayStream | null = null;

    // The call's deadline bounds each time the answer stands still: the wait for the head, then
    // every gap between body chunks (the companion keeps the same one). One timer per call: a
    // chunk only stamps the time, and the timer, when it fires early, sets itself for what is left.
    let movedAt = started;
    let headSeen = false;
    const expire = () => {
      if (outcome) return;
      const left = movedAt + timeoutMs - deps.clock.mono();
      if (left > 0) {
        timer = deps.clock.setTimeout(expire, left);
        return;
      }
      stream?.cancel('timeout');
      fail('timeout', 504, RelayErrorCode.timeout, headSeen
        ? `the plugin's answer stood still for ${timeoutMs} ms`
        : `the plugin did not answer within ${timeoutMs} ms`);
    };
    let timer = deps.clock.setTimeout(expire, timeoutMs);

    stream = link.open({ method: req.method ?? 'GET', path, headers, body: hasBody, timeoutMs }, {
      onHead(f: ResFrame, whole?: Buffer) {
        if (whole || !f.body) deps.clock.clearTimeout(timer);
        if (outcome) return;
        headSeen = true;
        movedAt = deps.clock.mono();
        if (f.status < 200) return fail('bad_gateway', 502, RelayErrorCode.badGateway, `plugin answered ${f.status}`);
        const h = forwardableHeaders(f.headers);
        const origin = link.frontOrigin;
        let links: Array<[string, string]> | null = null;
        if (f.body && origin && isTextual(h['content-type']) && !h['content-encoding']) {
          links = replacementsFor(origin, venueBase);
          delete h['content-length'];
        }
        res.statusCode = f.status;
        if (whole) {
          // The whole answer is here: rewrite it, say its length, and send head and body in one write.
          if (whole.length) deps.metrics.bytes.inc({ direction: 'from_venue' }, whole.length);
          const body = links ? rewriteWhole(whole, links) : whole;
          const withBody = f.body && req.method !== 'HEAD';
          if (withBody) h['content-length'] = String(body.length);
          writeHead(res, f.status, h);
          done('ok', f.status);
          res.end(withBody ? body : undefined);
          return;
        }
        setHeaders(res, h);
        if (links) rewriter = new LinkRewriter(links);
        // Headers go out with the first body chunk when it is already here (same tick); otherwise on their own now.
        if (f.body) queueMicrotask(() => { if (!res.headersSent && !outcome) res.flushHeaders(); });
      },
      onData(chunk) {
        if (outcome) return;
        movedAt = deps.clock.mono();
        deps.metrics.bytes.inc({ direction: 'from_venue' }, chunk.length);
        // A rewritten chunk is in a buffer lent by the rewriter: it goes back once the caller's socket has taken it.
        const out = rewriter ? rewriter.push(chunk) : chunk;
        if (out.length === 0 || res.write(out, rewriter ? whenWritten(out) : undefined)) {
          stream?.consumed(chunk.length);
          return;
        }
        // The caller reads slower than the venue sends: grant credit back only as its socket drains.
        unacked += chunk.length;
        if (!drainWaiting) {
          drainWaiting = true;
          writeTimer = deps.clock.setTimeout(() => {
            if (outcome) return;
            deps.log.info('caller stopped reading; cutting the answer', { venueId, path: m[2] || '/', ms: writeTimeoutMs });
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
        if (code === 'forbidden') deps.log.warn('companion refused the path', { venueId, method: req.method, path: m[2] || '/', reason: message });
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
    return true;
  };
}

/**
 * The plugin's head, written at once: one flat list into writeHead, which Node checks as it writes, instead
 * of a setHeader per header (each checked and kept in the response's own header map, then written from it).
 * Node refuses the whole list if one header has characters it will not send: then each is set on its own
 * and that one is dropped, as before.
 */
function writeHead(res: ServerResponse, status: number, h: Record<string, string>): void {
  const flat: string[] = [];
  for (const k in h) flat.push(k, h[k] as string);
  try {
    res.writeHead(status, flat);
  } catch {
    setHeaders(res, h);
    res.writeHead(status);
  }
}

/** Sets each forwardable header of the plugin's answer; one Node refuses to send (odd characters) is dropped, not fatal. */
function setHeaders(res: ServerResponse, h: Record<string, string>): void {
  for (const k in h) {
    try {
      res.setHeader(k, h[k] as string);
    } catch {
      // dropped: see above
    }
  }
}

/** The caller's scheme: X-Forwarded-Proto only when the operator said a trusted proxy sets it. */
function schemeOf(req: IncomingMessage, deps: ForwardDeps): string {
  if (deps.trustProxy?.(req.socket.remoteAddress ?? '', 0)) {
    const h = req.headers['x-forwarded-proto'];
    const first = String(Array.isArray(h) ? h[0] : h ?? '').split(',')[0]?.trim().toLowerCase();
    if (first === 'http' || first === 'https') return first;
  }
  return deps.scheme;
}

/** Streams the caller's body into the tunnel, never reading faster than the companion grants credit. */
async function pumpBody(req: IncomingMessage, s: RelayStream, max: number, count: (n: number) => void): Promise<'ok' | 'too_large' | 'aborted'> {
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
