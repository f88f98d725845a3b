import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Before all tests: the programs the tests start themselves (installed with apt-get on Debian as root, else a
    // clear stop), the run's one Postgres server (a database per file), then one build of dist/ (the UI and
    // compiled-bin tests use it).
    globalSetup: ['tests/machine.ts', 'tests/servers.ts', 'tests/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers on loopback ports; keep runs bounded and readable.
    pool: 'forks',
    // At least two files at a time, also on a 2-core machine (vitest's default there is one): most test time is
    // waiting on real processes, sockets and timers. A whole run costs 680-740 s of CPU (user+sys, measured on
    // 2026-12-07), which one worker spread over 880-1 050 s of wall: the 2 cores were about 40% busy.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    // The bins run the compiled JavaScript: tests/build.ts has just built dist/ from this source, so it is never
    // stale, and a start costs a third of the CPU of a tsx start (measured on evva-relay --help: 0.85 s user
    // against 2.2-2.6 s; the suite starts the bins a few hundred times). EVVA_FROM_SOURCE=1 npm test runs the
    // source through tsx instead (a stack trace with .ts lines, say).
    env: { EVVA_FROM_SOURCE: process.env.EVVA_FROM_SOURCE ?? '' },
    reporters: ['default'],
  },
});
