/**
 * `npm run bench [-- NAME...]`: runs every benchmark in bench/ (each file but
 * this one exports `bench(): Promise<BenchTable[]>`) and prints its tables.
 * Benchmarks are bounded in count and time; they are not part of `npm test`.
 */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchTable {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  notes?: string[];
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

const dir = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .filter((f) => wanted.length === 0 || wanted.includes(basename(f, '.ts')))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(', ')}`);
  process.exit(2);
}
for (const f of files) {
  const mod = (await import(pathToFileURL(`${dir}${f}`).href)) as { bench?: () => Promise<BenchTable[]> };
  if (typeof mod.bench !== 'function') {
    console.error(`bench/${f} exports no bench(); skipped`);
    continue;
  }
  console.log(`\n## bench/${f}`);
  for (const t of await mod.bench()) console.log(`\n${formatTable(t)}`);
}
