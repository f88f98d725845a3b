/**
 * With the real bins (relay and companion) and real sockets:
 * EVVA callers that stop reading, or a burst of calls, never make a healthy
 * plugin look down, and a caller that stops reading lets go of its plugin
 * connection when the call's deadline passes.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Status } from '../../../protocol/local.ts';
import { startFakePlugin, type FakePlugin } from '../../helpers/plugin.ts';
import { pair } from '../../../main/core/tunnel/pair.ts';
import { freePort, startBin, type Proc } from '../../helpers/proc.ts';

const KEY = 'starvation-test-api-key-0123456789';
/** Who pairs in this process: not imported from helpers/relay.ts, which would load the whole relay here. */
const COMPANION = { version: '0.1.0-test', hostname: 'pos-test' };
const procs: Proc[] = [];
const dirs: string[] = [];
const tmp = (p: string) => { const d = fs.mkdtempSync(path.join(os.tmpdir(), `evva-starve-${p}-`)); dirs.push(d); return d; };
let plugin: FakePlugin;
let relayUrl = '';
let venueId = '';
let api = { url: '', token: '' };
const sockets: net.Socket[] = [];

beforeAll(async () => {
  plugin = await startFakePlugin({ slowMs: 600 });
  const relayDir = tmp('relay');
  const relay = startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', relayDir, '--api-key', KEY]);
  procs.push(relay);
  relayUrl = (await relay.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;
  // The venue over the relay's API and the pairing with the code `evva-companion pair` runs, in this process: what is
  // under test is the running relay and companion (system/venue.test.ts runs both CLIs), and a bin start is ~1 s of CPU.
  const made = await fetch(`${relayUrl}/v1/venues`, {
    method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Кафе' }),
  });
  expect(made.status).toBe(201);
  const venue = (await made.json()) as { venueId: string; pairingCode: string };
  venueId = venue.venueId;
  const dir = tmp('companion');
  await pair({ code: venue.pairingCode, relayUrl, dataDir: dir, companion: COMPANION });
  const companion = startBin('evva-companion.js', ['run', '--data-dir', dir, '--front-url', plugin.url, '--api-port', String(await freePort())]);
  procs.push(companion);
  await companion.waitFor(/Компаньон запущен/);
  api = JSON.parse(fs.readFileSync(path.join(dir, 'local-api.json'), 'utf8')) as typeof api;
  await until(async () => { const s = await status(); return s.front.state === 'up' && s.tunnel.state === 'connected'; }, 20_000);
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  await plugin?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function status(): Promise<Status> {
  const res = await fetch(`${api.url}/api/status`, { headers: { authorization: `Bearer ${api.token}` } });
  return Status.parse(await res.json());
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`not true within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Watches the plugin state for `ms` and returns every state seen. */
async function watchFront(ms: number): Promise<string[]> {
  const seen: string[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const s = await status();
    seen.push(`${s.front.state}${s.front.error ? `:${s.front.error.code}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return seen;
}

/** A caller that sends its request and then never reads a byte of the answer. */
function nonReader(pathAndQuery: string, timeoutMs: number): net.Socket {
  const { port } = new URL(relayUrl);
  const s = net.connect(Number(port), '127.0.0.1');
  sockets.push(s);
  s.on('error', () => undefined);
  s.write(`GET /v1/venues/${venueId}/front${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${KEY}\r\nx-evva-timeout-ms: ${timeoutMs}\r\n\r\n`);
  s.pause();
  return s;
}

describe('slow EVVA callers and the plugin', () => {
  it('six callers that stop reading a large answer neither make the plugin look down nor hold its connections past the deadline', async () => {
    const DEADLINE = 12_000;
    const t0 = performance.now();
    for (let i = 0; i < 6; i++) nonReader('/api/big', DEADLINE);
    await until(async () => plugin.big.length === 6, 10_000);
    // Longer than the probe's 4 s timeout plus an interval: the pool the tunnel filled is not the probe's.
    const seen = await watchFront(10_000);
    expect(seen.filter((s) => s !== 'up')).toEqual([]);
    // Every plugin answer is let go once the call's deadline passes (margin for a loaded machine).
    await until(async () => plugin.big.every((b) => b.closedAt !== null), DEADLINE + 15_000);
    for (const b of plugin.big) expect(b.closedAt! - t0).toBeLessThan(DEADLINE + 15_000);
    expect((await status()).front.state).toBe('up');
  }, 60_000);

  it('a burst of 300 short calls does not make the plugin look down', async () => {
    const { port } = new URL(relayUrl);
    const one = () => fetch(`http://127.0.0.1:${port}/v1/venues/${venueId}/front/api/slow`, { headers: { authorization: `Bearer ${KEY}` } })
      .then(async (r) => { await r.text(); return r.status; }).catch(() => 0);
    const watching = watchFront(9_000);
    const statuses = await Promise.all(Array.from({ length: 300 }, one));
    const seen = await watching;
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(seen.filter((s) => s !== 'up')).toEqual([]);
  }, 60_000);
});
