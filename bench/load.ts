/**
 * `npm run bench -- load [--set idle=N active=N rate=R secs=S restart=N helpers=H]`:
 * one real relay process (bin/evva-relay.js serve, logging to a file) under
 * N protocol-speaking tunnels held by helper processes (bench/_tunnels.ts):
 *   - idle N: every tunnel up and quiet (pings only): relay RSS and CPU;
 *   - active N at R req/s each: venue API calls spread over the venues,
 *     paced (open loop), 1 KB answers: p50/p99 and relay CPU per request;
 *   - restart N: the relay killed with SIGKILL and started again on the same
 *     port: time until 95% and 100% of the tunnels are back.
 * Loopback only, bounded in count and time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { cpuUs, freePort, pacedCalls, pct, rssMb, seedVenues, sleep, startLogged, tunnelHelpers, type Started, type TunnelHelpers } from './_proc.ts';
import type { BenchOptions, BenchResult, BenchTable } from './run.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const API_KEY = 'bench-api-key-0123456789abcdef';
/** Whole-benchmark bound. */
const TIME_LIMIT_MS = 8 * 60_000;



export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  const num = (k: string, d: number) => (opts.set?.[k] === undefined ? d : Number(opts.set[k]));
  const idleN = num('idle', 2_000);
  const activeN = Math.min(num('active', 500), idleN);
  const rate = num('rate', 1);
  const secs = num('secs', 20);
  const helpersN = num('helpers', 4);
  const restartN = idleN;
  const t0 = performance.now();
  const bounded = () => { if (performance.now() - t0 > TIME_LIMIT_MS) throw new Error(`load bench exceeded ${TIME_LIMIT_MS} ms`); };
  const dir = mkdtempSync(join(tmpdir(), 'evva-load-'));
  const node = process.execPath;
  const started: Started[] = [];
  let helpers: TunnelHelpers | null = null;
  let pool: Pool | null = null;
  const progress = opts.progress ?? (() => {});
  try {
    const relayDir = join(dir, 'relay');
    const tokensFile = join(dir, 'tokens.json');
    const tokens = await seedVenues({ dataDir: relayDir }, idleN, tokensFile, 'Load');

    const port = await freePort();
    let runs = 0;
    const startRelay = async () => {
      // --set prof=1: a CPU profile of each relay run (written on exit into the kept temp dir; SIGKILL loses the first).
      const prof = opts.set?.prof ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profiles')}`] : [];
      const r = startLogged(node, [...prof, join(ROOT, 'bin', 'evva-relay.js'), 'serve', '--port', String(port), '--data-dir', relayDir, '--api-key', API_KEY], join(dir, `relay-${++runs}.log`));
      started.push(r);
      await r.waitFor(new RegExp(`"listening":"http://127.0.0.1:${port}"`), 30_000);
      return r;
    };
    let relay = await startRelay();
    const url = `http://127.0.0.1:${port}`;

    helpers = tunnelHelpers(url, tokensFile, idleN, helpersN);
    const { up, welcomes } = helpers;
    const waitUp = async (n: number, ms: number) => {
      const s = performance.now();
      while (up() < n) {
        bounded();
        if (performance.now() - s > ms) throw new Error(`only ${up()} of ${n} tunnels up after ${ms} ms`);
        await sleep(50);
      }
      return performance.now() - s;
    };
    const connectMs = await waitUp(idleN, 120_000);
    progress(`${idleN} tunnels up in ${Math.round(connectMs)} ms`);

    // ---- idle ----------------------------------------------------------------
    await sleep(3_000); // past the connect burst
    const idleSecs = Math.min(30, Math.max(10, secs));
    const c0 = cpuUs(relay.pid);
    await sleep(idleSecs * 1000);
    const idleCpu = (cpuUs(relay.pid) - c0) / (idleSecs * 1e6) * 100;
    const idleRss = rssMb(relay.pid).rss;
    progress(`idle: ${idleCpu.toFixed(1)}% CPU, ${idleRss.toFixed(0)} MB`);

    // ---- active: activeN venues, rate req/s each, open loop -------------------
    pool = new Pool(url, { connections: 64, keepAliveTimeout: 30_000 });
    const total = Math.round(activeN * rate * secs);
    const a0 = cpuUs(relay.pid);
    const { lat, errors, late, secs: activeSecs } = await pacedCalls(total, activeN * rate, API_KEY, (i) => ({ venueId: tokens[i % activeN]!.venueId, pool: pool! }), bounded);
    const activeCpu = cpuUs(relay.pid) - a0;
    // What the calls cost beyond what the same tunnels cost idle.
    const perCall = (activeCpu - (idleCpu / 100) * activeSecs * 1e6) / Math.max(1, lat.length);
    progress(`active: ${total} calls in ${activeSecs.toFixed(1)} s, p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms`);
    await pool.close();
    pool = null;

    // ---- restart ---------------------------------------------------------------
    const w0 = welcomes();
    relay.child.kill('SIGKILL');
    await new Promise((r) => relay.child.once('exit', r));
    const killedAt = performance.now();
    // Started again at once, as a service manager would; "back" = a new welcome after the kill.
    relay = await startRelay();
    let t95 = NaN;
    let t100 = NaN;
    while (performance.now() - killedAt < 60_000) {
      bounded();
      const n = welcomes() - w0;
      if (Number.isNaN(t95) && n >= 0.95 * restartN) t95 = performance.now() - killedAt;
      if (n >= restartN) { t100 = performance.now() - killedAt; break; }
      await sleep(20);
    }
    // The restarted relay's whole CPU so far (start-up included), per tunnel back: what a storm costs it, whatever its share of a busy machine.
    const restartCpuMs = cpuUs(relay.pid) / 1000;
    progress(`restart: 95% in ${Math.round(t95)} ms, 100% in ${Math.round(t100)} ms`);
    const restartRss = rssMb(relay.pid).rss;

    const table: BenchTable = {
      title: `One relay process under ${idleN} tunnels from ${helpersN} helper processes (loopback)`,
      columns: ['phase', 'what', 'measured'],
      rows: [
        ['connect', `${idleN} tunnels from cold`, `${(connectMs / 1000).toFixed(1)} s`],
        ['idle', `${idleN} tunnels, ${idleSecs} s`, `${idleCpu.toFixed(1)}% of a core, RSS ${idleRss.toFixed(0)} MB`],
        ['active', `${activeN} venues × ${rate} req/s for ${secs} s (${total} calls, 1 KB answers)`,
          `p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${(lat[lat.length - 1] ?? NaN).toFixed(0)} ms; ${errors} errors; relay ${(activeCpu / (activeSecs * 1e6) * 100).toFixed(0)}% of a core, ${(perCall).toFixed(0)} µs CPU per call beyond idle`],
        ['restart', `SIGKILL, start again; ${restartN} tunnels`, `95% back in ${(t95 / 1000).toFixed(1)} s, 100% in ${(t100 / 1000).toFixed(1)} s; relay CPU from start to 100%: ${(restartCpuMs / 1000).toFixed(1)} s (${((restartCpuMs * 1000) / restartN).toFixed(0)} µs per tunnel, start-up included); RSS after ${restartRss.toFixed(0)} MB`],
      ],
      notes: [
        `load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}; the load generator and the helpers share the machine's cores with the relay.`,
        ...(late ? [`${late} calls were sent more than 100 ms late (the generator could not keep up); their latency counts from when they were due.`] : []),
      ],
    };
    return { tables: [table], data: { idleN, activeN, rate, secs, helpersN, connectMs, idleCpu, idleRss, activeCpu, activeSecs, perCall, errors, late, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1], t95, t100, restartCpuMs, restartRss } };
  } finally {
    await pool?.close().catch(() => undefined);
    helpers?.stop();
    await Promise.all(started.map((s) => s.stop()));
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else console.error(`load bench files kept in ${dir}`);
  }
}
