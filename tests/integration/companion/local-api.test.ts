import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Status } from '../../../protocol/local.ts';
import { startApi, type Api } from '../../../main/core/api/server.ts';
import { silentLogger } from '../../../common/logger.ts';

const TOKEN = 'test-token-0123456789';
/** What the companion reports until a test changes it (a test that changes it puts it back: the tests run in any order). */
const START: Status = {
  level: 'warn', version: '0.0.0', startedAt: new Date().toISOString(),
  front: { state: 'up', url: 'http://127.0.0.1:9042', latencyMs: 3, checkedAt: null, since: null, source: 'settings' },
  tunnel: { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null },
};
let status: Status = START;
let api: Api;
let port: number;

/** A raw request, so the Host and Origin headers are exactly what the test says. */
function raw(path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, setHost: false }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  api = await startApi({
    port: 0, token: TOKEN, logger: silentLogger, status: () => status,
    metrics: async () => ({ contentType: 'text/plain', body: 'evva_front_up 1\n' }),
  });
  port = Number(new URL(api.url).port);
});
afterAll(async () => { await api.close(); });

describe('local API', () => {
  it('listens on loopback only', () => {
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves the status with the bearer token', async () => {
    const r = await raw('/api/status', { host: `127.0.0.1:${port}`, authorization: `Bearer ${TOKEN}` });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ level: 'warn', front: { state: 'up' } });
  });

  it('accepts the UI cookie instead of the header', async () => {
    const r = await raw('/api/status', { host: `localhost:${port}`, cookie: `other=1; evva_token=${TOKEN}` });
    expect(r.status).toBe(200);
  });

  it('refuses a missing or wrong token with a Russian explanation', async () => {
    const none = await raw('/api/status', { host: `127.0.0.1:${port}` });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).error).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/токен/) });
    const wrong = await raw('/api/status', { host: `127.0.0.1:${port}`, authorization: `Bearer ${TOKEN}x` });
    expect(wrong.status).toBe(401);
  });

  it('reads the bearer scheme strictly: any case, any spacing, nothing before or after', async () => {
    const status = async (authorization: string) => (await raw('/api/status', { host: `127.0.0.1:${port}`, authorization })).status;
    expect(await status(`bearer ${TOKEN}`)).toBe(200);
    expect(await status(`Bearer   ${TOKEN}`)).toBe(200);
    expect(await status(`XBearer ${TOKEN}`)).toBe(401);
    expect(await status(`Token ${TOKEN}`)).toBe(401);
    expect(await status(`Bearer ${TOKEN} extra`)).toBe(401);
    expect(await status(TOKEN)).toBe(401);
  });

  it('refuses every near miss of the token: a prefix, one character, a suffix, the wrong case, one character changed', async () => {
    const lastChanged = `${TOKEN.slice(0, -1)}${TOKEN.endsWith('0') ? '1' : '0'}`;
    const nearMisses = [TOKEN.slice(0, -1), TOKEN.slice(0, TOKEN.length / 2), TOKEN.slice(0, 1), TOKEN.slice(1), TOKEN.toUpperCase(), lastChanged, `${TOKEN} ${TOKEN}`];
    for (const given of nearMisses) {
      const bearer = await raw('/api/status', { host: `127.0.0.1:${port}`, authorization: `Bearer ${given}` });
      expect(bearer.status, `bearer ${given}`).toBe(401);
      const cookie = await raw('/api/status', { host: `127.0.0.1:${port}`, cookie: `evva_token=${encodeURIComponent(given)}` });
      expect(cookie.status, `cookie ${given}`).toBe(401);
    }
    const empty = await raw('/api/status', { host: `127.0.0.1:${port}`, cookie: 'evva_token=' });
    expect(empty.status).toBe(401);
    // The same request with the whole token passes: the refusals above are about the token, nothing else.
    expect((await raw('/api/status', { host: `127.0.0.1:${port}`, cookie: `evva_token=${TOKEN}` })).status).toBe(200);
  });

  it('refuses another Host even with the right token (DNS rebinding)', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, '']) {
      const r = await raw('/api/status', { host, authorization: `Bearer ${TOKEN}` });
      expect(r.status, host).toBe(421);
      expect(JSON.parse(r.body).error, host).toMatchObject({ code: 'bad_host', message: expect.stringMatching(/127\.0\.0\.1 или localhost/) });
    }
    for (const host of [`localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      expect((await raw('/api/status', { host, authorization: `Bearer ${TOKEN}` })).status, host).toBe(200);
    }
  });

  it('sends no CORS headers, even to a page that asks', async () => {
    const r = await raw('/api/status', { host: `127.0.0.1:${port}`, authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' });
    expect(Object.keys(r.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('serves Prometheus metrics behind the token', async () => {
    expect((await raw('/metrics', { host: `127.0.0.1:${port}` })).status).toBe(401);
    const r = await raw('/metrics', { host: `127.0.0.1:${port}`, authorization: `Bearer ${TOKEN}` });
    expect(r.body).toContain('evva_front_up 1');
  });

  it('pushes the status over the live WebSocket', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/live`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const messages: unknown[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    await expect.poll(() => messages.length).toBe(1);
    status = { ...status, level: 'error', front: { ...status.front, state: 'down' } };
    api.publish(status);
    await expect.poll(() => messages.length).toBe(2);
    expect(messages[1]).toMatchObject({ type: 'status', status: { level: 'error' } });
    ws.close();
    status = START;
  });

  it('refuses a live WebSocket without the token, or from another site', async () => {
    const tryOpen = (headers: Record<string, string>) => new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/live`, { headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => { ws.close(); resolve(101); });
      ws.on('error', () => undefined);
    });
    expect(await tryOpen({})).toBe(401);
    expect(await tryOpen({ authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' })).toBe(403);
    expect(await tryOpen({ authorization: `Bearer ${TOKEN}`, origin: 'not a url' })).toBe(403);
    expect(await tryOpen({ authorization: `Bearer ${TOKEN}`, origin: `http://127.0.0.1:${port + 1}` })).toBe(403);
    expect(await tryOpen({ authorization: `Bearer ${TOKEN}`, origin: `http://localhost:${port}` })).toBe(101);
  });

  it('reads a cookie token that contains "=" whole', async () => {
    const token = 'base64like==tail=';
    const other = await startApi({ port: 0, token, logger: silentLogger, status: () => status, metrics: async () => ({ contentType: '', body: '' }) });
    try {
      const p = Number(new URL(other.url).port);
      const get = (cookie: string) => new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: p, path: '/api/status', headers: { host: `127.0.0.1:${p}`, cookie } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
      });
      expect(await get(`evva_token=${token}`)).toBe(200);
      expect(await get(`evva_token=${token.replace(/=/g, '')}`)).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('says clearly when its port is already taken', async () => {
    await expect(startApi({ port, token: TOKEN, logger: silentLogger, status: () => status, metrics: async () => ({ contentType: '', body: '' }) }))
      .rejects.toThrow(/Порт \d+ уже занят/);
  });
});
