/**
 * The whole system as three real processes on loopback: the plugin simulator,
 * the relay and the companion, started through their bins exactly as the
 * README and the demo start them. Faults are real: processes are killed.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Status } from '../../../protocol/local.ts';
import { TIMEOUT_HEADER } from '../../../protocol/relay.ts';
import { MAX_REQUEST_TIMEOUT_MS } from '../../../protocol/tunnel.ts';
import { pair } from '../../../main/core/tunnel/pair.ts';
import { freePort, runBin, startBin, type Proc } from '../../helpers/proc.ts';

const KEY = 'system-test-api-key-0123456789';
/** Who pairs in this process (`pairedVenue`): not imported from helpers/relay.ts, which would load the whole relay here. */
const COMPANION = { version: '0.1.0-test', hostname: 'pos-test' };
const procs: Proc[] = [];
const dirs: string[] = [];
const tmp = (p: string) => { const d = fs.mkdtempSync(path.join(os.tmpdir(), `evva-sys-${p}-`)); dirs.push(d); return d; };
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

function track(p: Proc): Proc { procs.push(p); return p; }
afterEach(async () => { await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL'))); });

async function startSimProc(): Promise<string> {
  const sim = track(startBin('evva-sim.js', ['--port', '0', '--no-auto', '--quiet']));
  const [, url] = await sim.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return url!;
}

async function startRelayProc(port: number, dataDir: string): Promise<{ proc: Proc; url: string }> {
  const proc = track(startBin('evva-relay.js', ['serve', '--port', String(port), '--data-dir', dataDir, '--api-key', KEY]));
  const [, url] = await proc.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/);
  return { proc, url: url! };
}

async function addVenue(dataDir: string): Promise<{ venueId: string; pairingCode: string }> {
  const r = await runBin('evva-relay.js', ['venue', 'add', 'Кафе «Тест»', '--json', '--data-dir', dataDir]);
  expect(r.code, r.out).toBe(0);
  return JSON.parse(r.stdout) as { venueId: string; pairingCode: string };
}

/**
 * A relay with one venue and a companion data dir paired to it, for the tests whose subject comes after pairing; `settings`
 * is written to settings.json first. The venue is made over the relay's API and paired with the code `evva-companion pair`
 * runs, in this process: the first two tests run both CLIs as a sysadmin does, and a bin start here would cost about a
 * second of CPU per test for what they already show.
 */
async function pairedVenue(relayPort = 0, settings?: object) {
  const relayDir = tmp('relay');
  const relay = await startRelayProc(relayPort, relayDir);
  const made = await fetch(`${relay.url}/v1/venues`, {
    method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Кафе «Тест»' }),
  });
  expect(made.status).toBe(201);
  const venue = (await made.json()) as { venueId: string; pairingCode: string };
  const dir = tmp('companion');
  if (settings) fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify(settings));
  await pair({ code: venue.pairingCode, relayUrl: relay.url, dataDir: dir, companion: COMPANION });
  return { relay, relayDir, venue, dir };
}

/**
 * Starts `evva-companion run` and resolves once it says it started. How long a process takes to boot is the
 * machine's speed (over 15 s at load 20), so it gets a bound of its own; the waits that follow, from a running
 * companion, are about the product.
 */
async function startCompanion(dataDir: string, frontUrl: string, apiPort: number): Promise<Proc> {
  const p = track(startBin('evva-companion.js', ['run', '--data-dir', dataDir, '--front-url', frontUrl, '--api-port', String(apiPort)]));
  await p.waitFor(/Компаньон запущен/, 60_000);
  return p;
}

async function companionStatus(dataDir: string): Promise<Status | null> {
  const r = await runBin('evva-companion.js', ['status', '--data-dir', dataDir, '--json']);
  if (r.code !== 0) return null;
  return Status.parse(JSON.parse(r.out));
}

/** Reads the companion's status over its local API (cheaper than spawning `status` in a loop). */
async function localStatus(dataDir: string): Promise<Status | null> {
  try {
    const { url, token } = JSON.parse(fs.readFileSync(path.join(dataDir, 'local-api.json'), 'utf8')) as { url: string; token: string };
    const res = await fetch(`${url}/api/status`, { headers: { authorization: `Bearer ${token}` } });
    return Status.parse(await res.json());
  } catch {
    return null;
  }
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | null | undefined | false>): Promise<{ value: T; afterMs: number }> {
  const t0 = performance.now();
  for (;;) {
    const v = await probe();
    if (v) return { value: v, afterMs: performance.now() - t0 };
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const venueApi = (relayUrl: string, venueId: string, p: string, init: RequestInit = {}) =>
  fetch(`${relayUrl}/v1/venues/${venueId}/front${p}`, { ...init, headers: { authorization: `Bearer ${KEY}`, ...init.headers } });

// Each test starts three or four bins from source (tsx) and runs the CLI a few times: about 10 s on an idle
// machine, 45 s with two cores shared by many runs. What must be quick is bounded inside (`until`), not here.
const PROCESSES = { timeout: 120_000 };

describe('the whole system, as real processes', PROCESSES, () => {
  it('pairs by code, relays the plugin to EVVA with links rewritten, and shows it all in the status', async () => {
    const simUrl = await startSimProc();
    const relayDir = tmp('relay');
    const relay = await startRelayProc(0, relayDir);
    const venue = await addVenue(relayDir);
    const dir = tmp('companion');
    const paired = await runBin('evva-companion.js', ['pair', venue.pairingCode.toLowerCase(), '--relay-url', relay.url, '--data-dir', dir]);
    expect(paired.code, paired.out).toBe(0);
    expect(paired.out).toContain(venue.venueId);
    expect(fs.statSync(path.join(dir, 'device.json')).mode & 0o777).toBe(0o600);

    await startCompanion(dir, simUrl, await freePort());
    const { value: ok } = await until('companion ok', 15_000, async () => {
      const s = await localStatus(dir);
      return s?.level === 'ok' ? s : null;
    });
    expect(ok.tunnel).toMatchObject({ state: 'connected', venueId: venue.venueId });
    expect(ok.front.state).toBe('up');

    const res = await venueApi(relay.url, venue.venueId, '/api/orders?$top=3&$orderby=Number%20desc');
    expect(res.status).toBe(200);
    const orders = await res.json() as { Url: string; Number: number }[];
    expect(orders.length).toBe(3);
    expect(orders[0]!.Number).toBeGreaterThan(orders[2]!.Number);
    expect(orders[0]!.Url.startsWith(`${relay.url}/v1/venues/${venue.venueId}/front/api/orders/`)).toBe(true);
    expect(JSON.stringify(orders)).not.toContain(simUrl);

    // The relay records a reported plugin state at most once a second (STATUS_WRITE_MS), and the companion reports
    // at once on a new link (state then possibly still unknown) and again on a change: wait for the change to land.
    const { value: view } = await until('the relay shows the plugin up', 10_000, async () => {
      const v = await fetch(`${relay.url}/v1/venues/${venue.venueId}`, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.json()) as { front?: { state?: string } };
      return v.front?.state === 'up' ? v : null;
    });
    expect(view).toMatchObject({ online: true, companion: { version: ok.version }, front: { state: 'up' } });

    const text = await runBin('evva-companion.js', ['status', '--data-dir', dir]);
    expect(text.out).toMatch(/всё в порядке/);
    // The venue by its name, with the id for support.
    expect(text.out).toMatch(new RegExp(`Связь с EVVA: подключено, заведение Кафе «Тест» \\(${venue.venueId}\\)`));
  });

  it('pairs through a running companion, which connects without a restart', async () => {
    const simUrl = await startSimProc();
    const relayDir = tmp('relay');
    const relay = await startRelayProc(0, relayDir);
    const dir = tmp('companion');
    await startCompanion(dir, simUrl, await freePort());
    await until('companion up', 15_000, async () => (await localStatus(dir))?.tunnel.state === 'unpaired');
    const wrong = await runBin('evva-companion.js', ['pair', 'AAAA-BBBB', '--relay-url', relay.url, '--data-dir', dir]);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/Такого кода привязки нет/);
    const venue = await addVenue(relayDir);
    const r = await runBin('evva-companion.js', ['pair', venue.pairingCode, '--relay-url', relay.url, '--data-dir', dir]);
    expect(r.code, r.out).toBe(0);
    const { afterMs } = await until('connected', 10_000, async () => (await localStatus(dir))?.tunnel.state === 'connected');
    console.log(`paired through the running companion; connected ${Math.round(afterMs)} ms after pair returned`);
    expect((await venueApi(relay.url, venue.venueId, '/api/tables')).status).toBe(200);
  });

  it('comes back within seconds after the relay is killed mid-request and restarted', async () => {
    const simUrl = await startSimProc();
    const relayPort = await freePort();
    const system = await pairedVenue(relayPort);
    const { relayDir, venue, dir } = system;
    let relay = system.relay;
    await startCompanion(dir, simUrl, await freePort());
    await until('connected', 15_000, async () => (await localStatus(dir))?.tunnel.state === 'connected');

    // A call in flight when the relay dies: the plugin is slow, so it is still streaming.
    await fetch(`${simUrl}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: 1500 }) });
    const inFlight = venueApi(relay.url, venue.venueId, '/api/orders').then((r) => r.status, () => 'connection lost');
    await new Promise((r) => setTimeout(r, 300));
    await relay.proc.stop('SIGKILL');
    expect(await inFlight).toBe('connection lost');
    await fetch(`${simUrl}/_sim/faults`, { method: 'DELETE' });
    await until('companion notices', 15_000, async () => (await localStatus(dir))?.tunnel.state !== 'connected');

    relay = await startRelayProc(relayPort, relayDir);
    const back = await until('back online', 15_000, async () => (await localStatus(dir))?.tunnel.state === 'connected');
    console.log(`relay killed and restarted: companion connected again ${Math.round(back.afterMs)} ms after the relay listened`);
    expect(back.afterMs).toBeLessThan(12_000); // full-jitter backoff caps at 10 s
    expect((await venueApi(relay.url, venue.venueId, '/api/sections')).status).toBe(200);
  });

  it('is back online after the companion is killed and restarted, and shows the plugin state to EVVA', async () => {
    const simUrl = await startSimProc();
    const { relay, venue, dir } = await pairedVenue();
    const apiPort = await freePort();
    const first = await startCompanion(dir, simUrl, apiPort);
    await until('connected', 15_000, async () => (await localStatus(dir))?.tunnel.state === 'connected');
    await first.stop('SIGKILL');
    await until('relay sees it offline', 10_000, async () => (await venueApi(relay.url, venue.venueId, '/api/tables')).status === 503);

    await startCompanion(dir, simUrl, apiPort);
    const t0 = performance.now();
    await until('connected again', 15_000, async () => (await venueApi(relay.url, venue.venueId, '/api/tables')).status === 200);
    console.log(`companion killed and restarted: venue online ${Math.round(performance.now() - t0)} ms after the new process started`);

    // The plugin stops: EVVA sees it in the venue view, and calls answer 502 rather than hanging.
    await fetch(`${simUrl}/_sim/stop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ forMs: 60_000 }) });
    await until('plugin down reported to the relay', 15_000, async () => {
      const v = await fetch(`${relay.url}/v1/venues/${venue.venueId}`, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.json()) as { front?: { state?: string } };
      return v.front?.state === 'down';
    });
    expect((await venueApi(relay.url, venue.venueId, '/api/tables')).status).toBe(502);
    expect((await companionStatus(dir))?.level).toBe('error');
  });
});

/** Peak resident memory (VmHWM) of a process, in MB, from /proc. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN) / 1024;
}
function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS (Linux 4.0+)
    return true;
  } catch {
    return false;
  }
}

/*
 * Memory is measured as each process's peak RSS. V8 frees chunk buffers only
 * when it collects, and it lets tens of MB of such garbage pile up first, so a
 * 50 MB answer cannot tell buffering from garbage by RSS alone (it grows by
 * 10-55 MB either way; live-heap growth for 50 MB is measured in process by
 * tunnel-stream.test.ts). A 150 MB answer can: buffering would add at least
 * 150 MB, while streaming stays at the same few tens of MB.
 */
// The bins' start (up to 45 s loaded) plus the answer within the longest deadline it asks for (120 s).
describe('a large answer through real processes', { timeout: 240_000 }, () => {
  const SIZE = Number(process.env.BIG_MB ?? 150) * 1024 * 1024;
  let ref = Buffer.alloc(0);
  /** n bytes of 'a', what the stand-in plugin sends. */
  const ones = (n: number) => {
    if (ref.length < n) ref = Buffer.alloc(n, 0x61);
    return ref.subarray(0, n);
  };
  let big: http.Server;
  let bigUrl: string;

  // A plugin stand-in whose orders list is 50 MB, generated as it is sent.
  beforeAll(async () => {
    big = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<title>iikoFront Web API</title>'); return; }
      if (url.pathname.startsWith('/api/login/')) { res.writeHead(200, { 'content-type': 'application/json' }); res.end('"big-token"'); return; }
      if (url.pathname.startsWith('/api/logout/')) { res.end('true'); return; }
      if (url.searchParams.get('key') !== 'big-token') { res.writeHead(401); res.end(); return; }
      if (url.pathname === '/api/sections') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('[{"Name":"Зал"}]'); return; }
      if (url.pathname !== '/api/orders') { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
      let sent = 0;
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (sent < SIZE) {
          const n = Math.min(chunk.length, SIZE - sent);
          sent += n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { res.once('drain', pump); return; }
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
    bigUrl = `http://127.0.0.1:${(big.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => { big.closeAllConnections(); big.close(() => r()); }));

  it('arrives whole while neither the relay nor the companion grows by half its size', async () => {
    // Above the 100 MiB default response limit, which a settings file may raise.
    const { relay, venue, dir } = await pairedVenue(0, { tunnel: { maxResponseBytes: SIZE + 1024 } });
    const companion = await startCompanion(dir, bigUrl, await freePort());
    // Setup, not the behaviour under test: a companion start, its first plugin check and its tunnel took over 15 s
    // with four test files beside it at load ~10 (a fresh-clone CI run). It waits for the tunnel and the plugin, not
    // for the verdict `ok`: this stand-in's orders list is over the poller's read cap, so the verdict turns to
    // "orders stuck" at the orders poller's first answer, often in the same second as the tunnel comes up (then `ok`
    // never showed, and the wait timed out in two runs at load 10-13).
    await until('connected', 45_000, async () => {
      const s = await localStatus(dir);
      return s?.tunnel.state === 'connected' && s.front.state === 'up';
    });
    // Warm both paths with a small call so start-up allocations are not counted.
    expect((await venueApi(relay.url, venue.venueId, '/api/sections')).status).toBe(200);
    const pids = { relay: relay.proc.child.pid!, companion: companion.child.pid! };
    const canReset = resetPeak(pids.relay) && resetPeak(pids.companion);
    const before = { relay: peakRssMb(pids.relay), companion: peakRssMb(pids.companion) };

    // What is under test is memory while streaming, not speed. The deadline a call gets (15 s by default) bounds each
    // gap between chunks (it once covered the whole exchange and cut this answer at 54-152 MB at load 11-23); the
    // caller still asks for the longest one the relay grants, so a machine that stalls under load is not what fails
    // (the plugin let go at the deadline is system/slow-callers.test.ts's behaviour).
    const res = await venueApi(relay.url, venue.venueId, '/api/orders', { headers: { [TIMEOUT_HEADER]: String(MAX_REQUEST_TIMEOUT_MS) } });
    expect(res.status).toBe(200);
    let bytes = 0;
    let wrong = 0;
    // Read slowly at first, so back-pressure has to reach the plugin.
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += c.length;
      // Compared natively: a callback per byte cost the reader seconds of CPU on 150 MB, slowing the stream it reads.
      if (Buffer.compare(Buffer.from(c.buffer, c.byteOffset, c.length), ones(c.length)) !== 0) wrong += 1;
      if (bytes < 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 2));
    }
    expect(bytes).toBe(SIZE);
    expect(wrong).toBe(0);
    const after = { relay: peakRssMb(pids.relay), companion: peakRssMb(pids.companion) };
    const growth = { relay: after.relay - before.relay, companion: after.companion - before.companion };
    console.log(`${SIZE / 1024 / 1024} MB through relay+companion processes: peak RSS growth relay ${growth.relay.toFixed(1)} MB, companion ${growth.companion.toFixed(1)} MB (peak reset: ${canReset})`);
    // Buffering the answer would add at least its whole size to one of them.
    const limit = SIZE / 1024 / 1024 / 2;
    expect(growth.relay).toBeLessThan(limit);
    expect(growth.companion).toBeLessThan(limit);
  }, 180_000);
});
