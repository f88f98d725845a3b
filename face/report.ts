/**
 * The one text of a diagnostics report: what `evva-companion diagnose` and
 * `evva-relay support diagnose` print, report.txt in the support bundle, and
 * what the window's and the support console's «Копировать» buttons copy. A
 * table, Russian or English (the checks carry their English twin in `en`).
 */
import type { Report } from '../protocol/diagnostics.ts';
import { stamp } from './face.ts';
import { strings, type Lang } from './strings.ts';

/** `venue` names the venue when the caller knows more than its id (the window: «Кафе (ven_1)»). */
export function reportText(r: Report, lang: Lang = 'ru', venue?: string | null): string {
  const w = strings(lang).report;
  const text = (c: Report['checks'][number]) => (lang === 'en' && c.en ? c.en : c);
  const where = venue ?? r.summary.venueId;
  const lines = [`${w.head} ${r.summary.companion} — ${stamp(r.summary.startedAt, lang)}${where ? `, ${w.venue} ${where}` : ''}`, ''];
  const width = Math.max(...r.checks.map((c) => text(c).title.length));
  const word = Math.max(...Object.values(w.result).map((x) => x.length));
  for (const c of r.checks) {
    const t = text(c);
    lines.push(`[${w.result[c.result].padEnd(word)}] ${t.title.padEnd(width)}  ${t.explanation}`);
    if (t.fix && c.result !== 'ok') lines.push(`${' '.repeat(width + word + 5)}${w.fix}: ${t.fix}`);
    if (c.command && c.result !== 'ok') lines.push(`${' '.repeat(width + word + 5)}${w.command}: ${c.command}`);
  }
  const n = r.summary.counts;
  const summary = lang === 'en' ? r.summary.textEn ?? r.summary.text : r.summary.text;
  lines.push('', `${w.total}: ${summary} (${w.counts[0]} ${n.ok}, ${w.counts[1]} ${n.warn}, ${w.counts[2]} ${n.fail}, ${w.counts[3]} ${n.skip}; ${r.summary.durationMs} ${w.ms})`);
  return `${lines.join('\n')}\n`;
}
