import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: the edit loop. Only tests/unit/** (pure parts, in
 * process, no servers), without tests/machine.ts: none of them starts
 * Chromium, Postgres, Redis or HAProxy, so checking for them would only cost
 * time. dist/ is still built once first: tests/unit/desktop/packaging.test.ts reads
 * the bundles, and a stale dist/ would make it judge old code.
 * `npm test` (vitest.config.ts) runs these too, with everything else.
 */
export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts'],
    globalSetup: ['tests/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Forks, not threads: files.test.ts and log-limits.test.ts set process.umask, which a worker thread may not.
    pool: 'forks',
    // One module graph per worker instead of one per file: the files import the same protocol/zod modules,
    // and loading them 46 times was half the CPU (measured: 41 s user with isolation, 18 s without, same
    // 720 tests green). No unit test leaves global state behind (umask and timers are put back in the test).
    isolate: false,
    // Two at a time even on two cores (vitest's default there is one): a few files wait on child processes.
    maxWorkers: 2,
    env: { EVVA_FROM_SOURCE: '1' },
    reporters: ['default'],
  },
});
