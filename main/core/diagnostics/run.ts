/**
 * Runs the checks: all at once, each under its own deadline, so one hanging
 * part (a plugin that accepts and never answers) costs its own check and not
 * the report. A full run ends within RUN_BUDGET_MS whatever the parts do.
 */
import type { Check, CheckId, CheckResult, Report } from '../../../protocol/diagnostics.ts';
import type { Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import { stamp } from '../../../protocol/face.ts';
import { crashed, RESULT_WORD, SUMMARY, timedOut, TITLES, type Finding } from './catalogue.ts';

/** No check may take longer than this, so a whole run stays under 5 s. */
export const RUN_BUDGET_MS = 4_700;

export interface CheckSpec {
  id: CheckId;
  /** Its own deadline (capped at RUN_BUDGET_MS). */
  timeoutMs: number;
  run(signal: AbortSignal): Promise<Finding>;
  /** What a timeout means for this check (default: a failure). */
  onTimeout?(ms: number): Finding;
}

export interface RunContext {
  clock: Clock;
  logger: Logger;
  companion: string;
  venueId: string | null;
}

/** Runs every spec in parallel; always resolves with one Check per spec, in the given order. */
export async function runChecks(specs: CheckSpec[], ctx: RunContext): Promise<Report> {
  const startedAt = new Date(ctx.clock.now()).toISOString();
  const t0 = ctx.clock.mono();
  const checks = await Promise.all(specs.map((s) => runOne(s, ctx)));
  return { checks, summary: summarize(checks, startedAt, Math.round(ctx.clock.mono() - t0), ctx) };
}

async function runOne(spec: CheckSpec, ctx: RunContext): Promise<Check> {
  const ms = Math.min(spec.timeoutMs, RUN_BUDGET_MS);
  const abort = new AbortController();
  const t0 = ctx.clock.mono();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Finding>((resolve) => {
    timer = ctx.clock.setTimeout(() => {
      abort.abort(new Error('check deadline'));
      resolve(spec.onTimeout?.(ms) ?? timedOut(ms));
    }, ms);
  });
  let finding: Finding;
  try {
    finding = await Promise.race([spec.run(abort.signal), deadline]);
  } catch (e) {
    ctx.logger.warn('diagnostic check failed', { check: spec.id, err: e instanceof Error ? e.message : String(e) });
    finding = crashed(e instanceof Error ? e.message : String(e));
  } finally {
    ctx.clock.clearTimeout(timer);
  }
  return toCheck(spec.id, finding, Math.round(ctx.clock.mono() - t0));
}

/** A finding in the report's shape: Russian fields, English under `en`. */
export function toCheck(id: CheckId, f: Finding, durationMs?: number): Check {
  const title = TITLES[id];
  return {
    id,
    result: f.result,
    title: title.ru,
    explanation: f.explanation.ru,
    ...(f.fix ? { fix: f.fix.ru } : {}),
    ...(f.command ? { command: f.command } : {}),
    ...(f.evidence ? { evidence: f.evidence } : {}),
    en: { title: title.en, explanation: f.explanation.en, ...(f.fix ? { fix: f.fix.en } : {}) },
    ...(durationMs !== undefined ? { durationMs } : {}),
  };
}

function summarize(checks: Check[], startedAt: string, durationMs: number, ctx: RunContext): Report['summary'] {
  const counts: Record<CheckResult, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of checks) counts[c.result] += 1;
  const result = counts.fail ? 'fail' : counts.warn ? 'warn' : 'ok';
  const text = result === 'fail' ? SUMMARY.fail(counts.fail) : result === 'warn' ? SUMMARY.warn(counts.warn) : SUMMARY.ok;
  return { result, counts, text: text.ru, textEn: text.en, startedAt, durationMs, companion: ctx.companion, venueId: ctx.venueId };
}

const TABLE_WORDS = {
  ru: { head: 'Проверка EVVA Companion', venue: 'заведение', fix: 'Что делать', command: 'Команда', total: 'Итог', counts: ['норма', 'внимание', 'ошибка', 'пропущено'], ms: 'мс' },
  en: { head: 'EVVA Companion check', venue: 'venue', fix: 'What to do', command: 'Command', total: 'Result', counts: ['ok', 'warning', 'failure', 'skipped'], ms: 'ms' },
};

/** The report as a table for a terminal or report.txt: Russian, or English from the checks' `en` twins. */
export function reportText(r: Report, lang: 'ru' | 'en' = 'ru'): string {
  const w = TABLE_WORDS[lang];
  const text = (c: Report['checks'][number]) => (lang === 'en' && c.en ? c.en : c);
  const lines = [`${w.head} ${r.summary.companion} — ${stamp(r.summary.startedAt, lang)}${r.summary.venueId ? `, ${w.venue} ${r.summary.venueId}` : ''}`, ''];
  const width = Math.max(...r.checks.map((c) => text(c).title.length));
  const word = Math.max(...Object.values(RESULT_WORD).map((x) => x[lang].length));
  for (const c of r.checks) {
    const t = text(c);
    lines.push(`[${RESULT_WORD[c.result][lang].padEnd(word)}] ${t.title.padEnd(width)}  ${t.explanation}`);
    if (t.fix && c.result !== 'ok') lines.push(`${' '.repeat(width + word + 5)}${w.fix}: ${t.fix}`);
    if (c.command && c.result !== 'ok') lines.push(`${' '.repeat(width + word + 5)}${w.command}: ${c.command}`);
  }
  const n = r.summary.counts;
  const summary = lang === 'en' ? r.summary.textEn ?? r.summary.text : r.summary.text;
  lines.push('', `${w.total}: ${summary} (${w.counts[0]} ${n.ok}, ${w.counts[1]} ${n.warn}, ${w.counts[2]} ${n.fail}, ${w.counts[3]} ${n.skip}; ${r.summary.durationMs} ${w.ms})`);
  return `${lines.join('\n')}\n`;
}
