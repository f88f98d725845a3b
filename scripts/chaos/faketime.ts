/**
 * The soak's clock jumps, from outside the companion: Debian's libfaketime
 * (package `faketime`) preloaded into the companion's process, reading its
 * offset from a file the soak rewrites. The product has no hook for it.
 *
 * What moves and what does not (measured with Node 20, libfaketime 0.9.10):
 *  - `Date.now()`/`new Date()` (CLOCK_REALTIME through glibc) jump by the
 *    file's offset: the agent's clock, SQLite's, the logger's, all of the
 *    process at once, as after a real sleep;
 *  - `performance.now()`, `process.hrtime()` and libuv's timers
 *    (CLOCK_MONOTONIC) do NOT jump, because of FAKETIME_DONT_FAKE_MONOTONIC=1.
 *    Without it a +60 min jump moves the monotonic clock too and every pending
 *    timer fires at once (a 5 s timeout fired 2.5 s after start), which is not
 *    what a suspend does: Linux's CLOCK_MONOTONIC stops while suspended.
 *  - the offset file is re-read at most once a second
 *    (FAKETIME_CACHE_DURATION=1): FAKETIME_NO_CACHE=1 re-reads it on every
 *    clock call, which made `Date.now()` cost 10–25 µs instead of 0.15 µs.
 *
 * `check()` proves all of that on a throwaway Node process before a soak
 * starts, so a machine where the preload does nothing (no library, a static
 * binary, a libc it does not wrap) stops the soak instead of turning every
 * clock jump into a silent no-op.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The one command that brings the library, said when it is missing. */
export const INSTALL = 'apt-get install -y faketime';

/** The preload library where Debian puts it (multiarch directory), else a source build's place; null when absent. */
export function findLibfaketime(): string | null {
  const dirs = ['/usr/lib/faketime', '/usr/local/lib/faketime', '/usr/local/lib'];
  try {
    for (const d of readdirSync('/usr/lib')) if (d.includes('-linux-')) dirs.unshift(path.join('/usr/lib', d, 'faketime'));
  } catch { /* no /usr/lib: not Linux */ }
  for (const d of dirs) {
    const lib = path.join(d, 'libfaketime.so.1');
    if (existsSync(lib)) return lib;
  }
  return null;
}

/** The environment that puts a process's wall clock under `offsetFile`. */
export function faketimeEnv(lib: string, offsetFile: string): NodeJS.ProcessEnv {
  return {
    LD_PRELOAD: lib,
    FAKETIME_TIMESTAMP_FILE: offsetFile,
    FAKETIME_CACHE_DURATION: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  };
}

/** Sets the offset the processes under `offsetFile` see: their wall clock is this far ahead of the machine's. */
export function writeOffset(offsetFile: string, ms: number): void {
  // libfaketime's relative format: a sign and whole seconds.
  writeFileSync(offsetFile, `+${Math.round(ms / 1000)}\n`);
}

/**
 * Runs Node under `env` with a one-hour offset and says what is wrong, or
 * null when the wall clock jumped and the monotonic clock and timers did not.
 */
export function check(env: NodeJS.ProcessEnv): string | null {
  const dir = mkdtempSync(path.join(tmpdir(), 'evva-faketime-'));
  try {
    const file = path.join(dir, 'offset');
    writeOffset(file, 3_600_000);
    const script = `const t0 = performance.now();
setTimeout(() => process.stdout.write(JSON.stringify({ wall: Date.now(), mono: Number(process.hrtime.bigint() / 1000000n), timer: performance.now() - t0 })), 200);`;
    const before = { wall: Date.now(), mono: Number(process.hrtime.bigint() / 1000000n) };
    let out: string;
    try {
      out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ...env, FAKETIME_TIMESTAMP_FILE: file }, encoding: 'utf8', timeout: 30_000 });
    } catch (e) {
      return `node did not run under libfaketime: ${(e as Error).message}`;
    }
    const child = JSON.parse(out) as { wall: number; mono: number; timer: number };
    const wallAhead = child.wall - before.wall;
    const monoAhead = child.mono - before.mono;
    // The child runs for well under a minute even on a loaded machine; an hour is far outside that.
    if (Math.abs(wallAhead - 3_600_000) > 60_000) return `Date.now() did not jump: it was ${Math.round(wallAhead / 1000)} s ahead, not 3600 s (is the library preloaded?)`;
    if (monoAhead < 0 || monoAhead > 60_000) return `the monotonic clock jumped too (${Math.round(monoAhead / 1000)} s): timers would all fire at once`;
    if (child.timer < 190) return `a 200 ms timer fired after ${Math.round(child.timer)} ms`;
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
