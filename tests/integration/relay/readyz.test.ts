/**
 * /readyz and the drain's steps, in process with short timings: a raw
 * companion sees go-away 'shutdown', a new tunnel is refused with 503 and
 * Retry-After after the notice, a link that never leaves is closed at the
 * bound, and a store that fails makes the node not ready.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Readiness } from '../../../protocol/cluster.ts';
import { TUNNEL_PATH, TUNNEL_PROTOCOL } from '../../../protocol/tunnel.ts';
import { rawCompanion } from '../../helpers/feedpeers.ts';
import { API_KEY, pairedVenue, startRelay, tempDir, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function ready(url: string) {
  const r = await fetch(`${url}/readyz`);
  return { status: r.status, body: Readiness.parse(await r.json()) };
}

/** A tunnel upgrade attempt; resolves with the refusal's status and Retry-After (or 101). */
function upgrade(url: string, token: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const r = request(`${url}${TUNNEL_PATH}`, {
      headers: {
        connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': TUNNEL_PROTOCOL, authorization: `Bearer ${token}`,
      },
    });
    r.on('response', (res) => { res.resume(); resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }); });
    r.on('upgrade', (_res, socket) => { socket.destroy(); resolve({ status: 101, retryAfter: undefined }); });
    r.on('error', reject);
    r.end();
  });
}

describe('readiness and drain', () => {
  it('goes not-ready at once, refuses new tunnels after the notice, sends go-away, and closes a link that stays at the bound', async () => {
    const NOTICE = 400;
    const MAX = 2_500;
    const relay = await startRelay({ drainTiming: { noticeMs: NOTICE, maxMs: MAX }, nodeId: 'node-test' });
    cleanups.push(() => relay.close());
    const d = tempDir('readyz-companion');
    cleanups.push(() => d.remove());
    const { venueId, deviceToken } = await pairedVenue(relay.url, d.dir);
    const raw = await rawCompanion(relay.url, deviceToken);
    const goaways: Array<{ reason: string; drainMs: number }> = [];
    raw.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const f = JSON.parse(String(data)) as { t: string; reason: string; drainMs: number };
      if (f.t === 'goaway') goaways.push({ reason: f.reason, drainMs: f.drainMs });
    });
    await waitFor(() => relay.relay.tunnels.get(venueId) !== null, 'the link ready');
    expect(await ready(relay.url)).toEqual({ status: 200, body: { ready: true, nodeId: 'node-test', draining: false, tunnels: 1, store: { ok: true, ms: expect.any(Number) } } });

    // A venue call the raw companion never answers keeps its link busy past the bound.
    const hung = fetch(`${relay.url}/v1/venues/${venueId}/front/api/slow`, { headers: { authorization: `Bearer ${API_KEY}`, 'x-evva-timeout-ms': '60000' } })
      .then((r) => r.status, () => 'reset');
    await new Promise((r) => setTimeout(r, 100));

    const t0 = performance.now();
    const drained = relay.relay.drain();
    expect(relay.relay.drain()).toBe(drained);
    const during = await ready(relay.url);
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({ ready: false, draining: true, tunnels: 1, store: { ok: true } });
    expect(goaways).toEqual([]);

    await waitFor(() => goaways.length > 0, 'go-away', 5_000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(NOTICE - 50);
    expect(goaways[0]!.reason).toBe('shutdown');
    expect(goaways[0]!.drainMs).toBeLessThanOrEqual(MAX - NOTICE + 50);
    expect(await upgrade(relay.url, deviceToken)).toEqual({ status: 503, retryAfter: expect.stringMatching(/^\d+$/) });

    const closed = await raw.closed;
    await drained;
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(MAX - 200);
    expect(ms).toBeLessThan(MAX + 5_000);
    expect(closed.code).toBeGreaterThanOrEqual(1000);
    // The call on the link that had to be cut was answered (an error), not left hanging.
    expect(await hung).not.toBe(200);
  });

  it('is not ready while its store does not answer, and says why', async () => {
    const relay = await startRelay({ nodeId: 'node-test' });
    cleanups.push(() => relay.close());
    expect((await ready(relay.url)).status).toBe(200);
    await relay.relay.store.close();
    const r = await ready(relay.url);
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ ready: false, draining: false, store: { ok: false, ms: null, error: expect.any(String) } });
    // Liveness is another question: the process still answers.
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  });

  it('accepts tunnels during the notice (the load balancer may still send one) and exits at once when nothing is connected', async () => {
    const relay = await startRelay({ drainTiming: { noticeMs: 300, maxMs: 10_000 } });
    cleanups.push(() => relay.close());
    const d = tempDir('readyz-companion');
    cleanups.push(() => d.remove());
    const { deviceToken } = await pairedVenue(relay.url, d.dir);
    const t0 = performance.now();
    const drained = relay.relay.drain();
    expect((await upgrade(relay.url, deviceToken)).status).toBe(101);
    await drained;
    // The notice, then nothing to wait for: far below the 10 s bound.
    expect(performance.now() - t0).toBeLessThan(5_000);
    await expect(fetch(`${relay.url}/healthz`)).rejects.toThrow();
  });
});
