/** Real processes for integration tests: the project's bins, started and stopped for real. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Vitest's hooks when running under it (the bench and scripts use these helpers too). */
const runner = process.env.VITEST ? await import('vitest') : null;
/** How much of each bin's output a failed test prints: its end, where the failure is. */
const PRINTED_ON_FAILURE = 16_000;

/** Prints `output` when the test that started the process fails; nothing when it passes. */
function printOnFailure(name: string, output: () => string): void {
  try {
    runner?.onTestFailed(() => {
      const out = output();
      console.error(`--- output of ${name}${out.length > PRINTED_ON_FAILURE ? ` (its last ${PRINTED_ON_FAILURE} characters)` : ''} ---\n${out.slice(-PRINTED_ON_FAILURE)}`);
    });
  } catch {
    // Started outside a test (a beforeAll, say): there is no test to attach the output to.
  }
}

export interface Proc {
  child: ChildProcess;
  /** Everything written so far to stdout and stderr. */
  output(): string;
  /** What was written so far to stdout alone (a bin's --json answer, without its notes on stderr). */
  stdout(): string;
  /** Resolves when the output matches; rejects after `ms` with the output so far. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** Sends `signal` and waits for exit (SIGKILL after `ms`). */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | string>;
}

/** Starts `bin/<bin>` with Node, as `npx <bin>` would. */
export function startBin(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return startScript(path.join(ROOT, 'bin', bin), args, env);
}

/** Starts a script file with Node (a bin of an unpacked package, say). */
export function startScript(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [file, ...args], {
    cwd: ROOT,
    env: { ...process.env, VITEST: undefined, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => { out += d.toString(); for (const l of listeners) l(); };
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  printOnFailure(`${path.basename(file)}${args[0] && !args[0].startsWith('-') ? ` ${args[0]}` : ''} (pid ${child.pid})`, () => out);
  return {
    child,
    output: () => out,
    stdout: () => stdout,
    exited,
    waitFor(re, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) { done(); resolve(m); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${re} in:\n${out}`)); }, ms);
        const onExit = () => { check(); done(); reject(new Error(`process exited before ${re} appeared:\n${out}`)); };
        const done = () => { clearTimeout(timer); listeners.delete(check); child.off('exit', onExit); };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM', ms = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

/** Runs a bin to completion. */
export async function runBin(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | string; out: string; stdout: string }> {
  const p = startBin(bin, args, env);
  const code = await p.exited;
  return { code, out: p.output(), stdout: p.stdout() };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
