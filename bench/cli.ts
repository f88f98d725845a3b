/**
 * `npm run bench -- cli [--set baseline=DIR]`: how long `evva-companion status`
 * takes against a running companion, from the compiled bin, against a bare
 * `node -e 0` on the same machine at the same moment (and that checkout's
 * bin with `baseline=DIR`). Runs interleaved round by round, so the machine's
 * load hits all alike; the ratio to `node -e 0` is taken per round and its
 * median quoted.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchResult } from './run.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 11;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, EVVA_FROM_SOURCE: '' }, stdio: 'pipe', timeout: 30_000 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

export interface CliResult { name: string; median: number; ratio: number }

export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  if (!fs.existsSync(path.join(root, 'dist/cli/companion.cjs'))) spawnSync(process.execPath, ['scripts/build.mjs', '--quiet'], { cwd: root, stdio: 'inherit' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-bench-cli-'));
  const companion = spawn(process.execPath, ['bin/evva-companion.js', 'run', '--data-dir', dir, '--api-port', '0', '--front-url', 'http://127.0.0.1:1'], { cwd: root, stdio: 'ignore' });
  try {
    const until = Date.now() + 20_000;
    while (!fs.existsSync(path.join(dir, 'local-api.json')) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const bare: [string, string[]] = ['node -e 0 (for scale)', ['-e', '0']];
    const cases: Array<[string, string[]]> = [
      ['status, compiled bin (this checkout)', ['bin/evva-companion.js', 'status', '--data-dir', dir]],
      ...(opts.set?.baseline ? [[`status, compiled bin (${opts.set.label ?? 'baseline'})`, [path.join(path.resolve(opts.set.baseline), 'bin/evva-companion.js'), 'status', '--data-dir', dir]] as [string, string[]]] : []),
      bare,
    ];
    const times = cases.map(() => [] as number[]);
    const runs = opts.quick ? 5 : RUNS;
    for (let i = 0; i < runs; i++) cases.forEach(([, args], j) => times[j]!.push(timed(args)));
    const node = times[times.length - 1]!;
    const results: CliResult[] = cases.map(([name], j) => ({ name, median: median(times[j]!), ratio: median(times[j]!.map((t, i) => t / node[i]!)) }));
    return {
      tables: [{
        title: `evva-companion status against a running companion (${runs} interleaved rounds)`,
        columns: ['how', 'median ms', 'min ms', 'max ms', 'vs node -e 0 (median of per-round ratios)'],
        rows: results.map((r, j) => [r.name, Math.round(r.median), Math.round(Math.min(...times[j]!)), Math.round(Math.max(...times[j]!)), `${r.ratio.toFixed(2)}x`]),
        notes: [`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`],
      }],
      data: { results, times },
      targets: { cli: { value: results[0]!.ratio, shown: `${results[0]!.ratio.toFixed(2)}x (${Math.round(results[0]!.median)} ms against ${Math.round(results[results.length - 1]!.median)} ms)`, beside: `${runs} rounds${results.length > 2 ? `; ${results[1]!.name}: ${results[1]!.ratio.toFixed(2)}x` : ''}` } },
    };
  } finally {
    companion.kill('SIGTERM');
    await new Promise((r) => companion.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
