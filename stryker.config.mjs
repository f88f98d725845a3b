// @ts-check
/**
 * Mutation testing of the modules where a quiet bug would leak a secret or
 * break the protocol (docs/testing.md). `npm run mutate` runs all of them;
 * `npm run mutate -- --mutate relay/rewrite.ts` runs one. Not part of `npm test`.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'main/core/tunnel/gate.ts',
    'main/core/api/guard.ts',
    'main/core/log.ts',
    'relay/pairing.ts',
    'relay/rewrite.ts',
    'protocol/tunnel.ts',
  ],
  coverageAnalysis: 'perTest',
  // Two cores shared with other work: one or two mutants at a time.
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 90, low: 80, break: null },
};
