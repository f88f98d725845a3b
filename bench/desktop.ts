/**
 * `npm run bench -- desktop [--set baseline=DIR] [--rounds N]`: the CPU a
 * desktop shell's start costs, the built main bundle (dist/node/desktop.js)
 * run against the Electron stand-in the tests use (tests/standin, compiled to
 * .tmp/standin by the tests' global setup): the shell's CPU when its tray
 * exists, and the shell's and its core's when the tray first shows the
 * core's status. With `baseline=DIR` (another built checkout) both bundles
 * start alternately, round by round, under this checkout's stand-in, so only
 * the product differs (each bundle as the copy whose `electron` import names
 * the stand-in, tests/standin/bundle.ts, written into its checkout's
 * .tmp/bench-desktop). With `standin=own` each checkout's bundle runs under
 * its own stand-in as its own tests start it instead, to compare harnesses.
 * CPU from /proc (Linux), each process's own threads.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeStandInBundle } from '../tests/standin/bundle.ts';
import type { BenchOptions, BenchResult } from './run.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = 20;
/** The tray's tooltip until the core's first status (main/desktop/tray.ts tooltipFor). */
const STARTING = 'EVVA: запускается…';
const START_LIMIT_MS = 60_000;

interface Start { trayShell: number; readyShell: number; readyCore: number; readyMs: number }

/** user + system CPU of a process (all its threads), in ms; 10 ms steps. */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

/** How an app's shell starts: the stand-in's process and the main script it runs. */
interface Launch { app: string; child: string; main: string }

/** One start of `app`'s bundle on a fresh fake PC (Linux branch), until the tray shows the core's status. */
async function once({ app, child: standIn, main }: Launch): Promise<Start> {
  const pc = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-bench-desktop-'));
  const home = path.join(pc, 'home');
  fs.mkdirSync(home);
  const env: NodeJS.ProcessEnv = {
    ...process.env, VITEST: undefined, EVVA_FROM_SOURCE: undefined, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'),
    EVVA_DATA_DIR: path.join(pc, 'data'), EVVA_STANDIN: JSON.stringify({ platform: 'linux', appPath: app }),
  };
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--expose-gc', standIn, main], {
    cwd: app, env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true,
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d; });
  let next = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  child.on('message', (m: { id?: number; value?: unknown }) => { if (m.id !== undefined) { waiting.get(m.id)?.(m.value); waiting.delete(m.id); } });
  type State = { trays: Array<{ tooltip: string }>; children: Array<{ pid: number | null }> } | undefined;
  const state = () => new Promise<State>((resolve) => { const id = ++next; waiting.set(id, resolve as (v: unknown) => void); child.send({ id, cmd: 'state' }); });
  try {
    let trayShell: number | null = null;
    const end = Date.now() + START_LIMIT_MS;
    while (Date.now() < end && child.exitCode === null) {
      const s = await state();
      if (s?.trays.length && trayShell === null) trayShell = cpuMs(child.pid!);
      if (s?.trays[0] && s.trays[0].tooltip !== STARTING) {
        const core = s.children.at(-1)?.pid;
        if (!core || trayShell === null) throw new Error('a status on the tray without a core or before the tray');
        return { trayShell, readyShell: cpuMs(child.pid!), readyCore: cpuMs(core), readyMs: performance.now() - t0 };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no status on the tray within ${START_LIMIT_MS / 1000} s (${app}):\n${err}`);
  } finally {
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 200));
    fs.rmSync(pc, { recursive: true, force: true });
  }
}

const quantile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  const k = (s.length - 1) * p;
  const lo = Math.floor(k);
  return s[lo]! + (s[Math.ceil(k)]! - s[lo]!) * (k - lo);
};
const spread = (xs: number[], digits = 0) => `${quantile(xs, 0.5).toFixed(digits)} (${quantile(xs, 0.25).toFixed(digits)}-${quantile(xs, 0.75).toFixed(digits)})`;

export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  if (!fs.existsSync('/proc/self/stat')) throw new Error('bench/desktop reads CPU from /proc (Linux only)');
  // The tests' global setup builds dist/ and compiles the stand-in to .tmp/standin.
  if (!['.tmp/standin/child.js', '.tmp/desktop/desktop.js', 'dist/node/desktop.js'].every((f) => fs.existsSync(path.join(root, f)))) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "const m = await import('./tests/build.ts'); m.default()"], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building dist/ and the stand-in failed');
  }
  const apps: Array<[string, string]> = [['this checkout', root]];
  if (opts.set?.baseline) {
    const base = path.resolve(opts.set.baseline);
    if (!fs.existsSync(path.join(base, 'dist/node/desktop.js'))) throw new Error(`${base} has no dist/node/desktop.js: run npm run build there`);
    apps.push([opts.set.label ?? 'baseline', base]);
  }
  const own = opts.set?.standin === 'own';
  const launches = apps.map(([, app]): Launch => {
    if (!own) return { app, child: path.join(root, '.tmp/standin/child.js'), main: writeStandInBundle(app, path.join(root, '.tmp/standin/electron-module.mjs'), '.tmp/bench-desktop') };
    // As that checkout's tests start it: the copy its tests/build.ts wrote, or (before tests/standin/bundle.ts) the
    // bundle itself, whose `electron` that stand-in resolves with a hook.
    const copy = path.join(app, '.tmp/desktop/desktop.js');
    const child = path.join(app, '.tmp/standin/child.js');
    if (!fs.existsSync(child)) throw new Error(`${app} has no compiled stand-in: run its tests' global setup (tests/build.ts)`);
    return { app, child, main: fs.existsSync(copy) ? copy : path.join(app, 'dist/node/desktop.js') };
  });
  const rounds = opts.quick ? 4 : (opts.rounds ?? ROUNDS);
  const starts = apps.map(() => [] as Start[]);
  const loads: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so neither always starts on a machine the other has just warmed.
    const order = i % 2 ? [...apps.keys()].reverse() : [...apps.keys()];
    for (const j of order) starts[j]!.push(await once(launches[j]!));
    loads.push(os.loadavg()[0]!);
    opts.progress?.(`round ${i + 1}/${rounds}`);
  }
  const rows = apps.map(([name], j) => {
    const s = starts[j]!;
    return [name, spread(s.map((x) => x.trayShell)), spread(s.map((x) => x.readyShell)), spread(s.map((x) => x.readyCore)),
      spread(s.map((x) => x.readyShell + x.readyCore)), spread(s.map((x) => x.readyMs))];
  });
  const notes = [`${rounds} rounds, load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} on ${os.cpus().length} CPUs; CPU from /proc in 10 ms steps; ${own ? 'each checkout under its own stand-in' : 'all under this checkout\'s stand-in'}`];
  if (apps.length === 2) {
    const ratio = (k: (x: Start) => number) => spread(starts[0]!.map((x, i) => k(x) / k(starts[1]![i]!)), 2);
    notes.push(`this checkout / ${apps[1]![0]}, per round: shell to its tray ${ratio((x) => x.trayShell)}, shell and core to the status ${ratio((x) => x.readyShell + x.readyCore)}`);
  }
  return {
    tables: [{
      title: 'The desktop shell\'s start against the stand-in: CPU ms, median (quartiles)',
      columns: ['bundle', 'shell to its tray', 'shell to the status', 'core to the status', 'both to the status', 'wall ms to the status'],
      rows, notes,
    }],
    data: { apps, starts, loads },
  };
}
