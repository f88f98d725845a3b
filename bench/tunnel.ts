/**
 * Added latency of the tunnel: the same 1 KB answer fetched directly from a
 * plugin stand-in and through relay → WebSocket tunnel → companion → plugin,
 * sequentially, with keep-alive on every hop. Everything runs in this one
 * process on loopback, so the difference is the tunnel's own processing cost
 * (framing, validation, flow control, two extra HTTP hops), not network time.
 */
import { createServer } from 'node:http';
import { Agent, request } from 'undici';
import { realClock } from '../common/clock.ts';
import { silentLogger } from '../common/logger.ts';
import { startTunnel } from '../main/core/tunnel/client.ts';
import { pair, loadDevice } from '../main/core/tunnel/pair.ts';
import type { Upstream } from '../main/core/tunnel/upstream.ts';
import { createRelay } from '../relay/server.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchTable } from './run.ts';

/** Measured requests per path, after WARMUP unmeasured ones. */
const N = 2_000;
const WARMUP = 200;
/** The whole benchmark gives up after this long. */
const TIME_LIMIT_MS = 60_000;
const BODY_BYTES = 1024;
const API_KEY = 'bench-api-key-0123456789abcdef';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export async function bench(): Promise<BenchTable[]> {
  const deadline = performance.now() + TIME_LIMIT_MS;
  const body = JSON.stringify({ Id: 'x', Items: 'y'.repeat(BODY_BYTES - 22) });
  const plugin = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => plugin.listen(0, '127.0.0.1', r));
  const pluginUrl = `http://127.0.0.1:${(plugin.address() as { port: number }).port}`;

  const dataDir = mkdtempSync(join(tmpdir(), 'bench-relay-'));
  const companionDir = mkdtempSync(join(tmpdir(), 'bench-companion-'));
  const relay = createRelay({ dataDir, apiKeys: [API_KEY], logger: silentLogger });
  const relayUrl = await relay.listen(0);
  const venue = relay.pairing.createVenue('bench');
  await pair({ code: venue.pairingCode, relayUrl, dataDir: companionDir, companion: { version: 'bench', hostname: 'bench' }, proxy: null });
  const device = loadDevice(companionDir)!;

  const upstreamAgent = new Agent({ connections: 8, keepAliveTimeout: 10_000 });
  const upstream: Upstream = {
    async forward(req) {
      const res = await request(`${pluginUrl}${req.path}`, { method: req.method as 'GET', headers: req.headers, signal: req.signal, dispatcher: upstreamAgent });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
      return { status: res.statusCode, headers, body: res.body };
    },
  };
  const tunnel = startTunnel({
    relayUrl, deviceToken: device.deviceToken, venueId: device.venueId, upstream, companion: { version: 'bench', hostname: 'bench' },
    frontOrigin: pluginUrl, clock: realClock, logger: silentLogger, proxy: null,
  });
  for (let i = 0; i < 500 && tunnel.status().state !== 'connected'; i++) await new Promise((r) => setTimeout(r, 10));
  if (tunnel.status().state !== 'connected') throw new Error('tunnel did not connect');

  const client = new Agent({ connections: 1, keepAliveTimeout: 10_000 });
  async function measure(url: string, headers: Record<string, string>): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < WARMUP + N; i++) {
      if (performance.now() > deadline) throw new Error(`bench exceeded ${TIME_LIMIT_MS} ms`);
      const t0 = performance.now();
      const res = await request(url, { headers, dispatcher: client });
      const text = await res.body.text();
      const dt = performance.now() - t0;
      if (res.statusCode !== 200 || text.length !== body.length) throw new Error(`bad answer ${res.statusCode} (${text.length} bytes)`);
      if (i >= WARMUP) times.push(dt);
    }
    return times.sort((a, b) => a - b);
  }
  try {
    const direct = await measure(`${pluginUrl}/api/orders`, {});
    const tunnelled = await measure(`${relayUrl}/v1/venues/${device.venueId}/front/api/orders`, { authorization: `Bearer ${API_KEY}` });
    const row = (name: string, t: number[]) => [name, percentile(t, 50).toFixed(3), percentile(t, 99).toFixed(3), (t.reduce((a, b) => a + b, 0) / t.length).toFixed(3)];
    const ratio = (p: number) => (percentile(tunnelled, p) / percentile(direct, p)).toFixed(1);
    return [{
      title: `Tunnel latency, ${BODY_BYTES} B body, ${N} sequential requests each (after ${WARMUP} warm-up), loopback, one process`,
      columns: ['path', 'p50 ms', 'p99 ms', 'mean ms'],
      rows: [
        row('direct to plugin', direct),
        row('EVVA → relay → tunnel → companion → plugin', tunnelled),
        ['added by the tunnel', (percentile(tunnelled, 50) - percentile(direct, 50)).toFixed(3), (percentile(tunnelled, 99) - percentile(direct, 99)).toFixed(3), ''],
        ['ratio tunnel / direct', `${ratio(50)}×`, `${ratio(99)}×`, ''],
      ],
      notes: [`node ${process.version}; the relay, the companion and the client share one event loop, so real deployments add network RTT on top but not this process's scheduling.`],
    }];
  } finally {
    await tunnel.stop();
    await relay.close();
    await upstreamAgent.close();
    await client.close();
    await new Promise<void>((r) => plugin.close(() => r()));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(companionDir, { recursive: true, force: true });
  }
}
