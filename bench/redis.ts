/**
 * `npm run bench -- redis`: what routing on Redis costs one node, against a
 * real redis-server on loopback: a claim, a lookup, a pairing-limit check, one
 * renewal round for N held venues, and a bus message from one node to another.
 */
import { Registry } from 'prom-client';
import { realClock } from '../common/clock.ts';
import { silentLogger } from '../common/logger.ts';
import { createCluster } from '../relay/cluster/cluster.ts';
import type { RedisOwners } from '../relay/cluster/owners.ts';
import { startRedis } from '../tests/helpers/redis.ts';
import type { BenchOptions, BenchResult } from './run.ts';

const TIME_LIMIT_MS = 120_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const ms = (x: number) => x.toFixed(3);

async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  const n = opts.quick ? 200 : 2_000;
  const sizes = opts.quick ? [100, 1_000] : [100, 1_000, 5_000];
  const deadline = performance.now() + TIME_LIMIT_MS;
  const redis = await startRedis();
  // Long leases: the benchmark drives the renewals itself, the timer must not interleave.
  const make = (nodeId: string) => createCluster(
    { redisUrl: redis.url, nodeId, advertise: 'http://127.0.0.1:9', secret: 'b'.repeat(32), leaseMs: 600_000, renewMs: 200_000 },
    { clock: realClock, log: silentLogger, registry: new Registry(), limits: { perIp: { max: 1e9, windowMs: 60_000 }, global: { max: 1e9, windowMs: 60_000 } } },
  );
  const a = make('bench-a');
  const b = make('bench-b');
  try {
    await a.start();
    await b.start();
    const rows: Array<Array<string | number>> = [];
    const row = (what: string, t: number[]) => rows.push([what, t.length, ms(percentile(t, 50)), ms(percentile(t, 99)), ms(t[t.length - 1] ?? NaN)]);

    row('claim (INCR + SET PX in Lua, then PUBLISH owner)', await timeEach(n, (i) => a.owners.claim(`v-${i}`)));
    row('lookup (owner + registration, one Lua call)', await timeEach(n, (i) => b.owners.lookup(`v-${i}`)));
    row('online(100 venues) (one MGET)', await timeEach(Math.min(n, 500), () => b.owners.online(Array.from({ length: 100 }, (_, i) => `v-${i}`))));
    row('pairing limit take (one Lua call)', await timeEach(n, (i) => a.limiter.take(`10.0.${(i >> 8) & 255}.${i & 255}`)));
    let got = 0;
    let sentAt = 0;
    const bus: number[] = [];
    b.bus.on(() => { got++; bus.push(performance.now() - sentAt); });
    for (let i = 0; i < Math.min(n, 500); i++) {
      sentAt = performance.now();
      await a.bus.publish({ t: 'tokens', venueId: `v-${i}` });
      const until = performance.now() + 2_000;
      while (got <= i && performance.now() < until) await new Promise((r) => setImmediate(r));
    }
    row('bus: publish on one node → handler on another', bus.sort((x, y) => x - y));

    const renew: Array<Array<string | number>> = [];
    for (const size of sizes) {
      if (performance.now() > deadline) break;
      const c = make(`bench-renew-${size}`);
      try {
        await c.start();
        const owners = c.owners as RedisOwners;
        for (let i = 0; i < size; i++) await owners.claim(`r-${size}-${i}`);
        const t = await timeEach(opts.quick ? 5 : 20, () => owners.renew());
        renew.push([owners.held(), t.length, ms(percentile(t, 50)), ms(percentile(t, 99))]);
      } finally {
        await c.stop();
      }
    }
    return {
      tables: [
        {
          title: 'Routing on Redis: one call from a node (loopback, redis-server 7.0, no persistence)',
          columns: ['call', 'n', 'p50 ms', 'p99 ms', 'max ms'],
          rows,
        },
        {
          title: 'Lease renewal: one round over every venue the node holds (Lua calls of 500 venues, sent back to back)',
          columns: ['venues held', 'rounds', 'p50 ms', 'p99 ms'],
          rows: renew,
          notes: ['A round runs every LEASE_RENEW_MS (2 s); each script call blocks other Redis clients only for its own chunk.'],
        },
      ],
      data: { rows, renew },
    };
  } finally {
    await Promise.allSettled([a.stop(), b.stop()]);
    await redis.stop();
  }
}
