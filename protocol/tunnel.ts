/**
 * The tunnel protocol `evva-tunnel.1`: one WebSocket from the companion to the
 * relay carries many concurrent HTTP exchanges, each on its own stream id.
 * Documented in docs/protocol.md. Both ends import it from here; it is split
 * by concern:
 *  - tunnel/limits.ts   sizes, counts, timings and close codes;
 *  - tunnel/frames.ts   the version and revisions, the frames' shapes (zod for JSON), FrameError;
 *  - tunnel/codec.ts    frames on the wire: JSON and binary encoders, the validating decoder;
 *  - tunnel/headers.ts  which HTTP headers cross the tunnel.
 * The mechanics both links run on these (heartbeat, stream credit) are code,
 * not contract: common/mux.ts.
 */
export * from './tunnel/limits.ts';
export * from './tunnel/frames.ts';
export * from './tunnel/codec.ts';
export * from './tunnel/headers.ts';
