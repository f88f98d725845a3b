/**
 * `npm run bench -- idle [--set tunnels=10000] [--set helpers=5] [--set secs=30] [--set baseline=DIR]`:
 * one real relay process (the compiled `evva-relay serve`, logging to a file)
 * holding `tunnels` idle tunnels, measured, not extrapolated: RSS and the
 * share of a core it spends on them (one ping and one pong per tunnel every
 * 3 s: the relay pings from revision 5 on, the tunnel before it, as a
 * companion does). The tunnels are held by helper processes
 * (bench/_tunnels.ts) that speak the protocol as companions of this checkout
 * do, at whatever revision the relay agrees to. With `baseline=DIR` that
 * checkout's relay holds the same number of tunnels at the same time, and
 * both are measured over the same window: side by side in one run.
 *
 * File descriptors: each relay needs one per tunnel (plus a few hundred);
 * the helpers split theirs; the run stops with a clear error when the limit
 * (`ulimit -n`) is too low. Loopback only, bounded in count and time.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuUs, freePort, rssMb, seedVenues, sleep, startLogged, tunnelHelpers, type Started, type TunnelHelpers } from './_proc.ts';
import type { BenchOptions, BenchResult, BenchTable } from './run.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const API_KEY = 'bench-api-key-0123456789abcdef';
/**
 * Whole-benchmark bound, per relay measured: each one's venues are paired and its tunnels connected in turn
 * (pairing 10 000 venues took ~5 minutes at load 20, connecting them 4–6), so a side-by-side run gets twice as long.
 */
const TIME_LIMIT_MS = 15 * 60_000;
/** How long the tunnels of one relay may take to connect (248 s for 10 000 at load 15 here). */
const CONNECT_LIMIT_MS = 360_000;
/** The number of idle tunnels the targets are about (issue 23). */
const TARGET_TUNNELS = 10_000;

/** The soft limit on open files of this process (what the relay it starts inherits). */
function openFilesLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

export interface IdleResult { label: string; tunnels: number; connectS: number; cpuPct: number; rssMb: number; rssPerTunnelKb: number }

export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  const num = (k: string, d: number) => (opts.set?.[k] === undefined ? d : Number(opts.set[k]));
  const n = num('tunnels', opts.quick ? 2_000 : 10_000);
  const helpersN = num('helpers', Math.max(1, Math.ceil(n / 2_500)));
  const secs = num('secs', opts.quick ? 15 : 30);
  const t0 = performance.now();
  const limitMs = TIME_LIMIT_MS * (opts.set?.baseline ? 2 : 1);
  const bounded = () => { if (performance.now() - t0 > limitMs) throw new Error(`idle bench exceeded ${limitMs} ms`); };
  const limit = openFilesLimit();
  if (limit < n + 1_000) throw new Error(`ulimit -n is ${limit}: a relay holding ${n} tunnels needs at least ${n + 1_000} open files (raise it, or --set tunnels=)`);
  const progress = opts.progress ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'evva-idle-'));
  const node = process.execPath;
  const started: Started[] = [];
  const helpers: TunnelHelpers[] = [];
  try {
    const targets = [{ label: 'relay', root: ROOT }];
    if (opts.set?.baseline) targets.push({ label: `relay@${opts.set.label ?? 'baseline'}`, root: resolve(opts.set.baseline) });
    const relays: Array<{ label: string; proc: Started; helpers: TunnelHelpers; connectS: number }> = [];
    for (const [i, t] of targets.entries()) {
      const relayDir = join(dir, `relay${i}`);
      const tokensFile = join(dir, `tokens${i}.json`);
      await seedVenues({ dataDir: relayDir }, n, tokensFile, `Idle${i}`);
      progress(`${t.label}: ${n} venues paired`);
      const port = await freePort();
      // --set prof=1: a CPU profile of each relay, --set heap=1: a heap snapshot after the window (into the kept temp dir).
      const diag = [...(opts.set?.prof ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profiles')}`] : []), ...(opts.set?.heap ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`] : [])];
      const proc = startLogged(node, [...diag, join(t.root, 'bin', 'evva-relay.js'), 'serve', '--port', String(port), '--data-dir', relayDir, '--api-key', API_KEY], join(dir, `relay${i}.log`));
      started.push(proc);
      await proc.waitFor(new RegExp(`"listening":"http://127.0.0.1:${port}"`), 30_000);
      const h = tunnelHelpers(`http://127.0.0.1:${port}`, tokensFile, n, helpersN, true, 100);
      helpers.push(h);
      const c0 = performance.now();
      // Bounded: what connected by then is measured, and the targets say how many did (not a failure of the run).
      while (h.up() < n && performance.now() - c0 < CONNECT_LIMIT_MS) {
        bounded();
        await sleep(100);
      }
      const connectS = (performance.now() - c0) / 1000;
      progress(`${t.label}: ${h.up()} of ${n} tunnels up in ${connectS.toFixed(1)} s`);
      relays.push({ label: t.label, proc, helpers: h, connectS });
    }
    // Past the connect burst and its garbage (idle means the steady state), then one window for every relay at once.
    await sleep(opts.quick ? 10_000 : 30_000);
    const c0 = relays.map((r) => cpuUs(r.proc.pid));
    const w0 = performance.now();
    await sleep(secs * 1000);
    const wallUs = (performance.now() - w0) * 1000;
    const results: IdleResult[] = relays.map((r, i) => {
      const rss = rssMb(r.proc.pid).rss;
      return { label: r.label, tunnels: r.helpers.up(), connectS: r.connectS, cpuPct: ((cpuUs(r.proc.pid) - c0[i]!) / wallUs) * 100, rssMb: rss, rssPerTunnelKb: 0 };
    });
    if (opts.set?.heap) {
      for (const r of relays) r.proc.child.kill('SIGUSR2');
      await sleep(15_000);
    }
    // What a tunnel costs in memory: against the same relay with no tunnels at all.
    const emptyPort = await freePort();
    const empty = startLogged(node, [join(ROOT, 'bin', 'evva-relay.js'), 'serve', '--port', String(emptyPort), '--data-dir', join(dir, 'relay0'), '--api-key', API_KEY], join(dir, 'relay-empty.log'));
    started.push(empty);
    await empty.waitFor(/"listening"/, 30_000);
    await sleep(3_000);
    const emptyRss = rssMb(empty.pid).rss;
    results[0]!.rssPerTunnelKb = ((results[0]!.rssMb - emptyRss) * 1024) / Math.max(1, results[0]!.tunnels);
    const table: BenchTable = {
      title: `One relay holding ${n} idle tunnels (compiled bin, ${helpersN} helper processes per relay; CPU over the same ${secs} s window)`,
      columns: ['process', 'tunnels up', 'connect from cold', 'relay CPU, % of a core', 'relay RSS MB', 'RSS per tunnel'],
      rows: results.map((r) => [r.label, r.tunnels, `${r.connectS.toFixed(1)} s`, r.cpuPct.toFixed(1), r.rssMb.toFixed(0), r.rssPerTunnelKb ? `${r.rssPerTunnelKb.toFixed(1)} KB (an empty relay: ${emptyRss.toFixed(0)} MB)` : '']),
      notes: [
        `one ping and its pong per tunnel every 3 s (sent by the relay from revision 5, by the tunnel before); ulimit -n ${limit}; load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
      ],
    };
    const me = results[0]!;
    const base = results[1];
    const short = me.tunnels < TARGET_TUNNELS
      ? `not measured: ${me.tunnels} tunnels were up (${n < TARGET_TUNNELS ? `this run asked for ${n}; --set tunnels=10000, not --quick` : `of ${n}, within ${CONNECT_LIMIT_MS / 1000} s to connect and ${secs} s idle`})`
      : null;
    const beside = base ? `${base.label}: ${base.tunnels} tunnels, ${base.rssMb.toFixed(0)} MB, ${base.cpuPct.toFixed(1)}%` : `an empty relay ${emptyRss.toFixed(0)} MB; ${me.connectS.toFixed(0)} s to connect`;
    return {
      tables: [table],
      data: { n, helpersN, secs, results, emptyRss },
      targets: short ? { idleRss: { notMeasured: short }, idleCpu: { notMeasured: short } } : {
        idleRss: { value: me.rssMb, shown: `${me.rssMb.toFixed(0)} MB (${me.tunnels} tunnels)`, beside },
        idleCpu: { value: me.cpuPct, shown: `${me.cpuPct.toFixed(1)}% over ${secs} s`, beside: base ? beside : '' },
      },
    };
  } finally {
    for (const h of helpers) h.stop();
    // The tunnels go first, so the relay has less to drain; with a profile to write, it gets the time it needs to stop.
    await sleep(3_000);
    if (opts.set?.prof) {
      await Promise.all(started.map((s) => new Promise<void>((r) => {
        if (s.child.exitCode !== null) return r();
        const t = setTimeout(r, 180_000);
        s.child.once('exit', () => { clearTimeout(t); r(); });
        s.child.kill('SIGTERM');
      })));
    }
    await Promise.all(started.reverse().map((s) => s.stop()));
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else console.error(`idle bench files kept in ${dir}`);
  }
}
