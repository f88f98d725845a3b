/**
 * The soak's real processes: the project's bins started with Node, their
 * output appended to a log file in the run directory (kept when a run fails,
 * for replay), with a bounded tail in memory to wait for a line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TAIL = 64 * 1024;

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Resolves with the first match in the output since start; rejects after `ms` or when the process exits first. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  alive(): boolean;
  /** Sends `signal` and waits for the exit (SIGKILL after `ms`). */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<void>;
}

/** Starts `bin/<bin>`; output goes to `<logDir>/<name>.log` (appended across restarts). */
export function startBin(name: string, bin: string, args: string[], logDir: string, env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', bin), ...args], {
    cwd: ROOT,
    // The checkout's TypeScript, never a dist/ build that may be stale (as the tests do, bin/launch.js).
    env: { ...process.env, VITEST: undefined, EVVA_FROM_SOURCE: '1', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
  log.write(`\n==== ${new Date().toISOString()} start pid ${child.pid} ${args.join(' ')}\n`);
  let tail = '';
  let seen = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    log.write(d);
    const s = d.toString();
    tail = (tail + s).slice(-TAIL);
    if (seen.length < TAIL) seen += s;
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.on('exit', (code, signal) => {
    log.end(`==== exit ${code ?? signal}\n`);
    resolve();
  }));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    name, child, alive,
    waitFor(re, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = seen.match(re) ?? tail.match(re);
          if (m) { done(); resolve(m); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`${name}: no ${re} within ${ms} ms; last output:\n${tail.slice(-2000)}`)); }, ms);
        const onExit = () => { check(); done(); reject(new Error(`${name} exited before ${re}; last output:\n${tail.slice(-2000)}`)); };
        const done = () => { clearTimeout(timer); listeners.delete(check); child.off('exit', onExit); };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM', ms = 10_000) {
      if (!alive()) return exited;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Runs a bin to completion and returns its exit code and output. */
export async function runBin(bin: string, args: string[], logDir: string): Promise<{ code: number | null; out: string }> {
  const p = startBin(`${bin}-once`, bin, args, logDir);
  let out = '';
  p.child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  p.child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => p.child.on('exit', (c) => resolve(c)));
  return { code, out };
}
