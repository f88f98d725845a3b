/**
 * `npm run mutate [module...]`: mutation testing (StrykerJS) of the modules
 * where a quiet bug would leak a secret or break the protocol. Each module is
 * mutated on its own against the fast tests that cover it, so a run stays
 * bounded on a small machine; the score per module is printed and written to
 * reports/mutation/summary.json. Not part of `npm test` (docs/testing.md).
 *
 * Options: `--concurrency N` (default 2). Modules: gate guard redaction
 * pairing rewrite outbox sender frames socket wsframe coalesce dataframe (all when none is named).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MutantResult } from '@stryker-mutator/api/core';
import { Stryker } from '@stryker-mutator/core';

const ROOT = path.resolve(new URL('..', import.meta.url).pathname);

interface Module {
  /** What is mutated: a file, or `file:start-end` for part of one. */
  mutate: () => string;
  /** The tests each mutant of it runs against. */
  tests: string[];
}

export const MODULES: Record<string, Module> = {
  gate: { mutate: () => 'main/core/tunnel/gate.ts', tests: ['tests/unit/companion/gate-check.test.ts', 'tests/unit/companion/gate-allowlist.test.ts'] },
  // The door's session cookie and browser checks (Origin, Fetch-Metadata) are proven where the UI's API is: ui-api and
  // local-api-trust; local-api alone left them uncovered (64.6% on 2026-12-07).
  guard: { mutate: () => 'main/core/api/guard.ts', tests: ['tests/integration/companion/local-api.test.ts', 'tests/integration/companion/local-api-trust.test.ts', 'tests/integration/companion/ui-api.test.ts'] },
  // The redaction itself (common/redact.ts, which the companion's and the relay's logs both run); log.ts only calls it.
  redaction: { mutate: () => 'common/redact.ts', tests: ['tests/unit/companion/log-redaction.test.ts'] },
  pairing: { mutate: () => 'relay/pairing.ts', tests: ['tests/unit/relay/pairing.test.ts', 'tests/integration/relay/pairing-http.test.ts'] },
  rewrite: { mutate: () => 'relay/rewrite.ts', tests: ['tests/unit/relay/rewrite.test.ts'] },
  outbox: { mutate: () => 'main/core/outbox/store.ts', tests: ['tests/unit/companion/outbox.test.ts'] },
  sender: { mutate: () => 'main/core/outbox/sender.ts', tests: ['tests/unit/companion/outbox.test.ts'] },
  // protocol/tunnel.ts is only the index of protocol/tunnel/ since the split; the frames' validation is codec.ts.
  // The relay's WebSocket handshake checks (run before the token is) and its frame reader (every byte a companion sends).
  socket: { mutate: () => 'relay/socket.ts', tests: ['tests/unit/relay/socket.test.ts', 'tests/unit/relay/socket-fuzz.test.ts', 'tests/integration/relay/socket.test.ts'] },
  // The frame header layout and the masking, both ends' (the relay reads and writes with it, the companion writes).
  wsframe: { mutate: () => 'common/wsframe.ts', tests: ['tests/unit/relay/socket.test.ts', 'tests/unit/relay/socket-fuzz.test.ts', 'tests/unit/companion/tunnel-dataframe.test.ts'] },
  // Both ends' write coalescing: a frame held and never written would stall a call, one never held costs a write.
  coalesce: { mutate: () => 'common/coalesce.ts', tests: ['tests/unit/common/coalesce.test.ts', 'tests/integration/relay/socket.test.ts'] },
  // The companion's frames, masked on the socket (data frames from reused buffers): a wrong byte or a buffer reused too early corrupts an answer.
  dataframe: { mutate: () => 'main/core/tunnel/dataframe.ts', tests: ['tests/unit/companion/tunnel-dataframe.test.ts', 'tests/unit/relay/socket-fuzz.test.ts'] },
  frames: { mutate: () => 'protocol/tunnel/codec.ts', tests: ['tests/unit/protocol/frames-codec.test.ts', 'tests/unit/protocol/frames-limits.test.ts', 'tests/unit/protocol/frames-binary.test.ts', 'tests/integration/companion/tunnel-links.test.ts'] },
};

interface Score { module: string; mutate: string; killed: number; survived: number; noCoverage: number; timeout: number; ignored: number; score: number; minutes: number; survivors: string[] }

function scoreOf(module: string, mutate: string, results: MutantResult[], minutes: number): Score {
  const n = (s: MutantResult['status']) => results.filter((r) => r.status === s).length;
  const killed = n('Killed');
  const timeout = n('Timeout');
  const survived = n('Survived');
  const noCoverage = n('NoCoverage');
  const valid = killed + timeout + survived + noCoverage;
  const survivors = results.filter((r) => r.status === 'Survived' || r.status === 'NoCoverage')
    .map((r) => `${r.fileName}:${r.location.start.line} ${r.mutatorName} ${r.status}: ${(r.replacement ?? '').replace(/\s+/g, ' ').slice(0, 100)}`);
  return {
    module, mutate, killed, survived, noCoverage, timeout, ignored: n('Ignored'),
    score: valid ? Math.round(((killed + timeout) / valid) * 1000) / 10 : 100, minutes, survivors,
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const ci = args.indexOf('--concurrency');
  const concurrency = ci >= 0 ? Number(args[ci + 1]) : 2;
  const named = args.filter((a, i) => !a.startsWith('--') && (ci < 0 || i !== ci + 1));
  const unknown = named.filter((m) => !MODULES[m]);
  if (unknown.length) {
    console.error(`unknown module(s): ${unknown.join(', ')}; known: ${Object.keys(MODULES).join(', ')}`);
    process.exit(2);
  }
  const chosen = named.length ? named : Object.keys(MODULES);
  const scores: Score[] = [];
  for (const name of chosen) {
    const m = MODULES[name]!;
    const mutate = m.mutate();
    // Read by vitest.mutate.config.ts in Stryker's test-runner processes, which inherit the environment.
    process.env.EVVA_MUTATE_TESTS = m.tests.join(',');
    console.log(`\n=== ${name}: mutating ${mutate} against ${m.tests.join(', ')}`);
    const t0 = performance.now();
    const results = await new Stryker({
      testRunner: 'vitest',
      vitest: { configFile: 'vitest.mutate.config.ts' },
      plugins: ['@stryker-mutator/vitest-runner'],
      mutate: [mutate],
      coverageAnalysis: 'perTest',
      concurrency,
      timeoutMS: 20_000,
      reporters: ['clear-text', 'json'],
      clearTextReporter: { logTests: false, reportMutants: true, reportScoreTable: true },
      jsonReporter: { fileName: `reports/mutation/${name}.json` },
      tempDirName: '.stryker-tmp',
      cleanTempDir: 'always',
      thresholds: { high: 90, low: 80, break: null },
    }).runMutationTest();
    scores.push(scoreOf(name, mutate, results, Math.round((performance.now() - t0) / 600) / 100));
  }
  fs.mkdirSync(path.join(ROOT, 'reports/mutation'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'reports/mutation/summary.json'), `${JSON.stringify(scores, null, 2)}\n`);
  console.log('\nmodule      score  killed  timeout  survived  no-coverage  minutes');
  for (const s of scores) {
    console.log(`${s.module.padEnd(10)} ${String(s.score).padStart(6)} ${String(s.killed).padStart(7)} ${String(s.timeout).padStart(8)} ${String(s.survived).padStart(9)} ${String(s.noCoverage).padStart(12)} ${String(s.minutes).padStart(8)}`);
  }
  const weak = scores.filter((s) => s.score < 80);
  if (weak.length) console.log(`\nbelow 80%: ${weak.map((s) => s.module).join(', ')}`);
}

await main();
