/**
 * Prometheus metrics of the local API (`GET /metrics`), read from the live
 * status at scrape time so they can never disagree with `/api/status`.
 */
import client from 'prom-client';
import type { Status } from '../../protocol/local.ts';

/** A registry of its own (never prom-client's global one), fed by `status()`. */
export function createMetrics(status: () => Status, now: () => number = Date.now): { render(): Promise<{ contentType: string; body: string }> } {
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
    name: 'evva_status_level', help: 'Overall level: 0 ok, 1 warn, 2 error', registers: [registry],
    collect() { this.set({ ok: 0, warn: 1, error: 2 }[status().level]); },
  });
  return { render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }) };
}
