/**
 * A call's deadline (`x-evva-timeout-ms`, the req frame's `timeoutMs`) bounds
 * each time the answer stands still, never the whole transfer: the wait for
 * the head, then every gap between body chunks. A large answer that keeps
 * streaming arrives whole however long it takes; one that stalls mid-body is
 * cut about one deadline after its last chunk. Each end keeps the contract on
 * its own: the companion (driven through the relay's link, past the relay's
 * HTTP timer) and the relay (against a raw companion that stalls and never
 * says why).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TUNNEL_PROTOCOL, decodeFrame, encodeControl, encodeData, type ControlFrame } from '../../../protocol/tunnel.ts';
import type { Upstream, UpstreamRequest } from '../../../main/core/upstream.ts';
import { API_KEY, COMPANION, pairedVenue, relayWithDataDir, tunnelFor, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const DEADLINE_MS = 1_000;
const CHUNK = 'x'.repeat(1_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A plugin answer in chunks `everyMs` apart; before chunk `gapAt` it stands
 * still for `gapMs`. Records when the plugin call was let go.
 */
function drippingUpstream(o: { chunks: number; everyMs: number; gapAt?: number; gapMs?: number }): Upstream & { abortedAt: number | null; calls: UpstreamRequest[] } {
  const up = {
    abortedAt: null as number | null,
    calls: [] as UpstreamRequest[],
    async forward(req: UpstreamRequest) {
      up.calls.push(req);
      req.signal.addEventListener('abort', () => { up.abortedAt = performance.now(); }, { once: true });
      return {
        status: 200, headers: { 'content-type': 'application/octet-stream' },
        body: (async function* () {
          for (let i = 0; i < o.chunks && !req.signal.aborted; i++) {
            await sleep(i === o.gapAt ? o.gapMs ?? 0 : o.everyMs);
            if (req.signal.aborted) return;
            yield Buffer.from(`${String(i).padStart(3, '0')}${CHUNK}`);
          }
        })(),
      };
    },
  };
  return up;
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => `${String(i).padStart(3, '0')}${CHUNK}`).join('');

/** Reads a fetch answer chunk by chunk; notes when the last bytes came and how it ended. */
async function readAll(res: Response): Promise<{ text: string; lastAt: number; endedAt: number; error: unknown }> {
  const dec = new TextDecoder();
  let text = '';
  let lastAt = performance.now();
  let error: unknown = null;
  try {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += dec.decode(c, { stream: true });
      lastAt = performance.now();
    }
  } catch (e) {
    error = e;
  }
  return { text, lastAt, endedAt: performance.now(), error };
}

async function venueWith(upstream: Upstream) {
  const { relay, dataDir } = await relayWithDataDir(cleanups);
  const venue = await pairedVenue(relay.url, dataDir);
  const tunnel = tunnelFor(relay.url, venue, upstream);
  cleanups.push(() => tunnel.stop());
  await waitFor(() => tunnel.status().state === 'connected', 'tunnel up');
  const call = () => fetch(`${relay.url}/v1/venues/${venue.venueId}/front/api/big`,
    { headers: { authorization: `Bearer ${API_KEY}`, 'x-evva-timeout-ms': String(DEADLINE_MS) } });
  return { relay, venue, call };
}

async function timeouts(relayUrl: string): Promise<number> {
  const text = await (await fetch(`${relayUrl}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
  return Number(/evva_relay_requests_total\{outcome="timeout"\} (\d+)/.exec(text)?.[1] ?? 0);
}

describe('a call\'s deadline is the longest the answer may stand still', () => {
  it('an answer streaming for 3 s in chunks 200 ms apart arrives whole under a 1 s deadline', async () => {
    const { call, relay } = await venueWith(drippingUpstream({ chunks: 15, everyMs: 200 }));
    const t0 = performance.now();
    const res = await call();
    expect(res.status).toBe(200);
    const got = await readAll(res);
    expect(got.error).toBeNull();
    expect(got.text).toBe(expected(15));
    // It did run past the deadline several times over: this is what a whole-exchange timer would have cut.
    expect(got.endedAt - t0).toBeGreaterThan(3 * DEADLINE_MS);
    expect(await timeouts(relay.url)).toBe(0);
  }, 30_000);

  it('an answer that stands still for 2 s mid-body is cut about one deadline after its last chunk, as a timeout', async () => {
    const up = drippingUpstream({ chunks: 10, everyMs: 200, gapAt: 5, gapMs: 2_000 });
    const { call, relay } = await venueWith(up);
    const res = await call();
    expect(res.status).toBe(200);
    const got = await readAll(res);
    // The chunks before the gap came; nothing after it; the caller sees a cut answer, never a short "whole" one.
    expect(got.text).toBe(expected(5));
    expect(got.error).not.toBeNull();
    // Not earlier than the deadline after the last chunk (a few ms of slack for the two clocks and the hops);
    // not later than the gap's end is proved by the missing chunks.
    expect(got.endedAt - got.lastAt).toBeGreaterThan(DEADLINE_MS - 50);
    await waitFor(() => up.abortedAt !== null, 'the plugin call let go', 5_000);
    await waitFor(async () => (await timeouts(relay.url)) === 1, 'counted as a timeout', 5_000);
  }, 30_000);

  it('the companion alone: a steady answer past the deadline ends, a stalled one fails with timeout', async () => {
    const steady = drippingUpstream({ chunks: 15, everyMs: 200 });
    const stalled = drippingUpstream({ chunks: 10, everyMs: 200, gapAt: 5, gapMs: 2_000 });
    let which = 0;
    const { relay, venue } = await venueWith({ forward: (r) => (which++ === 0 ? steady : stalled).forward(r) });
    const link = relay.relay.tunnels.get(venue.venueId);
    if (!link) throw new Error('the relay has no link for the venue');
    // The relay's link directly: forward.ts and its HTTP timer are not in the way, only the companion's deadline.
    const open = () => {
      const got = { bytes: 0, ended: false, error: null as string | null, lastAt: 0, errorAt: 0 };
      const s = link.open({ method: 'GET', path: '/api/big', headers: {}, body: false, timeoutMs: DEADLINE_MS }, {
        onHead: () => {},
        onData: (c) => { got.bytes += c.length; got.lastAt = performance.now(); s?.consumed(c.length); },
        onEnd: () => { got.ended = true; },
        onError: (code) => { got.error = code; got.errorAt = performance.now(); },
      });
      return got;
    };
    const a = open();
    await waitFor(() => a.ended || a.error !== null, 'the steady answer ends', 20_000);
    expect(a.error).toBeNull();
    expect(a.bytes).toBe(expected(15).length);
    const b = open();
    await waitFor(() => b.ended || b.error !== null, 'the stalled answer ends', 20_000);
    expect(b.error).toBe('timeout');
    expect(b.bytes).toBe(expected(5).length);
    expect(b.errorAt - b.lastAt).toBeGreaterThan(DEADLINE_MS - 50);
    await waitFor(() => stalled.abortedAt !== null, 'the plugin call let go', 5_000);
  }, 40_000);

  it('the relay alone: a companion that stalls mid-body and never says why is cut at the deadline, not at link death', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const v = await pairedVenue(relay.url, dataDir);
    const ws = new WebSocket(`${relay.url.replace(/^http/, 'ws')}/v1/tunnel`, TUNNEL_PROTOCOL, { headers: { authorization: `Bearer ${v.deviceToken}` } });
    cleanups.push(() => ws.terminate());
    const frames: ControlFrame[] = [];
    ws.on('message', (data, isBinary) => { const f = decodeFrame(data as Buffer, isBinary); if (f.t !== 'data' && f.t !== 'head') frames.push(f); });
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    ws.send(encodeControl({ t: 'hello', v: TUNNEL_PROTOCOL, companion: COMPANION, frontOrigin: null }));
    await waitFor(() => frames.some((f) => f.t === 'welcome'), 'welcome', 5_000);
    // Pings keep the link alive, so only the call's deadline can end the call.
    const ping = setInterval(() => ws.send(encodeControl({ t: 'ping', id: 1 })), 1_000);
    cleanups.push(() => clearInterval(ping));

    const answering = fetch(`${relay.url}/v1/venues/${v.venueId}/front/api/big`,
      { headers: { authorization: `Bearer ${API_KEY}`, 'x-evva-timeout-ms': String(DEADLINE_MS) } });
    await waitFor(() => frames.some((f) => f.t === 'req'), 'req frame', 5_000);
    const sid = (frames.find((f) => f.t === 'req') as { sid: number }).sid;
    ws.send(encodeControl({ t: 'res', sid, status: 200, headers: { 'content-type': 'application/octet-stream' }, body: true }));
    const reading = readAll(await answering);
    // 3 s of chunks 200 ms apart: past the deadline three times, never cut.
    for (let i = 0; i < 15; i++) {
      await sleep(200);
      ws.send(encodeData(sid, Buffer.from(`${String(i).padStart(3, '0')}${CHUNK}`)));
    }
    // Then silence: no end, no error, the link alive.
    const got = await reading;
    expect(got.text).toBe(expected(15));
    expect(got.error).not.toBeNull();
    expect(got.endedAt - got.lastAt).toBeGreaterThan(DEADLINE_MS - 50);
    // Far from the 8 s of silence that would kill the link (and the pings prevent that anyway).
    expect(got.endedAt - got.lastAt).toBeLessThan(6_000);
    await waitFor(() => frames.some((f) => f.t === 'cancel' && f.sid === sid), 'cancel sent to the companion', 5_000);
    expect(await timeouts(relay.url)).toBe(1);
  }, 30_000);
});
