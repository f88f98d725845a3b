/**
 * `npm run bench -- cluster [--set venues=N active=N rate=R secs=S nodes=K helpers=H]`:
 * the same tunnels and venue calls against, side by side in one run,
 *   - one relay process on SQLite (the embedded default), called directly;
 *   - K relay nodes (real bins, real logging to files) on one Postgres and one
 *     Redis behind HAProxy, all started here from Debian's packages: first
 *     with HAProxy balancing round robin, then with deploy/haproxy.cfg's venue
 *     hash (a venue's tunnel and its calls land on the same node).
 * It measures connecting the tunnels, the nodes idle, venue calls at a paced
 * rate (latency, errors, relay CPU per call summed over the nodes, share of
 * calls forwarded over the hop), and in the cluster a kill -9 of the node
 * holding the most tunnels: how long until they are all back through the
 * others. Loopback only, bounded in count and time.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { RedisKeys } from '../protocol/cluster.ts';
import { startHaproxy } from '../tests/helpers/haproxy.ts';
import { startPostgres } from '../tests/helpers/postgres.ts';
import { startRedis } from '../tests/helpers/redis.ts';
import { cpuUs, freePort, pacedCalls, pct, rssMb, seedVenues, sleep, startLogged, tunnelHelpers, type Started } from './_proc.ts';
import type { BenchOptions, BenchResult, BenchTable } from './run.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const API_KEY = 'bench-api-key-0123456789abcdef';
const SECRET = 'bench-cluster-secret-0123456789abcdef-0123456789';
/** Whole-benchmark bound. */
const TIME_LIMIT_MS = 12 * 60_000;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

interface Node { name: string; port: number; proc: Started }

/** What one setup measured. */
interface Run {
  connectMs: number;
  idleCpu: number;
  rss: number[];
  tunnels: number[];
  p50: number;
  p99: number;
  max: number;
  errors: number;
  calls: number;
  cpuPerCallUs: number;
  cpuShare: number;
  forwarded: number;
  failover?: { killed: string; held: number; t95: number; t100: number };
  /** Relay CPU per call (µs, summed over nodes, beyond idle) sent straight to the owner vs to another node. */
  hopCost?: { calls: number; direct: number; hopped: number; p50: [number, number]; errors: number };
}

export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  const num = (k: string, d: number) => (opts.set?.[k] === undefined ? d : Number(opts.set[k]));
  const venuesN = num('venues', opts.quick ? 150 : 600);
  const activeN = Math.min(num('active', opts.quick ? 50 : 200), venuesN);
  const rate = num('rate', 2);
  const secs = num('secs', opts.quick ? 8 : 20);
  const nodesN = num('nodes', 3);
  const helpersN = num('helpers', 3);
  const t0 = performance.now();
  const bounded = () => { if (performance.now() - t0 > TIME_LIMIT_MS) throw new Error(`cluster bench exceeded ${TIME_LIMIT_MS} ms`); };
  const dir = mkdtempSync(join(tmpdir(), 'evva-cluster-bench-'));
  const progress = opts.progress ?? (() => {});
  const stops: Array<() => Promise<void>> = [];
  const node = process.execPath;

  const seed = (where: { dataDir: string; url?: string }, file: string) => seedVenues(where, venuesN, file, 'Bench');

  /** Tunnels, idle, calls: the same for both setups. */
  const measure = async (label: string, url: string, nodes: Node[], tokens: Array<{ venueId: string; token: string }>, tokensFile: string, failover: boolean,
    owners?: (venueIds: string[]) => Promise<Map<string, string>>): Promise<Run> => {
    const helpers = tunnelHelpers(url, tokensFile, venuesN, helpersN);
    stops.push(async () => helpers.stop());
    const { up, welcomes } = helpers;
    const s0 = performance.now();
    while (up() < venuesN) {
      bounded();
      if (performance.now() - s0 > 120_000) throw new Error(`${label}: only ${up()} of ${venuesN} tunnels up after 120 s`);
      await sleep(50);
    }
    const connectMs = performance.now() - s0;
    progress(`${label}: ${venuesN} tunnels up in ${Math.round(connectMs)} ms`);

    const pids = () => nodes.map((n) => n.proc.pid);
    const cpu = () => sum(pids().map(cpuUs));
    await sleep(3_000);
    const idleSecs = 10;
    const c0 = cpu();
    await sleep(idleSecs * 1000);
    const idleCpu = (cpu() - c0) / (idleSecs * 1e6) * 100;
    const rss = pids().map((p) => rssMb(p).rss);
    const tunnels = await Promise.all(nodes.map(async (n) => {
      const r = await fetch(`http://127.0.0.1:${n.port}/healthz`);
      return ((await r.json()) as { tunnels: number }).tunnels;
    }));
    const fwd0 = await forwardedTotal(nodes);

    /** `total` calls paced over the active venues, each sent to `baseOf(venue)`: latency, errors, and relay CPU per call beyond idle. */
    const paced = async (total: number, baseOf: (venueId: string) => string) => {
      const pools = new Map<string, Pool>();
      const poolOf = (base: string) => {
        let p = pools.get(base);
        if (!p) pools.set(base, p = new Pool(base, { connections: 64, keepAliveTimeout: 30_000 }));
        return p;
      };
      const a0 = cpu();
      const { lat, errors, secs } = await pacedCalls(total, activeN * rate, API_KEY, (i) => {
        const venueId = tokens[i % activeN]!.venueId;
        return { venueId, pool: poolOf(baseOf(venueId)) };
      }, bounded);
      await Promise.all([...pools.values()].map((p) => p.close()));
      const used = cpu() - a0;
      return { lat, errors, secs, used, perCall: (used - (idleCpu / 100) * secs * 1e6) / Math.max(1, lat.length) };
    };

    const total = Math.round(activeN * rate * secs);
    const main = await paced(total, () => url);
    const { lat, errors, perCall } = main;
    const activeSecs = main.secs;
    const activeCpu = main.used;
    const forwarded = (await forwardedTotal(nodes)) - fwd0;
    progress(`${label}: ${total} calls, p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, ${errors} errors, ${forwarded} forwarded`);
    const run: Run = {
      connectMs, idleCpu, rss, tunnels, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] ?? NaN, errors, calls: total,
      cpuPerCallUs: perCall, cpuShare: activeCpu / (activeSecs * 1e6) * 100, forwarded,
    };

    if (owners && nodes.length > 1) {
      // The hop's own cost under the same contention: the same calls sent straight to the node holding each
      // venue, then to a node that does not (so every call is forwarded once), bypassing the balancer.
      const where = await owners(tokens.slice(0, activeN).map((t) => t.venueId));
      const base = (n: Node) => `http://127.0.0.1:${n.port}`;
      const owner = (v: string) => nodes.find((n) => n.name === where.get(v)) ?? nodes[0]!;
      const other = (v: string) => nodes.find((n) => n.name !== where.get(v))!;
      const n = Math.round(activeN * rate * Math.min(secs, 10));
      const direct = await paced(n, (v) => base(owner(v)));
      const hopped = await paced(n, (v) => base(other(v)));
      run.hopCost = { calls: n, direct: direct.perCall, hopped: hopped.perCall, p50: [pct(direct.lat, 50), pct(hopped.lat, 50)], errors: direct.errors + hopped.errors };
      progress(`${label}: ${n} calls to the owner: ${direct.perCall.toFixed(0)} µs CPU each; to another node: ${hopped.perCall.toFixed(0)} µs`);
    }

    if (failover && nodes.length > 1) {
      // The node holding the most tunnels dies without a word; its companions come back through the others.
      const i = tunnels.indexOf(Math.max(...tunnels));
      const victim = nodes[i]!;
      const held = tunnels[i]!;
      const w0 = welcomes();
      victim.proc.child.kill('SIGKILL');
      const killedAt = performance.now();
      let t95 = NaN;
      let t100 = NaN;
      while (performance.now() - killedAt < 60_000) {
        bounded();
        const n = welcomes() - w0;
        if (Number.isNaN(t95) && n >= 0.95 * held) t95 = performance.now() - killedAt;
        if (n >= held) { t100 = performance.now() - killedAt; break; }
        await sleep(20);
      }
      run.failover = { killed: victim.name, held, t95, t100 };
      progress(`${label}: kill -9 ${victim.name} (${held} tunnels): 95% back in ${Math.round(t95)} ms, 100% in ${Math.round(t100)} ms`);
    }
    helpers.stop();
    return run;
  };

  try {
    // ---- one relay, SQLite ------------------------------------------------------
    const singleDir = join(dir, 'single');
    mkdirSync(singleDir);
    const singleTokensFile = join(dir, 'single-tokens.json');
    const singleTokens = await seed({ dataDir: singleDir }, singleTokensFile);
    const sPort = await freePort();
    const single: Node = {
      name: 'single', port: sPort,
      proc: startLogged(node, [join(ROOT, 'bin', 'evva-relay.js'), 'serve', '--port', String(sPort), '--data-dir', singleDir, '--api-key', API_KEY], join(dir, 'single.log')),
    };
    stops.push(() => single.proc.stop());
    await single.proc.waitFor(/"listening"/, 30_000);
    const one = await measure('single relay', `http://127.0.0.1:${sPort}`, [single], singleTokens, singleTokensFile, false);
    await single.proc.stop();

    // ---- the cluster ---------------------------------------------------------------
    const pg = await startPostgres();
    stops.push(() => pg.stop());
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const clusterTokensFile = join(dir, 'cluster-tokens.json');
    const clusterTokens = await seed({ dataDir: join(dir, 'seed'), url: pg.url }, clusterTokensFile);
    const nodes: Node[] = [];
    for (let k = 0; k < nodesN; k++) {
      const port = await freePort();
      const name = `n${k + 1}`;
      const d = join(dir, name);
      mkdirSync(d);
      // --set prof=1: a CPU profile of each node (written on exit into the kept temp dir; kill -9 loses the victim's).
      const prof = opts.set?.prof ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profiles')}`] : [];
      const proc = startLogged(node, [...prof, join(ROOT, 'bin', 'evva-relay.js'), 'serve', '--port', String(port), '--data-dir', d, '--api-key', API_KEY,
        '--store', pg.url, '--redis', redis.url, '--node-id', name, '--advertise', `http://127.0.0.1:${port}`, '--trust-proxy', '127.0.0.1'],
      join(dir, `${name}.log`), { ...process.env, EVVA_RELAY_CLUSTER_SECRET: SECRET });
      stops.push(() => proc.stop());
      nodes.push({ name, port, proc });
    }
    for (const n of nodes) await n.proc.waitFor(/"listening"/, 60_000);
    const reuse = opts.set?.reuse as 'safe' | 'always' | 'never' | undefined;
    const balancer = async (balance: 'roundrobin' | 'venue') => {
      const lb = await startHaproxy({ balance, backends: nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.port })), ...(reuse ? { reuse } : {}) });
      stops.push(() => lb.stop());
      // HAProxy's health checks must see every node ready before the tunnels come.
      await sleep(3_000);
      return lb;
    };
    const redisClient = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    stops.push(async () => { redisClient.disconnect(); });
    // Which node holds each venue now: its claim in Redis is "<nodeId> <epoch>".
    const owners = async (ids: string[]) => {
      const values = await redisClient.mget(ids.map((v) => RedisKeys.owner(v)));
      return new Map(ids.map((v, i) => [v, String(values[i] ?? '').split(' ')[0] ?? '']));
    };
    const rr = await balancer('roundrobin');
    const many = await measure(`cluster of ${nodesN}, round robin`, rr.url, nodes, clusterTokens, clusterTokensFile, false, owners);
    await rr.stop();
    // The tunnels were closed with their helpers; the nodes let go of them before the next round.
    await sleep(2_000);
    const vh = await balancer('venue');
    const hashed = await measure(`cluster of ${nodesN}, venue hash`, vh.url, nodes, clusterTokens, clusterTokensFile, true);

    const fmtRss = (r: Run) => r.rss.map((x) => x.toFixed(0)).join(' + ') + ' MB';
    const both = (f: (r: Run) => string) => [f(one), f(many), f(hashed)];
    const table: BenchTable = {
      title: `${venuesN} tunnels, ${activeN} venues × ${rate} req/s for ${secs} s: one relay (SQLite) vs ${nodesN} nodes (Postgres + Redis) behind HAProxy, loopback`,
      columns: ['', 'one relay, SQLite, direct', `${nodesN} nodes, HAProxy round robin`, `${nodesN} nodes, HAProxy venue hash`],
      rows: [
        ['tunnels connect from cold', ...both((r) => `${(r.connectMs / 1000).toFixed(1)} s`)],
        ['tunnels per node', ...both((r) => r.tunnels.join(' / '))],
        ['idle CPU (all relay processes)', ...both((r) => `${r.idleCpu.toFixed(1)}% of a core`)],
        ['RSS per node', ...both(fmtRss)],
        ['venue call p50 / p99', ...both((r) => `${r.p50.toFixed(1)} / ${r.p99.toFixed(1)} ms`)],
        ['errors', ...both((r) => `${r.errors} of ${r.calls}`)],
        ['calls forwarded over the hop', `${one.forwarded}`, ...[many, hashed].map((r) => `${r.forwarded} (${(r.forwarded / Math.max(1, r.calls) * 100).toFixed(0)}%)`)],
        ['relay CPU per call beyond idle (summed over nodes)', ...both((r) => `${r.cpuPerCallUs.toFixed(0)} µs`)],
        ['relay CPU while busy (all nodes)', ...both((r) => `${r.cpuShare.toFixed(0)}% of a core`)],
        ...(many.hopCost ? [
          ['the hop alone: calls sent straight to the owner node', '—', `${many.hopCost.direct.toFixed(0)} µs CPU per call, p50 ${many.hopCost.p50[0].toFixed(1)} ms`, '—'],
          ['the hop alone: the same calls sent to another node', '—', `${many.hopCost.hopped.toFixed(0)} µs CPU per call, p50 ${many.hopCost.p50[1].toFixed(1)} ms (${many.hopCost.calls} calls each, ${many.hopCost.errors} errors)`, '—'],
        ] : []),
        ...(hashed.failover ? [[`kill -9 of the node with the most tunnels`, '—', '—',
          `${hashed.failover.killed} (${hashed.failover.held} tunnels): 95% back in ${(hashed.failover.t95 / 1000).toFixed(1)} s, 100% in ${(hashed.failover.t100 / 1000).toFixed(1)} s`]] : []),
      ],
      notes: [
        `load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}; Postgres, Redis, HAProxy, the ${nodesN} nodes, the tunnel helpers and the load generator all share this machine's cores.`,
        'Round robin: most calls land on a node without the venue and take the hop. Venue hash (deploy/haproxy.cfg): the companion names its venue in the tunnel URL and the call names it in its path, so both land on one node.',
      ],
    };
    return { tables: [table], data: { venuesN, activeN, rate, secs, nodesN, helpersN, single: one, cluster: many, hashed } };
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else console.error(`cluster bench files kept in ${dir}`);
  }
}

/** Calls forwarded over the hop so far, summed over the nodes' /metrics. */
async function forwardedTotal(nodes: Node[]): Promise<number> {
  let n = 0;
  for (const x of nodes) {
    try {
      const r = await fetch(`http://127.0.0.1:${x.port}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
      for (const m of (await r.text()).matchAll(/^evva_relay_hops_forwarded_total\{outcome="ok"\} (\d+(?:\.\d+)?)/gm)) n += Number(m[1]);
    } catch { /* a node that was killed */ }
  }
  return n;
}
