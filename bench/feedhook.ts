/**
 * Change in the sim → event at EVVA's webhook receiver, through the real
 * companion and relay processes (bins) on loopback: p50/p99 at the 1 s and
 * 250 ms order polls. The sim runs in this process so that the change's
 * moment is exact; the receiver is polled every 2 ms.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startSim } from '../sim/index.ts';
import { startReceiver } from '../tests/helpers/feedpeers.ts';
import { ROOT, freePort, runBin, startBin } from '../tests/helpers/proc.ts';
import { API_KEY, createVenue, tempDir } from '../tests/helpers/relay.ts';
import type { BenchResult } from './run.ts';

const SAMPLES: Record<number, number> = { 1000: 30, 250: 60 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;

export async function bench(): Promise<BenchResult> {
  // The companion's feed (branch `feed`) is built in parallel: without it there is nothing to measure.
  if (!fs.existsSync(path.join(ROOT, 'main', 'core', 'outbox'))) {
    return { tables: [{ title: 'Sim change → webhook receiver', columns: ['skipped'], rows: [['the companion side of the feed is not on this branch']] }] };
  }
  const rows: Array<Array<string | number>> = [];
  for (const poll of [1000, 250]) {
    const sim = await startSim({ port: 0, auto: false, seed: 1 });
    const rx = await startReceiver();
    const relayDir = tempDir('hook-relay');
    const cdir = tempDir('hook-companion');
    const secretFile = path.join(relayDir.dir, 's');
    fs.writeFileSync(secretFile, 'bench-secret-0123456789abc');
    const relay = startBin('evva-relay.js', ['serve', '--port', String(await freePort()), '--data-dir', relayDir.dir, '--webhook-url', rx.url, '--webhook-secret-file', secretFile], { EVVA_RELAY_API_KEYS: API_KEY });
    try {
      const url = (await relay.waitFor(/\{"listening":"([^"]+)"\}/))[1]!;
      const v = await createVenue(url);
      await runBin('evva-companion.js', ['pair', v.pairingCode, '--relay-url', url, '--data-dir', cdir.dir]);
      fs.writeFileSync(path.join(cdir.dir, 'settings.json'), JSON.stringify({ feed: { ordersIntervalMs: poll } }));
      const comp = startBin('evva-companion.js', ['run', '--data-dir', cdir.dir, '--front-url', sim.url, '--api-port', '0']);
      try {
        await comp.waitFor(/Локальный API/, 30_000);
        const arrivedAt = new Map<string, number>();
        let scanned = 0;
        const scan = () => {
          for (; scanned < rx.requests.length; scanned++) {
            for (const e of JSON.parse(rx.requests[scanned]!.body) as Array<{ eventType: string; eventInfo: { order?: { id: string } } }>) {
              const id = e.eventInfo.order?.id;
              if (id && !arrivedAt.has(id)) arrivedAt.set(id, performance.now());
            }
          }
        };
        await sleep(3_000);
        const lat: number[] = [];
        for (let i = 0; i < SAMPLES[poll]!; i++) {
          // Spread the changes over the poll cycle, as real changes are.
          await sleep(Math.random() * poll);
          const t0 = performance.now();
          const o = sim.act.createOrder({ tableNum: 1 + (i % 10), items: [{ productCode: '02401', amount: 1 }] });
          const id = o.Id.toLowerCase();
          const until = t0 + 15_000;
          while (!arrivedAt.has(id) && performance.now() < until) { await sleep(2); scan(); }
          if (arrivedAt.has(id)) lat.push(arrivedAt.get(id)! - t0);
        }
        lat.sort((a, b) => a - b);
        rows.push([`${poll} ms`, lat.length, Math.round(pct(lat, 50)), Math.round(pct(lat, 99)), Math.round(lat[lat.length - 1] ?? NaN)]);
      } finally { await comp.stop('SIGTERM'); }
    } finally {
      await relay.stop('SIGTERM');
      await rx.close();
      await sim.close();
      relayDir.remove();
      cdir.remove();
    }
  }
  return { tables: [{ title: 'Sim change → webhook receiver (real companion and relay processes)', columns: ['order poll', 'n', 'p50 ms', 'p99 ms', 'max ms'], rows }] };
}
