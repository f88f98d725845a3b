/**
 * `npm run bench -- wire`: the plugin client's own CPU per call, measured
 * alone. One process runs both clients against the bench's stand-in plugin
 * (its own process, so its CPU is not counted), in alternating rounds of
 * small GETs (the 2.4 KB answer, read to its end), and reads
 * `process.cpuUsage()` around each round: wire.ts (HTTP/1.1 on node:net)
 * against node:http with a keep-alive agent used as wire.ts used it before
 * (Agent, ClientRequest, the IncomingMessage's async iterator). Medians of
 * the rounds and of the per-round ratios; the load is printed with them.
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exchange, pool } from '../main/core/front/wire.ts';
import { startLogged } from './_proc.ts';
import type { BenchOptions, BenchResult, BenchTable } from './run.ts';

const PATH = '/api/bench/2k?key=bench';

type Client = { name: string; get: () => Promise<number>; close: () => Promise<void> };

function nodeHttp(origin: string, connections: number): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections, timeout: 4_000, scheduling: 'lifo' });
  const u = new URL(origin);
  return {
    name: 'node:http (before)',
    get: () => new Promise<number>((resolve, reject) => {
      const signal = AbortSignal.timeout(10_000);
      const onAbort = () => { req.destroy(signal.reason as Error); };
      const req = http.request({ agent, hostname: u.hostname, port: u.port, method: 'GET', path: PATH });
      signal.addEventListener('abort', onAbort, { once: true });
      req.once('error', reject);
      req.once('response', (res) => {
        void (async () => {
          let n = 0;
          for await (const c of res as AsyncIterable<Buffer>) n += c.length;
          signal.removeEventListener('abort', onAbort);
          resolve(n);
        })().catch(reject);
      });
      req.end();
    }),
    close: async () => { agent.destroy(); },
  };
}

function wire(origin: string, connections: number): Client {
  const p = pool(origin, connections, 4_000);
  return {
    name: 'wire.ts (node:net)',
    get: async () => {
      const a = await exchange(p, origin, PATH, { signal: AbortSignal.timeout(10_000) });
      let n = 0;
      for await (const c of a.body) n += c.length;
      return n;
    },
    close: () => p.close(),
  };
}

/** `total` calls, `concurrency` at a time; the CPU this process spent, in µs per call. */
async function round(c: Client, total: number, concurrency: number): Promise<number> {
  let next = 0;
  const t0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      next++;
      const n = await c.get();
      if (n < 2_000) throw new Error(`${c.name}: a short answer (${n} bytes)`);
    }
  }));
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / total;
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

export async function bench(opts: BenchOptions): Promise<BenchResult> {
  const rounds = opts.rounds ?? (opts.quick ? 3 : 8);
  const total = opts.quick ? 500 : 2_000;
  const dir = mkdtempSync(join(tmpdir(), 'bench-wire-'));
  const plugin = startLogged(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '_plugin.ts')], join(dir, 'plugin.log'));
  const rows: BenchTable['rows'] = [];
  const data: Record<string, unknown> = {};
  try {
    const origin = (await plugin.waitFor(/"listening":"([^"]+)"/))[1]!;
    const load0 = loadavg()[0]!;
    for (const concurrency of [1, 6]) {
      const clients = [nodeHttp(origin, 6), wire(origin, 6)];
      for (const c of clients) await round(c, 300, concurrency); // warm-up: connections open, code optimised
      const us: number[][] = clients.map(() => []);
      for (let r = 0; r < rounds; r++) {
        // Alternating order: neither client always runs first in a round.
        const order = r % 2 ? [1, 0] : [0, 1];
        for (const i of order) us[i]!.push(await round(clients[i]!, total, concurrency));
        opts.progress?.(`wire c=${concurrency} round ${r + 1}/${rounds}: ${us.map((u) => u.at(-1)!.toFixed(1)).join(' / ')} µs`);
      }
      for (const c of clients) await c.close();
      const ratios = us[1]!.map((w, i) => w / us[0]![i]!);
      data[`c${concurrency}`] = { nodeHttp: us[0], wire: us[1] };
      rows.push([`c=${concurrency}`, median(us[0]!).toFixed(1), median(us[1]!).toFixed(1), `${median(ratios).toFixed(2)}x`, `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`]);
    }
    const load1 = loadavg()[0]!;
    return {
      tables: [{
        title: `Plugin client CPU per small GET, alone (µs, medians of ${rounds} alternating rounds of ${total}; load ${load0.toFixed(1)}→${load1.toFixed(1)})`,
        columns: ['concurrency', 'node:http (before)', 'wire.ts (node:net)', 'ratio (median)', 'ratio (range)'],
        rows,
        notes: ['CPU of this process only (`process.cpuUsage`), reading each 2.4 KB answer to its end; the stand-in plugin runs in its own process.'],
      }],
      data,
    };
  } finally {
    await plugin.stop();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}
