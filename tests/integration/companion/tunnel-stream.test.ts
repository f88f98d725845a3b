/**
 * Big bodies through the tunnel: a 50 MB answer streams with memory bounded by
 * the flow-control window (measured, not assumed), request bodies stream the
 * other way, and size limits answer 413.
 */
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_STREAM_WINDOW_BYTES, STREAM_WINDOW_BYTES } from '../../../protocol/tunnel.ts';
import type { TunnelHandle } from '../../../main/core/tunnel/client.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../../../main/core/upstream.ts';
import { API_KEY, pairedVenue, startRelay, tempDir, tunnelFor, waitFor, type RunningRelay } from '../../helpers/relay.ts';

const MB = 1024 * 1024;
const BIG = 50 * MB;
const CHUNK = 64 * 1024;
/** Live memory is sampled once per this many bytes the caller has read. */
const SAMPLE_EVERY = 2 * MB;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Deterministic, incompressible-looking bytes, made lazily chunk by chunk. */
function* bigBody(total: number, hash: { value: string }): Generator<Uint8Array> {
  const h = createHash('sha256');
  for (let off = 0, i = 0; off < total; off += CHUNK, i++) {
    const seed = createHash('sha256').update(`chunk-${i}`).digest();
    const chunk = Buffer.alloc(Math.min(CHUNK, total - off));
    for (let p = 0; p < chunk.length; p += seed.length) seed.copy(chunk, p);
    h.update(chunk);
    yield chunk;
  }
  hash.value = h.digest('hex');
}

/** Bytes the plugin has produced and the caller has read: their difference is everything in flight, anywhere. */
const flow = { produced: 0, consumed: 0, maxLead: 0 };
/** More than this in flight means nothing held the plugin back: the window is 256 KB, and the caller's loopback socket buffers held up to 6.5 MB more in a run where the caller paused until the plugin stopped. */
const MAX_LEAD = 16 * MB;

/**
 * The caller's pause: it reads nothing until the plugin has stopped getting further ahead of it (flow control holds
 * it back) or is MAX_LEAD ahead (nothing does). A fixed 40 ms nap stood here; on a loaded machine the plugin, in this
 * same process, produced slower than the napping caller read, so the caller was never the slow side and a relay
 * that ignored back-pressure passed (checked: 2.3 MB lead with the relay's drain wait broken, at load 20).
 */
async function venueRunsAhead(): Promise<void> {
  let last = -1;
  for (let i = 0; i < 500; i++) {
    const lead = flow.produced - flow.consumed;
    if (lead >= MAX_LEAD || lead === last) return;
    last = lead;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function testUpstream(state: { produced: { value: string } }): Upstream {
  return {
    async forward(req: UpstreamRequest): Promise<UpstreamResponse> {
      if (req.path === '/api/big') {
        state.produced = { value: '' };
        const gen = bigBody(BIG, state.produced);
        return {
          status: 200, headers: { 'content-type': 'application/octet-stream' },
          body: (async function* () {
            for (const c of gen) {
              flow.produced += c.byteLength;
              flow.maxLead = Math.max(flow.maxLead, flow.produced - flow.consumed);
              yield c;
            }
          })(),
        };
      }
      if (req.path === '/api/twomb') {
        return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: (async function* () { yield* bigBody(2 * MB, { value: '' }); })() };
      }
      if (req.path === '/api/declared-huge') {
        return { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(3 * MB) }, body: (async function* () { yield Buffer.from('{}'); })() };
      }
      if (req.path === '/api/echo' && req.body) {
        const h = createHash('sha256');
        let n = 0;
        for await (const c of req.body) {
          h.update(c);
          n += c.byteLength;
          if (n % (512 * 1024) < c.byteLength) await new Promise((r) => setTimeout(r, 2)); // a slow plugin
        }
        return { status: 200, headers: { 'content-type': 'application/json' }, body: (async function* () { yield Buffer.from(JSON.stringify({ bytes: n, sha256: h.digest('hex') })); })() };
      }
      return { status: 404, headers: {}, body: null };
    },
  };
}

describe('streaming through the tunnel', () => {
  let relay: RunningRelay;
  let tunnel: TunnelHandle;
  let base: string;
  const state = { produced: { value: '' } };
  const dir = tempDir('companion');

  beforeAll(async () => {
    relay = await startRelay({ maxRequestBytes: 8 * MB });
    const v = await pairedVenue(relay.url, dir.dir);
    base = `${relay.url}/v1/venues/${v.venueId}/front`;
    tunnel = tunnelFor(relay.url, v, testUpstream(state), {
      frontOrigin: 'http://127.0.0.1:9042',
      policy: { allowMethods: ['GET', 'HEAD', 'POST'], maxRequestBytes: 8 * MB },
      limits: { maxResponseBytes: 60 * MB },
    });
    await waitFor(() => tunnel.status().state === 'connected', 'tunnel connected');
  });
  afterAll(async () => {
    await tunnel?.stop();
    await relay?.close();
    dir.remove();
  });

  it('streams a 50 MB answer intact while neither end holds more than a window of it', async () => {
    gc();
    gc();
    const mem = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
    const baseline = mem();
    let peak = baseline;
    // Sampled by progress, not by the clock: every SAMPLE_EVERY bytes read, right after the caller's pause, when the
    // venue has filled everything the flow control lets it. Two collections: the first frees dead ArrayBuffers'
    // wrappers, the second lets V8 sweep their memory. (A 100 ms timer did this before: two full collections ten
    // times a second, which at load 19 starved the exchange itself past the test's 120 s.)
    let samples = 0;
    let nextSample = SAMPLE_EVERY;
    const sample = () => { gc(); gc(); peak = Math.max(peak, mem()); samples++; };
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let received = 0;
    const hash = createHash('sha256');
    try {
      // The deadline bounds each gap between chunks: on a loaded machine give those gaps the longest one.
      const res = await fetch(`${base}/api/big`, { headers: { authorization: `Bearer ${API_KEY}`, 'x-evva-timeout-ms': '120000' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBeNull();
      const reader = res.body!.getReader();
      let sinceNap = 0;
      for (let i = 0; i < 100_000; i++) {
        const { done, value } = await reader.read();
        if (done) break;
        hash.update(value);
        received += value.byteLength;
        flow.consumed += value.byteLength;
        sinceNap += value.byteLength;
        // A caller slower than the venue: without flow control the difference would pile up in memory.
        if (sinceNap >= MB) {
          sinceNap = 0;
          await venueRunsAhead();
          if (received >= nextSample) {
            nextSample += SAMPLE_EVERY;
            sample();
          }
        }
      }
    } finally {
      sample();
    }
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const growthMb = (peak - baseline) / MB;
    const stats = tunnel.stats();
    console.log(`50 MB through the tunnel in ${secs.toFixed(2)} s (${(50 / secs).toFixed(1)} MB/s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s); ` +
      `peak live memory growth (relay + companion, one process, after GC) ${growthMb.toFixed(1)} MB; ` +
      `max unacknowledged per stream ${stats.maxStreamOutstanding} B (window ${STREAM_WINDOW_BYTES}, grown up to ${MAX_STREAM_WINDOW_BYTES}); ` +
      `max lead of the plugin over the caller ${(flow.maxLead / MB).toFixed(1)} MB (window + kernel socket buffers); ` +
      `${samples} memory samples`);
    expect(samples).toBeGreaterThanOrEqual(BIG / SAMPLE_EVERY);
    expect(received).toBe(BIG);
    expect(hash.digest('hex')).toBe(state.produced.value);
    // The relay grows the window of a caller that keeps up (revision 4), never past MAX_STREAM_WINDOW_BYTES.
    expect(stats.maxStreamOutstanding).toBeLessThanOrEqual(MAX_STREAM_WINDOW_BYTES);
    expect(stats.maxStreamOutstanding).toBeGreaterThan(0);
    // Without backpressure on either side this grows to tens of MB (checked by breaking the relay's drain wait: at
    // load 21, 23.7 MB of live memory and a 17.3 MB lead).
    expect(growthMb).toBeLessThan(8);
    expect(flow.maxLead).toBeLessThan(MAX_LEAD);
  }, 120_000);

  it('streams a request body to the plugin and back within credit', async () => {
    const body = Buffer.alloc(5 * MB);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i * 2654435761 >>> 0, i);
    const res = await fetch(`${base}/api/echo`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/octet-stream', 'x-evva-timeout-ms': '120000' }, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  });

  it('answers 413 for a request body over the relay limit', async () => {
    const res = await fetch(`${base}/api/echo`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` }, body: Buffer.alloc(9 * MB) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'too_large' });
  });

  it('answers 413 when the plugin declares an answer over the companion limit, and cuts one that grows past it', async () => {
    await tunnel.stop();
    const v = await pairedVenue(relay.url, dir.dir);
    base = `${relay.url}/v1/venues/${v.venueId}/front`;
    tunnel = tunnelFor(relay.url, v, testUpstream(state), { frontOrigin: null, limits: { maxResponseBytes: 1 * MB } });
    await waitFor(() => tunnel.status().state === 'connected', 'tunnel connected');
    const declared = await fetch(`${base}/api/declared-huge`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(declared.status).toBe(413);
    const grows = await fetch(`${base}/api/twomb`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(grows.status).toBe(200);
    await expect(grows.arrayBuffer()).rejects.toThrow();
  });
});
