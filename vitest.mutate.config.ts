import { defineConfig } from 'vitest/config';

/**
 * The tests StrykerJS runs against each mutant (scripts/mutate.ts): only those
 * covering the module being mutated, named in EVVA_MUTATE_TESTS, so a run stays
 * bounded. Without the variable, every test that covers a mutated module.
 */
const all = [
  'tests/unit/gate-check.test.ts',
  'tests/unit/gate-allowlist.test.ts',
  'tests/unit/log.test.ts',
  'tests/unit/relay-pairing.test.ts',
  'tests/unit/relay-rewrite.test.ts',
  'tests/unit/frames-codec.test.ts',
  'tests/unit/frames-limits.test.ts',
  'tests/integration/local-api.test.ts',
  'tests/integration/relay-pairing.test.ts',
  'tests/integration/tunnel-links.test.ts',
];

export default defineConfig({
  test: {
    include: process.env.EVVA_MUTATE_TESTS ? process.env.EVVA_MUTATE_TESTS.split(',') : all,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
