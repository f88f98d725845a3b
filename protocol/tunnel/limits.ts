/**
 * The numbers both ends of the tunnel agree on: sizes, counts, timings and the
 * close codes. Explained in docs/protocol.md ("Limits", "Heartbeats", "Close
 * codes"); the frames, their codec and the header policy build on these.
 */

// ---- sizes and counts -----------------------------------------------------------

/**
 * Largest body chunk in one binary frame; bodies of any size stream as many such chunks.
 * The same on every revision: four times the frames (16 KiB) cost 3–11% more of the path's
 * CPU per MiB, so four times fewer would save 1–3% (docs/performance.md, round two, ninth part).
 */
export const MAX_CHUNK_BYTES = 64 * 1024;
/** Bytes in a binary frame before the payload: type (1) + stream id (4). */
export const DATA_HEADER_BYTES = 5;
/**
 * Largest JSON control frame; headers of one exchange must fit in it. The
 * binary request and response heads of revision 3 are bounded the same way.
 */
export const MAX_CONTROL_FRAME_BYTES = 64 * 1024;
/** Largest frame either side sends or accepts; a bigger one closes the link with frameTooLarge and a reason. */
export const MAX_FRAME_BYTES = MAX_CHUNK_BYTES + DATA_HEADER_BYTES;
/**
 * The hard limit of one WebSocket message (the relay's frame reader,
 * relay/socket.ts; ws `maxPayload` on the companion), a backstop above
 * MAX_FRAME_BYTES: frames between the two are refused by the codec with a
 * reason; beyond it the WebSocket layer closes with 1009 before buffering any more.
 */
export const WS_MAX_PAYLOAD_BYTES = 2 * MAX_FRAME_BYTES;
/**
 * Credit each stream starts with, per direction: until the receiver grows it (revision 4,
 * MAX_STREAM_WINDOW_BYTES), at most this many body bytes are ever unacknowledged.
 */
export const STREAM_WINDOW_BYTES = 256 * 1024;
/**
 * Revision 4: the most credit one stream may have, per direction. A receiver may grow a stream's
 * window from STREAM_WINDOW_BYTES up to this by granting more than it took (WINDOW_GROW_MS says
 * when the relay does); a sender on a revision-3 link refuses any such grant (flowControl).
 */
export const MAX_STREAM_WINDOW_BYTES = 1024 * 1024;
/**
 * Revision 4: credit beyond STREAM_WINDOW_BYTES the relay gives all streams of one link together,
 * so what one link can make the relay hold stays MAX_STREAMS_PER_LINK × STREAM_WINDOW_BYTES + this
 * (64 MiB + 4 MiB), however many of its answers are big.
 */
export const LINK_WINDOW_GROWTH_BYTES = 4 * 1024 * 1024;
/**
 * Revision 4: a stream's window grows by STREAM_WINDOW_BYTES (up to MAX_STREAM_WINDOW_BYTES and
 * within LINK_WINDOW_GROWTH_BYTES) when its reader took a whole window within this long: then the
 * window, not the reader, held the answer back. A reader slower than a window per this long
 * (2.5 MB/s at 256 KiB) never grows it, so a slow caller costs the relay no more than before.
 */
export const WINDOW_GROW_MS = 100;
/** Streams one link may hold open at once; a req beyond it is answered with error `overloaded`. */
export const MAX_STREAMS_PER_LINK = 256;
/** Largest stream id; ids are never reused on one link. */
export const MAX_STREAM_ID = 0xffff_ffff;
/** Longest request target (path + query) a req frame may carry. */
export const MAX_PATH_CHARS = 8 * 1024;
/** Most headers a req/res frame may carry. */
export const MAX_HEADERS = 100;
/** Longest header name a frame may carry. */
export const MAX_HEADER_NAME_CHARS = 256;
/** Longest header value a frame may carry (what is forwarded is smaller: MAX_HEADER_VALUE_CHARS in headers.ts). */
export const MAX_FRAME_HEADER_VALUE_CHARS = 16 * 1024;
/** Longest HTTP method a req frame may carry. */
export const MAX_METHOD_CHARS = 16;
/** Longest reason a cancel frame may carry. */
export const MAX_CANCEL_REASON_CHARS = 200;

// ---- timings ----------------------------------------------------------------

/**
 * How often the side that leads the heartbeat pings: the relay on a link of
 * revision 5 or later (RELAY_LEADS_REVISION), the companion before that. The
 * other side answers each ping with a pong, and any frame received counts as
 * life, so each side hears from the other at least this often.
 */
export const PING_INTERVAL_MS = 3_000;
/**
 * How often the side that follows pings, for its RTT figure only: 10 000 idle
 * links cost the relay one ping and one pong per link per 3 s and no timer of
 * their own either way.
 */
export const FOLLOWER_PING_INTERVAL_MS = 30_000;
/**
 * From this revision the relay leads the heartbeat. Why: a relay answering
 * 10 000 companions' pings wakes for nearly every one (they arrive spread over
 * the interval); pinging them from its one shared sweep, a third of the links
 * each second, it writes them in one turn and their pongs come back together,
 * read many to a wake-up (docs/performance.md, round two, thirteenth part).
 */
export const RELAY_LEADS_REVISION = 5;
/** Silence after which a side declares the link dead and terminates it (a link dies within DEAD_AFTER_MS + HEARTBEAT_CHECK_MS < 10 s). */
export const DEAD_AFTER_MS = 8_000;
/** How often each side checks for silence. */
export const HEARTBEAT_CHECK_MS = 1_000;
/** How long the relay waits for hello after the upgrade, and the companion for welcome after hello. */
export const HELLO_TIMEOUT_MS = 5_000;
/**
 * Default per-request deadline: the longest an answer may stand still, i.e.
 * the wait for the response head and then each gap between body chunks (both
 * ends restart it with every chunk); never a bound on the whole transfer.
 */
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
  /** The WebSocket layer itself: a message larger than WS_MAX_PAYLOAD_BYTES (the relay says so in the reason; ws gives none). */
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
