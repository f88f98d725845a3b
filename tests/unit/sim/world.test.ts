import { describe, expect, it } from 'vitest';
import { Sessions } from '../../../sim/auth.ts';
import { breakJson, FaultState } from '../../../sim/faults.ts';
import { safeHost } from '../../../sim/http.ts';
import { Rng } from '../../../sim/random.ts';
import { SEED_SPAN_MIN, seedWorld } from '../../../sim/seed.ts';
import { formatDuration, formatTime, SimClock } from '../../../sim/time.ts';
import { SimError, World } from '../../../sim/world.ts';

function world(seed = 1): World {
  const start = Date.parse('2025-01-28T12:00:00+03:00');
  const clock = new SimClock(() => 0, start - SEED_SPAN_MIN * 60_000, 1, 180);
  clock.hold();
  const w = new World(Rng.derive(seed, 'world'), clock);
  seedWorld(w);
  return w;
}

const refused = (f: () => unknown, status: number): string => {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(SimError); expect((e as SimError).status).toBe(status); return (e as Error).message; }
  throw new Error(`expected a ${status} refusal`);
};

describe('the world', () => {
  it('raises Revision on every change, per order and world-wide', () => {
    const w = world();
    const code = w.products.find((p) => p.active)!.code;
    const o = w.createOrder({ tableNum: 3, items: [{ productCode: code, amount: 1 }] });
    const seen = [o.revision];
    w.addItems(o, [{ productCode: code, amount: 1 }]); seen.push(o.revision);
    w.kitchen(o); seen.push(o.revision);
    w.kitchen(o, 'Served'); seen.push(o.revision);
    w.bill(o); seen.push(o.revision);
    w.pay(o, 'EVVA'); seen.push(o.revision);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
    expect(w.revision).toBe(o.revision);
  });

  it('never moves an item back in the kitchen', () => {
    const w = world();
    const code = w.products.find((p) => p.active)!.code;
    const o = w.createOrder({ tableNum: 3, items: [{ productCode: code, amount: 1 }] });
    w.kitchen(o, 'CookingCompleted');
    expect(refused(() => w.kitchen(o, 'PrintedNotCooking'), 409)).toMatch(/no item to move/);
    expect(w.items(o)[0]).toMatchObject({ status: 'CookingCompleted' });
    expect(w.items(o)[0]!.printTime).not.toBeNull();
    expect(w.items(o)[0]!.cookingStartTime).not.toBeNull();
  });

  it('refuses what a POS would refuse', () => {
    const w = world();
    const code = w.products.find((p) => p.active)!.code;
    const o = w.createOrder({ tableNum: 3, items: [] });
    expect(refused(() => w.bill(o), 409)).toMatch(/no items/);
    expect(refused(() => w.pay(o, 'EVVA'), 409)).toMatch(/no items/);
    w.addItems(o, [{ productCode: code, amount: 1 }]);
    w.bill(o);
    expect(refused(() => w.addItems(o, [{ productCode: code, amount: 1 }]), 409)).toMatch(/only while it is New/);
    w.pay(o, 'Банковская карта');
    expect(refused(() => w.deleteOrder(o), 409)).toMatch(/Closed/);
    expect(refused(() => w.createOrder({ tableNum: 28, items: [] }), 409)).toMatch(/not active/);
    const off = w.products.find((p) => !p.active)!;
    expect(refused(() => w.createOrder({ tableNum: 3, items: [{ productCode: off.code, amount: 1 }] }), 409)).toMatch(/not on sale/);
  });

  it('lets a delivery be cancelled only before it leaves, and gives it a courier with a PIN', () => {
    const w = world();
    const code = w.products.find((p) => p.active)!.code;
    const d = w.createDelivery({ items: [{ productCode: code, amount: 1 }] });
    w.advanceDelivery(d, 'OnWay');
    const courier = w.staff.find((s) => s.name === d.courierName)!;
    expect(courier.courier).toBe(true);
    expect(courier.hasPin).toBe(true);
    expect(refused(() => w.advanceDelivery(d, 'Cancelled'), 409)).toMatch(/too late/);
    w.advanceDelivery(d, 'Closed');
    expect(w.orderOf(d)!.status).toBe('Closed');
  });

  it('computes sums with discounts and weights', () => {
    const w = world();
    const p = w.products.find((x) => x.active)!;
    const o = w.createOrder({ tableNum: 2, items: [{ productCode: p.code, amount: 0.35 }] });
    w.addDiscount(o, 'Скидка', 10);
    expect(w.fullSum(o)).toBe(Math.round(p.price * 0.35 * 100) / 100);
    expect(w.resultSum(o)).toBe(Math.round((w.fullSum(o) - w.fullSum(o) * 0.1) * 100) / 100);
  });
});

describe('sim parts', () => {
  it('formats times like .NET with the offset', () => {
    const ms = Date.parse('2025-01-28T09:31:49.560Z');
    expect(formatTime(ms, 180)).toBe('2025-01-28T12:31:49.56+03:00');
    expect(formatTime(Date.parse('2025-01-28T09:31:49Z'), 300)).toBe('2025-01-28T14:31:49+05:00');
    expect(formatTime(Date.parse('2025-01-28T09:31:49Z'), -90)).toBe('2025-01-28T08:01:49-01:30');
    expect(formatDuration(15)).toBe('00:15:00');
  });

  it('gives independent, repeatable random streams', () => {
    const a = Rng.derive(1, 'x'), b = Rng.derive(1, 'x'), c = Rng.derive(1, 'y');
    const sa = [a.next(), a.next(), a.next()];
    expect([b.next(), b.next(), b.next()]).toEqual(sa);
    expect(c.next()).not.toBe(sa[0]);
    expect(Rng.derive(2, 'x').guid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('expires sessions on the wall clock it is given', () => {
    let now = 0;
    const s = new Sessions(() => now, 1000, 1);
    const r = s.login('2050');
    expect(r.ok).toBe(true);
    expect(s.login('2050').ok).toBe(false);
    now = 999;
    expect(s.live()).toBe(1);
    now = 1000;
    expect(s.live()).toBe(0);
    expect(s.login('2050').ok).toBe(true);
  });

  it('breaks JSON so that it never parses', () => {
    for (const body of ['true', '[]', '"abc"', '12', '{"a":[1,2,3]}', '[{"Id":"x"}]']) {
      expect(() => JSON.parse(breakJson(body)), body).toThrow();
    }
  });

  it('clamps fault values', () => {
    const f = new FaultState(1);
    f.set({ errorRate: 5, latencyMs: -3 });
    expect(f.get()).toMatchObject({ errorRate: 1, latencyMs: 0 });
  });

  it('accepts only plain host[:port] for links', () => {
    expect(safeHost('foo:1234')).toBe('foo:1234');
    expect(safeHost('127.0.0.1:9042')).toBe('127.0.0.1:9042');
    expect(safeHost('[::1]:9042')).toBe('[::1]:9042');
    expect(safeHost('pos-01.local')).toBe('pos-01.local');
    for (const bad of ['', 'a b', 'x:99999', 'x:', 'evil.com/<script>', '"><img', 'a..b', '-a', undefined]) expect(safeHost(bad), String(bad)).toBeNull();
  });
});
