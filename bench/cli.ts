/**
 * How long `evva-companion status` takes against a running companion: from
 * the TypeScript source through tsx (how the bins ran before) and from the
 * compiled dist/node (how they run now), with a bare `node -e 0` for scale.
 * Runs interleaved, so the machine's load hits all three alike.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchTable } from './run.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 9;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe', timeout: 30_000 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

export async function bench(): Promise<BenchTable[]> {
  if (!fs.existsSync(path.join(root, 'dist/node/companion.js'))) spawnSync(process.execPath, ['scripts/build.mjs', '--quiet'], { cwd: root, stdio: 'inherit' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-bench-cli-'));
  const companion = spawn(process.execPath, ['bin/evva-companion.js', 'run', '--data-dir', dir, '--api-port', '0', '--front-url', 'http://127.0.0.1:1'], { cwd: root, stdio: 'ignore' });
  try {
    const until = Date.now() + 20_000;
    while (!fs.existsSync(path.join(dir, 'local-api.json')) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const cases: Array<[string, string[], NodeJS.ProcessEnv]> = [
      ['source through tsx (before)', ['bin/evva-companion.js', 'status', '--data-dir', dir], { EVVA_FROM_SOURCE: '1' }],
      ['compiled dist/node (now)', ['bin/evva-companion.js', 'status', '--data-dir', dir], { EVVA_FROM_SOURCE: '' }],
      ['node -e 0 (for scale)', ['-e', '0'], {}],
    ];
    const times = cases.map(() => [] as number[]);
    for (let i = 0; i < RUNS; i++) cases.forEach(([, args, env], j) => times[j]!.push(timed(args, env)));
    return [{
      title: `evva-companion status against a running companion (${RUNS} interleaved runs)`,
      columns: ['how', 'median ms', 'min ms', 'max ms'],
      rows: cases.map(([name], j) => [name, Math.round(median(times[j]!)), Math.round(Math.min(...times[j]!)), Math.round(Math.max(...times[j]!))]),
      notes: [`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`],
    }];
  } finally {
    companion.kill('SIGTERM');
    await new Promise((r) => companion.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
