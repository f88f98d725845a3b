import { describe, expect, it } from 'vitest';
import { FeedOrder, FeedStaff, MenuSection } from '../../protocol/feed.ts';
import { buildMenu, normaliseOrder, normaliseStaff, normaliseDelivery, tableStatus, deliveryStatus, hashOf } from '../../main/core/feed/normalise.ts';
import { Rng } from '../../sim/random.ts';
import { renderGroup, renderOrder, renderProduct, renderUser, renderDelivery, type View } from '../../sim/render.ts';
import { SEED_SPAN_MIN, seedWorld } from '../../sim/seed.ts';
import { SimClock } from '../../sim/time.ts';
import { World } from '../../sim/world.ts';

function world(): World {
  const start = Date.parse('2025-01-28T12:00:00+03:00');
  const clock = new SimClock(() => 0, start - SEED_SPAN_MIN * 60_000, 1, 180);
  clock.hold();
  const w = new World(Rng.derive(1, 'world'), clock);
  seedWorld(w);
  return w;
}
const view = (w: World, paymentCodes = true): View => ({ world: w, base: 'http://127.0.0.1:9042', paymentCodes });
const code = (w: World) => w.products.find((p) => p.active)!.code;

describe('order status mapping (docs/feed.md)', () => {
  it.each([
    ['New', [], 'new'],
    ['New', ['Added', 'Added'], 'new'],
    ['New', ['Added', 'PrintedNotCooking'], 'confirmed'],
    ['New', ['PrintedNotCooking', 'CookingStarted'], 'cooking'],
    ['New', ['CookingCompleted', 'PrintedNotCooking'], 'cooking'],
    ['New', ['CookingCompleted', 'Served'], 'cooked'],
    ['New', ['Served', 'Served'], 'sent'],
    ['Bill', ['Added'], 'sent'],
    ['Closed', ['Served'], 'completed'],
    ['Deleted', ['Added'], 'cancelled'],
    ['Weird', ['Added'], null],
  ] as const)('a %s order with items %j is %s', (status, items, evva) => {
    expect(tableStatus(status, [...items])).toBe(evva);
  });

  it.each([
    ['Unconfirmed', 'new'], ['WaitCooking', 'confirmed'], ['ReadyForCooking', 'confirmed'], ['CookingStarted', 'cooking'],
    ['CookingCompleted', 'cooked'], ['Waiting', 'cooked'], ['OnWay', 'sent'], ['Delivered', 'completed'], ['Closed', 'completed'],
    ['Cancelled', 'cancelled'],
  ] as const)('a delivery %s is %s', (status, evva) => {
    expect(deliveryStatus(status)).toBe(evva);
  });
});

describe('orders from the sim', () => {
  it('normalise every seeded order into the protocol shape, with discounts and payments', () => {
    const w = world();
    const orders = w.orders.map((o) => normaliseOrder(renderOrder(view(w), o)));
    for (const o of orders) expect(FeedOrder.safeParse(o).success).toBe(true);
    const discounted = orders.find((o) => o!.sums.discount > 0)!;
    expect(discounted.sums.source).toBe('discounts');
    expect(discounted.sums.full - discounted.sums.discount).toBeCloseTo(discounted.sums.result, 2);
    const evva = orders.find((o) => o!.payments.some((p) => p.isEvva))!;
    expect(evva.payments.find((p) => p.isEvva)!.rule).toBe('code');
    expect(orders.every((o) => o!.degraded.length === 0)).toBe(true);
  });

  it('recognise EVVA by name when the plugin shows no payment codes', () => {
    const w = world();
    const o = w.createOrder({ tableNum: 3, items: [{ productCode: code(w), amount: 2 }] });
    w.pay(o, 'EVVA');
    const n = normaliseOrder(renderOrder(view(w, false), o))!;
    expect(n.payments).toHaveLength(1);
    expect(n.payments[0]).toMatchObject({ isEvva: true, rule: 'name', typeCode: null, typeName: 'EVVA' });
    const cash = w.createOrder({ tableNum: 4, items: [{ productCode: code(w), amount: 1 }] });
    w.pay(cash, 'Наличные');
    expect(normaliseOrder(renderOrder(view(w, false), cash))!.payments[0]).toMatchObject({ isEvva: false, rule: 'name' });
    expect(normaliseOrder(renderOrder(view(w, false), cash), { nameContains: 'налич' })!.payments[0]!.isEvva).toBe(true);
  });

  it('a code other than EVVAP is not EVVA, even when the name says EVVA', () => {
    const raw = { Id: 'A', Number: 1, Status: 'Closed', Payments: [{ Id: 'p', Sum: 10, Type: { Name: 'EVVA старый', Code: 'CARD' } }] };
    expect(normaliseOrder(raw)!.payments[0]).toMatchObject({ isEvva: false, rule: 'code' });
    const alias = { ...raw, Payments: [{ Id: 'p', Sum: 10, Type: { Name: 'Что-то', Alias: 'evvap' } }] };
    expect(normaliseOrder(alias)!.payments[0]).toMatchObject({ isEvva: true, rule: 'code' });
  });

  it('maps a delivery order by its delivery status and carries the delivery block', () => {
    const w = world();
    const d = w.createDelivery({ items: [{ productCode: code(w), amount: 1 }], customerName: 'Ирина' });
    w.advanceDelivery(d, 'CookingStarted');
    const { delivery, orderId } = normaliseDelivery(renderDelivery(view(w), d))!;
    const n = normaliseOrder(renderOrder(view(w), w.orderOf(d)!), undefined, delivery)!;
    expect(n.kind).toBe('delivery');
    expect(n.status).toBe('cooking');
    expect(n.delivery).toMatchObject({ customerName: 'Ирина', status: 'CookingStarted' });
    expect(orderId).toBe(n.id);
  });
});

describe('orders in shapes the reference only guesses', () => {
  it('degrade one value when a field is missing or odd, never the whole order', () => {
    const raw = {
      Id: 'ABC', Number: '7', Status: 'New', FullSum: 'lots', ResultSum: 900,
      Guests: [{ Id: 'g', Items: [{ Id: 'i1', Amount: 2, Price: 500, Status: 'CookingStarted', Product: 'http://h/api/products/00%2001' }, 'junk'] }],
      Payments: 'none', Discounts: null,
    };
    const o = normaliseOrder(raw)!;
    expect(FeedOrder.safeParse(o).success).toBe(true);
    expect(o).toMatchObject({ id: 'abc', number: 7, status: 'cooking', payments: [] });
    expect(o.items[0]).toMatchObject({ productCode: '00 01', sum: 1000 });
    expect(o.sums).toMatchObject({ full: 1000, result: 900, discount: 100, surcharge: 0, source: 'derived' });
    expect(o.degraded).toEqual(expect.arrayContaining(['FullSum', 'Payments']));
  });

  it('read surcharges as negative discount entries', () => {
    const raw = { Id: 'x', Number: 1, Status: 'New', FullSum: 1000, ResultSum: 1050, Discounts: [{ Name: 'Обслуживание', Sum: -100 }, { Name: 'Скидка', Percent: 5 }] };
    expect(normaliseOrder(raw)!.sums).toMatchObject({ full: 1000, result: 1050, discount: 50, surcharge: 100, source: 'discounts' });
  });

  it('skip only a record without an Id', () => {
    expect(normaliseOrder({ Number: 1 })).toBeNull();
    expect(normaliseOrder('x')).toBeNull();
    expect(normaliseOrder({ Id: 'only-id' })).toMatchObject({ id: 'only-id', status: null, items: [] });
  });

  it('hash the same order the same way, and a changed one differently', () => {
    const raw = { Id: 'x', Number: 1, Status: 'New', Revision: 5 };
    expect(hashOf(normaliseOrder(raw))).toBe(hashOf(normaliseOrder({ ...raw })));
    expect(hashOf(normaliseOrder(raw))).not.toBe(hashOf(normaliseOrder({ ...raw, Status: 'Bill' })));
  });
});

describe('staff', () => {
  it('marks couriers by D_DC0, says whether a PIN is set, and never carries the PIN itself', () => {
    const w = world();
    const staff = w.staff.map((s) => normaliseStaff({ ...renderUser(view(w), s), PinCode: '4321', Pin: '4321' }));
    for (const s of staff) expect(FeedStaff.safeParse(s).success).toBe(true);
    expect(staff.filter((s) => s!.courier).length).toBe(w.couriers().length);
    expect(staff.some((s) => s!.courier && s!.hasPin === false)).toBe(true);
    expect(JSON.stringify(staff)).not.toContain('4321');
  });
});

describe('the menu', () => {
  it('has exactly three levels; products of deeper groups are lifted into their level-2 ancestor with a warning', () => {
    const w = world();
    const v = view(w);
    const menu = buildMenu(w.products.map((p) => renderProduct(v, p)), w.groups.map((g) => renderGroup(v, g)));
    for (const s of menu.sections) expect(MenuSection.safeParse(s).success).toBe(true);
    expect(menu.sections.flatMap((s) => s.categories.flatMap((c) => c.products))).toHaveLength(w.products.length);
    const steak = menu.warnings.find((x) => x.from.split(' › ').length === 4)!;
    expect(steak.to.split(' › ')).toHaveLength(2);
    expect(steak.from.startsWith(steak.to)).toBe(true);
  });

  it('reads nested Children groups, and puts products without a category where a person can find them', () => {
    const groups = [{ Id: 'k', Name: 'Кухня', Children: [{ Id: 'h', Name: 'Горячее', Children: [{ Id: 'm', Name: 'Мясо' }] }] }];
    const products = [
      { Code: '1', Name: 'Стейк', Parent: 'http://h/api/productgroups/m' },
      { Code: '2', Name: 'Суп', ParentGroupId: 'h' },
      { Code: '3', Name: 'Хлеб', ParentGroupId: 'k' },
      { Code: '4', Name: 'Сирота' },
    ];
    const menu = buildMenu(products, groups);
    const names = menu.sections.map((s) => [s.name, s.categories.map((c) => [c.name, c.products.map((p) => p.code)])]);
    expect(names).toEqual([['Кухня', [['Горячее', ['1', '2']], ['Кухня', ['3']]]], ['Без раздела', [['Без раздела', ['4']]]]]);
    expect(menu.warnings.map((x) => x.productCode)).toEqual(['1', '3', '4']);
  });
});
