import os from 'node:os';
import path from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

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

/**
 * Files that take longest (30-120 s each in a whole run: the whole system as real processes, Chromium, the desktop
 * bundle, three-relay clusters, CLIs started dozens of times), as path prefixes relative to the root. They start
 * first, so that no worker is left with one of them while the others have finished: with four workers a 100 s file
 * started last is 100 s of tail. Measured per file in the reporter's output; the rest take under 30 s.
 */
export const START_FIRST = [
  'tests/ui/',
  'tests/integration/system/',
  'tests/integration/desktop/',
  'tests/integration/relay/cluster-',
  'tests/integration/relay/cli',
  'tests/integration/relay/store-postgres',
  'tests/integration/companion/cli-ux',
  'tests/integration/project/',
];

/**
 * Vitest's own order (its cache's durations, longest first, when a run on this checkout left them; else larger files
 * first), with the START_FIRST files ahead when vitest has no durations: a fresh clone, as in CI, has none.
 */
class HeavyFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const known = sorted.every((f) => this.ctx.cache.getFileTestResults(`${f.project.name}:${path.relative(this.ctx.config.root, f.moduleId)}`));
    if (known) return sorted;
    const heavy = (f: TestSpecification): number => {
      const rel = path.relative(this.ctx.config.root, f.moduleId).split(path.sep).join('/');
      return START_FIRST.some((p) => rel.startsWith(p)) ? 0 : 1;
    };
    // Projects stay in vitest's order (a shared worker is reused only while the next file is of its project).
    const rank = new Map(sorted.map((f, i) => [f, i]));
    return [...sorted].sort((a, b) =>
      a.project.name !== b.project.name ? rank.get(a)! - rank.get(b)! : heavy(a) - heavy(b) || rank.get(a)! - rank.get(b)!);
  }
}

/** What both projects set alike (a project does not inherit the root's `test` options unless it extends them). */
const common = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
  // Forks, not threads: files.test.ts and log-limits.test.ts set process.umask, which a worker thread may not.
  pool: 'forks',
  // At least four files at a time, also on a 2-core machine (vitest's default there is one): most test time is
  // waiting on real processes, sockets and timers. With two workers a whole run's files added up to 841 s and took
  // 440 s of wall (a fresh clone, load 2-3) while the run used ~540 s of CPU: the 2 cores were about 60% busy.
  // With four, the CPU is the bound (docs/testing.md, "How long a run takes").
  maxWorkers: Math.max(4, os.availableParallelism()),
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
    sequence: { sequencer: HeavyFirst },
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
