/**
 * A cluster node's own metrics, on the relay's registry (relay/metrics.ts), so
 * one /metrics scrape shows a node's tunnels, its hops, its lease renewals and
 * how fast Redis and the store answer. A single relay registers none of this.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { HopOutcome } from './hop.ts';

/** Round trips to Redis and the store, in seconds: sub-millisecond on a LAN, seconds when something is wrong. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface ClusterMetrics {
  /** Calls this node forwarded to the venue's owner, by HopOutcome. */
  hopsOut: Counter<'outcome'>;
  /** Hop-signed calls this node received: accepted, or refused (malformed, hops, skew, signature). */
  hopsIn: Counter<'result'>;
  /** Time from forwarding a call to its end (the answer complete, or the failure). */
  hopTime: Histogram<'outcome'>;
  /** Lease renewals of the node's registration and its venues: ok or failed. */
  leaseRenewals: Counter<'result'>;
  redisLatency: Histogram;
  storeLatency: Histogram;
}

export interface ClusterGauges {
  /** Venues whose tunnel this node holds a claim on (Owners.held()). */
  held: () => number;
  /** 1 while the node drains. */
  draining: () => boolean;
}

/** Registers the cluster metrics on `registry`; gauges are read at scrape time. Call once per registry. */
export function createClusterMetrics(registry: Registry, g: ClusterGauges): ClusterMetrics {
  new Gauge({ name: 'evva_relay_cluster_tunnels_held', help: 'Venues whose current tunnel this node holds a claim on in Redis.', registers: [registry], collect() { this.set(g.held()); } });
  new Gauge({ name: 'evva_relay_draining', help: '1 while this node drains (SIGTERM): not ready, moving its tunnels away.', registers: [registry], collect() { this.set(g.draining() ? 1 : 0); } });
  return {
    hopsOut: new Counter({ name: 'evva_relay_hops_forwarded_total', help: 'Venue calls forwarded to the node holding the tunnel, by outcome.', labelNames: ['outcome'], registers: [registry] }),
    hopsIn: new Counter({ name: 'evva_relay_hops_received_total', help: 'Hop-signed calls received from other nodes, by result.', labelNames: ['result'], registers: [registry] }),
    hopTime: new Histogram({
      name: 'evva_relay_hop_seconds', help: 'Time from forwarding a call to the owner node until its answer was complete (or failed).',
      labelNames: ['outcome'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
    }),
    leaseRenewals: new Counter({ name: 'evva_relay_lease_renewals_total', help: 'Renewals of this node\'s registration and venue claims in Redis, by result.', labelNames: ['result'], registers: [registry] }),
    redisLatency: new Histogram({ name: 'evva_relay_redis_seconds', help: 'Round trip of Redis health checks.', buckets: LATENCY_BUCKETS, registers: [registry] }),
    storeLatency: new Histogram({ name: 'evva_relay_store_seconds', help: 'Round trip of store (Postgres or SQLite) health checks.', buckets: LATENCY_BUCKETS, registers: [registry] }),
  };
}

/** The `onOutcome` for forward(): counts the outcome and the time to it. */
export function hopOutcome(m: ClusterMetrics, startedMs: number, now: () => number = () => performance.now()): (o: HopOutcome) => void {
  return (o) => {
    m.hopsOut.inc({ outcome: o });
    m.hopTime.observe({ outcome: o }, (now() - startedMs) / 1000);
  };
}
