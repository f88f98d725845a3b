/**
 * The hop: a venue call that landed on a node without the venue's tunnel is
 * forwarded, as plain streamed HTTP, to the node that holds it. The caller's
 * API key never leaves the first node; the hop is signed with the cluster
 * secret instead (protocol/cluster.ts HOP_HEADER), and the owner answers as a
 * single relay would, since it learns the caller's Host, scheme and address.
 *
 * Nothing is buffered whole: both bodies are piped, so each side moves only as
 * fast as the other reads.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Agent, request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import {
  HOP_CLIENT_HEADER, HOP_COUNT_HEADER, HOP_HEADER, HOP_HOST_HEADER, HOP_KEY_HEADER, HOP_MAX, HOP_MAX_SKEW_MS, HOP_PROTO_HEADER,
} from '../../protocol/cluster.ts';
import { RelayErrorCode, TIMEOUT_HEADER } from '../../protocol/relay.ts';

/** Most sockets one node keeps open to one other node (calls beyond it queue in the agent). */
export const HOP_MAX_SOCKETS = 256;
/** Idle sockets kept per peer node for reuse. */
export const HOP_MAX_FREE_SOCKETS = 32;
/** An idle pooled socket is closed after this: below the peer's keep-alive timeout (5 s), so the peer never closes one under a new call. */
export const HOP_IDLE_MS = 4_000;
/** A peer that does not accept the TCP connection within this is treated as unreachable (venue_offline), not waited on until the deadline. */
export const HOP_CONNECT_TIMEOUT_MS = 2_000;
/**
 * The first node gives up on the head this long after the deadline it passed
 * on: the owner normally answers its own 504 first (it knows why), this only
 * catches an owner that went silent.
 */
export const HOP_DEADLINE_GRACE_MS = 500;

const VERSION = 'v1';
const NODE_ID_RE = /^[A-Za-z0-9._:@-]{1,128}$/;
const HEX_RE = /^[0-9a-f]{64}$/;
const HOST_RE = /^[A-Za-z0-9.\-_[\]:]{1,255}$/;
const CLIENT_RE = /^[0-9A-Fa-f:.]{2,45}$/;

/** Headers that describe one connection, never the call (RFC 9110 7.6.1), plus what the first node replaces. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'expect']);
/** The caller's credentials and claims about itself stay on the first node. */
const CALLER_ONLY = new Set(['authorization', 'cookie', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', TIMEOUT_HEADER]);

function mac(secret: string, from: string, ts: string, method: string, path: string, hops: number): Buffer {
  return createHmac('sha256', secret).update(`${VERSION}\n${from}\n${ts}\n${method.toUpperCase()}\n${path}\n${hops}`).digest();
}

/** The HOP_HEADER value for this call; `verifyHop` with the same inputs (within HOP_MAX_SKEW_MS) accepts it. */
export function signHop(secret: string, fromNode: string, method: string, pathWithQuery: string, hops: number, nowMs: number): string {
  const ts = String(Math.floor(nowMs));
  return `${VERSION} ${fromNode} ${ts} ${mac(secret, fromNode, ts, method, pathWithQuery, hops).toString('hex')}`;
}

export type HopRefusal = 'malformed' | 'hops' | 'skew' | 'signature';

/** Accepts only a well-formed, fresh, correctly signed header for exactly this method, path and hop count; never throws. */
export function verifyHop(
  secret: string, headerValue: unknown, method: string, pathWithQuery: string, hops: unknown, nowMs: number,
): { ok: true; from: string } | { ok: false; reason: HopRefusal } {
  if (typeof headerValue !== 'string' || headerValue.length > 300) return { ok: false, reason: 'malformed' };
  const parts = headerValue.split(' ');
  if (parts.length !== 4) return { ok: false, reason: 'malformed' };
  const [v, from, ts, sig] = parts as [string, string, string, string];
  if (v !== VERSION || !NODE_ID_RE.test(from) || !/^\d{1,15}$/.test(ts) || !HEX_RE.test(sig)) return { ok: false, reason: 'malformed' };
  if (typeof hops !== 'number' || !Number.isInteger(hops) || hops < 1 || hops > HOP_MAX) return { ok: false, reason: 'hops' };
  if (!Number.isFinite(nowMs) || Math.abs(nowMs - Number(ts)) > HOP_MAX_SKEW_MS) return { ok: false, reason: 'skew' };
  const want = mac(secret, from, ts, method, pathWithQuery, hops);
  if (!timingSafeEqual(want, Buffer.from(sig, 'hex'))) return { ok: false, reason: 'signature' };
  return { ok: true, from };
}

/** Who a hop-signed call comes from, and what the first node saw of the caller. */
export interface HopCaller {
  from: string;
  hops: number;
  /** The caller's Host (for rewritten links), or null when the first node sent none. */
  host: string | null;
  proto: 'http' | 'https' | null;
  /** The caller's address (for logs and pairing limits). */
  client: string | null;
  /** The fingerprint of the caller's API key (keyFingerprint), for the support audit; null when none came. */
  key: string | null;
}

/** A hop header that was present but not accepted; answer it with `refuseHop`. */
export interface HopDenied {
  denied: true;
  status: 401 | 403;
  error: string;
  message: string;
  reason: HopRefusal;
}

/**
 * The receiving node's check: a HopCaller for a valid hop, null for a call
 * that carries no hop header (an ordinary caller: check its API key), a
 * HopDenied for one that carries a bad one (never fall back to the API key).
 */
export function hopAuth(secret: string, now: () => number = Date.now): (req: IncomingMessage) => HopCaller | HopDenied | null {
  return (req) => {
    const h = req.headers[HOP_HEADER];
    if (h === undefined) return null;
    const count = one(req.headers[HOP_COUNT_HEADER]);
    const hops = count !== undefined && /^\d{1,2}$/.test(count) ? Number(count) : NaN;
    const r = verifyHop(secret, Array.isArray(h) ? null : h, req.method ?? '', req.url ?? '', hops, now());
    if (!r.ok) {
      const status = r.reason === 'malformed' ? 401 : 403;
      return { denied: true, status, error: status === 401 ? RelayErrorCode.unauthorized : RelayErrorCode.forbidden, message: `hop refused: ${r.reason}`, reason: r.reason };
    }
    const host = one(req.headers[HOP_HOST_HEADER]);
    const proto = one(req.headers[HOP_PROTO_HEADER]);
    const client = one(req.headers[HOP_CLIENT_HEADER]);
    const key = one(req.headers[HOP_KEY_HEADER]);
    return {
      from: r.from, hops,
      key: key && /^[0-9a-f]{12}$/.test(key) ? key : null,
      host: host && HOST_RE.test(host) ? host : null,
      proto: proto === 'http' || proto === 'https' ? proto : null,
      client: client && CLIENT_RE.test(client) ? client : null,
    };
  };
}

/** Answers a refused hop with its status and JSON body. */
export function refuseHop(res: ServerResponse, d: HopDenied): void {
  sendJson(res, d.status, { error: d.error, message: d.message });
}

/** How one forwarded call ended, for metrics. */
export type HopOutcome = 'ok' | 'offline' | 'timeout' | 'cancelled' | 'broken' | 'loop';

export interface ForwardOptions {
  secret: string;
  /** This node's id (signs the hop). */
  nodeId: string;
  /** Hops the call made before reaching this node (0 when the caller came straight here); the forward is hop number hops + 1. */
  hops?: number;
  /** What is left of the caller's deadline for the head, in ms: passed on as x-evva-timeout-ms and enforced here too. */
  timeoutMs: number;
  /** The caller's Host, scheme and address as the first node saw them. */
  originalHost: string;
  originalProto: 'http' | 'https';
  client: string | null;
  /** The caller's key fingerprint (keyFingerprint), passed on for the owner's support audit. */
  key?: string | null;
  /** The keep-alive pool for hops (createHopAgent); one per node. */
  agent: Agent;
  now?: () => number;
  onOutcome?: (outcome: HopOutcome) => void;
}

/** The keep-alive pool the hop uses: bounded sockets per peer, idle ones closed before the peer would. */
export function createHopAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: HOP_MAX_SOCKETS, maxFreeSockets: HOP_MAX_FREE_SOCKETS, timeout: HOP_IDLE_MS, scheduling: 'lifo' });
}

/** The request headers the owner gets: the caller's own, minus its credentials and per-connection ones, plus the signed hop. */
export function hopHeaders(req: IncomingMessage, path: string, hops: number, o: ForwardOptions): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = new Set(String(req.headers.connection ?? '').toLowerCase().split(',').map((x) => x.trim()).filter(Boolean));
  for (const [k, v] of Object.entries(req.headers as IncomingHttpHeaders)) {
    if (v === undefined) continue;
    if (HOP_BY_HOP.has(k) || k.startsWith('proxy-') || named.has(k) || CALLER_ONLY.has(k) || k.startsWith('x-evva-hop')) continue;
    out[k] = v;
  }
  out[HOP_HEADER] = signHop(o.secret, o.nodeId, req.method ?? 'GET', path, hops, (o.now ?? Date.now)());
  out[HOP_COUNT_HEADER] = String(hops);
  out[HOP_HOST_HEADER] = o.originalHost;
  out[HOP_PROTO_HEADER] = o.originalProto;
  if (o.client) out[HOP_CLIENT_HEADER] = o.client;
  if (o.key) out[HOP_KEY_HEADER] = o.key;
  out[TIMEOUT_HEADER] = String(Math.max(1, Math.floor(o.timeoutMs)));
  return out;
}

/**
 * Forwards the caller's call to `target.url + req.url` and streams the answer
 * back. Answers exactly once: the owner's answer, or a JSON error when no head
 * was sent yet (503 venue_offline when the owner cannot be reached, 504 when
 * it stays silent past the deadline); after the head a failure destroys the
 * response, so the caller sees a cut answer, never a wrong one. A caller that
 * goes away aborts the upstream call.
 */
export function forward(req: IncomingMessage, res: ServerResponse, target: { nodeId: string; url: string }, o: ForwardOptions): void {
  const hops = (o.hops ?? 0) + 1;
  let outcome: HopOutcome | null = null;
  let up: ClientRequest | null = null;
  /** The owner's head arrived / was copied onto `res`. */
  let headed = false;
  let applied = false;
  let retried = false;
  const finish = (x: HopOutcome) => {
    if (outcome) return false;
    outcome = x;
    clearTimeout(deadline);
    o.onOutcome?.(x);
    return true;
  };
  const fail = (x: HopOutcome, status: number, error: string, message: string) => {
    if (!finish(x)) return;
    up?.destroy();
    // Once the owner's head is applied to `res`, an error body would contradict it: cut the answer instead.
    if (res.headersSent || applied) res.destroy();
    else sendJson(res, status, { error, message });
  };
  const deadline = setTimeout(() => {
    fail('timeout', 504, RelayErrorCode.timeout, `the relay node holding the venue did not answer within ${o.timeoutMs} ms`);
  }, o.timeoutMs + HOP_DEADLINE_GRACE_MS);

  if (hops > HOP_MAX) return fail('loop', 503, RelayErrorCode.venueOffline, `the call already passed ${HOP_MAX} relay nodes; the venue is moving, retry`);

  let base: URL;
  try {
    base = new URL(target.url);
  } catch {
    return fail('offline', 503, RelayErrorCode.venueOffline, `the relay node holding the venue (${target.nodeId}) has no usable address`);
  }
  const path = base.pathname.replace(/\/+$/, '') + (req.url ?? '/');
  const headers = hopHeaders(req, path, hops, o);
  const hasBody = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) > 0 : req.headers['transfer-encoding'] !== undefined;

  const send = () => {
    const r = request({
      protocol: base.protocol, hostname: base.hostname, port: base.port, method: req.method, path, headers, agent: o.agent,
    });
    up = r;
    r.on('socket', (s) => {
      if (!s.connecting) return;
      const t = setTimeout(() => r.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), HOP_CONNECT_TIMEOUT_MS);
      s.once('connect', () => clearTimeout(t));
      s.once('close', () => clearTimeout(t));
    });
    r.on('response', (answer) => {
      headed = true;
      if (outcome) return void answer.destroy();
      applied = true;
      res.statusCode = answer.statusCode ?? 502;
      const named = new Set(String(answer.headers.connection ?? '').toLowerCase().split(',').map((x) => x.trim()).filter(Boolean));
      for (const [k, v] of Object.entries(answer.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k) || k.startsWith('proxy-') || named.has(k)) continue;
        res.setHeader(k, v);
      }
      // The head is settled: the deadline covered waiting for it, not reading a long answer.
      clearTimeout(deadline);
      answer.on('aborted', () => fail('broken', 502, RelayErrorCode.badGateway, 'the relay node holding the venue broke off its answer'));
      answer.on('error', () => fail('broken', 502, RelayErrorCode.badGateway, 'the relay node holding the venue broke off its answer'));
      answer.on('end', () => {
        if (!answer.complete) fail('broken', 502, RelayErrorCode.badGateway, 'the relay node holding the venue broke off its answer');
      });
      answer.pipe(res);
    });
    r.on('error', (err: NodeJS.ErrnoException) => {
      if (outcome) return;
      // A pooled socket the peer closed just as it was reused: safe to send again only when no body went out.
      if (!headed && !retried && !hasBody && r.reusedSocket && err.code === 'ECONNRESET') {
        retried = true;
        return send();
      }
      // After the head the answer's own events decide: an owner that answered early (413) and stopped reading the upload is not a failure.
      if (headed) return;
      fail('offline', 503, RelayErrorCode.venueOffline, `the relay node holding the venue (${target.nodeId}) cannot be reached; retry shortly`);
    });
    if (hasBody) req.pipe(r);
    else r.end();
  };

  // The caller went away (or its socket broke) before the answer was complete: stop the owner's work too.
  res.on('close', () => {
    if (outcome) return;
    if (res.writableFinished) return void finish('ok');
    finish('cancelled');
    up?.destroy();
  });
  send();
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
