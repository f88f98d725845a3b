/**
 * HAProxy and a node's drain (SIGTERM): the node's /readyz turns 503 first,
 * HAProxy takes it out while it still runs (two failed checks, well inside
 * DRAIN_NOTICE_MS), and calls going on all along through HAProxy never fail.
 * Three plain relay bins behind HAProxy checking /readyz, as in production.
 */
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRAIN_NOTICE_MS } from '../../../protocol/cluster.ts';
import { relaysBehindHaproxy } from '../../helpers/haproxy.ts';
import { API_KEY, waitFor } from '../../helpers/relay.ts';

describe('a draining node behind HAProxy', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  let relays: Awaited<ReturnType<typeof relaysBehindHaproxy>>;

  beforeAll(async () => { relays = await relaysBehindHaproxy(['n1', 'n2', 'n3'], cleanups); }, 120_000);

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('is taken out before it stops serving, and no call through HAProxy fails', async () => {
    const { nodes, lb, start } = relays;
    const failures: string[] = [];
    let calls = 0;
    let running = true;
    // When each call ended: the calls must go on all along, while n1 drains and after it is gone.
    const ended: number[] = [];
    const caller = (async () => {
      for (; running && calls < 5_000; calls++) {
        try {
          const r = await fetch(`${lb.url}/v1/venues`, { headers: { authorization: `Bearer ${API_KEY}` } });
          await r.arrayBuffer();
          if (r.status !== 200) failures.push(String(r.status));
        } catch (e) {
          failures.push(String(e));
        }
        ended.push(performance.now());
        await new Promise((res) => setTimeout(res, 20));
      }
    })();

    const n1 = nodes[0]!;
    let exited = false;
    let exitedAt = Infinity;
    void n1.proc!.exited.then(() => { exited = true; exitedAt = performance.now(); });
    const t0 = performance.now();
    const code = n1.proc!.stop('SIGTERM', 60_000);
    let outMs = -1;
    let aliveWhenOut = false;
    await waitFor(async () => {
      if ((await lb.servers()).n1 !== 'DOWN') return false;
      outMs = performance.now() - t0;
      aliveWhenOut = !exited;
      return true;
    }, 'n1 DOWN in HAProxy', 15_000, 25);
    expect(await code).toBe(0);
    // Counted in calls, not in time, so a slow machine makes as many as a fast one.
    await waitFor(() => ended.filter((t) => t > exitedAt).length >= 10, '10 calls after n1 exited', 30_000, 20);
    running = false;
    await caller;

    console.log(`drain behind HAProxy: n1 out after ${Math.round(outMs)} ms (notice ${DRAIN_NOTICE_MS} ms), ${calls} calls, ${failures.length} failed`);
    expect(aliveWhenOut, 'HAProxy took n1 out while it still ran').toBe(true);
    expect(failures).toEqual([]);
    expect(ended.filter((t) => t > t0 && t < exitedAt).length, 'calls while n1 drained').toBeGreaterThan(0);
    expect(ended.filter((t) => t > exitedAt).length).toBeGreaterThanOrEqual(10);

    await start(n1);
    await waitFor(async () => (await lb.servers()).n1 === 'UP', 'n1 UP again', 15_000, 100);
  }, 90_000);
});
