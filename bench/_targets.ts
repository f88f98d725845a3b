/**
 * The targets of issue 23, judged from what the benchmarks of one run
 * measured. A benchmark reports a value under a target's id (bench/run.ts
 * collects them); this file only says what each target is and how a value
 * is judged, so a threshold lives in one place and a value never does.
 * A target whose benchmark did not run, or could not measure it, is shown
 * as "not measured" with the reason.
 */
import type { BenchTable } from './run.ts';

/** What a benchmark measured for one target: the value judged, how to show it, and what it was compared with. */
export type Measured = { value: number; shown: string; beside?: string } | { notMeasured: string };

export interface Target {
  id: string;
  what: string;
  goal: string;
  /** The benchmark (bench/<name>.ts) that measures it. */
  bench: string;
  met: (value: number) => boolean;
}

export const TARGETS: Target[] = [
  { id: 'addedP50', what: 'small GET (2.4 KB), added p50: tunnel / ssh -R (median of per-round ratios)', goal: '≤ 1.00x', bench: 'side', met: (v) => v <= 1 },
  { id: 'c32', what: 'req/s at c=32: tunnel / ssh -R (median of per-round ratios)', goal: '≥ 1.20x', bench: 'side', met: (v) => v >= 1.2 },
  { id: 'mb5', what: '5 MiB, one stream, MB/s: tunnel / ssh -R (median of per-round ratios)', goal: '≥ 1.50x', bench: 'side', met: (v) => v >= 1.5 },
  { id: 'cpu', what: 'CPU per small request at c=32, relay + companion (median over rounds)', goal: '≤ 150 µs', bench: 'side', met: (v) => v <= 150 },
  { id: 'rssIdle', what: 'companion RSS idle, compiled bin (median)', goal: '≤ 80 MB', bench: 'memory', met: (v) => v <= 80 },
  { id: 'rssBusy', what: 'companion RSS, 200 open orders changing (median; max beside)', goal: '≤ 120 MB', bench: 'memory', met: (v) => v <= 120 },
  { id: 'rssHuge', what: 'companion RSS 60 s after a 300 000-item answer / before it', goal: '≤ 1.20x', bench: 'memory', met: (v) => v <= 1.2 },
  { id: 'cli', what: '`evva-companion status` / bare `node -e 0` (median of per-round ratios)', goal: '≤ 3.00x', bench: 'cli', met: (v) => v <= 3 },
  { id: 'idleRss', what: 'relay RSS holding 10 000 idle tunnels', goal: '≤ 200 MB', bench: 'idle', met: (v) => v <= 200 },
  { id: 'idleCpu', what: 'relay CPU holding 10 000 idle tunnels, % of a core', goal: '≤ 5%', bench: 'idle', met: (v) => v <= 5 },
];

/**
 * The final table of a run: every target, the value this run measured and
 * whether it is met. `measured` holds what the benchmarks reported, `ran` the
 * benchmarks that ran (with the error of one that failed).
 */
export function targetsTable(measured: Record<string, Measured>, ran: Map<string, string | null>, load: string, quick = false): BenchTable {
  return {
    title: 'Targets (issue 23), judged from this run',
    columns: ['target', 'goal', 'measured', 'met', 'beside it'],
    rows: TARGETS.map((t) => {
      const m = measured[t.id];
      if (m && 'value' in m) return [t.what, t.goal, m.shown, t.met(m.value) ? 'yes' : 'NO', m.beside ?? ''];
      const why = m ? m.notMeasured
        : !ran.has(t.bench) ? `not measured: bench/${t.bench}.ts did not run (npm run bench -- ${t.bench})`
          : ran.get(t.bench) ? `not measured: bench/${t.bench}.ts failed: ${ran.get(t.bench)}`
            : `not measured: bench/${t.bench}.ts reported nothing for it`;
      return [t.what, t.goal, why.startsWith('not measured') ? why : `not measured: ${why}`, '—', ''];
    }),
    notes: [
      `load average ${load} (1, 5, 15 min) when the table was made; each value from this run's own measurements.`,
      ...(quick ? ['--quick: a smoke run with fewer requests and shorter phases; not for quoting.'] : []),
    ],
  };
}
