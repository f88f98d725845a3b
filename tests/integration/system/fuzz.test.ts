/**
 * Malformed requests (request lines, headers, cookies, paths, bodies,
 * upgrades) thrown at the real companion's local API and the real relay, both
 * unauthenticated and with valid credentials (so they reach the gate through
 * the tunnel). Bounded in count and time, on loopback, from a seeded generator
 * (a failure names its seed). Afterwards both processes must be up and answer.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Status } from '../../../protocol/local.ts';
import { startFakePlugin, type FakePlugin } from '../../helpers/plugin.ts';
import { freePort, runBin, startBin, type Proc } from '../../helpers/proc.ts';

const KEY = 'fuzz-test-api-key-0123456789abcdef';
const SEED = Number(process.env.EVVA_FUZZ_SEED ?? 20_261_128);
const MAX_CASES = 800;
const MAX_MS = 25_000;
const CONCURRENCY = 8;

const procs: Proc[] = [];
const dirs: string[] = [];
const tmp = (p: string) => { const d = fs.mkdtempSync(path.join(os.tmpdir(), `evva-fuzz-${p}-`)); dirs.push(d); return d; };
let plugin: FakePlugin;
let relay: Proc;
let companion: Proc;
let relayPort = 0;
let venueId = '';
let api = { url: '', token: '' };
let apiPort = 0;

beforeAll(async () => {
  plugin = await startFakePlugin();
  const relayDir = tmp('relay');
  relay = startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', relayDir, '--api-key', KEY]);
  procs.push(relay);
  relayPort = Number(new URL((await relay.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!).port);
  const added = await runBin('evva-relay.js', ['venue', 'add', 'Fuzz', '--json', '--data-dir', relayDir]);
  const venue = JSON.parse(added.stdout) as { venueId: string; pairingCode: string };
  venueId = venue.venueId;
  const dir = tmp('companion');
  const paired = await runBin('evva-companion.js', ['pair', venue.pairingCode, '--relay-url', `http://127.0.0.1:${relayPort}`, '--data-dir', dir]);
  expect(paired.code, paired.out).toBe(0);
  apiPort = await freePort();
  companion = startBin('evva-companion.js', ['run', '--data-dir', dir, '--front-url', plugin.url, '--api-port', String(apiPort)]);
  procs.push(companion);
  await companion.waitFor(/Компаньон запущен/);
  api = JSON.parse(fs.readFileSync(path.join(dir, 'local-api.json'), 'utf8')) as typeof api;
  for (let i = 0; i < 100; i++) {
    if ((await companionStatus()).tunnel.state === 'connected') break;
    await new Promise((r) => setTimeout(r, 200));
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  await plugin?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function companionStatus(): Promise<Status> {
  const res = await fetch(`${api.url}/api/status`, { headers: { authorization: `Bearer ${api.token}` } });
  return Status.parse(await res.json());
}

/** mulberry32: small, seeded, good enough to pick cases. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BAD_PIECES = [
  '%', '%%', '%zz', '%E0%A4%A', '%ff%fe', '%00', '%0d%0a', '\u0000', '\u00ff', 'ı', '😀', '..', '../..', '//', '\\\\', ';', ';x=1', '?', '#', '&',
  '%2e%2e%2f', '%252e', 'login', 'LOGIN', 'logout/x', 'api/login./2050', 'key=stolen', '$metadata', '*', ' ', '\t', 'a'.repeat(9000),
];
const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'get', 'G ET', 'GETT', '', 'PRI', 'X'.repeat(40)];

function makeCase(r: () => number): { target: 'api' | 'relay'; bytes: Buffer; name: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const target = r() < 0.5 ? 'api' : 'relay';
  const port = target === 'api' ? apiPort : relayPort;
  if (target === 'api' && r() < 0.1) {
    // A valid live upgrade, so the junk frames sent after the 101 reach the WebSocket itself.
    const text = `GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${api.token}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    return { target, bytes: Buffer.from(text, 'latin1'), name: 'api live upgrade + junk frames' };
  }
  const authed = r() < 0.5;
  const junk = () => Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(BAD_PIECES)).join('');
  const base = target === 'api'
    ? pick(['/api/status', '/api/live', '/api/pair', '/api/proof', '/metrics', '/', '/api/'])
    : pick([`/v1/venues/${venueId}/front/api/`, `/v1/venues/${venueId}/front/`, '/v1/tunnel', '/v1/pair', '/v1/venues', `/v1/venues/${venueId}`, '/healthz', '/v1/venues/x/front/api/']);
  const raw = r() < 0.8 ? base + junk() : junk();
  // Most cases are valid HTTP with bad meaning (they reach the routers, the guard and the gate);
  // the rest keep raw bytes the HTTP parser itself must refuse.
  const p = r() < 0.7 ? raw.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c)) : raw;
  const method = r() < 0.7 ? pick(['GET', 'POST']) : pick(METHODS);
  const host = r() < 0.8 ? `127.0.0.1:${port}` : pick(['', 'evil.example', `localhost:${port}`, '127.0.0.1', `[::1]:${port}`, '%', 'a'.repeat(3000)]);
  const headers: string[] = [];
  if (r() < 0.95) headers.push(`Host: ${host}`);
  if (r() < 0.1) headers.push(`Host: evil.example`);
  if (authed) headers.push(target === 'api' ? `Authorization: Bearer ${api.token}` : `Authorization: Bearer ${KEY}`);
  else if (r() < 0.3) headers.push(`Authorization: ${pick(['Bearer', 'Bearer %', 'Basic ###', 'Bearer ' + 'x'.repeat(5000), 'Bearer  ', '\u00ff'])}`);
  if (r() < 0.4) headers.push(`Cookie: ${pick(['evva_token=%', 'evva_token=%E0%A4%A', `evva_token=${api.token}%`, 'a=1; evva_token', 'evva_token==', ';;;', 'key=%zz', `evva_token=${encodeURIComponent(api.token)}`])}`);
  if (r() < 0.3) headers.push(pick(['Upgrade: websocket', 'Upgrade: h2c', 'Upgrade: %']), pick(['Connection: Upgrade', 'Connection: keep-alive, Upgrade', 'Connection: close']));
  if (r() < 0.3) headers.push(`Sec-WebSocket-Key: ${pick(['dGhlIHNhbXBsZSBub25jZQ==', '%', '', 'x'.repeat(100)])}`, `Sec-WebSocket-Version: ${pick(['13', '8', 'x', ''])}`);
  if (r() < 0.2) headers.push(`Origin: ${pick(['http://evil.example', 'null', '%', `http://127.0.0.1:${port}`])}`);
  if (r() < 0.2) headers.push(`X-Evva-Timeout-Ms: ${pick(['-1', '0', '1e309', 'NaN', '99999999999', '100'])}`);
  if (r() < 0.2) headers.push(pick(['X-HTTP-Method-Override: DELETE', 'X-Original-URL: /api/login/2050', 'X-Forwarded-For: 1.2.3.4, %', 'Forwarded: for=%']));
  if (r() < 0.1) headers.push(`${pick(['Bad Header', 'X\u0000', ':', 'Ü'])}: x`);
  if (r() < 0.1) headers.push(`X-Big: ${'b'.repeat(Math.floor(r() * 20_000))}`);
  let body = '';
  const bodyKind = r();
  if (bodyKind < 0.25) {
    body = pick(['{', '{"code":', '{"code":"K7QF-2MXD","relayUrl":"%"}', 'null', '[]', '"', '\u0000\u0001', '{"code":' + '"x"'.repeat(2000) + '}', 'a'.repeat(10_000)]);
    headers.push(`Content-Type: ${pick(['application/json', 'text/plain', '%', ''])}`);
    headers.push(`Content-Length: ${pick([String(Buffer.byteLength(body)), String(Buffer.byteLength(body) + 50), '-1', 'abc', '1, 2', '99999999999999999999'])}`);
  } else if (bodyKind < 0.35) {
    headers.push('Transfer-Encoding: chunked');
    if (r() < 0.3) headers.push('Content-Length: 5');
    body = pick(['5\r\nhello\r\n0\r\n\r\n', 'zz\r\nxx\r\n', 'ffffffffffffffff\r\n', '3\r\nab', '0\r\n\r\n']);
  }
  const line = r() < 0.9 ? `${method} ${p} HTTP/1.1` : pick([`${method} ${p}`, `${method} ${p} HTTP/9.9`, `${method}  ${p} HTTP/1.1`, 'garbage', '\r\n\r\n', `${method} http://evil.example/ HTTP/1.1`]);
  const text = `${line}\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
  return { target, bytes: Buffer.from(text, 'latin1'), name: `${target} ${line.slice(0, 80)}` };
}

/**
 * Sends one case; resolves with the first bytes answered (or '' on reset/timeout). Never rejects. An answer whose
 * head is complete ends the case: the server has decided, and a keep-alive connection would otherwise sit idle until
 * the 2 s timeout (most cases did, so the time bound cut the storm at about a hundred cases instead of MAX_CASES).
 * An accepted upgrade stays open for its junk frames until the server closes it or the timeout.
 */
function send(port: number, bytes: Buffer, r: () => number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = () => { clearTimeout(t); s.destroy(); resolve(got); };
    const t = setTimeout(done, 2_000);
    s.on('error', done);
    s.on('close', done);
    s.on('data', (d) => {
      got += d.toString('latin1');
      // After an accepted upgrade, throw junk frames at the socket too.
      if (/^HTTP\/1\.1 101/.test(got)) {
        if (!s.destroyed) s.write(Buffer.from(Array.from({ length: 64 }, () => Math.floor(r() * 256))));
      } else if (got.includes('\r\n\r\n')) done();
      if (got.length > 2_000) done();
    });
    s.on('connect', () => {
      // Sometimes in pieces, sometimes cut short: partial request lines and headers.
      if (r() < 0.2) s.end(bytes.subarray(0, Math.floor(r() * bytes.length)));
      else s.write(bytes);
    });
  });
}

it('the local API and the relay stay up and answer after a bounded storm of malformed requests', async () => {
  const r = rng(SEED);
  const t0 = Date.now();
  let sent = 0;
  const answered: Record<string, number> = {};
  const worker = async () => {
    while (sent < MAX_CASES && Date.now() - t0 < MAX_MS) {
      sent++;
      const c = makeCase(r);
      const reply = await send(c.target === 'api' ? apiPort : relayPort, c.bytes, r);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1] ?? 'none';
      answered[`${c.target}:${status}`] = (answered[`${c.target}:${status}`] ?? 0) + 1;
      if (companion.child.exitCode !== null || relay.child.exitCode !== null) {
        throw new Error(`a process died (seed ${SEED}, case ${sent}: ${c.name}):\n${companion.output().slice(-3000)}\n${relay.output().slice(-3000)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  console.log(`fuzz: ${sent} cases in ${Date.now() - t0} ms (seed ${SEED}); answers ${JSON.stringify(answered)}`);
  expect(sent).toBeGreaterThan(50);
  // A 500 is an exception that escaped a handler: malformed input must get a 4xx.
  expect(Object.keys(answered).filter((k) => k.endsWith(':500'))).toEqual([]);

  expect(companion.child.exitCode).toBeNull();
  expect(relay.child.exitCode).toBeNull();
  // Both still answer, and the whole path (relay → tunnel → gate → plugin) still works.
  expect((await fetch(`http://127.0.0.1:${relayPort}/healthz`)).status).toBe(200);
  const s = await companionStatus();
  expect(s.front.state).toBe('up');
  const through = await fetch(`http://127.0.0.1:${relayPort}/v1/venues/${venueId}/front/api/sections`, { headers: { authorization: `Bearer ${KEY}` } });
  expect(through.status).toBe(200);
  expect(await through.json()).toEqual([]);
  // The plugin never saw a login or logout through the tunnel: one session, the companion's.
  expect(plugin.issued.length).toBe(1);
}, 90_000);
