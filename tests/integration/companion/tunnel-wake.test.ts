/**
 * Links that look alive after sleep or a network change are replaced at once,
 * without waiting for the heartbeat: the new link first, then the old drains.
 */
import type { NetworkInterfaceInfo } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock, type Clock } from '../../../common/clock.ts';
import { WAKE_CHECK_MS } from '../../../main/core/tunnel/client.ts';
import type { Upstream } from '../../../main/core/upstream.ts';
import { pairedVenue, startRelay, tempDir, tunnelFor, waitFor } from '../../helpers/relay.ts';

const ok: Upstream = { async forward() { return { status: 204, headers: {}, body: null }; } };
const iface = (address: string): NetworkInterfaceInfo => ({ address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:01', internal: false, cidr: `${address}/24` });

describe('reconnects at once on wake and network change', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function setup() {
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    const d = tempDir('companion');
    cleanups.push(() => d.remove());
    return { relay, venue: await pairedVenue(relay.url, d.dir) };
  }

  it('after the wall clock jumps (resume from sleep)', async () => {
    const { relay, venue } = await setup();
    let jump = 0;
    const clock: Clock = { ...realClock, now: () => Date.now() + jump };
    const states: string[] = [];
    const t = tunnelFor(relay.url, venue, ok, { clock, onStatus: (s) => states.push(s.state) });
    cleanups.push(() => t.stop());
    await waitFor(() => t.status().state === 'connected', 'connected');
    await new Promise((r) => setTimeout(r, WAKE_CHECK_MS * 1.5));
    expect(t.stats().linksOpened).toBe(1); // no false alarm while the clock runs normally
    const t0 = performance.now();
    jump = 5 * 60_000; // the laptop slept five minutes
    await waitFor(() => t.stats().linksOpened === 2, 'a new link after wake', 5000);
    console.log(`wake detected and a new link up ${Math.round(performance.now() - t0)} ms after the clock jump`);
    await waitFor(() => relay.relay.tunnels.count() === 1, 'old link drained', 5000);
    expect(states.filter((s) => s !== 'connected')).toEqual([]);
  });

  it('after the local addresses change', async () => {
    const { relay, venue } = await setup();
    let ifs: Record<string, NetworkInterfaceInfo[]> = { eth0: [iface('192.168.1.10')] };
    // Polled every 100 ms here instead of every 3 s: the same detector, sooner.
    const pollMs = 100;
    const t = tunnelFor(relay.url, venue, ok, { networkInterfaces: () => ifs, networkPollMs: pollMs });
    cleanups.push(() => t.stop());
    await waitFor(() => t.status().state === 'connected', 'connected');
    await new Promise((r) => setTimeout(r, pollMs * 3));
    expect(t.stats().linksOpened).toBe(1); // no false alarm while the addresses stay the same
    const t0 = performance.now();
    ifs = { wlan0: [iface('10.0.0.7')] };
    await waitFor(() => t.stats().linksOpened === 2, 'a new link after the network change', pollMs + 5000);
    console.log(`network change detected and a new link up ${Math.round(performance.now() - t0)} ms after the addresses changed (poll ${pollMs} ms)`);
    await waitFor(() => relay.relay.tunnels.count() === 1, 'old link drained', 5000);
    expect(t.status().state).toBe('connected');
  });
});
