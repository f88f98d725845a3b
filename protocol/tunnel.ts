/**
 * The tunnel protocol `evva-tunnel.1`: one WebSocket from the companion to the
 * relay carries many concurrent HTTP exchanges, each on its own stream id.
 * Documented in docs/protocol.md; this file is the single source of its shapes,
 * limits, timings and the codec both ends use.
 *
 * Text frames are JSON control frames (validated with zod). Binary frames carry
 * body chunks: 1 type byte, a u32 (big-endian) stream id, then the payload.
 */
import { z } from 'zod';
import { FrontStatus, Status } from './local.ts';

/** The protocol version, offered as the WebSocket subprotocol and repeated in hello/welcome. */
export const TUNNEL_PROTOCOL = 'evva-tunnel.1';
/**
 * Revisions of `evva-tunnel.1`, each a superset of the one before. A peer
 * offers the highest it speaks in hello (`rev`; absent = 1), the relay answers
 * in welcome with the one the link uses (the lower of both; absent = 1), so a
 * companion and a relay of different ages always agree.
 *  - 1: the original frames.
 *  - 2: the companion may answer with one binary `head` frame (res head and
 *       the first body bytes, and `end` when that is all), instead of res,
 *       data, end; the relay sends no window for a stream that has ended.
 */
export const TUNNEL_REVISION = 2;
/** The relay path of the WebSocket upgrade. */
export const TUNNEL_PATH = '/v1/tunnel';
/**
 * The companion names its venue in the tunnel URL (`/v1/tunnel?venue=<id>`)
 * so a load balancer can hash tunnels and venue calls (`/v1/venues/<id>/…`)
 * to the same node (deploy/haproxy.cfg: `balance hash`). The relay never
 * trusts it: the device token decides the venue; a link whose hint differs
 * from its token's venue is treated as having none.
 */
export const TUNNEL_VENUE_PARAM = 'venue';

// ---- limits -----------------------------------------------------------------

/** Largest body chunk in one binary frame; bodies of any size stream as many such chunks. */
export const MAX_CHUNK_BYTES = 64 * 1024;
/** Bytes in a binary frame before the payload: type (1) + stream id (4). */
export const DATA_HEADER_BYTES = 5;
/** Largest JSON control frame; headers of one exchange must fit in it. */
export const MAX_CONTROL_FRAME_BYTES = 64 * 1024;
/** Largest frame either side sends or accepts; a bigger one closes the link with frameTooLarge and a reason. */
export const MAX_FRAME_BYTES = MAX_CHUNK_BYTES + DATA_HEADER_BYTES;
/**
 * The WebSocket library's own hard limit (ws `maxPayload`), a backstop above
 * MAX_FRAME_BYTES: frames between the two are refused by the codec with a
 * reason; beyond it ws closes with 1009 before buffering any more.
 */
export const WS_MAX_PAYLOAD_BYTES = 2 * MAX_FRAME_BYTES;
/** Credit each stream starts with, per direction: at most this many body bytes are ever unacknowledged. */
export const STREAM_WINDOW_BYTES = 256 * 1024;
/** Streams one link may hold open at once; a req beyond it is answered with error `overloaded`. */
export const MAX_STREAMS_PER_LINK = 256;
/** Largest stream id; ids are never reused on one link. */
export const MAX_STREAM_ID = 0xffff_ffff;
/** Longest request target (path + query) a req frame may carry. */
export const MAX_PATH_CHARS = 8 * 1024;
/** Most headers a req/res frame may carry. */
export const MAX_HEADERS = 100;

// ---- timings ----------------------------------------------------------------

/** How often the companion sends a ping; any frame received counts as life (the relay answers with pong). */
export const PING_INTERVAL_MS = 3_000;
/**
 * How often the relay pings, for its RTT figure only: heartbeats are one-way
 * (the companion's pings keep both sides alive), so 10 000 idle links cost the
 * relay one pong per link per 3 s and no timer of their own.
 */
export const RELAY_PING_INTERVAL_MS = 30_000;
/** Silence after which a side declares the link dead and terminates it (a link dies within DEAD_AFTER_MS + HEARTBEAT_CHECK_MS < 10 s). */
export const DEAD_AFTER_MS = 8_000;
/** How often each side checks for silence. */
export const HEARTBEAT_CHECK_MS = 1_000;
/** How long the relay waits for hello after the upgrade, and the companion for welcome after hello. */
export const HELLO_TIMEOUT_MS = 5_000;
/** Default per-request timeout: the wait for the response head, and the longest gap between body chunks from the plugin. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** Longest per-request timeout a req frame may ask for. */
export const MAX_REQUEST_TIMEOUT_MS = 120_000;
/** After go-away, how long in-flight streams on the old link may run before it is closed anyway. */
export const GOAWAY_DRAIN_MS = 30_000;

// ---- close codes (WebSocket close frames) ----------------------------------

/** Close codes the tunnel uses; 4000-4999 are the application range of RFC 6455. */
export const CloseCode = {
  /** Orderly close (drained after go-away, client stopped). */
  normal: 1000,
  /** The relay or the companion is shutting down. */
  goingAway: 1001,
  /** ws itself: a message larger than WS_MAX_PAYLOAD_BYTES (no reason text). */
  tooBig: 1009,
  /** A frame failed validation: bad JSON, unknown type, wrong shape, bad binary header, unknown stream. */
  protocolError: 4000,
  /** A control frame larger than MAX_CONTROL_FRAME_BYTES or a chunk larger than MAX_CHUNK_BYTES. */
  frameTooLarge: 4001,
  /** The peer speaks another protocol version. */
  unsupportedVersion: 4002,
  /** The device token was revoked or replaced by a new pairing: do not reconnect with it. */
  revoked: 4003,
  /** A newer link of the same venue took over, and this one has drained (or the drain timed out). */
  replaced: 4004,
  /** No frame arrived for DEAD_AFTER_MS. */
  heartbeatTimeout: 4005,
  /** A peer sent body bytes beyond the credit it was given. */
  flowControl: 4006,
  /** Too many open streams. */
  tooManyStreams: 4007,
  /** No hello (or welcome) within HELLO_TIMEOUT_MS. */
  helloTimeout: 4008,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

// ---- control frames ---------------------------------------------------------

const sid = z.number().int().min(1).max(MAX_STREAM_ID);
const headerName = z.string().min(1).max(256).regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/);
const headers = z.record(headerName, z.string().max(16 * 1024)).refine((h) => Object.keys(h).length <= MAX_HEADERS, 'too many headers');
const companion = z.object({ version: z.string().min(1).max(64), hostname: z.string().min(1).max(255) });
/** An http(s) origin without path, e.g. `http://127.0.0.1:9042`. */
const origin = z.string().max(256).regex(/^https?:\/\/[^/?#\s]+$/);

/** Why a stream failed; the relay maps each to an HTTP status (docs/protocol.md). */
export const StreamErrorCode = z.enum([
  'forbidden',    // the companion's gate refused the request (403)
  'unreachable',  // the plugin does not answer (502)
  'bad_gateway',  // the plugin answered, but not usably (502)
  'unlicensed',   // the plugin refused the companion's login: no licence slot (502)
  'timeout',      // no answer within timeoutMs (504)
  'too_large',    // a body exceeded a size limit (413)
  'bad_request',  // the req frame made no sense to the companion (400)
  'overloaded',   // too many streams open (503)
  'internal',     // anything else (502)
]);
export type StreamErrorCode = z.infer<typeof StreamErrorCode>;

const rev = z.number().int().min(1).max(1_000);

export const HelloFrame = z.object({
  t: z.literal('hello'),
  v: z.string().max(32),
  /** The highest revision the companion speaks (absent: 1). */
  rev: rev.optional(),
  companion,
  /** The plugin origin the companion's upstream calls; the relay rewrites links that start with it. */
  frontOrigin: origin.nullable(),
  front: FrontStatus.optional(),
});
export const WelcomeFrame = z.object({
  t: z.literal('welcome'),
  v: z.string().max(32),
  venueId: z.string().max(64),
  /** The revision this link uses (absent: 1). */
  rev: rev.optional(),
  /** Opaque id of this link, for logs on both sides. */
  linkId: z.string().max(64),
  /** The relay's wall clock (epoch ms) as it sent welcome: the companion measures its clock skew against it. */
  now: z.number().int().nonnegative().optional(),
  /** The address the relay saw the tunnel come from (the venue's public IP), for diagnostics. */
  peer: z.string().max(64).optional(),
});
export const PingFrame = z.object({ t: z.literal('ping'), id: z.number().int().nonnegative() });
export const PongFrame = z.object({ t: z.literal('pong'), id: z.number().int().nonnegative() });
/** relay → companion: open stream `sid` with an HTTP request. */
export const ReqFrame = z.object({
  t: z.literal('req'),
  sid,
  method: z.string().min(1).max(16),
  /** Origin-form target as the EVVA caller sent it after the venue prefix: `/api/orders?$top=5`. */
  path: z.string().min(1).max(MAX_PATH_CHARS),
  headers,
  /** True when request body chunks follow (then an `end`). */
  body: z.boolean(),
  timeoutMs: z.number().int().min(1).max(MAX_REQUEST_TIMEOUT_MS),
});
/** companion → relay: the response head of stream `sid`. */
export const ResFrame = z.object({
  t: z.literal('res'),
  sid,
  status: z.number().int().min(100).max(599),
  headers,
  /** True when response body chunks follow (then an `end`). */
  body: z.boolean(),
});
/** Either way: no more body chunks from the sender on `sid`. */
export const EndFrame = z.object({ t: z.literal('end'), sid });
/** Either way: the receiver has consumed `bytes` more of `sid`'s body; the sender may send that much more. */
export const WindowFrame = z.object({ t: z.literal('window'), sid, bytes: z.number().int().min(1).max(STREAM_WINDOW_BYTES) });
/** Either way: abandon `sid` (caller gone, timeout); the peer stops work and sends nothing more on it. */
export const CancelFrame = z.object({ t: z.literal('cancel'), sid, reason: z.string().max(200).optional() });
/** Either way: `sid` failed; nothing more follows on it. */
export const ErrorFrame = z.object({ t: z.literal('error'), sid, code: StreamErrorCode, message: z.string().max(500).optional() });
/** relay → companion: open a new link now, then drain this one (no new streams arrive on it). */
export const GoawayFrame = z.object({
  t: z.literal('goaway'),
  reason: z.enum(['drain', 'replaced', 'shutdown']),
  /** How long in-flight streams may keep the old link. */
  drainMs: z.number().int().min(0).max(GOAWAY_DRAIN_MS),
});
/**
 * companion → relay: the plugin state as the companion sees it (sent on change)
 * and, from companions that have it, the companion's whole status as its own
 * window shows it, so EVVA's support console states the venue's verdict with
 * the companion's own words (relay/console/). Optional: an older companion
 * sends only `front`; an older relay drops `status` unread.
 */
export const StatusFrame = z.object({ t: z.literal('status'), front: FrontStatus, frontOrigin: origin.nullable().optional(), status: Status.optional() });

// Reserved for later issues. Validated now so both sides can already receive
// them safely; a side that does not implement one answers as docs/protocol.md says.
/** relay → companion (reserved): run a named command (diagnostics, payments, logs). */
export const CmdFrame = z.object({ t: z.literal('cmd'), id: z.string().min(1).max(64), name: z.string().min(1).max(64), args: z.unknown().optional() });
/** companion → relay (reserved): the result of `cmd` `id`. */
export const CmdResultFrame = z.object({
  t: z.literal('cmd_result'),
  id: z.string().min(1).max(64),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.object({ code: z.string().max(64), message: z.string().max(500) }).optional(),
});
/** companion → relay (reserved): one event of the feed (envelope defined by the feed issue). */
export const EventFrame = z.object({ t: z.literal('event'), eventId: z.string().min(1).max(64), seq: z.number().int().nonnegative(), event: z.unknown() });
/** relay → companion (reserved): the relay has stored these events. */
export const AckFrame = z.object({ t: z.literal('ack'), eventIds: z.array(z.string().min(1).max(64)).max(1000) });

export const ControlFrame = z.discriminatedUnion('t', [
  HelloFrame, WelcomeFrame, PingFrame, PongFrame, ReqFrame, ResFrame, EndFrame, WindowFrame,
  CancelFrame, ErrorFrame, GoawayFrame, StatusFrame, CmdFrame, CmdResultFrame, EventFrame, AckFrame,
]);
export type ControlFrame = z.infer<typeof ControlFrame>;
export type HelloFrame = z.infer<typeof HelloFrame>;
export type WelcomeFrame = z.infer<typeof WelcomeFrame>;
export type ReqFrame = z.infer<typeof ReqFrame>;
export type ResFrame = z.infer<typeof ResFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
export type GoawayFrame = z.infer<typeof GoawayFrame>;
export type StatusFrame = z.infer<typeof StatusFrame>;

// ---- binary frames ----------------------------------------------------------

/** Binary frame types (the first byte). */
export const BinaryType = {
  /** A body chunk of stream `sid`, in the sender's direction. */
  data: 0x01,
  /**
   * Revision 2, companion → relay: the response head of `sid` with the first
   * body bytes (maybe none): type, sid, u32 length of the JSON head
   * `{status, headers, end}`, the JSON, then the payload. With `end` the
   * response is complete; otherwise data frames and an end frame follow.
   */
  head: 0x02,
} as const;

export interface DataFrame {
  t: 'data';
  sid: number;
  payload: Buffer;
}

/** A res head and the first body bytes in one frame (revision 2). */
export interface HeadFrame {
  t: 'head';
  sid: number;
  status: number;
  headers: Record<string, string>;
  /** Nothing follows on this stream. */
  end: boolean;
  payload: Buffer;
}

/** Every frame either side can receive. */
export type Frame = ControlFrame | DataFrame | HeadFrame;

/** Why a frame was refused: the close code and a reason that fits a close frame (≤ 123 bytes). */
export class FrameError extends Error {
  readonly closeCode: CloseCode;
  constructor(closeCode: CloseCode, reason: string) {
    super(reason.slice(0, 120));
    this.name = 'FrameError';
    this.closeCode = closeCode;
  }
}

// ---- codec ------------------------------------------------------------------

/** Serialises a control frame; it never produces a frame the peer would refuse as too large. */
export function encodeControl(frame: ControlFrame): string {
  const text = JSON.stringify(frame);
  if (Buffer.byteLength(text) > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, `control frame '${frame.t}' too large`);
  return text;
}

/** Builds one binary body-chunk frame; the payload must be at most MAX_CHUNK_BYTES. */
export function encodeData(streamId: number, payload: Uint8Array): Buffer {
  if (payload.byteLength > MAX_CHUNK_BYTES) throw new FrameError(CloseCode.frameTooLarge, 'chunk too large');
  const out = Buffer.allocUnsafe(DATA_HEADER_BYTES + payload.byteLength);
  out[0] = BinaryType.data;
  out.writeUInt32BE(streamId, 1);
  out.set(payload, DATA_HEADER_BYTES);
  return out;
}

/** Bytes of a head frame before its JSON: type (1) + stream id (4) + JSON length (4). */
const HEAD_HEADER_BYTES = 9;

/** Builds one head frame (revision 2); the payload counts against the stream's credit like a data chunk. */
export function encodeHead(streamId: number, head: { status: number; headers: Record<string, string>; end: boolean }, payload: Uint8Array): Buffer {
  if (payload.byteLength > MAX_CHUNK_BYTES) throw new FrameError(CloseCode.frameTooLarge, 'chunk too large');
  const json = Buffer.from(JSON.stringify({ status: head.status, headers: head.headers, end: head.end }));
  if (json.length > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, "control frame 'head' too large");
  const out = Buffer.allocUnsafe(HEAD_HEADER_BYTES + json.length + payload.byteLength);
  out[0] = BinaryType.head;
  out.writeUInt32BE(streamId, 1);
  out.writeUInt32BE(json.length, 5);
  json.copy(out, HEAD_HEADER_BYTES);
  out.set(payload, HEAD_HEADER_BYTES + json.length);
  return out;
}

/** The head frame's JSON (exported so tests can see when the hand-written check defers to it). */
export const HeadJson = z.object({ status: ResFrame.shape.status, headers: ResFrame.shape.headers, end: z.boolean() });

function decodeHead(buf: Buffer): HeadFrame {
  if (buf.length < HEAD_HEADER_BYTES) throw new FrameError(CloseCode.protocolError, 'head frame shorter than its header');
  const sid = buf.readUInt32BE(1);
  if (sid === 0) throw new FrameError(CloseCode.protocolError, 'stream id 0');
  const jsonLen = buf.readUInt32BE(5);
  if (jsonLen > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, `head of ${jsonLen} bytes over ${MAX_CONTROL_FRAME_BYTES}`);
  if (HEAD_HEADER_BYTES + jsonLen > buf.length) throw new FrameError(CloseCode.protocolError, 'head frame shorter than its JSON length');
  const payload = buf.subarray(HEAD_HEADER_BYTES + jsonLen);
  if (payload.length > MAX_CHUNK_BYTES) throw new FrameError(CloseCode.frameTooLarge, 'chunk larger than MAX_CHUNK_BYTES');
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8', HEAD_HEADER_BYTES, HEAD_HEADER_BYTES + jsonLen));
  } catch {
    throw new FrameError(CloseCode.protocolError, 'head frame JSON is not JSON');
  }
  const quick = fastHead(json);
  if (quick) return { t: 'head', sid, ...quick, payload };
  const parsed = HeadJson.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FrameError(CloseCode.protocolError, `bad 'head' frame: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`);
  }
  return { t: 'head', sid, ...parsed.data, payload };
}

/**
 * Parses and validates one WebSocket message. Never returns an unvalidated
 * frame: anything malformed, oversized or unknown throws a FrameError that
 * names the close code to use.
 */
export function decodeFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Frame {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (isBinary) {
    // A head frame's JSON and payload are each bounded (MAX_CONTROL_FRAME_BYTES, MAX_CHUNK_BYTES); both fit in WS_MAX_PAYLOAD_BYTES.
    if (buf[0] === BinaryType.head) return decodeHead(buf);
    if (buf.length > MAX_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, `binary frame of ${buf.length} bytes over ${MAX_FRAME_BYTES}`);
    if (buf.length < DATA_HEADER_BYTES) throw new FrameError(CloseCode.protocolError, 'binary frame shorter than its header');
    if (buf[0] !== BinaryType.data) throw new FrameError(CloseCode.protocolError, `unknown binary frame type ${buf[0]}`);
    const streamId = buf.readUInt32BE(1);
    if (streamId === 0) throw new FrameError(CloseCode.protocolError, 'stream id 0');
    const payload = buf.subarray(DATA_HEADER_BYTES);
    if (payload.length > MAX_CHUNK_BYTES) throw new FrameError(CloseCode.frameTooLarge, 'chunk larger than MAX_CHUNK_BYTES');
    if (payload.length === 0) throw new FrameError(CloseCode.protocolError, 'empty data frame');
    return { t: 'data', sid: streamId, payload };
  }
  if (buf.length > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, `control frame of ${buf.length} bytes over ${MAX_CONTROL_FRAME_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new FrameError(CloseCode.protocolError, 'control frame is not JSON');
  }
  const quick = fastControl(json);
  if (quick) return quick;
  const parsed = ControlFrame.safeParse(json);
  if (!parsed.success) {
    const t = typeof json === 'object' && json !== null && 't' in json ? String((json as { t: unknown }).t).slice(0, 20) : '?';
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || 't'}: ${issue.message}` : 'invalid';
    throw new FrameError(CloseCode.protocolError, `bad '${t}' frame: ${where}`);
  }
  return parsed.data;
}

// ---- hot-path validation ----------------------------------------------------
// The frames of every exchange (req, res, end, window, ping, pong, and the
// head frame's JSON) are checked by hand first, field by field against the
// same bounds as their zod schemas. These checks only ever *accept*: anything
// they are not sure of (including every invalid frame) goes to the zod schema,
// which decides and words the refusal. So exactly the same frames are refused,
// and the output has exactly the schema's fields (unknown ones are dropped, as
// zod drops them).

const HEADER_NAME_OK = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const isSid = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= MAX_STREAM_ID;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The headers if they pass the `headers` schema for certain, else null. */
function fastHeaders(h: unknown): Record<string, string> | null {
  if (!isObj(h) || Object.getPrototypeOf(h) !== Object.prototype) return null;
  let n = 0;
  for (const k in h) {
    if (!Object.hasOwn(h, k)) return null;
    const v = h[k];
    if (++n > MAX_HEADERS || k === '__proto__' || k.length > 256 || !HEADER_NAME_OK.test(k) || typeof v !== 'string' || v.length > 16 * 1024) return null;
  }
  return h as Record<string, string>;
}

function fastHead(j: unknown): { status: number; headers: Record<string, string>; end: boolean } | null {
  if (!isObj(j)) return null;
  const { status, end } = j;
  const headers = fastHeaders(j.headers);
  if (!headers || typeof end !== 'boolean' || !Number.isSafeInteger(status) || (status as number) < 100 || (status as number) > 599) return null;
  return { status: status as number, headers, end };
}

function fastControl(j: unknown): ControlFrame | null {
  if (!isObj(j)) return null;
  switch (j.t) {
    case 'ping':
    case 'pong':
      return Number.isSafeInteger(j.id) && (j.id as number) >= 0 ? { t: j.t, id: j.id as number } : null;
    case 'end':
      return isSid(j.sid) ? { t: 'end', sid: j.sid } : null;
    case 'window':
      return isSid(j.sid) && Number.isSafeInteger(j.bytes) && (j.bytes as number) >= 1 && (j.bytes as number) <= STREAM_WINDOW_BYTES
        ? { t: 'window', sid: j.sid, bytes: j.bytes as number } : null;
    case 'res': {
      const headers = fastHeaders(j.headers);
      const { sid, status, body } = j;
      if (!headers || !isSid(sid) || typeof body !== 'boolean' || !Number.isSafeInteger(status) || (status as number) < 100 || (status as number) > 599) return null;
      return { t: 'res', sid, status: status as number, headers, body };
    }
    case 'req': {
      const headers = fastHeaders(j.headers);
      const { sid, method, path, body, timeoutMs } = j;
      if (!headers || !isSid(sid) || typeof body !== 'boolean') return null;
      if (typeof method !== 'string' || method.length < 1 || method.length > 16) return null;
      if (typeof path !== 'string' || path.length < 1 || path.length > MAX_PATH_CHARS) return null;
      if (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) < 1 || (timeoutMs as number) > MAX_REQUEST_TIMEOUT_MS) return null;
      return { t: 'req', sid, method, path, headers, body, timeoutMs: timeoutMs as number };
    }
    default:
      return null;
  }
}

/** Headers that describe one hop, never forwarded through the tunnel in either direction (RFC 9110 §7.6.1), plus Host. */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
]);

/** Largest total of header names and values one req/res frame carries (JSON escaping may double it; the frame still fits). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Longest single header value forwarded. */
export const MAX_HEADER_VALUE_CHARS = 8 * 1024;
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_BAD_RE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/**
 * The headers of `h` that may cross the tunnel: lower-cased, without hop-by-hop
 * headers (and any the Connection header names), without invalid names or
 * values, at most MAX_HEADERS of them and MAX_HEADER_BYTES in total. Whatever
 * the input, the result always passes the req/res frame validators, so odd
 * headers from a caller or the plugin can never get a link closed.
 */
export function forwardableHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  const named = new Set(String(h['connection'] ?? h['Connection'] ?? '').toLowerCase().split(',').map((x) => x.trim()).filter(Boolean));
  let count = 0;
  let bytes = 0;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name) || !HEADER_NAME_RE.test(name)) continue;
    const value = Array.isArray(v) ? v.join(', ') : String(v);
    if (value.length > MAX_HEADER_VALUE_CHARS || HEADER_VALUE_BAD_RE.test(value)) continue;
    const size = Buffer.byteLength(name) + Buffer.byteLength(value);
    if (count >= MAX_HEADERS || bytes + size > MAX_HEADER_BYTES) break;
    out[name] = value;
    count++;
    bytes += size;
  }
  return out;
}

// ---- shared link mechanics --------------------------------------------------
// Both ends run the same flow-control accounting and heartbeat, so they live
// here beside the constants they implement.

/** The part of the core Clock the heartbeat needs (structural, so protocol/ imports nothing from main/). */
export interface HeartbeatClock {
  mono(): number;
  setInterval(fn: () => void, ms: number): NodeJS.Timeout;
  clearInterval(t: NodeJS.Timeout | undefined): void;
}

/**
 * Sends a ping every PING_INTERVAL_MS and calls `onDead` once when nothing has
 * been received for DEAD_AFTER_MS. Every received frame must be reported with
 * `seen()`; pongs with `pong(id)`, which updates `rttMs`.
 */
export class Heartbeat {
  rttMs: number | null = null;
  private lastRx: number;
  private lastPing = -Infinity;
  private nextId = 1;
  private readonly sentAt = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private dead = false;

  constructor(
    private readonly clock: HeartbeatClock,
    private readonly sendPing: (id: number) => void,
    private readonly onDead: (silentMs: number) => void,
    private readonly timing = { pingIntervalMs: PING_INTERVAL_MS, deadAfterMs: DEAD_AFTER_MS, checkMs: HEARTBEAT_CHECK_MS },
    /** True when the owner calls `tick()` from a timer shared by many links (the relay), instead of one timer each. */
    shared = false,
  ) {
    this.lastRx = clock.mono();
    if (!shared) {
      this.timer = clock.setInterval(() => this.tick(), timing.checkMs);
      this.timer.unref?.();
    }
  }

  /** Any frame from the peer proves the link alive. */
  seen(): void {
    this.lastRx = this.clock.mono();
  }

  pong(id: number): void {
    const at = this.sentAt.get(id);
    if (at === undefined) return;
    this.sentAt.delete(id);
    this.rttMs = Math.round((this.clock.mono() - at) * 10) / 10;
  }

  silentMs(): number {
    return this.clock.mono() - this.lastRx;
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check: declares the link dead after the silence bound, and pings when one is due. */
  tick(): void {
    if (this.dead) return;
    const now = this.clock.mono();
    if (now - this.lastRx > this.timing.deadAfterMs) {
      this.dead = true;
      this.stop();
      this.onDead(now - this.lastRx);
      return;
    }
    if (now - this.lastPing >= this.timing.pingIntervalMs - this.timing.checkMs / 2) {
      this.lastPing = now;
      const id = this.nextId++;
      this.sentAt.set(id, now);
      // Only the last few pings can still be answered; older ones are lost with a dead link.
      if (this.sentAt.size > 8) this.sentAt.delete(this.sentAt.keys().next().value as number);
      this.sendPing(id);
    }
  }
}

/**
 * Send-side credit of one stream: `take` resolves with how many bytes may be
 * sent now (≥ 1, ≤ max) once the peer has granted any, so a sender never has
 * more than STREAM_WINDOW_BYTES unacknowledged.
 */
export class SendCredit {
  private available: number;
  private waiter: { resolve: (n: number) => void; reject: (e: unknown) => void; max: number } | null = null;
  private failed: unknown = null;
  /** The most bytes ever outstanding (sent, not yet granted back): what the tests assert on. */
  maxOutstanding = 0;

  constructor(private readonly window: number = STREAM_WINDOW_BYTES) {
    this.available = window;
  }

  take(max: number): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.available > 0) return Promise.resolve(this.consume(max));
    if (this.waiter) return Promise.reject(new Error('SendCredit: one sender at a time'));
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject, max }; });
  }

  /** The peer's window frame; returns false when it would exceed the window (a protocol violation). */
  grant(bytes: number): boolean {
    if (this.available + bytes > this.window) return false;
    this.available += bytes;
    const w = this.waiter;
    if (w && this.available > 0) {
      this.waiter = null;
      w.resolve(this.consume(w.max));
    }
    return true;
  }

  /** Fails the pending and every later `take` (stream cancelled, link closed). */
  fail(err: unknown): void {
    this.failed = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  private consume(max: number): number {
    const n = Math.min(max, this.available);
    this.available -= n;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.window - this.available);
    return n;
  }
}

/** Receive-side credit of one stream: refuses chunks beyond what was granted. */
export class RecvCredit {
  private remaining: number;
  constructor(window: number = STREAM_WINDOW_BYTES) {
    this.remaining = window;
  }
  /** Accounts an arriving chunk; false means the peer overran its credit. */
  receive(bytes: number): boolean {
    this.remaining -= bytes;
    return this.remaining >= 0;
  }
  /** Accounts bytes handed back to the peer with a window frame. */
  grant(bytes: number): void {
    this.remaining += bytes;
  }
}
