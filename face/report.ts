/**
 * The one text of a diagnostics report: what `evva-companion diagnose` and
 * `evva-relay support diagnose` print, report.txt in the support bundle, and
 * what the window's and the support console's copy buttons copy. Russian or
 * English (the checks carry their English twin in `en`); results in words
 * and the time as the venue writes it, never `[ok]` tags or ISO, since a
 * person reads it, often aloud on the phone to support:
 *
 *   Проверка EVVA Companion 0.1.0 — 28.11.2026, 15:40 (UTC+3), заведение Кафе (ven_1)
 *   Есть проблемы: 1
 *
 *   - не работает: Плагин iikoFront Web API — Плагин не отвечает на порту 9042.
 *     Что делать: Запустите iikoFront …
 *   - в порядке: Связь с EVVA (туннель) — …
 *
 *   Итог: Есть проблемы: 1 (в порядке 5, требует внимания 0, не работает 1, не проверялось 0; 812 мс)
 */
import type { Report } from '../protocol/diagnostics.ts';
import { stamp } from './face.ts';
import { strings, type Lang } from './strings.ts';

/** `venue` names the venue when the caller knows more than its id (the window: «Кафе (ven_1)»). */
export function reportText(r: Report, lang: Lang = 'ru', venue?: string | null): string {
  const t = strings(lang);
  const w = t.report;
  const s = r.summary;
  const where = venue ?? s.venueId;
  const summary = lang === 'en' ? s.textEn ?? s.text : s.text;
  const lines = [`${w.head} ${s.companion} — ${stamp(s.startedAt, lang)}${where ? `, ${w.venue} ${where}` : ''}`, summary, ''];
  for (const c of r.checks) {
    const x = lang === 'en' && c.en ? c.en : c;
    lines.push(`- ${t.diag.result[c.result]}: ${x.title} — ${x.explanation}`);
    if (x.fix && c.result !== 'ok') lines.push(`  ${w.fix}: ${x.fix}`);
    if (c.command && c.result !== 'ok') lines.push(`  ${w.command}: ${c.command}`);
  }
  const n = s.counts;
  const word = t.diag.result;
  lines.push('', `${w.total}: ${summary} (${word.ok} ${n.ok}, ${word.warn} ${n.warn}, ${word.fail} ${n.fail}, ${word.skip} ${n.skip}; ${s.durationMs} ${w.ms})`);
  return `${lines.join('\n')}\n`;
}
