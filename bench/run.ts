/**
 * `npm run bench [-- NAME...] [--rounds N] [--quick] [--json PATH] [--keep]`:
 * runs the named benchmarks of bench/ (default: `side`, the side-by-side
 * comparison) and prints their tables; `--json` also writes every table and
 * the raw numbers to PATH. Each file but this one and `_*.ts` exports
 * `bench(opts): Promise<BenchResult>`. Benchmarks are bounded in count and
 * time; they are not part of `npm test`.
 */
import { writeFileSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

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
}

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
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { rounds: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'string' }, keep: { type: 'boolean' }, set: { type: 'string', multiple: true } },
  });
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const wanted = positionals.length ? positionals : ['side'];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
    .filter((f) => wanted.includes(basename(f, '.ts')))
    .sort();
  if (files.length === 0) {
    console.error(`no benchmark matches ${wanted.join(', ')}`);
    process.exit(2);
  }
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && (!Number.isInteger(rounds) || rounds < 1 || rounds > 50)) {
    console.error('--rounds must be 1..50');
    process.exit(2);
  }
  const set = Object.fromEntries((values.set ?? []).map((kv) => [kv.split('=')[0], kv.split('=').slice(1).join('=')]));
  const opts: BenchOptions = { rounds, quick: values.quick, keep: values.keep, set, progress: (m) => console.error(`  … ${m}`) };
  const out: Record<string, BenchResult & { at: string }> = {};
  for (const f of files) {
    const mod = (await import(pathToFileURL(`${dir}${f}`).href)) as { bench?: (o: BenchOptions) => Promise<BenchResult> };
    if (typeof mod.bench !== 'function') {
      console.error(`bench/${f} exports no bench(); skipped`);
      continue;
    }
    console.log(`\n## bench/${f}`);
    const r = await mod.bench(opts);
    out[basename(f, '.ts')] = { ...r, at: new Date().toISOString() };
    for (const t of r.tables) console.log(`\n${formatTable(t)}`);
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
}
