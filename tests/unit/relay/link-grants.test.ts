import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { realClock } from '../../../common/clock.ts';
import { silentLogger } from '../../../common/logger.ts';
import { GRANT_AT_BYTES, RelayLink, type RelayStream } from '../../../relay/link.ts';
import {
  STREAM_WINDOW_BYTES, TUNNEL_PROTOCOL, TUNNEL_REVISION, decodeFrame, encodeControl, encodeData, encodeHead, type Frame,
} from '../../../protocol/tunnel.ts';

/** A socket that records what the relay sends; the test feeds the companion's frames straight into the link. */
function fakeSocket() {
  const sent: Frame[] = [];
  const ws = Object.assign(new EventEmitter(), {
    OPEN: 1, readyState: 1,
    send(data: Buffer | string) { sent.push(decodeFrame(typeof data === 'string' ? Buffer.from(data) : data, typeof data !== 'string', TUNNEL_REVISION)); },
    close() { /* not under test */ },
    terminate() { /* not under test */ },
  });
  return { ws: ws as unknown as WebSocket, sent };
}

const turn = () => new Promise((r) => setImmediate(r));
const CHUNK = 32 * 1024;

/** A revision-3 link with one stream open, whose caller takes each chunk as it comes unless `slowCaller`. */
function linkWithStream(slowCaller = false) {
  const { ws, sent } = fakeSocket();
  const link = new RelayLink(ws, 'ven_test', 'hash', realClock, silentLogger, { onReady() {}, onStatus() {}, onClose() {} });
  link.onMessage(Buffer.from(encodeControl({ t: 'hello', v: TUNNEL_PROTOCOL, rev: TUNNEL_REVISION, companion: { version: '1', hostname: 'pos' }, frontOrigin: null })), false);
  let stream: RelayStream | null = null;
  stream = link.open({ method: 'GET', path: '/api/orders', headers: {}, body: false, timeoutMs: 5_000 }, {
    onHead() {},
    onData(chunk) { if (!slowCaller) stream!.consumed(chunk.length); },
    onEnd() {},
    onError() {},
  });
  const sid = stream!.id;
  const windows = () => sent.filter((f): f is Extract<Frame, { t: 'window' }> => f.t === 'window' && f.sid === sid);
  /** The companion's answer: the head with the first chunk, then `n - 1` more chunks, all in this turn. */
  const answer = (n: number) => {
    link.onMessage(encodeHead(sid, { status: 200, headers: { 'content-type': 'application/octet-stream' }, end: false }, Buffer.alloc(CHUNK), TUNNEL_REVISION), true);
    for (let i = 1; i < n; i++) link.onMessage(encodeData(sid, Buffer.alloc(CHUNK)), true);
  };
  return { link, stream: stream!, windows, answer };
}

describe('the relay hands response credit back', () => {
  it('in one window frame per turn, or at once when half the window is owed', async () => {
    const { windows, answer } = linkWithStream();
    // A relay that fell behind reads six chunks of the stream in one turn (a window holds eight).
    answer(6);
    // Half the window was owed after the fourth: granted at once, so the companion keeps half a window in flight.
    expect(windows().map((w) => w.bytes)).toEqual([GRANT_AT_BYTES]);
    // The other two go back together at the end of the turn.
    await turn();
    expect(windows().map((w) => w.bytes)).toEqual([GRANT_AT_BYTES, 2 * CHUNK]);
    await turn();
    expect(windows()).toHaveLength(2);
  });

  it('grants a chunk read alone at the end of its turn', async () => {
    const { windows, answer } = linkWithStream();
    answer(1);
    expect(windows()).toEqual([]);
    await turn();
    expect(windows().map((w) => w.bytes)).toEqual([CHUNK]);
  });

  it('grants nothing the caller has not taken, and nothing for a stream that ended', async () => {
    const slow = linkWithStream(true);
    slow.answer(STREAM_WINDOW_BYTES / CHUNK);
    await turn();
    expect(slow.windows()).toEqual([]);

    const { stream, windows, answer } = linkWithStream();
    answer(2);
    stream.cancel('caller disconnected');
    await turn();
    expect(windows()).toEqual([]);
  });
});
