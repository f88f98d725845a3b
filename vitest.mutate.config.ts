import { defineConfig } from 'vitest/config';

/**
 * The tests `npm run mutate` runs against each mutant: those that exercise the
 * security- and data-critical modules StrykerJS mutates (stryker.config.mjs).
 * Slow system tests are left out; they add minutes per mutant and kill nothing
 * these fast ones do not.
 */
export default defineConfig({
  test: {
    include: [
      'tests/unit/gate-check.test.ts',
      'tests/unit/log.test.ts',
      'tests/unit/relay-pairing.test.ts',
      'tests/unit/relay-rewrite.test.ts',
      'tests/unit/frames-codec.test.ts',
      'tests/integration/local-api.test.ts',
      'tests/integration/relay-pairing.test.ts',
      'tests/integration/tunnel-links.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
