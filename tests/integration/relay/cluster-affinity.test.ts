/**
 * Venue affinity (docs/scaling.md): HAProxy hashes a venue's tunnel (the
 * companion names its venue in the tunnel URL) and its calls to the same
 * node, so calls do not hop. When a node comes back after a restart, the
 * venues it hashes to still have their tunnels elsewhere; their calls reach
 * the owner over the hop from that one node, and the owner moves the tunnel
 * there (go-away, make-before-break) without failing a call. Calls made
 * straight to the node the balancer picks, where HAProxy cannot retry them,
 * must not fail during the move either.
 */
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, startCluster, type Cluster, type ClusterVenue, type Node } from '../../helpers/cluster.ts';
import { API_KEY, waitFor } from '../../helpers/relay.ts';

/** One call every this many ms, bounded in count. */
const CALL_EVERY_MS = 100;
const MAX_CALLS = 2_000;

/** The sum of a counter's samples on a node's /metrics (0 when absent), optionally only those whose labels match. */
async function counter(n: Node, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${n.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('venue affinity behind HAProxy', () => {
  let c: Cluster;
  const venues: ClusterVenue[] = [];
  const hops = async () => (await Promise.all(c.nodes.map((n) => counter(n, 'evva_relay_hops_forwarded_total')))).reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    c = await startCluster();
    // Three venues: each assertion is per venue or over all of them (none needs a fourth); a venue, with its sim
    // and companion polling, costs ~2.5 s of CPU over this file.
    for (let i = 1; i <= 3; i++) venues.push(await c.venue(`Кафе ${i}`));
  }, 240_000);

  afterAll(async () => { await c?.stop(); }, 60_000);

  it('sends a venue\'s calls to the node that holds its tunnel: no call hops', async () => {
    const before = await hops();
    for (let i = 0; i < 40; i++) {
      const v = venues[i % venues.length]!;
      expect((await c.front(v.venueId, '/api/orders?$top=1')).status).toBe(200);
    }
    // HAProxy's output names any node its health checks took out meanwhile (that moves the hash, and calls hop).
    expect(await hops(), c.lb.output()).toBe(before);
    // The same calls sent round the nodes (as round robin would) do hop: the counter above can count.
    for (const v of venues) for (const n of c.nodes) expect((await c.front(v.venueId, '/api/orders?$top=1', n.url)).status).toBe(200);
    expect(await hops()).toBe(before + venues.length * (c.nodes.length - 1));
  }, 60_000);

  it('after a node restart, the tunnels it hashes to come back to it and no call fails meanwhile', async () => {
    const v = venues[0]!;
    const home = c.node((await c.owner(v.venueId))!);
    const failures: string[] = [];
    let calls = 0;
    let running = true;
    let direct = false;
    let phase = 'draining';
    const t00 = performance.now();
    const call = async (base?: string) => {
      calls++;
      try {
        const r = await c.front(v.venueId, '/api/orders?$top=1', base);
        if (r.status !== 200) failures.push(`${phase} +${Math.round(performance.now() - t00)}ms ${base ?? 'haproxy'}: ${r.status} ${r.text.slice(0, 200)}`);
      } catch (e) {
        failures.push(`${base ?? 'haproxy'}: ${String(e)}`);
      }
    };
    const caller = (async () => {
      while (running && calls < MAX_CALLS) {
        const t0 = performance.now();
        // Through HAProxy, and (once the home node is back) straight to it, where nothing retries a failed call.
        await Promise.all([call(), direct ? call(home.url) : null]);
        await new Promise((res) => setTimeout(res, Math.max(0, CALL_EVERY_MS - (performance.now() - t0))));
      }
    })();

    expect(await c.term(home)).toBe(0);
    await waitFor(async () => { const o = await c.owner(v.venueId); return o !== null && o !== home.name; }, 'the venue moved off its draining node', 15_000, 100);
    const away = c.node((await c.owner(v.venueId))!);
    phase = 'moved';
    await c.start(home);
    phase = 'started';
    await c.balancerSees({ [home.name]: 'UP' });
    direct = true;
    phase = 'up';
    const backAt = performance.now();
    await waitFor(async () => (await c.owner(v.venueId)) === home.name, `the tunnel back on ${home.name}`, 30_000, 100);
    const tookMs = performance.now() - backAt;
    phase = 'back';
    expect(await counter(away, 'evva_relay_cluster_tunnels_moved_total', `to="${home.name}"`)).toBe(1);

    // Settled: the venue's calls no longer hop. Waited for (ten calls in a row that add no hop), not slept on: a
    // fixed second was once too short at load 25-35 (four more hops). Then twenty more must add none.
    await waitFor(async () => {
      const was = await hops();
      for (let i = 0; i < 10; i++) await c.front(v.venueId, '/api/orders?$top=1');
      return (await hops()) === was;
    }, 'the venue\'s calls no longer hopping', 20_000, 100);
    const settled = await hops();
    for (let i = 0; i < 20; i++) expect((await c.front(v.venueId, '/api/orders?$top=1')).status).toBe(200);
    expect(await hops(), c.lb.output()).toBe(settled);
    running = false;
    await caller;

    console.log(`affinity: tunnel back on ${home.name} ${Math.round(tookMs)} ms after it was UP again; ${calls} calls, ${failures.length} failed`);
    expect(calls).toBeGreaterThan(50);
    expect(failures).toEqual([]);
    // The other venues still answer wherever they are.
    for (const o of venues) expect((await fetch(`${c.url}/v1/venues/${o.venueId}`, { headers: auth })).status).toBe(200);
  }, 120_000);
});
