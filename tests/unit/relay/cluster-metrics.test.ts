import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createClusterMetrics, hopOutcome } from '../../../relay/cluster/metrics.ts';

describe('cluster metrics', () => {
  it('shows draining, and each forwarded call by outcome with its time', async () => {
    const registry = new Registry();
    let draining = false;
    const m = createClusterMetrics(registry, { draining: () => draining });
    let t = 1_000;
    hopOutcome(m, 1_000, () => t)('ok');
    t = 1_250;
    hopOutcome(m, 1_000, () => t)('offline');
    m.hopsIn.inc({ result: 'signature' });
    draining = true;
    const text = await registry.metrics();
    expect(text).toContain('evva_relay_draining 1');
    expect(text).toContain('evva_relay_hops_forwarded_total{outcome="ok"} 1');
    expect(text).toContain('evva_relay_hops_forwarded_total{outcome="offline"} 1');
    expect(text).toContain('evva_relay_hop_seconds_sum{outcome="offline"} 0.25');
    expect(text).toContain('evva_relay_hops_received_total{result="signature"} 1');
    m.storeLatency.observe(0.002);
    expect(await registry.metrics()).toContain('evva_relay_store_seconds_count 1');
  });
});
