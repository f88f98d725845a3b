/**
 * The relay's and the companion's CPU per small tunnelled call, this checkout
 * against another one (`--set baseline=DIR`), in many short blocks that
 * alternate: each block is `calls` 2.4 KB GETs at c=32 through one pair of
 * real bins (evva-relay serve, evva-companion run, the stand-in plugin of
 * bench/_plugin.ts), and the CPU of every thread of each process is read from
 * /proc/<pid>/task/<tid>/schedstat (nanoseconds, where /proc/<pid>/stat counts
 * 10 ms ticks). On a shared machine the load moves between blocks, so what
 * is compared is each block against its neighbour (the median of the
 * per-block ratios) and the sums over all blocks; the companion, unchanged
 * between two checkouts that differ only in the relay, shows how far noise
 * alone moves a ratio. `side` measures the whole path against ssh -R; this
 * measures one change to one end more finely. Bounded: at most 50 blocks of
 * at most 5 000 calls, and 10 minutes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, request } from 'undici';
import { STRACE, countSyscalls, freePort, startLogged, type Started } from './_proc.ts';
import type { BenchOptions, BenchResult, BenchTable } from './run.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const API_KEY = 'bench-api-key-0123456789abcdef';
const TIME_LIMIT_MS = 10 * 60_000;
const CONCURRENCY = 32;

/** CPU time (µs) of every thread of `pid` so far, from schedstat. */
function cpuUs(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch { /* the thread ended between the listing and the read */ }
  }
  return ns / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
}
const quartiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return [s[Math.floor(s.length / 4)] ?? NaN, s[Math.floor((3 * s.length) / 4)] ?? NaN] as const;
};

interface Pair { name: string; relay: Started; companion: Started; base: string; pool: Pool }
interface Block { relay: number; companion: number; rps: number }

export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  const blocks = opts.rounds ?? (opts.quick ? 10 : 40);
  const calls = Math.min(5_000, Math.max(50, Number(opts.set?.calls ?? (opts.quick ? 200 : 400))));
  const deadline = performance.now() + TIME_LIMIT_MS;
  const dir = mkdtempSync(join(tmpdir(), 'evva-bench-percall-'));
  const node = process.execPath;
  const started: Started[] = [];
  const pairs: Pair[] = [];
  try {
    const plugin = startLogged(node, ['--import', 'tsx', join(ROOT, 'bench', '_plugin.ts')], join(dir, 'plugin.log'));
    started.push(plugin);
    const pluginUrl = (await plugin.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;
    // --set prof=1: V8 CPU profiles of each relay and companion (written on exit into the kept temp dir, with --keep).
    const prof = opts.set?.prof ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profiles')}`] : [];
    const roots: Array<[string, string]> = [['this checkout', ROOT]];
    if (opts.set?.baseline) roots.push([opts.set.label ?? 'baseline', resolve(opts.set.baseline)]);
    for (const [i, [name, root]] of roots.entries()) {
      const bin = (b: string) => join(root, 'bin', b);
      const relayDir = join(dir, `relay${i}`);
      const relay = startLogged(node, [...prof, bin('evva-relay.js'), 'serve', '--port', '0', '--data-dir', relayDir, '--api-key', API_KEY], join(dir, `relay${i}.log`));
      started.push(relay);
      const relayUrl = (await relay.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;
      const venue = JSON.parse(execFileSync(node, [bin('evva-relay.js'), 'venue', 'add', 'Bench', '--json', '--data-dir', relayDir], { encoding: 'utf8' })) as { venueId: string; pairingCode: string };
      const companionDir = join(dir, `companion${i}`);
      execFileSync(node, [bin('evva-companion.js'), 'pair', venue.pairingCode, '--relay-url', relayUrl, '--data-dir', companionDir], { encoding: 'utf8' });
      const companion = startLogged(node, [...prof, bin('evva-companion.js'), 'run', '--data-dir', companionDir, '--front-url', pluginUrl, '--api-port', String(await freePort())], join(dir, `companion${i}.log`));
      started.push(companion);
      pairs.push({ name, relay, companion, base: `${relayUrl}/v1/venues/${venue.venueId}/front`, pool: new Pool(relayUrl, { connections: CONCURRENCY, keepAliveTimeout: 60_000 }) });
    }
    const get = async (p: Pair) => {
      const res = await request(`${p.base}/api/bench/2k?key=caller-key-dropped`, { headers: { authorization: `Bearer ${API_KEY}` }, dispatcher: p.pool });
      await res.body.dump({ limit: 1 << 20 });
      if (res.statusCode !== 200) throw new Error(`${p.name}: answered ${res.statusCode}`);
    };
    const run = async (p: Pair, n: number): Promise<Block> => {
      let sent = 0;
      const r0 = cpuUs(p.relay.pid);
      const c0 = cpuUs(p.companion.pid);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (sent < n) {
          if (performance.now() > deadline) throw new Error(`bench exceeded ${TIME_LIMIT_MS} ms`);
          sent++;
          await get(p);
        }
      }));
      return { relay: (cpuUs(p.relay.pid) - r0) / n, companion: (cpuUs(p.companion.pid) - c0) / n, rps: n / ((performance.now() - t0) / 1000) };
    };
    for (const p of pairs) {
      for (let i = 0; ; i++) {
        try { await get(p); break; } catch (e) {
          if (i > 300) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    // Unmeasured warm-up: the JIT keeps compiling through the first few thousand calls.
    for (const p of pairs) await run(p, 3_000);
    if (opts.progress) opts.progress('warm-up done');
    const res = new Map<string, Block[]>(pairs.map((p) => [p.name, []]));
    for (let b = 0; b < blocks; b++) {
      for (let i = 0; i < pairs.length; i++) {
        const p = pairs[(i + b) % pairs.length]!;
        res.get(p.name)!.push(await run(p, calls));
      }
    }
    // --set strace=N: after the blocks, N calls per pair (alternating pairs is not possible under strace) with
    // `strace -c -f` on its relay and companion: system calls per call, reads and writes apart.
    const straceCalls = Math.min(5_000, Number(opts.set?.strace ?? 0));
    const syscalls: BenchTable['rows'] = [];
    if (straceCalls > 0 && !existsSync(STRACE)) syscalls.push(['strace is not installed (apt-get install strace)', '', '', '', '', '']);
    else if (straceCalls > 0) {
      const of = (calls: Record<string, number>, names: string[]) => names.reduce((a, n) => a + (calls[n] ?? 0), 0);
      for (const p of pairs) {
        const counts = await countSyscalls({ relay: p.relay.pid, companion: p.companion.pid }, dir, async () => { await run(p, straceCalls); });
        for (const [proc, c] of Object.entries(counts)) {
          syscalls.push([p.name, proc, ...[['read', 'readv', 'recvfrom', 'recvmsg'], ['write', 'writev', 'sendto', 'sendmsg'], ['epoll_wait', 'epoll_pwait', 'epoll_pwait2']]
            .map((names) => (of(c.calls, names) / straceCalls).toFixed(2)), (c.total / straceCalls).toFixed(2)]);
        }
      }
    }
    const rows = pairs.map((p) => {
      const bs = res.get(p.name)!;
      return [p.name, median(bs.map((x) => x.relay)).toFixed(0), median(bs.map((x) => x.companion)).toFixed(0), median(bs.map((x) => x.rps)).toFixed(0)];
    });
    const tables: BenchTable[] = [{
      title: `CPU µs per 2.4 KB call at c=${CONCURRENCY} (median over ${blocks} blocks of ${calls} calls, alternating; every thread, from schedstat)`,
      columns: ['checkout', 'relay', 'companion', 'calls/s'],
      rows,
      notes: [`load average at the end ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`],
    }];
    if (pairs.length === 2) {
      const [a, b] = [res.get(pairs[0]!.name)!, res.get(pairs[1]!.name)!];
      const ratio = (k: 'relay' | 'companion') => {
        const per = a.map((x, i) => x[k] / b[i]![k]);
        const [q1, q3] = quartiles(per);
        const sums = a.reduce((t, x) => t + x[k], 0) / b.reduce((t, x) => t + x[k], 0);
        return [k, median(per).toFixed(2), `${q1.toFixed(2)}–${q3.toFixed(2)}`, sums.toFixed(3)];
      };
      tables.push({
        title: `${pairs[0]!.name} / ${pairs[1]!.name}, CPU per call`,
        columns: ['process', 'median of per-block ratios', 'quartiles', 'ratio of the sums'],
        rows: [ratio('relay'), ratio('companion')],
        notes: ['A ratio that moves for a process both checkouts run unchanged is the noise of this run.'],
      });
    }
    if (syscalls.length > 0) {
      tables.push({
        title: `System calls per 2.4 KB call at c=${CONCURRENCY} (strace -c -f, ${straceCalls} calls per checkout after the blocks)`,
        columns: ['checkout', 'process', 'reads', 'writes', 'epoll waits', 'all'],
        rows: syscalls,
        notes: ['Every thread; strace slows each call, so more calls meet in one turn than without it: a count, not a rate.'],
      });
    }
    return { tables, data: { blocks, calls, raw: Object.fromEntries(res) } };
  } finally {
    await Promise.all(pairs.map((p) => p.pool.close().catch(() => undefined)));
    await Promise.all(started.reverse().map((s) => s.stop()));
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else console.error(`bench files kept in ${dir}`);
  }
}
