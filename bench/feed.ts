/**
 * The feed's speed and cost, with the real companion process (bin) polling
 * the simulated plugin on loopback:
 * - latency from a change in the sim to its event arriving at the relay end,
 *   at the 1 s (default) and 250 ms order polls;
 * - the companion's CPU (share of one core) and RSS while 200 open orders
 *   change (10 changes a second, the default 1 s poll).
 *
 * The events arrive at a webhook receiver behind the real relay process
 * (`evva-relay serve --webhook-url`), as EVVA gets them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Envelope } from '../protocol/events.ts';
import type { FeedOrder } from '../protocol/feed.ts';
import { startSim, type Sim } from '../sim/index.ts';
import { runBin, startBin, type Proc } from '../tests/helpers/proc.ts';
import type { BenchResult, BenchTable } from './run.ts';

/** Samples per poll interval; each waits for its own event. */
const SAMPLES: Record<number, number> = { 1000: 40, 250: 80 };
const LOAD_ORDERS = 200;
const LOAD_CHANGES_PER_SEC = 10;
const LOAD_SECONDS = 30;
/** The whole benchmark gives up after this long. */
const TIME_LIMIT_MS = 240_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const ms1 = (n: number) => Math.round(n);

interface Waiter { id: string; revision: number; resolve: (at: number) => void }

/** Where events arrive: the relay with a webhook receiver. */
interface End {
  /** Distinct events arrived so far. */
  count(): number;
  /** Starts a companion paired to this end. */
  companion(sim: Sim, pollMs: number): Promise<{ proc: Proc; dir: string }>;
  close(): Promise<void>;
}

const BENCH_KEY = 'bench-feed-api-key-0123456789';
const BENCH_SECRET = 'bench-feed-webhook-secret-0123456789';

function companionProc(sim: Sim, dir: string, pollMs: number): Promise<{ proc: Proc; dir: string }> {
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ feed: { ordersIntervalMs: pollMs } }));
  const proc = startBin('evva-companion', ['run', '--data-dir', dir, '--front-url', sim.url, '--api-port', '0']);
  return proc.waitFor(/Локальный API/, 30_000).then(() => ({ proc, dir }));
}

/** The real relay process delivering webhooks to a receiver in this process. */
async function relayEnd(onEvent: (e: Envelope) => void): Promise<End> {
  const seen = new Set<string>();
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.end('ok');
      for (const e of JSON.parse(Buffer.concat(chunks).toString('utf8')) as Envelope[]) {
        if (seen.has(e.eventId)) continue;
        seen.add(e.eventId);
        onEvent(e);
      }
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const relayDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-feed-relay-'));
  const relay = startBin('evva-relay', ['serve', '--port', '0', '--data-dir', relayDir, '--api-key', BENCH_KEY, '--webhook-url', hook, '--allow-loopback-webhooks'], { EVVA_RELAY_WEBHOOK_SECRET: BENCH_SECRET });
  const [, relayUrl] = await relay.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/);
  return {
    count: () => seen.size,
    async companion(sim, pollMs) {
      const added = await runBin('evva-relay', ['venue', 'add', 'Bench', '--json', '--data-dir', relayDir]);
      const { pairingCode } = JSON.parse(added.stdout) as { pairingCode: string };
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-feed-'));
      const paired = await runBin('evva-companion', ['pair', pairingCode, '--relay-url', relayUrl!, '--data-dir', dir]);
      if (paired.code !== 0) throw new Error(`pairing failed: ${paired.out}`);
      return companionProc(sim, dir, pollMs);
    },
    async close() {
      await relay.stop('SIGTERM');
      receiver.closeAllConnections();
      await new Promise<void>((r) => receiver.close(() => r()));
      fs.rmSync(relayDir, { recursive: true, force: true });
    },
  };
}

/** Waits until no new event has arrived for `quietMs`. */
async function settle(end: End, quietMs: number, limitMs: number): Promise<void> {
  const t0 = Date.now();
  let last = -1;
  let since = Date.now();
  while (Date.now() - t0 < limitMs) {
    if (end.count() !== last) { last = end.count(); since = Date.now(); }
    if (Date.now() - since >= quietMs && last > 0) return;
    await sleep(50);
  }
}

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function bench(): Promise<BenchResult> {
  const deadline = Date.now() + TIME_LIMIT_MS;
  const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const waiters = new Set<Waiter>();
  const onEvent = (e: Envelope) => {
    const o = e.eventInfo.order as FeedOrder | undefined;
    if (!o) return;
    const at = performance.now();
    for (const w of waiters) if (w.id === o.id && (o.revision ?? 0) >= w.revision) { waiters.delete(w); w.resolve(at); }
  };
  const sim = await startSim({ port: 0, auto: false, licenceSlots: 10 });
  const code = sim.world.products.find((p) => p.active)!.code;
  const where = 'webhook receiver behind the relay process';
  const makeEnd = relayEnd;
  const latency: BenchTable = {
    title: `Feed latency: change in the sim → event at the ${where}`,
    columns: ['order poll', 'samples', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    rows: [],
    notes: ['Target: p50 ≤ 1200 ms at the 1 s poll.'],
  };
  const cost: BenchTable = {
    title: `Companion cost: ${LOAD_ORDERS} open orders, ${LOAD_CHANGES_PER_SEC} changes/s, 1 s poll, ${LOAD_SECONDS} s`,
    columns: ['CPU % of one core', 'RSS MB (median)', 'RSS MB (max)', 'events', 'events/s'],
    rows: [],
    notes: ['Targets: ≤ 3 % of one core and ≤ 150 MB RSS. CPU from /proc/<pid>/stat (utime+stime) over the window.'],
  };
  try {
    for (const pollMs of [1000, 250]) {
      const end = await makeEnd(onEvent);
      const { proc, dir } = await end.companion(sim, pollMs);
      try {
        const orders = Array.from({ length: 10 }, (_, i) => sim.act.createOrder({ tableNum: 1 + i, items: [{ productCode: code, amount: 1 }] }));
        await settle(end, 2_000, 30_000);
        const samples: number[] = [];
        for (let i = 0; i < (SAMPLES[pollMs] ?? 20) && Date.now() < deadline - 60_000; i++) {
          const o = orders[i % orders.length]!;
          // A random phase against the poll, as real changes have.
          await sleep(100 + Math.random() * pollMs);
          const t0 = performance.now();
          const changed = sim.act.addItems(o.Id, [{ productCode: code, amount: 1 }]);
          const at = await new Promise<number | null>((resolve) => {
            const w: Waiter = { id: o.Id.toLowerCase(), revision: changed.Revision ?? 0, resolve };
            waiters.add(w);
            setTimeout(() => { if (waiters.delete(w)) resolve(null); }, 10_000);
          });
          if (at !== null) samples.push(at - t0);
        }
        samples.sort((a, b) => a - b);
        latency.rows.push([`${pollMs} ms`, samples.length, ms1(pct(samples, 50)), ms1(pct(samples, 90)), ms1(pct(samples, 99)), ms1(samples.at(-1) ?? NaN)]);
        for (const o of orders) sim.act.deleteOrder(o.Id);
      } finally {
        await proc.stop('SIGTERM');
        await end.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }

    if (Date.now() < deadline - (LOAD_SECONDS + 40) * 1000) {
      const end = await makeEnd(() => {});
      const tables = sim.world.tables.filter((t) => t.active).map((t) => t.number);
      const open = Array.from({ length: LOAD_ORDERS }, (_, i) => sim.act.createOrder({ tableNum: tables[i % tables.length]!, items: [{ productCode: code, amount: 1 }] }));
      const { proc, dir } = await end.companion(sim, 1000);
      try {
        await settle(end, 3_000, 60_000);
        const pid = proc.child.pid!;
        const before = end.count();
        const c0 = cpuTicks(pid);
        const t0 = performance.now();
        const rss: number[] = [];
        let i = 0;
        while (performance.now() - t0 < LOAD_SECONDS * 1000) {
          const o = open[i++ % open.length]!;
          sim.act.addItems(o.Id, [{ productCode: code, amount: 1 }]);
          if (i % LOAD_CHANGES_PER_SEC === 0) rss.push(rssMb(pid));
          await sleep(1000 / LOAD_CHANGES_PER_SEC);
        }
        const seconds = (performance.now() - t0) / 1000;
        const cpu = ((cpuTicks(pid) - c0) / hz / seconds) * 100;
        rss.sort((a, b) => a - b);
        const events = end.count() - before;
        cost.rows.push([cpu.toFixed(1), pct(rss, 50).toFixed(0), (rss.at(-1) ?? NaN).toFixed(0), events, (events / seconds).toFixed(1)]);
      } finally {
        await proc.stop('SIGTERM');
        await end.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await sim.close();
  }
  return { tables: [latency, cost] };
}
