import { defineConfig } from 'vitest/config';

/**
 * The tests StrykerJS runs against each mutant (scripts/mutate.ts): only those
 * covering the module being mutated, named in EVVA_MUTATE_TESTS, so a run stays
 * bounded. Without the variable, every test that covers a mutated module.
 */
const all = [
  'tests/unit/companion/gate-check.test.ts',
  'tests/unit/companion/gate-allowlist.test.ts',
  'tests/unit/companion/log-redaction.test.ts',
  'tests/unit/relay/pairing.test.ts',
  'tests/unit/relay/rewrite.test.ts',
  'tests/unit/protocol/frames-codec.test.ts',
  'tests/unit/protocol/frames-limits.test.ts',
  'tests/integration/companion/local-api.test.ts',
  'tests/integration/relay/pairing-http.test.ts',
  'tests/integration/companion/tunnel-links.test.ts',
];

export default defineConfig({
  test: {
    include: process.env.EVVA_MUTATE_TESTS ? process.env.EVVA_MUTATE_TESTS.split(',') : all,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
