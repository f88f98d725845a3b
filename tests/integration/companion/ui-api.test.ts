/**
 * What the UI needs from the local API, over real sockets: the one-time login
 * link and its cookie, the origin rules for that cookie, the built UI with its
 * CSP, and settings that are validated, saved and applied while running.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Status } from '../../../protocol/local.ts';
import { startAgent, type Agent } from '../../../main/core/agent.ts';
import { LOGIN_TTL_MS } from '../../../main/core/api/login.ts';
import { startApi, type Api } from '../../../main/core/api/server.ts';
import { createUiSessions } from '../../../main/core/api/sessions.ts';
import { realClock } from '../../../common/clock.ts';
import { silentLogger } from '../../../common/logger.ts';
import { loadSettings } from '../../../main/core/settings.ts';
import { startSim, type Sim } from '../../../sim/index.ts';

const TOKEN = 'ui-token-0123456789abcdef';
let api: Api;
let port: number;
let mono = 0;
const ui = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-ui-dir-'));

function req(method: string, p: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, path: p, method, headers: { host: `127.0.0.1:${port}`, ...headers }, setHost: false }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    r.on('error', reject);
    r.end(body);
  });
}
const newLink = () => new URL(api.loginLink().url);

beforeAll(async () => {
  fs.mkdirSync(path.join(ui, 'assets'));
  fs.writeFileSync(path.join(ui, 'index.html'), '<!doctype html><title>ui</title>');
  fs.writeFileSync(path.join(ui, 'assets', 'app.js'), 'console.log(1)');
  const status = { level: 'warn', version: '0', startedAt: '', front: { state: 'unknown', url: null, latencyMs: null, checkedAt: null, since: null, source: null }, tunnel: { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null } } as Status;
  api = await startApi({
    port: 0, token: TOKEN, logger: silentLogger, status: () => status, uiDir: ui,
    clock: { ...realClock, mono: () => mono },
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
  });
  port = Number(new URL(api.url).port);
});
afterAll(async () => { await api.close(); fs.rmSync(ui, { recursive: true, force: true }); });

describe('login link', () => {
  it('sets an HttpOnly SameSite=Strict cookie and redirects to the UI, once', async () => {
    const link = newLink();
    const first = await req('GET', link.pathname + link.search);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    expect(first.headers['set-cookie']?.[0]).toBe(`evva_token=${TOKEN}; HttpOnly; SameSite=Strict; Path=/`);
    const again = await req('GET', link.pathname + link.search);
    expect(again.status).toBe(401);
    expect(again.headers['set-cookie']).toBeUndefined();
    expect(again.body).toContain('уже использована или устарела');
  });

  it('expires unused after ten minutes', async () => {
    const link = newLink();
    mono += LOGIN_TTL_MS + 1;
    expect((await req('GET', link.pathname + link.search)).status).toBe(401);
  });

  it('refuses a made-up code and a missing one', async () => {
    expect((await req('GET', '/login?once=guess')).status).toBe(401);
    expect((await req('GET', '/login')).status).toBe(401);
  });
});

describe('a browser session that survives a restart', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-ui-sessions-'));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  let now = Date.parse('2026-11-28T12:00:00Z');
  const clock = { ...realClock, now: () => now };
  const start = (token: string) => startApi({
    port: 0, token, logger: silentLogger, uiDir: ui, clock,
    sessions: createUiSessions({ dataDir, clock, days: 30 }),
    status: () => ({ level: 'warn', version: '0', startedAt: '', front: { state: 'unknown', url: null, latencyMs: null, checkedAt: null, since: null, source: null }, tunnel: { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null } }) as Status,
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
  });
  const at = (a: Api, method: string, p: string, headers: Record<string, string> = {}) => new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const port = Number(new URL(a.url).port);
    const r = http.request({ host: '127.0.0.1', port, path: p, method, headers: { host: `127.0.0.1:${port}`, ...headers }, setHost: false }, (res) => { res.resume(); res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers })); });
    r.on('error', reject);
    r.end();
  });

  it('the one-time link starts a session whose cookie (not the token) a restarted companion with a new token still honours, until logout', async () => {
    const first = await start('token-of-the-first-run-0123456789');
    const link = new URL(first.loginLink().url);
    const login = await at(first, 'GET', link.pathname + link.search);
    expect(login.status).toBe(303);
    const set = login.headers['set-cookie']?.[0] ?? '';
    expect(set).toMatch(/^evva_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=2592000$/);
    expect(set).not.toContain('token-of-the-first-run');
    // Still one-time.
    expect((await at(first, 'GET', link.pathname + link.search)).status).toBe(401);
    const cookie = set.split(';')[0]!;
    const same = { cookie, 'sec-fetch-site': 'same-origin' };
    expect((await at(first, 'GET', '/api/status', same)).status).toBe(200);
    await first.close();

    // A reboot: a new process, a new token, the same data dir.
    const second = await start('token-of-the-second-run-987654321');
    const port = new URL(second.url).port;
    expect((await at(second, 'GET', '/api/status', same)).status).toBe(200);
    // The same door as before: from another origin the cookie is refused.
    expect((await at(second, 'GET', '/api/status', { cookie, 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await at(second, 'POST', '/api/logout', { cookie, origin: 'http://127.0.0.1:9042', 'sec-fetch-site': 'same-site' })).status).toBe(403);
    // A made-up or altered id is nobody.
    expect((await at(second, 'GET', '/api/status', { cookie: `evva_session=${'A'.repeat(43)}`, 'sec-fetch-site': 'same-origin' })).status).toBe(401);
    const out = await at(second, 'POST', '/api/logout', { ...same, origin: `http://127.0.0.1:${port}` });
    expect(out.status).toBe(200);
    expect(out.headers['set-cookie']?.[0]).toContain('Max-Age=0');
    expect((await at(second, 'GET', '/api/status', same)).status).toBe(401);
    await second.close();
  });

  it('ends by itself after its lifetime', async () => {
    const a = await start('token-lifetime-0123456789abcdef');
    const link = new URL(a.loginLink().url);
    const cookie = ((await at(a, 'GET', link.pathname + link.search)).headers['set-cookie']?.[0] ?? '').split(';')[0]!;
    const same = { cookie, 'sec-fetch-site': 'same-origin' };
    expect((await at(a, 'GET', '/api/status', same)).status).toBe(200);
    now += 30 * 86_400_000 + 1;
    expect((await at(a, 'GET', '/api/status', same)).status).toBe(401);
    await a.close();
  });
});

describe('the cookie and where a request comes from', () => {
  const cookie = `evva_token=${TOKEN}`;
  it('accepts the cookie from the UI itself', async () => {
    expect((await req('GET', '/api/status', { cookie, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await req('POST', '/api/login-link', { cookie, origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });

  it('refuses it from a page of another origin on the same host', async () => {
    expect((await req('POST', '/api/login-link', { cookie, origin: 'http://127.0.0.1:9042', 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await req('GET', '/api/status', { cookie, 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await req('GET', '/api/status', { cookie, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
  });

  it('wants an Origin on a cookie-borne change even from a browser without Fetch Metadata', async () => {
    expect((await req('POST', '/api/login-link', { cookie })).status).toBe(403);
  });

  it('lets scripts with the Bearer token change things without any Origin', async () => {
    expect((await req('POST', '/api/login-link', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await req('POST', '/api/login-link', { authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' })).status).toBe(403);
  });
});

describe('the built UI', () => {
  it('serves the app for its own paths with a CSP that allows only this API', async () => {
    for (const p of ['/', '/setup', '/diagnostics']) {
      const r = await req('GET', p);
      expect(r.status).toBe(200);
      expect(r.body).toContain('<title>ui</title>');
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${port}`);
      expect(csp).toContain("frame-ancestors 'none'");
    }
    expect((await req('GET', '/assets/app.js')).status).toBe(200);
  });

  it('still answers a wrong Host with 421 and unknown API paths with JSON 404', async () => {
    expect((await req('GET', '/', { host: 'evil.example' })).status).toBe(421);
    const r = await req('GET', '/api/nothing', { authorization: `Bearer ${TOKEN}` });
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body).error.code).toBe('not_found');
  });
});

describe('settings set when the companion started', () => {
  let agent: Agent;
  let dir: string;
  let sim: Sim;
  beforeAll(async () => {
    sim = await startSim({ port: 0, auto: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-ui-locked-'));
    // As `run --front-url …` starts it: the flag outranks settings.json.
    agent = await startAgent({ settings: loadSettings({ dataDir: dir, apiPort: '0', frontUrl: sim.url }, {}), logger: silentLogger });
  });
  afterAll(async () => { await agent.stop(); await sim.close(); fs.rmSync(dir, { recursive: true, force: true }); });

  it('says which values came from the start, and refuses to override them from the UI, leaving settings.json alone', async () => {
    const headers = { authorization: `Bearer ${agent.api.token}`, 'content-type': 'application/json' };
    const view = await (await fetch(`${agent.api.url}/api/settings`, { headers })).json() as { sources: Record<string, string>; values: { frontUrl: string } };
    expect(view.sources).toMatchObject({ frontUrl: 'flag', moduleId: 'default', allowRemoteDiagnostics: 'default' });
    const res = await fetch(`${agent.api.url}/api/settings`, { method: 'PUT', headers, body: JSON.stringify({ frontUrl: 'http://127.0.0.1:1' }) });
    expect(res.status).toBe(409);
    const body = await res.json() as { error: { code: string; fields: string[]; message: string } };
    expect(body.error).toMatchObject({ code: 'locked', fields: ['frontUrl'] });
    expect(body.error.message).toContain('Адрес плагина iikoFront');
    expect(body.error.message).not.toMatch(/frontUrl|--front-url|EVVA_FRONT_URL/);
    expect(fs.existsSync(path.join(dir, 'settings.json'))).toBe(false);
    expect(agent.status().front.url).toBe(sim.url);
  });
});

describe('settings from the UI', () => {
  let sim: Sim;
  let agent: Agent;
  let dir: string;
  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${agent.api.url}${p}`, { method, headers: { authorization: `Bearer ${agent.api.token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await res.json() as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  /** settings.json as saved, or null before anything is: the tests run in any order, so none assumes another ran. */
  const saved = (): string | null => { try { return fs.readFileSync(path.join(dir, 'settings.json'), 'utf8'); } catch { return null; } };

  beforeAll(async () => {
    sim = await startSim({ port: 0, auto: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-ui-settings-'));
    agent = await startAgent({ settings: loadSettings({ dataDir: dir, apiPort: '0' }, {}), logger: silentLogger, probe: { discover: async () => ({ found: null, tried: [] }) as never } });
  });
  afterAll(async () => { await agent.stop(); await sim.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  // Each test starts from the values a fresh companion has (the tests run in any order): the ones a test here changes
  // go back to their defaults, through the same API (moduleId and language are never changed here).
  beforeEach(async () => {
    const r = await call('PUT', '/api/settings', { frontUrl: null, probeIntervalSec: 3, proxy: null, allowRemoteDiagnostics: true });
    expect(r.status).toBe(200);
  });

  it('reads the values in force', async () => {
    const r = await call('GET', '/api/settings');
    expect(r.body.values).toMatchObject({ frontUrl: null, moduleId: '2050', probeIntervalSec: 3, relayUrl: null, proxy: null, language: 'ru' });
  });

  it('refuses a bad value by its name and changes nothing', async () => {
    const before = saved();
    const r = await call('PUT', '/api/settings', { probeIntervalSec: 0, moduleId: '2050' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_settings');
    expect(r.body.error.fields).toEqual(['probeIntervalSec']);
    expect(r.body.error.message).toContain('probeIntervalSec');
    // The form names the field by its label: the problem alone, without the key.
    expect(r.body.error.problems).toEqual([{ field: 'probeIntervalSec', message: 'слишком маленькое значение: нужно не меньше 1' }]);
    expect(saved()).toBe(before);
  });

  it('refuses fields the UI may not change, by name', async () => {
    const r = await call('PUT', '/api/settings', { apiPort: 1 });
    expect(r.status).toBe(400);
    expect(r.body.error.fields).toEqual(['apiPort']);
    expect((await call('PUT', '/api/settings', [1])).status).toBe(400);
  });

  it('applies a new plugin address at once, without a restart, and saves it', async () => {
    const r = await call('PUT', '/api/settings', { frontUrl: sim.url, probeIntervalSec: 2 });
    expect(r.status).toBe(200);
    expect(r.body.applied.sort()).toEqual(['frontUrl', 'probeIntervalSec']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8'))).toMatchObject({ frontUrl: sim.url, probeIntervalSec: 2 });
    const until = Date.now() + 15_000;
    while (agent.status().front.state !== 'up' && Date.now() < until) await new Promise((res) => setTimeout(res, 100));
    expect(agent.status().front).toMatchObject({ state: 'up', url: sim.url });
  });

  it('never shows a proxy password, and keeps it when the form sends the hidden one back', async () => {
    await call('PUT', '/api/settings', { proxy: 'http://user:secret@127.0.0.1:3128' });
    const r = await call('GET', '/api/settings');
    expect(r.body.values.proxy).toBe('http://user:***@127.0.0.1:3128');
    expect(JSON.stringify(r.body)).not.toContain('secret');
    await call('PUT', '/api/settings', { proxy: r.body.values.proxy });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8')).proxy).toBe('http://user:secret@127.0.0.1:3128');
    await call('PUT', '/api/settings', { proxy: null });
  });

  it('shows the remote-diagnostics switch as it is (on by default) and turns it off and on again', async () => {
    expect((await call('GET', '/api/settings')).body.values.allowRemoteDiagnostics).toBe(true);
    const off = await call('PUT', '/api/settings', { allowRemoteDiagnostics: false });
    expect(off.status).toBe(200);
    expect(off.body.values.allowRemoteDiagnostics).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8')).allowRemoteDiagnostics).toBe(false);
    expect((await call('PUT', '/api/settings', { allowRemoteDiagnostics: true })).body.values.allowRemoteDiagnostics).toBe(true);
  });

  it('checks a port for the plugin without saving it: the plugin is found, a closed port is explained', async () => {
    const before = saved();
    const found = await call('POST', '/api/front/check', { port: sim.port });
    expect(found.body).toMatchObject({ found: true, url: sim.url });
    const closed = (await import('../../helpers/proc.ts')).freePort;
    const port = await closed();
    const missing = await call('POST', '/api/front/check', { port });
    expect(missing.body).toMatchObject({ found: false, problem: { code: 'unreachable' } });
    expect(missing.body.problem.message).toContain(String(port));
    expect((await call('POST', '/api/front/check', { port: 0 })).status).toBe(400);
    expect(saved()).toBe(before);
  });

  it('records state changes in the activity list, newest first', async () => {
    // The plugin comes up (it may already be: the tests run in any order), which the list shows first.
    expect((await call('PUT', '/api/settings', { frontUrl: sim.url })).status).toBe(200);
    await expect.poll(() => agent.status().front.state, { timeout: 15_000 }).toBe('up');
    const r = await call('GET', '/api/activity?limit=5');
    const items = r.body.items as Array<{ part: string; state: string }>;
    expect(items[0]).toMatchObject({ part: 'front', state: 'up' });
    expect(items.some((i) => i.part === 'tunnel' && i.state === 'unpaired')).toBe(true);
  });
});
