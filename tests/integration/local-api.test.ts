import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Status } from '../../protocol/local.ts';
import { startApi, type Api } from '../../main/core/api/server.ts';
import { silentLogger } from '../../common/logger.ts';

const TOKEN = 'test-token-0123456789';
let status: Status;
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
  status = {
    level: 'warn', version: '0.0.0', startedAt: new Date().toISOString(),
    front: { state: 'up', url: 'http://127.0.0.1:9042', latencyMs: 3, checkedAt: null, since: null, source: 'settings' },
    tunnel: { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null },
  };
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

  it('refuses another Host even with the right token (DNS rebinding)', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, '']) {
      const r = await raw('/api/status', { host, authorization: `Bearer ${TOKEN}` });
      expect(r.status, host).toBe(421);
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
  });

  it('says clearly when its port is already taken', async () => {
    await expect(startApi({ port, token: TOKEN, logger: silentLogger, status: () => status, metrics: async () => ({ contentType: '', body: '' }) }))
      .rejects.toThrow(/Порт \d+ уже занят/);
  });
});
