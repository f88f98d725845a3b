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
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  Agent, IncomingMessage, request, type ClientRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerResponse,
} from 'node:http';
import {
  HOP_BODY_HEADER, HOP_CLIENT_HEADER, HOP_COUNT_HEADER, HOP_HEADER, HOP_HOST_HEADER, HOP_KEY_HEADER, HOP_MAX, HOP_MAX_SKEW_MS,
  HOP_PROTO_HEADER,
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
/** Most request body bytes a hop carries (read whole to sign its digest): the venue API's own limit (relay/forward.ts DEFAULT_MAX_REQUEST_BYTES). */
export const HOP_DEFAULT_BODY_BYTES = 1024 * 1024;
/** Nonces remembered at most (each for the skew window); beyond it hops are refused rather than remembered less. */
export const HOP_NONCES_MAX = 500_000;

const VERSION = 'v2';
const NODE_ID_RE = /^[A-Za-z0-9._:@-]{1,128}$/;
const HEX_RE = /^[0-9a-f]{64}$/;
const NONCE_RE = /^[0-9a-f]{32}$/;
const HOST_RE = /^[A-Za-z0-9.\-_[\]:]{1,255}$/;
const CLIENT_RE = /^[0-9A-Fa-f:.]{2,45}$/;
/** SHA-256 of no bytes: the body digest of a call without a body. */
export const EMPTY_DIGEST = createHash('sha256').digest('hex');

/** Headers that describe one connection, never the call (RFC 9110 7.6.1), plus what the first node replaces. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'expect']);
/** The caller's credentials and claims about itself stay on the first node. */
const CALLER_ONLY = new Set(['authorization', 'cookie', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', TIMEOUT_HEADER]);
/** Every header the hop adds is signed, in this order (a missing one signs as empty). */
export const SIGNED_HEADERS = [HOP_COUNT_HEADER, HOP_HOST_HEADER, HOP_PROTO_HEADER, HOP_CLIENT_HEADER, HOP_KEY_HEADER, TIMEOUT_HEADER, HOP_BODY_HEADER] as const;

type HeaderBag = Record<string, string | string[] | number | undefined>;
const text = (v: string | string[] | number | undefined): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

function mac(secret: string, from: string, to: string, ts: string, nonce: string, method: string, path: string, headers: HeaderBag): Buffer {
  const h = createHmac('sha256', secret).update(`${VERSION}\n${from}\n${to}\n${ts}\n${nonce}\n${method.toUpperCase()}\n${path}\n`);
  for (const name of SIGNED_HEADERS) h.update(`${name}:${text(headers[name])}\n`);
  return h.digest();
}

/**
 * The HOP_HEADER value for this call: `v2 <from> <to> <unixMs> <nonce> <hmac>`,
 * the HMAC over version, sender, receiver, time, nonce, method, path with
 * query and every hop header (SIGNED_HEADERS, the body digest among them).
 * `verifyHop` with the same inputs (within HOP_MAX_SKEW_MS, at node `to`) accepts it.
 */
export function signHop(secret: string, from: string, to: string, method: string, pathWithQuery: string, headers: HeaderBag, nowMs: number,
  nonce = randomBytes(16).toString('hex')): string {
  const ts = String(Math.floor(nowMs));
  return `${VERSION} ${from} ${to} ${ts} ${nonce} ${mac(secret, from, to, ts, nonce, method, pathWithQuery, headers).toString('hex')}`;
}

export type HopRefusal = 'malformed' | 'hops' | 'skew' | 'signature' | 'destination' | 'replay' | 'body' | 'busy';

/**
 * Accepts only a well-formed, fresh, correctly signed header for exactly this
 * method, path and these hop headers, addressed to `self`; never throws. The
 * nonce is returned for the caller's replay check, the signed body digest for
 * its body check.
 */
export function verifyHop(
  secret: string, headerValue: unknown, method: string, pathWithQuery: string, headers: HeaderBag, self: string, nowMs: number,
): { ok: true; from: string; nonce: string; ts: number; hops: number; digest: string } | { ok: false; reason: HopRefusal } {
  if (typeof headerValue !== 'string' || headerValue.length > 400) return { ok: false, reason: 'malformed' };
  const parts = headerValue.split(' ');
  if (parts.length !== 6) return { ok: false, reason: 'malformed' };
  const [v, from, to, ts, nonce, sig] = parts as [string, string, string, string, string, string];
  if (v !== VERSION || !NODE_ID_RE.test(from) || !NODE_ID_RE.test(to) || !/^\d{1,15}$/.test(ts) || !NONCE_RE.test(nonce) || !HEX_RE.test(sig)) {
    return { ok: false, reason: 'malformed' };
  }
  const digest = text(headers[HOP_BODY_HEADER]);
  if (!HEX_RE.test(digest)) return { ok: false, reason: 'malformed' };
  const count = text(headers[HOP_COUNT_HEADER]);
  const hops = /^\d{1,2}$/.test(count) ? Number(count) : NaN;
  if (!Number.isInteger(hops) || hops < 1 || hops > HOP_MAX) return { ok: false, reason: 'hops' };
  if (!Number.isFinite(nowMs) || Math.abs(nowMs - Number(ts)) > HOP_MAX_SKEW_MS) return { ok: false, reason: 'skew' };
  const want = mac(secret, from, to, ts, nonce, method, pathWithQuery, headers);
  if (!timingSafeEqual(want, Buffer.from(sig, 'hex'))) return { ok: false, reason: 'signature' };
  // Signed for another node: a hop captured on its way to one node is not good at another.
  if (to !== self) return { ok: false, reason: 'destination' };
  return { ok: true, from, nonce, ts: Number(ts), hops, digest };
}

/**
 * The nonces of hops accepted within the skew window: a captured hop resent
 * while its time is still good is refused as a replay. Bounded: past
 * HOP_NONCES_MAX live entries a new hop is refused (`busy`), never let through unremembered.
 */
export class NonceCache {
  private readonly seen = new Map<string, number>();
  private sweeps = 0;

  constructor(private readonly max = HOP_NONCES_MAX) {}

  /** True when the nonce is new (and now remembered until `ts` + the skew), false for a replay; null when full. */
  take(nonce: string, ts: number, now: number): boolean | null {
    if (this.seen.has(nonce)) return false;
    if (this.seen.size >= this.max || ++this.sweeps >= 10_000) {
      this.sweeps = 0;
      for (const [n, until] of this.seen) if (until < now) this.seen.delete(n);
      if (this.seen.size >= this.max) return null;
    }
    this.seen.set(nonce, ts + HOP_MAX_SKEW_MS);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
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
  /** The SHA-256 of the body the first node signed (hex). */
  digest: string;
}

/** A hop header that was present but not accepted; answer it with `refuseHop`. */
export interface HopDenied {
  denied: true;
  status: 401 | 403 | 503;
  error: string;
  message: string;
  reason: HopRefusal;
}

/**
 * The receiving node's check: a HopCaller for a valid hop, null for a call
 * that carries no hop header (an ordinary caller: check its API key), a
 * HopDenied for one that carries a bad one (never fall back to the API key).
 * The body is not read here: `withBody` checks it against the signed digest
 * before anything acts on the call.
 */
export function hopAuth(secret: string, self: string, now: () => number = Date.now, nonces = new NonceCache()): (req: IncomingMessage) => HopCaller | HopDenied | null {
  const deny = (reason: HopRefusal): HopDenied => {
    const status = reason === 'malformed' ? 401 : reason === 'busy' ? 503 : 403;
    const error = status === 401 ? RelayErrorCode.unauthorized : status === 503 ? RelayErrorCode.overloaded : RelayErrorCode.forbidden;
    return { denied: true, status, error, message: `hop refused: ${reason}`, reason };
  };
  return (req) => {
    const h = req.headers[HOP_HEADER];
    if (h === undefined) return null;
    const t = now();
    const r = verifyHop(secret, Array.isArray(h) ? null : h, req.method ?? '', req.url ?? '', req.headers, self, t);
    if (!r.ok) return deny(r.reason);
    const fresh = nonces.take(r.nonce, r.ts, t);
    if (fresh === null) return deny('busy');
    if (!fresh) return deny('replay');
    const host = one(req.headers[HOP_HOST_HEADER]);
    const proto = one(req.headers[HOP_PROTO_HEADER]);
    const client = one(req.headers[HOP_CLIENT_HEADER]);
    const key = one(req.headers[HOP_KEY_HEADER]);
    return {
      from: r.from, hops: r.hops, digest: r.digest,
      key: key && /^[0-9a-f]{12}$/.test(key) ? key : null,
      host: host && HOST_RE.test(host) ? host : null,
      proto: proto === 'http' || proto === 'https' ? proto : null,
      client: client && CLIENT_RE.test(client) ? client : null,
    };
  };
}

/**
 * Reads a verified hop's body whole (at most `cap` bytes) and checks it
 * against the signed digest. Resolves with a request carrying exactly those
 * bytes for the local handlers, or with why it was refused: `too_large`, or
 * `body` when the bytes are not the ones the first node signed.
 */
export function withBody(req: IncomingMessage, digest: string, cap: number): Promise<IncomingMessage | 'too_large' | 'body' | 'gone'> {
  return readWhole(req, cap).then((body) => {
    if (body === 'too_large' || body === 'gone') return body;
    const got = createHash('sha256').update(body).digest();
    if (!timingSafeEqual(got, Buffer.from(digest, 'hex'))) return 'body';
    return replay(req, body);
  });
}

/** Reads the whole body of `req`, or says it was over `cap` bytes (the rest is not read) or the caller went. */
export function readWhole(req: IncomingMessage, cap: number): Promise<Buffer | 'too_large' | 'gone'> {
  const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : null;
  if (declared === 0 || (declared === null && req.headers['transfer-encoding'] === undefined)) return Promise.resolve(Buffer.alloc(0));
  if (declared !== null && declared > cap) return Promise.resolve('too_large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let settled = false;
    const done = (v: Buffer | 'too_large' | 'gone') => { if (!settled) { settled = true; resolve(v); } };
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > cap) { req.pause(); return done('too_large'); }
      chunks.push(c);
    });
    req.on('end', () => done(Buffer.concat(chunks)));
    req.on('error', () => done('gone'));
    req.on('aborted', () => done('gone'));
  });
}

/** A request like `req` whose body is `body`, already read (the original's was consumed to check it). */
function replay(req: IncomingMessage, body: Buffer): IncomingMessage {
  const r = new IncomingMessage(req.socket);
  r.method = req.method;
  r.url = req.url;
  r.headers = req.headers;
  r.rawHeaders = req.rawHeaders;
  r.httpVersion = req.httpVersion;
  r.httpVersionMajor = req.httpVersionMajor;
  r.httpVersionMinor = req.httpVersionMinor;
  r.complete = true;
  if (body.length) r.push(body);
  r.push(null);
  return r;
}

/** Answers a refused hop with its status and JSON body. */
export function refuseHop(res: ServerResponse, d: HopDenied): void {
  sendJson(res, d.status, { error: d.error, message: d.message });
}

/** How one forwarded call ended, for metrics. */
export type HopOutcome = 'ok' | 'offline' | 'timeout' | 'cancelled' | 'broken' | 'loop' | 'too_large' | 'unproven';

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
  /** Most request body bytes carried (default HOP_DEFAULT_BODY_BYTES); a larger body is answered 413 here. */
  maxBodyBytes?: number;
  now?: () => number;
  onOutcome?: (outcome: HopOutcome) => void;
}

/** The keep-alive pool the hop uses: bounded sockets per peer, idle ones closed before the peer would. */
export function createHopAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: HOP_MAX_SOCKETS, maxFreeSockets: HOP_MAX_FREE_SOCKETS, timeout: HOP_IDLE_MS, scheduling: 'lifo' });
}

/** The request headers the owner gets: the caller's own, minus its credentials and per-connection ones, plus the signed hop. */
export function hopHeaders(req: IncomingMessage, path: string, hops: number, o: ForwardOptions, to: string, body: Buffer): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = new Set(String(req.headers.connection ?? '').toLowerCase().split(',').map((x) => x.trim()).filter(Boolean));
  for (const [k, v] of Object.entries(req.headers as IncomingHttpHeaders)) {
    if (v === undefined) continue;
    if (HOP_BY_HOP.has(k) || k.startsWith('proxy-') || named.has(k) || CALLER_ONLY.has(k) || k.startsWith('x-evva-hop') || k === 'content-length') continue;
    out[k] = v;
  }
  out[HOP_COUNT_HEADER] = String(hops);
  out[HOP_HOST_HEADER] = o.originalHost;
  out[HOP_PROTO_HEADER] = o.originalProto;
  if (o.client) out[HOP_CLIENT_HEADER] = o.client;
  if (o.key) out[HOP_KEY_HEADER] = o.key;
  out[TIMEOUT_HEADER] = String(Math.max(1, Math.floor(o.timeoutMs)));
  out[HOP_BODY_HEADER] = createHash('sha256').update(body).digest('hex');
  // Always a length: the body was read whole, and a chunked empty body would read differently on the other side.
  out['content-length'] = String(body.length);
  out[HOP_HEADER] = signHop(o.secret, o.nodeId, to, req.method ?? 'GET', path, out as HeaderBag, (o.now ?? Date.now)());
  return out;
}

/**
 * Forwards the caller's call to `target.url + req.url` and streams the answer
 * back. The request body (at most maxBodyBytes) is read whole first: its
 * digest is signed with the rest, so nothing can be slipped in on the way.
 * Answers exactly once: the owner's answer, or a JSON error when no head was
 * sent yet (503 venue_offline when the owner cannot be reached, 504 when it
 * stays silent past the deadline, 413 for a body over the limit); after the
 * head a failure destroys the response, so the caller sees a cut answer,
 * never a wrong one. A caller that goes away aborts the upstream call.
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
  const cap = o.maxBodyBytes ?? HOP_DEFAULT_BODY_BYTES;

  const send = (body: Buffer) => {
    // Signed afresh for every send: a resend carries a new nonce (the owner refuses a nonce twice).
    const headers = hopHeaders(req, path, hops, o, target.nodeId, body);
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
      if (!headed && !retried && body.length === 0 && r.reusedSocket && err.code === 'ECONNRESET') {
        retried = true;
        return send(body);
      }
      // After the head the answer's own events decide: an owner that answered early (413) and stopped reading the upload is not a failure.
      if (headed) return;
      fail('offline', 503, RelayErrorCode.venueOffline, `the relay node holding the venue (${target.nodeId}) cannot be reached; retry shortly`);
    });
    r.end(body);
  };

  // The caller went away (or its socket broke) before the answer was complete: stop the owner's work too.
  res.on('close', () => {
    if (outcome) return;
    if (res.writableFinished) return void finish('ok');
    finish('cancelled');
    up?.destroy();
  });
  void readWhole(req, cap).then((body) => {
    if (outcome) return;
    if (body === 'gone') return void finish('cancelled');
    if (body === 'too_large') return fail('too_large', 413, RelayErrorCode.tooLarge, `request body over ${cap} bytes`);
    send(body);
  });
}

export function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
