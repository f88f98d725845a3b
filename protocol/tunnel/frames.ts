/**
 * The frames of `evva-tunnel.1` and its revisions: the version both ends
 * offer, the JSON control frames (zod schemas: what a peer accepts), the
 * binary frame types, and the in-memory shape every decoded frame takes.
 * How frames are put on the wire is codec.ts; docs/protocol.md explains both.
 */
import { z } from 'zod';
import { FrontStatus, Status } from '../local.ts';
import {
  GOAWAY_DRAIN_MS, MAX_CANCEL_REASON_CHARS, MAX_FRAME_HEADER_VALUE_CHARS, MAX_HEADER_NAME_CHARS, MAX_HEADERS,
  MAX_METHOD_CHARS, MAX_PATH_CHARS, MAX_REQUEST_TIMEOUT_MS, MAX_STREAM_ID, STREAM_WINDOW_BYTES,
} from './limits.ts';
import type { CloseCode } from './limits.ts';

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
 *  - 3: the frames of every exchange are binary with a small fixed header
 *       (req, the response head, end, window, cancel, ping, pong; BinaryType):
 *       no JSON is written or parsed per request. JSON stays for the frames
 *       that are rare or carry free-form bodies (hello, welcome, error,
 *       goaway, status, cmd, cmd_result, event, ack), and the JSON forms of
 *       the others stay valid (a ping sent before welcome is JSON).
 *  - 4: a receiver may grow a stream's window beyond STREAM_WINDOW_BYTES, up to
 *       MAX_STREAM_WINDOW_BYTES, by granting more than it took (the relay does it
 *       for a response whose caller keeps up: WINDOW_GROW_MS). Frames unchanged.
 *  - 5: the relay leads the heartbeat (RELAY_LEADS_REVISION): it pings every
 *       PING_INTERVAL_MS and the companion answers, pinging only every
 *       FOLLOWER_PING_INTERVAL_MS for its RTT figure. Frames unchanged.
 */
export const TUNNEL_REVISION = 5;
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

/** A header name as HTTP defines a token (RFC 9110 §5.6.2). */
export const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

// ---- control frames (JSON) --------------------------------------------------

const sid = z.number().int().min(1).max(MAX_STREAM_ID);
const headerName = z.string().min(1).max(MAX_HEADER_NAME_CHARS).regex(HEADER_NAME_RE);
const headers = z.record(headerName, z.string().max(MAX_FRAME_HEADER_VALUE_CHARS)).refine((h) => Object.keys(h).length <= MAX_HEADERS, 'too many headers');
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
  method: z.string().min(1).max(MAX_METHOD_CHARS),
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
export const CancelFrame = z.object({ t: z.literal('cancel'), sid, reason: z.string().max(MAX_CANCEL_REASON_CHARS).optional() });
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
/** relay → companion: run a named command (diagnostics, payments, logs). */
export const CmdFrame = z.object({ t: z.literal('cmd'), id: z.string().min(1).max(64), name: z.string().min(1).max(64), args: z.unknown().optional() });
/** companion → relay: the result of `cmd` `id`. */
export const CmdResultFrame = z.object({
  t: z.literal('cmd_result'),
  id: z.string().min(1).max(64),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.object({ code: z.string().max(64), message: z.string().max(500) }).optional(),
});
/** companion → relay: one event of the feed (protocol/events.ts). */
export const EventFrame = z.object({ t: z.literal('event'), eventId: z.string().min(1).max(64), seq: z.number().int().nonnegative(), event: z.unknown() });
/** relay → companion: the relay has stored these events. */
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

/** The revision-2 head frame's JSON. */
export const HeadJson = z.object({ status: ResFrame.shape.status, headers: ResFrame.shape.headers, end: z.boolean() });

// ---- binary frames ----------------------------------------------------------

/** Binary frame types (the first byte); their layouts are in codec.ts and docs/protocol.md. */
export const BinaryType = {
  /** A body chunk of stream `sid`, in the sender's direction. Every revision. */
  data: 0x01,
  /**
   * Revision 2, companion → relay: the response head of `sid` with the first
   * body bytes (maybe none), the head as JSON. With `end` the response is
   * complete; otherwise data frames and an end frame follow.
   */
  head: 0x02,
  /** Revision 3, relay → companion: `req` with a binary head. */
  req: 0x03,
  /** Revision 3, companion → relay: the head frame with a binary head instead of JSON. */
  res: 0x04,
  /** Revision 3, either way: `end`. */
  end: 0x05,
  /** Revision 3, either way: `window`. */
  window: 0x06,
  /** Revision 3, either way: `cancel`. */
  cancel: 0x07,
  /** Revision 3, either way: `ping`. */
  ping: 0x08,
  /** Revision 3, either way: `pong`. */
  pong: 0x09,
} as const;

export interface DataFrame {
  t: 'data';
  sid: number;
  payload: Buffer;
}

/** A response head and the first body bytes in one frame (revision 2 with a JSON head, revision 3 with a binary one). */
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
