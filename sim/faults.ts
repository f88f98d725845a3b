/**
 * Faults the sim can inject into `/api/**` answers (never into `/_sim/**` or
 * the root page). Which answers fail under `errorRate` comes from a seeded
 * stream, so a run with the same seed and the same requests fails the same ones.
 */
import { Rng } from './random.ts';

export interface Faults {
  /** Added delay on every /api answer. */
  latencyMs: number;
  /** 0..1 share of /api answers that are HTTP 500. */
  errorRate: number;
  /** /api requests are accepted and never answered. */
  hang: boolean;
  /** /api answers are 200 with truncated JSON. */
  malformed: boolean;
  /** /api answers are 200 text/html pages instead of JSON. */
  html: boolean;
  /** /api requests get their socket destroyed (ECONNRESET). */
  reset: boolean;
}

export const NO_FAULTS: Readonly<Faults> = Object.freeze({
  latencyMs: 0, errorRate: 0, hang: false, malformed: false, html: false, reset: false,
});

export class FaultState {
  private current: Faults = { ...NO_FAULTS };
  private readonly rng: Rng;

  constructor(seed: number) {
    this.rng = Rng.derive(seed, 'faults');
  }

  get(): Faults {
    return { ...this.current };
  }

  set(f: Partial<Faults>): void {
    const next = { ...this.current };
    for (const k of Object.keys(NO_FAULTS) as (keyof Faults)[]) {
      if (f[k] !== undefined) (next as Record<keyof Faults, unknown>)[k] = f[k];
    }
    next.latencyMs = Math.max(0, Number(next.latencyMs) || 0);
    next.errorRate = Math.min(1, Math.max(0, Number(next.errorRate) || 0));
    this.current = next;
  }

  clear(): void {
    this.current = { ...NO_FAULTS };
  }

  /** Draws whether this answer is a 500. Draws only when a rate is set, so the stream does not shift otherwise. */
  rollError(): boolean {
    const rate = this.current.errorRate;
    if (rate <= 0) return false;
    if (rate >= 1) return true;
    return this.rng.chance(rate);
  }
}

/** Cuts a JSON text so that it no longer parses, the way a dropped connection mid-body would leave it. */
export function breakJson(body: string): string {
  let cut = body.slice(0, Math.max(1, Math.floor(body.length * 0.6)));
  try {
    JSON.parse(cut);
    cut += '{"';
  } catch {
    // already broken, as intended
  }
  return cut;
}

/** What a proxy, captive portal or IIS error page looks like when it answers instead of the plugin. */
export const FAULT_HTML_PAGE = `<!DOCTYPE html>
<html><head><title>Service Unavailable</title></head>
<body><h1>Service Unavailable</h1><p>HTTP Error 503. The service is unavailable.</p></body></html>
`;
