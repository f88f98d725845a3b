/**
 * The support console's API on a real relay (in this process, on loopback):
 * sign-in and its limits, the cookie and the origin rules, sessions that end,
 * what is handed to the relay's API and what is not, nothing secret in any
 * answer, the audit, and a venue's verdict following what its tunnel reports.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fetch } from 'undici';
import WebSocket from 'ws';
import { realClock, type Clock } from '../../../common/clock.ts';
import { SIGNIN_FAIL_DELAY_MS, type AuditList, type VenueDetail, type VenuePage } from '../../../protocol/console.ts';
import type { Status } from '../../../protocol/local.ts';
import { TUNNEL_PROTOCOL, encodeControl } from '../../../protocol/tunnel.ts';
import { keyFingerprint } from '../../../relay/auth.ts';
import type { Upstream } from '../../../main/core/upstream.ts';
import { API_KEY, COMPANION, createVenue, pairedVenue, startRelay, tempDir, tunnelFor, waitFor, type RunningRelay } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function relay(opts: Parameters<typeof startRelay>[0] = {}): Promise<RunningRelay> {
  const r = await startRelay(opts);
  cleanups.push(() => r.close());
  return r;
}

/** Signs in as the page would (same-origin fetch); returns the answer and the cookie pair to send back. */
async function signIn(r: RunningRelay, key = API_KEY, headers: Record<string, string> = {}) {
  const res = await fetch(`${r.url}/console/api/session`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin: r.url, 'sec-fetch-site': 'same-origin', ...headers }, body: JSON.stringify({ key }),
  });
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { res, setCookie, cookie: setCookie.split(';')[0] ?? '', body: await res.json() as Record<string, unknown> };
}

/** A console call with the cookie, as the page makes it. */
async function api(r: RunningRelay, cookie: string, method: string, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${r.url}/console/api${path}`, { method, headers: { cookie, origin: r.url, 'sec-fetch-site': 'same-origin', ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: <T = Record<string, unknown>>() => JSON.parse(text) as T };
}

const metric = async (r: RunningRelay, result: string): Promise<number> => {
  const text = await (await fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
  return Number(new RegExp(`evva_relay_console_signins_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
};

describe('console sign-in', () => {
  it('exchanges the API key for an HttpOnly, SameSite=Strict session cookie that is not the key', async () => {
    const r = await relay();
    const { res, setCookie, cookie, body } = await signIn(r);
    expect(res.status).toBe(200);
    expect(setCookie).toMatch(/^evva_console=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/console; Max-Age=28800$/);
    expect(setCookie).not.toContain(API_KEY);
    expect(body).toEqual({ key: keyFingerprint(API_KEY), expiresAt: expect.any(String) });
    expect((await api(r, cookie, 'GET', '/session')).json()).toEqual(body);
    expect(await metric(r, 'ok')).toBe(1);
  });

  it('refuses a wrong key after a delay, counts it, and limits attempts like pairing', async () => {
    const r = await relay({ pairLimits: { perIp: { max: 3, windowMs: 60_000 } } });
    const t0 = performance.now();
    const wrong = await signIn(r, 'not-the-key-0123456789');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(SIGNIN_FAIL_DELAY_MS - 5);
    expect(wrong.res.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: 'wrong_key', message: expect.stringContaining('Ключ не подошёл') });
    expect(wrong.setCookie).toBe('');
    expect(await metric(r, 'wrong_key')).toBe(1);
    await signIn(r, 'not-the-key-0123456789');
    expect((await signIn(r)).res.status).toBe(200);
    // The fourth attempt from this address in the window is refused, even with the right key.
    const limited = await signIn(r);
    expect(limited.res.status).toBe(429);
    expect(limited.res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await metric(r, 'rate_limited')).toBe(1);
  });

  it('takes a sign-in only from the console page itself', async () => {
    const r = await relay();
    expect((await signIn(r, API_KEY, { origin: 'https://evil.example' })).res.status).toBe(403);
    expect((await signIn(r, API_KEY, { 'sec-fetch-site': 'cross-site' })).res.status).toBe(403);
    // No Origin and no fetch metadata: not a browser on this page, so not a sign-in.
    const bare = await fetch(`${r.url}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: API_KEY }) });
    expect(bare.status).toBe(403);
    expect(await metric(r, 'ok')).toBe(0);
  });
});

describe('console sessions', () => {
  it('refuses calls without a session, from another site, or after sign-out', async () => {
    const r = await relay();
    await createVenue(r.url, 'Кафе');
    expect((await api(r, '', 'GET', '/venues')).status).toBe(401);
    expect((await api(r, 'evva_console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'GET', '/venues')).status).toBe(401);
    const { cookie } = await signIn(r);
    expect((await api(r, cookie, 'GET', '/venues')).status).toBe(200);
    expect((await api(r, cookie, 'GET', '/venues', { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await api(r, cookie, 'GET', '/venues', { origin: 'http://127.0.0.1:1' })).status).toBe(403);
    // The cookie is no credential for the relay's own API.
    expect((await fetch(`${r.url}/v1/venues`, { headers: { cookie } })).status).toBe(401);
    const out = await api(r, cookie, 'DELETE', '/session');
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^evva_console=; .*Max-Age=0/);
    expect((await api(r, cookie, 'GET', '/venues')).status).toBe(401);
  });

  it('ends a session after its lifetime, and when its key leaves the configuration', async () => {
    let offset = 0;
    const clock: Clock = { ...realClock, now: () => Date.now() + offset };
    const dir = tempDir('relay');
    cleanups.push(() => dir.remove());
    const first = await relay({ clock, dataDir: dir.dir, apiKeys: [API_KEY, 'second-key-0123456789abcdef'] });
    const a = await signIn(first);
    const b = await signIn(first, 'second-key-0123456789abcdef');
    expect((await api(first, a.cookie, 'GET', '/session')).status).toBe(200);
    offset = 8 * 3600_000 + 1_000;
    expect((await api(first, a.cookie, 'GET', '/session')).status).toBe(401);
    offset = 0;
    // Another relay on the same store (a restart) without the second key: its session is gone, the first key's is not.
    const c = await signIn(first);
    await first.close();
    const again = await relay({ dataDir: dir.dir, apiKeys: [API_KEY] });
    expect((await api(again, c.cookie, 'GET', '/session')).status).toBe(200);
    expect((await api(again, b.cookie, 'GET', '/session')).status).toBe(401);
  });
});

describe('console API', () => {
  it('hands only the listed support actions to the relay API, audited under the key\'s fingerprint', async () => {
    const r = await relay();
    const v = await createVenue(r.url, 'Кафе');
    const { cookie } = await signIn(r);
    // The venue API (the POS itself) is not reachable through the console.
    expect((await api(r, cookie, 'GET', `/venues/${v.venueId}/front/api/orders`)).status).toBe(404);
    const code = await api(r, cookie, 'POST', `/venues/${v.venueId}/pairing`);
    expect(code.status).toBe(201);
    expect(code.json()).toMatchObject({ venueId: v.venueId, pairingCode: expect.stringMatching(/^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/) });
    // Offline: the support actions say so.
    expect((await api(r, cookie, 'POST', `/venues/${v.venueId}/diagnostics`)).json()).toMatchObject({ error: 'venue_offline' });
    expect((await api(r, cookie, 'POST', `/venues/${v.venueId}/revoke`)).status).toBe(200);
    expect((await api(r, cookie, 'POST', `/venues/${v.venueId}/webhook/retry`)).json()).toMatchObject({ error: 'no_webhook' });
    // A state change without its Origin is refused before anything runs.
    expect((await fetch(`${r.url}/console/api/venues/${v.venueId}/revoke`, { method: 'POST', headers: { cookie } })).status).toBe(403);
    let audit: AuditList['entries'] = [];
    await waitFor(async () => {
      audit = (await api(r, cookie, 'GET', `/venues/${v.venueId}/audit`)).json<AuditList>().entries;
      return audit.length >= 4;
    }, 'four audit rows');
    expect(audit.map((a) => [a.action, a.outcome])).toEqual([['webhook-retry', 'no_webhook'], ['revoke', 'done'], ['diagnose', 'venue_offline'], ['pairing', 'done']]);
    expect(audit.every((a) => a.by.key === keyFingerprint(API_KEY) && a.by.ip === '127.0.0.1')).toBe(true);
  });

  it('lists venues with their verdict, a server-side time, and nothing secret', async () => {
    const r = await relay();
    const d = tempDir('companion');
    cleanups.push(() => d.remove());
    const v = await pairedVenue(r.url, d.dir);
    for (let i = 0; i < 3; i++) await createVenue(r.url, `Бар ${i}`);
    const secret = 'webhook-secret-0123456789';
    // Written behind the route's destination check (this machine resolves no public names): as if the name had
    // resolved to a public address when it was set.
    await r.relay.store.feed.setWebhook(v.venueId, {
      url: 'https://user:hunter2pass@hooks.example.com/in/abcdef0123456789xyz?token=tok3nvalue&x=1', secret, format: 'evva', authToken: null,
    }, Date.now());
    const { cookie } = await signIn(r);
    const list = await api(r, cookie, 'GET', '/venues?sort=name&limit=2');
    expect(list.headers.get('server-timing')).toMatch(/total;dur=\d+\.\d+/);
    const page = list.json<VenuePage>();
    expect(page.total).toBe(4);
    expect(page.counts).toMatchObject({ all: 4, grey: 3, red: 1 });
    expect(page.venues.map((x) => x.name)).toEqual(['Test venue', 'Бар 0']);
    const detail = await api(r, cookie, 'GET', `/venues/${v.venueId}`);
    const body = detail.json<VenueDetail>();
    expect(body.face).toMatchObject({ tone: 'red', sentence: 'Есть проблема: нет связи с EVVA' });
    expect(body.webhook.url).toBe('https://***@hooks.example.com/in/***?token=***&x=***');
    for (const text of [list.text, detail.text]) {
      for (const s of [API_KEY, secret, 'hunter2pass', 'tok3nvalue', v.deviceToken, 'evd_']) expect(text).not.toContain(s);
    }
  });

  it('follows a venue\'s verdict as its tunnel reports it, goes offline and comes back', async () => {
    const r = await relay({ linkTiming: { pingIntervalMs: 200, deadAfterMs: 1_000, checkMs: 100 } });
    const d = tempDir('companion');
    cleanups.push(() => d.remove());
    const v = await pairedVenue(r.url, d.dir);
    const { cookie } = await signIn(r);
    const face = async () => (await api(r, cookie, 'GET', `/venues/${v.venueId}`)).json<VenueDetail>();
    const nothing: Upstream = { forward: async () => ({ status: 200, headers: {}, body: null }) };
    const front = { state: 'down' as const, url: 'http://127.0.0.1:9042', latencyMs: null, checkedAt: null, since: '2026-01-01T09:04:00.000Z', source: 'discovery' as const,
      error: { code: 'refused', message: 'iikoFront не отвечает на порту 9042.' } };
    const status: Status = { level: 'error', version: '7.7.7', startedAt: '2026-01-01T09:00:00.000Z', front,
      tunnel: { state: 'connected', since: '2026-01-01T09:00:00.000Z', rttMs: 4, reconnects: 0, venueId: v.venueId, relayUrl: r.url } };
    const t = tunnelFor(r.url, v, nothing);
    cleanups.push(() => t.stop());
    await waitFor(async () => (await face()).venue.online, 'online');
    t.reportStatus(status);
    await waitFor(async () => (await face()).face.sentence === 'Есть проблема: iikoFront не отвечает', 'the companion\'s own verdict');
    const shown = await face();
    expect(shown.reported).toBe(true);
    expect(shown.face.cards.find((c) => c.id === 'front')?.state).toMatch(/^Не отвечает с \d\d:\d\d$/);
    expect(shown.venue.companionVersion).toBe('0.1.0-test');
    // The list filters on the same verdict.
    expect((await api(r, cookie, 'GET', '/venues?verdict=red')).json<VenuePage>().venues.map((x) => x.venueId)).toEqual([v.venueId]);
    await t.stop();
    await waitFor(async () => { const f = await face(); return !f.venue.online && f.face.sentence === 'Есть проблема: iikoFront не отвечает'; }, 'offline');
    // The plugin comes back while the link is down: the relay keeps the last word it had; the link comes back with the new one.
    const t2 = tunnelFor(r.url, v, nothing);
    cleanups.push(() => t2.stop());
    t2.reportStatus({ ...status, level: 'ok', front: { ...front, state: 'up', latencyMs: 7, error: undefined } });
    await waitFor(async () => (await face()).face.sentence === 'Всё работает', 'back, working', 15_000);
    expect((await api(r, cookie, 'GET', '/venues?verdict=green')).json<VenuePage>().venues.map((x) => x.venueId)).toEqual([v.venueId]);
  });

  it('keeps the plugin state a companion reports right after its hello, not the older one in the hello', async () => {
    const r = await relay();
    const d = tempDir('companion');
    cleanups.push(() => d.remove());
    const v = await pairedVenue(r.url, d.dir);
    const { cookie } = await signIn(r);
    // A raw companion (plugin state only, as older companions report): hello and its first status frame leave
    // together, so the status frame is read while the relay is still recording the link's hello.
    const ws = new WebSocket(`${r.url.replace(/^http/, 'ws')}/v1/tunnel`, TUNNEL_PROTOCOL, { headers: { authorization: `Bearer ${v.deviceToken}` } });
    cleanups.push(() => ws.terminate());
    await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
    const front = { url: 'http://127.0.0.1:9042', latencyMs: 5, checkedAt: null, since: null, source: 'discovery' as const };
    ws.send(encodeControl({ t: 'hello', v: TUNNEL_PROTOCOL, companion: COMPANION, frontOrigin: null, front: { ...front, state: 'down', version: '8.0.0' } }));
    ws.send(encodeControl({ t: 'status', front: { ...front, state: 'up', version: '9.0.0' } }));
    const row = async () => (await api(r, cookie, 'GET', `/venues?q=${v.venueId}`)).json<VenuePage>().venues[0];
    await waitFor(async () => (await row())?.online === true, 'online');
    // Online is said only after the link's hello was recorded: what is stored now stays.
    await waitFor(async () => (await r.relay.store.getVenue(v.venueId))?.front?.version === '9.0.0', 'the reported plugin state', 2_000);
    expect((await r.relay.store.getVenue(v.venueId))?.front?.state).toBe('up');
    expect((await row())?.pluginVersion).toBe('9.0.0');
  });
});
