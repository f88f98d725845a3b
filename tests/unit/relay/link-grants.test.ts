import { describe, expect, it } from 'vitest';
import { realClock, type Clock } from '../../../common/clock.ts';
import { manualClock } from '../../helpers/clock.ts';
import { silentLogger } from '../../../common/logger.ts';
import { GRANT_AT_BYTES, RelayLink, type LinkSocket, type RelayStream } from '../../../relay/link.ts';
import {
  LINK_WINDOW_GROWTH_BYTES, MAX_STREAM_WINDOW_BYTES, STREAM_WINDOW_BYTES, TUNNEL_PROTOCOL, TUNNEL_REVISION, WINDOW_GROW_MS,
  decodeFrame, encodeControl, encodeData, encodeHead, type Frame,
} from '../../../protocol/tunnel.ts';

/** A socket that records what the relay sends; the test feeds the companion's frames straight into the link. */
function fakeSocket() {
  const sent: Frame[] = [];
  const ws: LinkSocket = {
    open: true,
    bind() { /* the test calls the link's handlers itself */ },
    send(data: Buffer | string) { sent.push(decodeFrame(typeof data === 'string' ? Buffer.from(data) : data, typeof data !== 'string', TUNNEL_REVISION)); },
    close() { /* not under test */ },
    terminate() { /* not under test */ },
  };
  return { ws, sent };
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

/** A link of revision `rev` (the companion's hello) on `clock`, whose streams' callers take each chunk as it comes. */
function linkAt(rev: number, clock: Clock) {
  const { ws, sent } = fakeSocket();
  const link = new RelayLink(ws, 'ven_test', 'hash', clock, silentLogger, { onReady() {}, onStatus() {}, onClose() {} });
  link.onMessage(Buffer.from(encodeControl({ t: 'hello', v: TUNNEL_PROTOCOL, rev, companion: { version: '1', hostname: 'pos' }, frontOrigin: null })), false);
  const open = () => {
    let stream: RelayStream | null = null;
    stream = link.open({ method: 'GET', path: '/api/orders', headers: {}, body: false, timeoutMs: 5_000 }, {
      onHead() {}, onData(chunk) { stream!.consumed(chunk.length); }, onEnd() {}, onError() {},
    });
    const s = stream!;
    link.onMessage(encodeHead(s.id, { status: 200, headers: {}, end: false }, Buffer.alloc(0), rev), true);
    /** Credit the relay has given this stream beyond what it received: the window as the companion sees it. */
    const credit = () => STREAM_WINDOW_BYTES + sent.filter((f) => f.t === 'window' && f.sid === s.id).reduce((a, f) => a + (f as { bytes: number }).bytes, 0) - received;
    let received = 0;
    /** The companion sends as much as its credit allows, in 64 KiB chunks; the caller takes each at once. */
    const fill = async () => {
      for (let left = credit(); left > 0; left -= 64 * 1024) {
        link.onMessage(encodeData(s.id, Buffer.alloc(Math.min(64 * 1024, left))), true);
        received += Math.min(64 * 1024, left);
      }
      await turn();
    };
    return { stream: s, credit, fill };
  };
  return { link, open, sent };
}

describe('on a revision-4 link the relay grows the window of a stream whose caller keeps up', () => {
  it('by 256 KiB each time the caller took a whole window within WINDOW_GROW_MS, up to 1 MiB', async () => {
    const clock = manualClock();
    const { open } = linkAt(4, clock);
    const { stream, credit, fill } = open();
    const windows: number[] = [];
    for (let i = 0; i < 12; i++) {
      await fill();
      windows.push(stream.window);
      expect(credit()).toBe(stream.window);
    }
    expect(windows.slice(0, 4)).toEqual([2, 3, 4, 4].map((n) => n * STREAM_WINDOW_BYTES));
    expect(Math.max(...windows)).toBe(MAX_STREAM_WINDOW_BYTES);
  });

  it('not for a caller slower than a window per WINDOW_GROW_MS, nor on a revision-3 link (an older companion)', async () => {
    const clock = manualClock();
    const slow = linkAt(4, clock).open();
    for (let i = 0; i < 8; i++) {
      clock.advance(WINDOW_GROW_MS);
      await slow.fill();
    }
    expect(slow.stream.window).toBe(STREAM_WINDOW_BYTES);
    expect(slow.credit()).toBe(STREAM_WINDOW_BYTES);

    const old = linkAt(3, manualClock()).open();
    for (let i = 0; i < 8; i++) await old.fill();
    expect(old.stream.window).toBe(STREAM_WINDOW_BYTES);
    expect(old.credit()).toBe(STREAM_WINDOW_BYTES);
  });

  it('within LINK_WINDOW_GROWTH_BYTES for all streams of the link, given back when a grown stream ends', async () => {
    const { open } = linkAt(4, manualClock());
    // 20 streams would grow by 5 MiB in their first windows: 4 MiB is all the link gives.
    const streams = Array.from({ length: 20 }, () => open());
    for (let i = 0; i < 3; i++) for (const s of streams) await s.fill();
    const grown = () => streams.reduce((a, s) => a + s.stream.window - STREAM_WINDOW_BYTES, 0);
    expect(grown()).toBe(LINK_WINDOW_GROWTH_BYTES);
    for (const s of streams) expect(s.credit()).toBe(s.stream.window);
    // The first stream ends: a stream still at 256 KiB may now grow into what it held.
    const small = streams.find((s) => s.stream.window === STREAM_WINDOW_BYTES)!;
    const ended = streams.find((s) => s.stream.window > STREAM_WINDOW_BYTES)!;
    ended.stream.cancel('caller gone');
    for (let i = 0; i < 6; i++) await small.fill();
    expect(small.stream.window).toBeGreaterThan(STREAM_WINDOW_BYTES);
  });
});
