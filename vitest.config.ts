import os from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Files that need a process of their own (vitest's `isolate`), each for a reason found in the file, not guessed
 * (docs/testing.md, "Files that run in a process of their own"). Every other file shares its worker's module graph.
 */
export const OWN_PROCESS = [
  // Bounds the growth of this process's own heap while 50 MB stream through, and turns on --expose-gc for the
  // process (a V8 flag cannot be put back): another file's leftovers in the same heap would be counted.
  'tests/integration/companion/tunnel-stream.test.ts',
  // Bounds the growth of this process's RSS while a 200 MB answer is refused.
  'tests/integration/companion/front-read-caps.test.ts',
];

/** What both projects set alike (a project does not inherit the root's `test` options unless it extends them). */
const common = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
  // Forks, not threads: files.test.ts and log-limits.test.ts set process.umask, which a worker thread may not.
  pool: 'forks',
  // At least two files at a time, also on a 2-core machine (vitest's default there is one): most test time is
  // waiting on real processes, sockets and timers. A whole run costs 680-740 s of CPU (user+sys, measured on
  // 2026-12-07), which one worker spread over 880-1 050 s of wall: the 2 cores were about 40% busy.
  maxWorkers: Math.max(2, os.availableParallelism() - 1),
} as const;

export default defineConfig({
  test: {
    // Before all tests: the programs the tests start themselves (installed with apt-get on Debian as root, else a
    // clear stop), the run's one Postgres server (a database per file), then one build of dist/ (the UI and
    // compiled-bin tests use it). Here at the root, not in the projects: the root's global setups run once for
    // the whole run, and what they `provide` reaches both projects.
    globalSetup: ['tests/machine.ts', 'tests/servers.ts', 'tests/build.ts'],
    // The bins run the compiled JavaScript: tests/build.ts has just built dist/ from this source, so it is never
    // stale, and a start costs a third of the CPU of a tsx start (measured on evva-relay --help: 0.85 s user
    // against 2.2-2.6 s; the suite starts the bins a few hundred times). EVVA_FROM_SOURCE=1 npm test runs the
    // source through tsx instead (a stack trace with .ts lines, say).
    env: { EVVA_FROM_SOURCE: process.env.EVVA_FROM_SOURCE ?? '' },
    reporters: ['default'],
    ...common,
    projects: [
      {
        // One module graph per worker, not one per file: with a fresh process per file, each file loaded relay/,
        // main/core/, protocol/, zod, ws, winston and better-sqlite3 again, which was about half the CPU vitest
        // itself spent (tests/unit: 48 s of CPU isolated, 27 s shared; the import total 176 s -> 30 s in
        // tests/integration/companion). A file here must put back any global it changes (umask, timers, env,
        // a spy on a module) and stop what it starts (afterAll), or the next file in the worker inherits it.
        // Named so it sorts first: vitest queues projects by name, and a shared worker is only reused while the
        // next queued file belongs to the same project.
        test: {
          name: 'shared',
          include: ['tests/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...OWN_PROCESS],
          isolate: false,
          ...common,
        },
      },
      {
        test: { name: 'solo', include: OWN_PROCESS, isolate: true, ...common },
      },
    ],
  },
});
