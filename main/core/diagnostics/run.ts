/**
 * Runs the checks: all at once, each under its own deadline, so one hanging
 * part (a plugin that accepts and never answers) costs its own check and not
 * the report. A full run ends within RUN_BUDGET_MS whatever the parts do.
 */
import type { Check, CheckId, CheckResult, Report } from '../../../protocol/diagnostics.ts';
import type { Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import { crashed, SUMMARY, timedOut, TITLES, type Finding } from './catalogue.ts';

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
