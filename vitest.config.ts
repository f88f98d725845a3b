import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Before all tests: the programs the tests start themselves (installed with apt-get on Debian as root, else a
    // clear stop), then one build of dist/ (the UI and compiled-bin tests use it).
    globalSetup: ['tests/machine.ts', 'tests/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers on loopback ports; keep runs bounded and readable.
    pool: 'forks',
    // The bins run the TypeScript source in tests (tsx), never a possibly stale dist/.
    env: { EVVA_FROM_SOURCE: '1' },
    reporters: ['default'],
  },
});
