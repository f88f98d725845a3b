/**
 * A cluster node's hop and drain metrics, on the relay's registry
 * (relay/metrics.ts). Claims held, lease renewals, bus messages and Redis
 * round trips are the cluster's own (relay/cluster/cluster.ts), on the same
 * registry, so one /metrics scrape shows them all. A single relay registers
 * none of this.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { HopOutcome } from './hop.ts';

/** Round trips to the store, in seconds: sub-millisecond on a LAN, seconds when something is wrong. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface ClusterMetrics {
  /** Calls this node forwarded to the venue's owner, by HopOutcome. */
  hopsOut: Counter<'outcome'>;
  /** Hop-signed calls this node received: accepted, or refused (malformed, hops, skew, signature). */
  hopsIn: Counter<'result'>;
  /** Time from forwarding a call to its end (the answer complete, or the failure). */
  hopTime: Histogram<'outcome'>;
  storeLatency: Histogram;
  /** Tunnels this node asked to reconnect so they land where their calls do (relay/cluster/follow.ts), by that node. */
  moved: Counter<'to'>;
}

export interface ClusterGauges {
  /** 1 while the node drains. */
  draining: () => boolean;
}

/** Registers the cluster metrics on `registry`; gauges are read at scrape time. Call once per registry. */
export function createClusterMetrics(registry: Registry, g: ClusterGauges): ClusterMetrics {
  new Gauge({ name: 'evva_relay_draining', help: '1 while this node drains (SIGTERM): not ready, moving its tunnels away.', registers: [registry], collect() { this.set(g.draining() ? 1 : 0); } });
  return {
    hopsOut: new Counter({ name: 'evva_relay_hops_forwarded_total', help: 'Venue calls forwarded to the node holding the tunnel, by outcome.', labelNames: ['outcome'], registers: [registry] }),
    hopsIn: new Counter({ name: 'evva_relay_hops_received_total', help: 'Hop-signed calls received from other nodes, by result.', labelNames: ['result'], registers: [registry] }),
    hopTime: new Histogram({
      name: 'evva_relay_hop_seconds', help: 'Time from forwarding a call to the owner node until its answer was complete (or failed).',
      labelNames: ['outcome'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
    }),
    storeLatency: new Histogram({ name: 'evva_relay_store_seconds', help: 'Round trip of store (Postgres or SQLite) health checks.', buckets: LATENCY_BUCKETS, registers: [registry] }),
    moved: new Counter({ name: 'evva_relay_cluster_tunnels_moved_total', help: 'Tunnels asked to reconnect because their calls kept reaching this node over the hop from one other node (the balancer sends them there).', labelNames: ['to'], registers: [registry] }),
  };
}

/** The `onOutcome` for forward(): counts the outcome and the time to it. */
export function hopOutcome(m: ClusterMetrics, startedMs: number, now: () => number = () => performance.now()): (o: HopOutcome) => void {
  return (o) => {
    m.hopsOut.inc({ outcome: o });
    m.hopTime.observe({ outcome: o }, (now() - startedMs) / 1000);
  };
}
