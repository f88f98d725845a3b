/**
 * The relay's Prometheus metrics, on a Registry of its own (never the global
 * one), so several relays in one process (tests) do not collide.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type RequestOutcome =
  | 'ok' | 'offline' | 'timeout' | 'unreachable' | 'bad_gateway' | 'unlicensed' | 'forbidden'
  | 'too_large' | 'bad_request' | 'unknown_venue' | 'overloaded' | 'cancelled' | 'link_lost' | 'internal';

export interface RelayMetrics {
  registry: Registry;
  tunnelsOpened: Counter;
  tunnelsRefused: Counter;
  requests: Counter<'outcome'>;
  bytes: Counter<'direction'>;
  latency: Histogram<'outcome'>;
  pairAttempts: Counter<'result'>;
}

/** Creates the metric set; `tunnels` is read from the registry at scrape time. */
export function createMetrics(tunnels: () => number): RelayMetrics {
  const registry = new Registry();
  new Gauge({
    name: 'evva_relay_tunnels', help: 'Open tunnel links (including draining ones).', registers: [registry],
    collect() { this.set(tunnels()); },
  });
  return {
    registry,
    tunnelsOpened: new Counter({ name: 'evva_relay_tunnels_opened_total', help: 'Tunnel links that completed hello.', registers: [registry] }),
    tunnelsRefused: new Counter({ name: 'evva_relay_tunnels_refused_total', help: 'Tunnel upgrades refused because the relay was at its socket cap (fd limit minus headroom).', registers: [registry] }),
    requests: new Counter({ name: 'evva_relay_requests_total', help: 'Venue API requests relayed, by outcome.', labelNames: ['outcome'], registers: [registry] }),
    bytes: new Counter({
      name: 'evva_relay_body_bytes_total', help: 'Body bytes through tunnels: to_venue (request bodies) and from_venue (response bodies).',
      labelNames: ['direction'], registers: [registry],
    }),
    latency: new Histogram({
      name: 'evva_relay_request_head_seconds', help: 'Time from the EVVA call to the response head (or error).',
      labelNames: ['outcome'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30], registers: [registry],
    }),
    pairAttempts: new Counter({ name: 'evva_relay_pair_attempts_total', help: 'Pairing attempts, by result.', labelNames: ['result'], registers: [registry] }),
  };
}
