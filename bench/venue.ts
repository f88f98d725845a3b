/**
 * What one venue sends the relay, measured with the real companion process
 * polling the simulated plugin and the real relay process delivering to a
 * webhook receiver here: events and bytes per second and per hour, and event
 * sizes, for
 * - the simulator's automatic restaurant day at speed 60 (one restaurant hour
 *   per wall minute): a small restaurant (at most 10 open table orders);
 * - a load far past a busy restaurant: 200 open orders, 10 changes a second
 *   (36 000 changes an hour), the companion's own cost benchmark (bench/feed.ts).
 * These numbers set the per-venue limits (relay/quota.ts, docs/relay.md
 * "Limits per venue") well above anything a real venue sends.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startSim, type Sim } from '../sim/index.ts';
import { runBin, startBin, type Proc } from '../tests/helpers/proc.ts';
import { FEED_LIMITS } from '../relay/quota.ts';
import type { BenchResult } from './run.ts';

const KEY = 'bench-venue-api-key-0123456789';
const SECRET = 'bench-venue-webhook-secret-0123';
const DAY_SECONDS = 60;
const LOAD_ORDERS = 200;
const LOAD_CHANGES_PER_SEC = 10;
const LOAD_SECONDS = 30;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

interface Seen { at: number; type: string; bytes: number }

async function rig(sim: Sim) {
  const seen: Seen[] = [];
  const ids = new Set<string>();
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.end('ok');
      for (const e of JSON.parse(Buffer.concat(chunks).toString('utf8')) as Array<Record<string, unknown>>) {
        if (ids.has(String(e.eventId))) continue;
        ids.add(String(e.eventId));
        // As stored: the envelope without the two iiko Cloud names the webhook adds.
        const { organizationId: _o, correlationId: _c, ...env } = e;
        seen.push({ at: performance.now(), type: String(e.eventType), bytes: Buffer.byteLength(JSON.stringify(env)) });
      }
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const relayDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-venue-relay-'));
  const relay = startBin('evva-relay', ['serve', '--port', '0', '--data-dir', relayDir, '--api-key', KEY, '--webhook-url', hook, '--allow-loopback-webhooks'],
    { EVVA_RELAY_WEBHOOK_SECRET: SECRET });
  const [, relayUrl] = await relay.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/);
  const added = await runBin('evva-relay', ['venue', 'add', 'Bench', '--json', '--data-dir', relayDir]);
  const { pairingCode } = JSON.parse(added.stdout) as { pairingCode: string };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-venue-'));
  const paired = await runBin('evva-companion', ['pair', pairingCode, '--relay-url', relayUrl!, '--data-dir', dir]);
  if (paired.code !== 0) throw new Error(`pairing failed: ${paired.out}`);
  const companion: Proc = startBin('evva-companion', ['run', '--data-dir', dir, '--front-url', sim.url, '--api-port', '0']);
  await companion.waitFor(/Локальный API/, 30_000);
  return {
    seen,
    async close() {
      await companion.stop('SIGTERM');
      await relay.stop('SIGTERM');
      receiver.closeAllConnections();
      await new Promise<void>((r) => receiver.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(relayDir, { recursive: true, force: true });
    },
  };
}

/** Waits until no event has arrived for `quietMs` (the start-up snapshots: staff, tables, menu, health). */
async function quiet(seen: Seen[], quietMs: number, limitMs: number): Promise<void> {
  const t0 = Date.now();
  let n = -1;
  let since = Date.now();
  while (Date.now() - t0 < limitMs) {
    if (seen.length !== n) { n = seen.length; since = Date.now(); }
    if (Date.now() - since >= quietMs && n > 0) return;
    await sleep(100);
  }
}

function row(name: string, window: Seen[], seconds: number, hoursPerSecond: number): Array<string | number> {
  const sizes = window.map((s) => s.bytes).sort((a, b) => a - b);
  const bytes = sizes.reduce((a, b) => a + b, 0);
  // Peak: the busiest second of the window.
  const perSecond = new Map<number, number>();
  const t0 = window[0]?.at ?? 0;
  for (const s of window) perSecond.set(Math.floor((s.at - t0) / 1000), (perSecond.get(Math.floor((s.at - t0) / 1000)) ?? 0) + 1);
  const restaurantHours = seconds * hoursPerSecond;
  return [
    name, window.length, (window.length / seconds).toFixed(1), Math.max(0, ...perSecond.values()),
    (bytes / seconds / 1024).toFixed(1), Math.round(window.length / restaurantHours), (bytes / restaurantHours / 1e6).toFixed(2),
    Math.round(pct(sizes, 50)), Math.round(sizes.at(-1) ?? NaN),
  ];
}

export async function bench(): Promise<BenchResult> {
  const rows: Array<Array<string | number>> = [];
  // 1. The sim's own day, one restaurant hour a minute.
  {
    const sim = await startSim({ port: 0, auto: false, speed: 60, licenceSlots: 10 });
    const r = await rig(sim);
    try {
      await quiet(r.seen, 3_000, 60_000);
      const from = r.seen.length;
      sim.setAuto(true);
      const t0 = performance.now();
      await sleep(DAY_SECONDS * 1000);
      sim.setAuto(false);
      await sleep(3_000);
      const seconds = (performance.now() - t0) / 1000;
      rows.push(row('sim day, speed 60 (small restaurant)', r.seen.slice(from), seconds, 60 / 3600));
    } finally {
      await r.close();
      await sim.close();
    }
  }
  // 2. 200 open orders, 10 changes a second: far past a busy restaurant.
  {
    const sim = await startSim({ port: 0, auto: false, licenceSlots: 10 });
    const code = sim.world.products.find((p) => p.active)!.code;
    const tables = sim.world.tables.filter((t) => t.active).map((t) => t.number);
    const open = Array.from({ length: LOAD_ORDERS }, (_, i) => sim.act.createOrder({ tableNum: tables[i % tables.length]!, items: [{ productCode: code, amount: 1 }] }));
    const r = await rig(sim);
    try {
      await quiet(r.seen, 3_000, 60_000);
      const from = r.seen.length;
      const t0 = performance.now();
      let i = 0;
      while (performance.now() - t0 < LOAD_SECONDS * 1000) {
        sim.act.addItems(open[i++ % open.length]!.Id, [{ productCode: code, amount: 1 }]);
        await sleep(1000 / LOAD_CHANGES_PER_SEC);
      }
      await sleep(3_000);
      const seconds = (performance.now() - t0) / 1000;
      rows.push(row(`${LOAD_ORDERS} open orders, ${LOAD_CHANGES_PER_SEC} changes/s`, r.seen.slice(from), seconds, 1 / 3600));
    } finally {
      await r.close();
      await sim.close();
    }
  }
  const l = FEED_LIMITS;
  return { tables: [{
    title: 'What one venue sends the relay (real companion and relay processes, events as stored)',
    columns: ['load', 'events', 'events/s', 'busiest second', 'KiB/s', 'events / restaurant hour', 'MB / restaurant hour', 'event p50 bytes', 'event max bytes'],
    rows,
    notes: [
      `Limits per venue (relay/quota.ts): ${l.eventsPerSecond} events/s (burst ${l.eventBurst}), ${(l.bytesPerSecond / 1024).toFixed(0)} KiB/s (burst ${(l.byteBurst / 1024 / 1024).toFixed(0)} MiB), ${(l.bytesPerDay / 1024 ** 3).toFixed(0)} GiB a day.`,
    ],
  }] };
}
