import { afterEach, describe, expect, it } from 'vitest';
import { resources } from '../../../protocol/front.ts';
import { startSim } from '../../../sim/index.ts';
import type { Sim } from '../../../sim/index.ts';
import { getJson, login } from '../../helpers/sim.ts';

const sims: Sim[] = [];
afterEach(async () => { await Promise.all(sims.splice(0).map((s) => s.close())); });
const start = async (opts: Parameters<typeof startSim>[0]) => {
  const s = await startSim({ port: 0, ...opts });
  sims.push(s);
  return s;
};

/** Every resource as the plugin serves it, with the sim's own address taken out. */
async function snapshot(sim: Sim): Promise<string> {
  const token = await login(sim);
  const parts: string[] = [];
  for (const r of Object.values(resources)) parts.push((await getJson(sim, r.path, token)).text);
  return parts.join('\n').split(sim.url).join('http://SIM');
}

describe('determinism', () => {
  it('builds the same world, byte for byte, from the same seed and start', async () => {
    const at = '2025-01-28T12:00:00+03:00';
    const a = await start({ seed: 42, auto: false, start: at });
    const b = await start({ seed: 42, auto: false, start: at });
    const c = await start({ seed: 43, auto: false, start: at });
    const sa = await snapshot(a);
    expect(sa.length).toBeGreaterThan(10_000);
    expect(await snapshot(b)).toBe(sa);
    expect(await snapshot(c)).not.toBe(sa);
  });

  it('runs the same automatic events from the same seed', async () => {
    const at = Date.parse('2025-01-28T12:00:00+03:00');
    const a = await start({ seed: 5, auto: false, start: at });
    const b = await start({ seed: 5, auto: false, start: at });
    const ea = a.tick(40);
    expect(ea.length).toBe(40);
    expect(b.tick(40)).toEqual(ea);
  });
});

describe('the automatic day', () => {
  it('moves faster with speed, and not at all when auto is off', async () => {
    const slow = await start({ seed: 1, speed: 1 });
    const fast = await start({ seed: 1, speed: 2000 });
    const off = await start({ seed: 1, speed: 2000, auto: false });
    const rev0 = fast.state().revision;
    // About 400 ms on a quiet machine; a loaded one fires the sim's timers later, so the wait is for the count (the
    // other two sims had as long as the fast one to move), up to 4 s: seed 1's first event at speed 1 is ~5 s away.
    const t0 = performance.now();
    while (fast.state().autoEvents <= 20 && performance.now() - t0 < 4_000) await new Promise((r) => setTimeout(r, 50));
    expect(slow.state().autoEvents).toBe(0); // the first event at speed 1 is seconds away
    expect(fast.state().autoEvents).toBeGreaterThan(20);
    expect(fast.state().revision).toBeGreaterThan(rev0);
    expect(off.state().autoEvents).toBe(0);
  });

  it('runs restaurant time at speed times wall time', async () => {
    const s = await start({ seed: 1, speed: 600, auto: false, start: '2025-01-28T12:00:00+03:00' });
    await new Promise((r) => setTimeout(r, 200));
    const now = Date.parse(s.state().now);
    const expected = Date.parse('2025-01-28T12:00:00+03:00') + 200 * 600;
    expect(now).toBeGreaterThanOrEqual(expected - 5000);
    expect(now).toBeLessThan(expected + 60_000);
  });

  it('stops on close and leaves nothing running', async () => {
    const s = await start({ seed: 1, speed: 2000 });
    await new Promise((r) => setTimeout(r, 100));
    await s.close();
    const n = s.state().autoEvents;
    expect(n).toBeGreaterThan(0);
    expect(s.state().auto).toBe(false);
    await new Promise((r) => setTimeout(r, 150));
    expect(s.state().autoEvents).toBe(n);
  });

  it('keeps every record valid through a long busy day', async () => {
    const s = await start({ seed: 3, auto: false });
    s.tick(2000);
    const token = await login(s);
    for (const r of Object.values(resources)) {
      const list = (await getJson<unknown[]>(s, r.path, token)).body;
      for (const rec of list) expect((r.item as { safeParse(x: unknown): { success: boolean } }).safeParse(rec).success, r.path).toBe(true);
    }
    const st = s.state();
    expect(st.counts.closedOrders).toBeGreaterThan(50);
    expect(st.counts.orders).toBeLessThanOrEqual(300 + 20); // finished orders are pruned
  });
});
