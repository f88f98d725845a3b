/**
 * The relay, the tunnel client and the simulated plugin, on real loopback
 * sockets: what the EVVA backend sees through `/v1/venues/:id/front/...`.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resources } from '../../../protocol/front.ts';
import { VenueView } from '../../../protocol/relay.ts';
import { startSim, type Sim } from '../../../sim/index.ts';
import type { TunnelHandle } from '../../../main/core/tunnel/client.ts';
import type { Upstream, UpstreamRequest } from '../../../main/core/upstream.ts';
import { RECORDER_TOKEN, startRecorder } from '../../helpers/recorder.ts';
import {
  API_KEY, COMPANION, createVenue, fetchUpstream, pairedVenue, startRelay, tempDir, tunnelFor, venueCall, waitFor, type RunningRelay,
} from '../../helpers/relay.ts';

/** A raw HTTP request, so the target reaches the relay byte for byte (fetch would normalise `..` and escapes). */
function raw(url: string, method: string, target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path: target, headers: { authorization: `Bearer ${API_KEY}`, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('venue API through the tunnel to the simulated plugin', () => {
  let sim: Sim;
  let relay: RunningRelay;
  let tunnel: TunnelHandle;
  let up: ReturnType<typeof fetchUpstream>;
  let venueId: string;
  let base: string;
  const dir = tempDir('companion');

  beforeAll(async () => {
    sim = await startSim({ port: 0, auto: false });
    relay = await startRelay();
    const v = await pairedVenue(relay.url, dir.dir);
    venueId = v.venueId;
    base = `${relay.url}/v1/venues/${venueId}/front`;
    up = fetchUpstream(sim.url);
    tunnel = tunnelFor(relay.url, v, up, { frontOrigin: sim.url });
    await waitFor(() => tunnel.status().state === 'connected', 'tunnel connected');
  });
  afterAll(async () => {
    await tunnel?.stop();
    await up?.close();
    await relay?.close();
    await sim?.close();
    dir.remove();
  });

  it('reaches every plugin resource, with every absolute link rewritten back into the relay', async () => {
    for (const [name, r] of Object.entries(resources)) {
      const a = await venueCall(relay.url, venueId, r.path);
      expect(a.status, name).toBe(200);
      expect(a.text, name).not.toContain(sim.url);
      const list = a.json() as Array<Record<string, unknown>>;
      expect(Array.isArray(list), name).toBe(true);
      expect(list.length, `${name} is empty in the sim`).toBeGreaterThan(0);
      for (const item of list) r.item.parse(item);
      // Follow the first record's own link: it must lead back through the relay to the same record.
      const own = list.find((x) => typeof x.Url === 'string')?.Url as string | undefined;
      if (own) {
        expect(own.startsWith(`${base}/api/`), `${name} link ${own}`).toBe(true);
        const res = await fetch(own, { headers: { authorization: `Bearer ${API_KEY}` } });
        expect(res.status, own).toBe(200);
        expect(await res.text()).not.toContain(sim.url);
      }
    }
    const orders = (await venueCall(relay.url, venueId, '/api/orders')).json() as Array<{ Waiter?: string; Table?: string }>;
    expect(orders.some((o) => o.Waiter?.startsWith(`${base}/api/users/`))).toBe(true);
    const root = await venueCall(relay.url, venueId, '/');
    expect(root.status).toBe(200);
  });

  // Whether the caller's key reaches the plugin is checked at the plugin end, through the real plugin client, below.
  it('keeps the query through the relay and the tunnel', async () => {
    const a = await venueCall(relay.url, venueId, '/api/orders?$top=2&$orderby=Number%20desc&key=stolen-or-stale');
    expect(a.status).toBe(200);
    const list = a.json() as Array<{ Number: number }>;
    expect(list).toHaveLength(2);
    expect((list[0] as { Number: number }).Number).toBeGreaterThan((list[1] as { Number: number }).Number);
  });

  it('answers 64 concurrent requests, each exactly as the plugin answers it directly', async () => {
    const token = JSON.parse(await (await fetch(`${sim.url}/api/login/2050`)).text()) as string;
    try {
      const paths = Array.from({ length: 64 }, (_, i) => {
        const r = Object.values(resources)[i % Object.keys(resources).length] as { path: string };
        return `${r.path}?$top=${(i % 7) + 1}`;
      });
      const direct = await Promise.all(paths.map(async (p) => (await fetch(`${sim.url}${p}&key=${token}`)).text()));
      const t0 = performance.now();
      const relayed = await Promise.all(paths.map((p) => venueCall(relay.url, venueId, p)));
      console.log(`64 concurrent requests through the tunnel: ${Math.round(performance.now() - t0)} ms`);
      relayed.forEach((r, i) => {
        expect(r.status).toBe(200);
        expect(r.text.split(base).join(sim.url)).toBe(direct[i]);
      });
    } finally {
      await fetch(`${sim.url}/api/logout/${token}`);
    }
  });

  const escapes: Array<[string, string, string]> = [
    ['dot-dot', 'GET', '/api/../admin'],
    ['dot-dot leaving /api', 'GET', '/api/../../../../etc/passwd'],
    ['encoded dots', 'GET', '/api/%2e%2e/admin'],
    ['encoded slash', 'GET', '/api%2forders'],
    ['double-encoded slash', 'GET', '/api%252forders'],
    ['encoded backslash', 'GET', '/api/%5c..%5cadmin'],
    ['encoded NUL', 'GET', '/api/orders%00'],
    ['absolute-form inside the path', 'GET', '/http://192.168.1.1/admin'],
    ['protocol-relative', 'GET', '//192.168.1.1/api/orders'],
    ['outside /api', 'GET', '/admin'],
    ['login', 'GET', '/api/login/2050'],
    ['logout', 'GET', '/api/logout/x'],
    ['POST', 'POST', '/api/orders'],
    ['DELETE', 'DELETE', '/api/orders/1'],
    ['PUT', 'PUT', '/api/orders/1'],
  ];
  it.each(escapes)('refuses %s with 403 before the plugin sees it', async (_name, method, path) => {
    const before = up.calls;
    const r = await raw(relay.url, method, `/v1/venues/${venueId}/front${path}`);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'forbidden' });
    expect(up.calls).toBe(before);
  });

  it('answers 414 for an over-long target and keeps the link up', async () => {
    const r = await raw(relay.url, 'GET', `/v1/venues/${venueId}/front/api/orders?q=${'a'.repeat(9000)}`);
    expect(r.status).toBe(414);
    expect(tunnel.status().state).toBe('connected');
    expect((await venueCall(relay.url, venueId, '/api/tables')).status).toBe(200);
  });

  it('refuses an upgrade request through the tunnel', async () => {
    const r = await raw(relay.url, 'GET', `/v1/venues/${venueId}/front/api/orders`, { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' });
    expect(r.status).toBe(403);
  });

  it('answers 504 when the plugin does not answer in time', async () => {
    sim.setFaults({ hang: true });
    try {
      const t0 = performance.now();
      const r = await venueCall(relay.url, venueId, '/api/orders', { headers: { 'x-evva-timeout-ms': '400' } });
      expect(r.status).toBe(504);
      expect(r.json()).toMatchObject({ error: 'timeout' });
      expect(performance.now() - t0).toBeLessThan(3000);
    } finally {
      sim.clearFaults();
    }
  });

  it('answers 502 when the plugin is unreachable, and recovers when it is back', async () => {
    await sim.stopListening();
    try {
      const r = await venueCall(relay.url, venueId, '/api/orders');
      expect(r.status).toBe(502);
      expect(r.json()).toMatchObject({ error: 'plugin_unreachable' });
    } finally {
      await sim.startListening();
    }
    expect((await venueCall(relay.url, venueId, '/api/tables')).status).toBe(200);
  });

  it('answers 503 venue_offline for a venue whose companion is not connected, 404 for an unknown one', async () => {
    const other = await createVenue(relay.url, 'Offline cafe');
    const r = await venueCall(relay.url, other.venueId, '/api/orders');
    expect(r.status).toBe(503);
    expect(r.json()).toEqual(expect.objectContaining({ error: 'venue_offline' }));
    const u = await venueCall(relay.url, 'ven_doesnotexist00', '/api/orders');
    expect(u.status).toBe(404);
    expect(u.json()).toMatchObject({ error: 'unknown_venue' });
  });

  it('requires the API key: 401 without, 403 with a wrong one', async () => {
    const none = await fetch(`${base}/api/orders`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: 'unauthorized' });
    const wrong = await fetch(`${base}/api/orders`, { headers: { authorization: 'Bearer wrong-key-wrong-key-wrong' } });
    expect(wrong.status).toBe(403);
    expect((await fetch(`${relay.url}/v1/venues`)).status).toBe(401);
    expect((await fetch(`${relay.url}/metrics`)).status).toBe(401);
  });

  it('shows the venue online with the companion and the plugin state it reported', async () => {
    const front = { state: 'up' as const, url: sim.url, latencyMs: 3, version: '7.4.6012.0', checkedAt: new Date().toISOString(), since: null, source: 'settings' as const };
    tunnel.reportFront(front);
    await waitFor(async () => {
      const r = await fetch(`${relay.url}/v1/venues/${venueId}`, { headers: { authorization: `Bearer ${API_KEY}` } });
      return ((await r.json()) as { front: unknown }).front !== null;
    }, 'front reported');
    const r = await fetch(`${relay.url}/v1/venues/${venueId}`, { headers: { authorization: `Bearer ${API_KEY}` } });
    const v = VenueView.parse(await r.json());
    expect(v).toMatchObject({ venueId, online: true, companion: COMPANION, front: { state: 'up', version: '7.4.6012.0' } });
    expect(Date.parse(v.lastSeenAt ?? '')).toBeGreaterThan(Date.now() - 10_000);
    expect(v.connectedAt).not.toBeNull();
    const offline = await createVenue(relay.url, 'Never connected');
    const list = await fetch(`${relay.url}/v1/venues`, { headers: { authorization: `Bearer ${API_KEY}` } });
    const venues = ((await list.json()) as { venues: unknown[] }).venues.map((x) => VenueView.parse(x));
    expect(venues.find((x) => x.venueId === venueId)?.online).toBe(true);
    expect(venues.find((x) => x.venueId === offline.venueId)?.online).toBe(false);
  });

  it('reports RTT and counts requests by outcome in /metrics', async () => {
    const metrics = async () => (await fetch(`${relay.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
    const count = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
    const OK = /evva_relay_requests_total\{outcome="ok"\} (\d+)/;
    const FORBIDDEN = /evva_relay_requests_total\{outcome="forbidden"\} (\d+)/;
    const FROM_VENUE = /evva_relay_body_bytes_total\{direction="from_venue"\} (\d+)/;
    const before = await metrics();
    // This test makes its own calls: it must not lean on what earlier tests happened to do.
    const ok = await venueCall(relay.url, venueId, '/api/tables');
    expect(ok.status).toBe(200);
    expect((await raw(relay.url, 'GET', `/v1/venues/${venueId}/front/admin`)).status).toBe(403);
    await waitFor(() => tunnel.status().rttMs !== null, 'an RTT sample', 8000);
    const m = await metrics();
    expect(m).toMatch(/evva_relay_tunnels 1/);
    expect(count(m, OK)).toBe(count(before, OK) + 1);
    expect(count(m, FORBIDDEN)).toBe(count(before, FORBIDDEN) + 1);
    expect(count(m, FROM_VENUE)).toBeGreaterThan(count(before, FROM_VENUE));
    expect(m).toMatch(/evva_relay_request_head_seconds_bucket/);
    expect((await (await fetch(`${relay.url}/healthz`)).json())).toMatchObject({ ok: true });
  });
});

describe('through the companion\'s own plugin client (createFrontClient as the Upstream)', () => {
  it('serves the venue API with one plugin session and rewritten links', async () => {
    const { createFrontClient } = await import('../../../main/core/front/client.ts');
    const { realClock } = await import('../../../common/clock.ts');
    const { silentLogger } = await import('../../../common/logger.ts');
    const sim = await startSim({ port: 0, auto: false });
    const relay = await startRelay();
    const dir = tempDir('companion');
    const front = createFrontClient({ baseUrl: sim.url, moduleId: '2050', clock: realClock, logger: silentLogger });
    let tunnel: TunnelHandle | null = null;
    try {
      const v = await pairedVenue(relay.url, dir.dir);
      tunnel = tunnelFor(relay.url, v, front, { frontOrigin: front.origin });
      const t = tunnel;
      await waitFor(() => t.status().state === 'connected', 'connected');
      const base = `${relay.url}/v1/venues/${v.venueId}/front`;
      const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => venueCall(relay.url, v.venueId, `/api/orders?key=caller-key&$top=${(i % 7) + 1}`)));
      for (const [i, a] of answers.entries()) {
        expect(a.status).toBe(200);
        expect((a.json() as unknown[]).length).toBe((i % 7) + 1);
        expect(a.text).not.toContain(sim.url);
      }
      const first = (answers[0]?.json() as Array<{ Url: string }>)[0];
      expect(first?.Url.startsWith(`${base}/api/orders/`)).toBe(true);
      expect(sim.logins()).toBe(1);
    } finally {
      await tunnel?.stop();
      await front.close();
      await relay.close();
      await sim.close();
      dir.remove();
    }
  });
});

describe('what each end receives from an EVVA call', () => {
  const callerHeaders = {
    authorization: `Bearer ${API_KEY}`, cookie: 'key=cookie-key-of-the-caller; lang=ru', 'x-evva-timeout-ms': '5000', accept: 'application/json',
  };

  /** A relay and a paired tunnel to `upstream`; runs `call` with the venue id, then tears both down. */
  async function throughTunnel(upstream: Upstream, frontOrigin: string | null, call: (venueId: string, relayUrl: string) => Promise<void>): Promise<void> {
    const relay = await startRelay();
    const dir = tempDir('companion');
    let tunnel: TunnelHandle | null = null;
    try {
      const v = await pairedVenue(relay.url, dir.dir);
      tunnel = tunnelFor(relay.url, v, upstream, { frontOrigin });
      const t = tunnel;
      await waitFor(() => t.status().state === 'connected', 'connected');
      await call(v.venueId, relay.url);
    } finally {
      await tunnel?.stop();
      await relay.close();
      dir.remove();
    }
  }

  it('the companion gets no EVVA API key, no cookie and no relay-only header from the relay', async () => {
    const seen: UpstreamRequest[] = [];
    const recording: Upstream = {
      async forward(req) {
        seen.push(req);
        return { status: 200, headers: { 'content-type': 'application/json' }, body: (async function* () { yield Buffer.from('[]'); })() };
      },
    };
    await throughTunnel(recording, null, async (venueId, relayUrl) => {
      const r = await venueCall(relayUrl, venueId, '/api/orders?$top=1', { headers: callerHeaders });
      expect(r.status).toBe(200);
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.path).toBe('/api/orders?$top=1');
    expect(seen[0]?.headers).toMatchObject({ accept: 'application/json' });
    expect(seen[0]?.headers.authorization).toBeUndefined();
    expect(seen[0]?.headers.cookie).toBeUndefined();
    expect(seen[0]?.headers['x-evva-timeout-ms']).toBeUndefined();
    expect(JSON.stringify(seen[0]?.headers)).not.toContain(API_KEY);
  });

  it('the plugin gets only the companion\'s own session: no caller key in the query or a cookie, no EVVA API key', async () => {
    const { createFrontClient } = await import('../../../main/core/front/client.ts');
    const { realClock } = await import('../../../common/clock.ts');
    const { silentLogger } = await import('../../../common/logger.ts');
    const plugin = await startRecorder();
    const front = createFrontClient({ baseUrl: plugin.url, moduleId: '2050', clock: realClock, logger: silentLogger });
    try {
      await throughTunnel(front, front.origin, async (venueId, relayUrl) => {
        const r = await venueCall(relayUrl, venueId, '/api/orders?key=query-key-of-the-caller&$top=2&KEY=upper-key', { headers: callerHeaders });
        expect(r.status).toBe(200);
      });
      const [call, ...more] = plugin.calls();
      expect(more).toEqual([]);
      expect(call?.url).toBe(`/api/orders?$top=2&key=${RECORDER_TOKEN}`);
      expect(call?.headers.authorization).toBeUndefined();
      expect(call?.headers.cookie).toBeUndefined();
      expect(JSON.stringify(plugin.requests)).not.toMatch(new RegExp(`${API_KEY}|of-the-caller|upper-key`));
    } finally {
      await front.close();
      await plugin.close();
    }
  });
});
