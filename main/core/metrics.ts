/**
 * Prometheus metrics of the local API (`GET /metrics`), read from the live
 * status at scrape time so they can never disagree with `/api/status`.
 */
import { createRequire } from 'node:module';
import type PromClient from 'prom-client';
import type { CheckResult, Report } from '../../protocol/diagnostics.ts';
import type { Status } from '../../protocol/local.ts';

/** What the metrics read beyond the status: the tunnel's relay view, the last diagnostics run, remote support counts. */
export interface MetricsExtra {
  clockSkewMs: number | null;
  reconnectsLastHour: number;
  lastReport: Report | null;
  /** Remote support actions by `action|outcome`. */
  remoteActions: Record<string, number>;
}

const RESULT_VALUE: Record<CheckResult, number> = { ok: 0, warn: 1, fail: 2, skip: 3 };

/**
 * A registry of its own (never prom-client's global one), fed by `status()`
 * (and `extra()`, when given). prom-client loads at the first scrape, not at
 * start: a companion nobody scrapes does not carry it (a few MB of a POS PC's memory).
 */
export function createMetrics(status: () => Status, extra?: () => MetricsExtra, now: () => number = Date.now): { render(): Promise<{ contentType: string; body: string }> } {
  let registry: PromClient.Registry | null = null;
  return {
    render: async () => {
      registry ??= build(createRequire(import.meta.url)('prom-client') as typeof PromClient, status, extra, now);
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

function build(client: typeof PromClient, status: () => Status, extra: (() => MetricsExtra) | undefined, now: () => number): PromClient.Registry {
  const registry = new client.Registry();
  const gauge = (name: string, help: string, read: (s: Status) => number | null, labelNames: string[] = []) =>
    new client.Gauge({
      name, help, labelNames, registers: [registry],
      collect() {
        const v = read(status());
        if (v === null) this.reset(); else this.set(v);
      },
    });
  gauge('evva_front_up', '1 when the iiko Front Web API plugin answers, else 0', (s) => (s.front.state === 'up' ? 1 : 0));
  gauge('evva_front_latency_ms', 'Latency of the last plugin check in ms', (s) => s.front.latencyMs);
  gauge('evva_tunnel_connected', '1 when the tunnel to the EVVA relay is up, else 0', (s) => (s.tunnel.state === 'connected' ? 1 : 0));
  gauge('evva_tunnel_rtt_ms', 'Round trip to the relay in ms', (s) => s.tunnel.rttMs);
  gauge('evva_tunnel_reconnects', 'Tunnel reconnects since start', (s) => s.tunnel.reconnects);
  gauge('evva_feed_backlog', 'Feed events written and not yet acknowledged by the relay', (s) => s.feed?.backlog ?? null);
  gauge('evva_feed_oldest_unsent_seconds', 'Age of the oldest unacknowledged feed event in seconds', (s) =>
    (s.feed?.oldestUnsentAt ? Math.max(0, (now() - Date.parse(s.feed.oldestUnsentAt)) / 1000) : null));
  gauge('evva_feed_acked', 'Feed events acknowledged by the relay since start', (s) => s.feed?.acked ?? null);
  gauge('evva_feed_failing', '1 when feed events cannot be written (full or failing disk), else 0', (s) => (s.feed ? (s.feed.state === 'failing' ? 1 : 0) : null));
  gauge('evva_payments_alarms', 'EVVA PAY payments in mismatch or order-deleted', (s) => s.payments?.alarms ?? null);
  new client.Gauge({
    name: 'evva_front_state', help: '1 for the plugin\'s current state (up, down, unlicensed, unknown)', labelNames: ['state'], registers: [registry],
    collect() {
      this.reset();
      this.set({ state: status().front.state }, 1);
    },
  });
  new client.Gauge({
    name: 'evva_front_info', help: 'The plugin version as it shows it (value always 1)', labelNames: ['version'], registers: [registry],
    collect() {
      this.reset();
      const v = status().front.version;
      if (v) this.set({ version: v }, 1);
    },
  });
  if (extra) {
    gauge('evva_tunnel_clock_skew_seconds', 'This computer\'s clock minus the relay\'s, measured at the last welcome', () => {
      const ms = extra().clockSkewMs;
      return ms === null ? null : ms / 1000;
    });
    gauge('evva_tunnel_reconnects_last_hour', 'Tunnel reconnects in the last hour', () => extra().reconnectsLastHour);
    new client.Gauge({
      name: 'evva_diagnostics_check', help: 'Result of each check in the last diagnostics run: 0 ok, 1 warn, 2 fail, 3 skip', labelNames: ['check'], registers: [registry],
      collect() {
        this.reset();
        for (const c of extra().lastReport?.checks ?? []) this.set({ check: c.id }, RESULT_VALUE[c.result]);
      },
    });
    gauge('evva_diagnostics_last_run_seconds', 'Unix time of the last diagnostics run', () => {
      const at = extra().lastReport?.summary.startedAt;
      return at ? Date.parse(at) / 1000 : null;
    });
    new client.Gauge({
      name: 'evva_remote_support_actions', help: 'Remote support actions since start, by action and outcome', labelNames: ['action', 'outcome'], registers: [registry],
      collect() {
        this.reset();
        for (const [k, n] of Object.entries(extra().remoteActions)) {
          const [action = '', outcome = ''] = k.split('|');
          this.set({ action, outcome }, n);
        }
      },
    });
  }
  new client.Gauge({
    name: 'evva_status_level', help: 'Overall level: 0 ok, 1 warn, 2 error', registers: [registry],
    collect() { this.set({ ok: 0, warn: 1, error: 2 }[status().level]); },
  });
  return registry;
}
