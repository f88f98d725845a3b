/**
 * The plugin check: a fresh probe through the probe's own client (never a
 * second login), with the port, latency, licence refusals and the version;
 * iikoFront 7.7.1 or newer is pointed at the Cloud API, as EVVA's guide does.
 */
import type { FrontStatus } from '../../../protocol/local.ts';
import { plugin } from './catalogue.ts';
import type { CheckSpec } from './run.ts';

/** From this iikoFront version on, EVVA's guide recommends the Cloud API. */
export const CLOUD_API_FROM = [7, 7, 1] as const;

/** The probe's own check may take 4 s; this leaves room for it. */
export const PLUGIN_CHECK_MS = 4_500;

/** `fresh` is the run's one probe check, which the data checks wait for too. */
export function pluginCheck(fresh: () => Promise<FrontStatus>): CheckSpec {
  return {
    id: 'plugin',
    timeoutMs: PLUGIN_CHECK_MS,
    async run() {
      const s = await fresh();
      const f = judge(s);
      return { ...f, evidence: evidenceOf(s) };
    },
  };
}

function judge(s: FrontStatus) {
  if (s.state === 'up') {
    const latency = s.latencyMs ?? 0;
    return s.version && atLeast(s.version, CLOUD_API_FROM) ? plugin.cloud(s.url ?? '', latency, s.version) : plugin.up(s.url ?? '', latency, s.version);
  }
  if (s.state === 'unlicensed') return plugin.unlicensed(s.url ?? '');
  if (!s.url) return plugin.notFound(s.error?.hint);
  return plugin.down(s.url, s.error?.message ?? `Плагин на ${s.url} не отвечает.`, s.error?.messageEn, s.error?.hint);
}

function evidenceOf(s: FrontStatus): Record<string, unknown> {
  return {
    state: s.state, url: s.url, port: s.url ? Number(new URL(s.url).port || 80) : null, latencyMs: s.latencyMs,
    version: s.version ?? null, source: s.source, ...(s.error ? { error: s.error.code } : {}),
  };
}

/** True when dotted `version` is at least `min` (missing parts count as 0). */
export function atLeast(version: string, min: readonly number[]): boolean {
  const parts = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}
