/**
 * `npm run bench [-- NAME...] [--rounds N] [--quick] [--json PATH] [--keep] [--set K=V] [--help]`:
 * runs the named benchmarks of bench/ (default, or the name `targets`: the
 * four that measure issue 23's targets, `side memory cli idle`) and prints
 * their tables, then a last "Targets" table: each target with the value this
 * run measured and whether it is met, or "not measured" and why (its
 * benchmark did not run, failed, or could not measure it). `--quick` is a
 * smoke run (fewer requests, shorter phases, 2 000 idle tunnels) that still
 * prints the table: `npm run bench -- cli memory --quick` shows three targets
 * in a few minutes. `--json` also writes every table and the raw numbers to
 * PATH. Each file but this one and `_*.ts` exports `bench(opts):
 * Promise<BenchResult>`. Benchmarks are bounded in count and time; they are
 * not part of `npm test`.
 */
import { writeFileSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { targetsTable, type Measured } from './_targets.ts';

export interface BenchTable {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  notes?: string[];
}

export interface BenchOptions {
  rounds?: number;
  /** Fewer requests per round (a smoke run, not for quoting). */
  quick?: boolean;
  /** Keep temp dirs (logs of the processes) for a look afterwards. */
  keep?: boolean;
  progress?: (msg: string) => void;
  /** Benchmark-specific settings (`--set k=v`). */
  set?: Record<string, string>;
}

export interface BenchResult {
  tables: BenchTable[];
  /** Raw numbers for --json. */
  data?: unknown;
  /** Values of the targets this benchmark measures (bench/_targets.ts), by target id. */
  targets?: Record<string, Measured>;
}

/** The benchmarks that measure the targets: the default set. */
export const TARGET_BENCHES = ['side', 'memory', 'cli', 'idle'];

/** Formats one table as aligned plain text (also valid Markdown). */
export function formatTable(t: BenchTable): string {
  const cells = [t.columns, ...t.rows.map((r) => r.map(String))];
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    `### ${t.title}`,
    line(t.columns),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.slice(1).map(line),
    ...(t.notes ?? []).map((n) => `\n${n}`),
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const names = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_')).map((f) => basename(f, '.ts')).sort();
  const usage = `usage: npm run bench [-- NAME...] [--rounds N] [--quick] [--json PATH] [--keep] [--set KEY=VALUE]...
  NAME: ${names.join(', ')}; or targets (the default: ${TARGET_BENCHES.join(' ')})`;
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { rounds: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'string' }, keep: { type: 'boolean' }, set: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    process.exit(2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const wanted = (positionals.length ? positionals : ['targets']).flatMap((p) => (p === 'targets' ? TARGET_BENCHES : [p]));
  const files = names.filter((n) => wanted.includes(n)).map((n) => `${n}.ts`);
  if (files.length === 0) {
    console.error(`no benchmark matches ${wanted.join(', ')}\n${usage}`);
    process.exit(2);
  }
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && (!Number.isInteger(rounds) || rounds < 1 || rounds > 50)) {
    console.error('--rounds must be 1..50');
    process.exit(2);
  }
  const set = Object.fromEntries((values.set ?? []).map((kv) => [kv.split('=')[0], kv.split('=').slice(1).join('=')]));
  const opts: BenchOptions = { rounds, quick: values.quick, keep: values.keep, set, progress: (m) => console.error(`  … ${m}`) };
  const out: Record<string, (BenchResult & { at: string }) | { error: string; at: string }> = {};
  const measured: Record<string, Measured> = {};
  /** Benchmarks that ran, with the error of one that failed (the others still run, and the table says which failed). */
  const ran = new Map<string, string | null>();
  for (const f of files) {
    const mod = (await import(pathToFileURL(`${dir}${f}`).href)) as { bench?: (o: BenchOptions) => Promise<BenchResult> };
    if (typeof mod.bench !== 'function') {
      console.error(`bench/${f} exports no bench(); skipped`);
      continue;
    }
    const name = basename(f, '.ts');
    console.log(`\n## bench/${f} (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the start)`);
    try {
      const r = await mod.bench(opts);
      out[name] = { ...r, at: new Date().toISOString() };
      ran.set(name, null);
      Object.assign(measured, r.targets);
      for (const t of r.tables) console.log(`\n${formatTable(t)}`);
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0]!.slice(0, 200);
      console.error(`bench/${f} failed: ${(e as Error).stack ?? String(e)}`);
      out[name] = { error: msg, at: new Date().toISOString() };
      ran.set(name, msg);
      process.exitCode = 1;
    }
  }
  const targets = targetsTable(measured, ran, loadavg().map((x) => x.toFixed(2)).join(' '), values.quick === true);
  console.log(`\n${formatTable(targets)}`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ ...out, targets: { measured, table: targets } }, null, 2)}\n`);
}
