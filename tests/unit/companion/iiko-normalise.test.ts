/**
 * The normaliser and the rules on both the simulator's answers and a live
 * plugin's recorded answer (tests/fixtures/iiko/plugin-kitchenorders.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FeedOrder, FeedStaff, MenuSection } from '../../../protocol/feed.ts';
import { buildMenu, normaliseDelivery, normaliseKitchenOrder, normaliseOrder, normaliseSection, normaliseStaff, withDelivery, kitchensOf } from '../../../main/core/iiko/normalise.ts';
import { enumName, evvaStatus, isFinal, orderKind } from '../../../main/core/iiko/rules.ts';
import { DeliveryStatus, OrderStatus } from '../../../protocol/front.ts';
import { hashOf } from '../../../main/core/feed/hash.ts';
import { Rng } from '../../../sim/random.ts';
import { renderDelivery, renderGroup, renderKitchenOrder, renderOrder, renderProduct, renderSection, renderUser, type View } from '../../../sim/render.ts';
import { SEED_SPAN_MIN, seedWorld } from '../../../sim/seed.ts';
import { SimClock } from '../../../sim/time.ts';
import { World } from '../../../sim/world.ts';

const RECORDED = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../fixtures/iiko/plugin-kitchenorders.json'), 'utf8')) as { answer: unknown[] };

function world(): World {
  const start = Date.parse('2025-01-28T12:00:00+03:00');
  const clock = new SimClock(() => 0, start - SEED_SPAN_MIN * 60_000, 1, 180);
  clock.hold();
  const w = new World(Rng.derive(1, 'world'), clock);
  seedWorld(w);
  return w;
}
const view = (w: World, paymentCodes = true): View => ({ world: w, base: 'http://127.0.0.1:9042', paymentCodes });
const plain = (w: World) => w.products.find((p) => p.active && !p.template)!.code;
const ctx = { rule: { nameContains: 'EVVA' } };

describe('EVVA statuses per kind of order (docs/feed.md, the seed\'s definitions)', () => {
  it.each([
    ['New', [], 'new'],
    ['New', ['Added', 'Added'], 'new'],
    ['New', ['Added', 'PrintedNotCooking'], 'confirmed'],
    ['New', ['PrintedNotCooking', 'CookingStarted'], 'cooking'],
    ['New', ['CookingCompleted', 'Served'], 'cooking'],
    ['New', ['Served', 'Served'], 'completed'],
    ['Bill', ['Served'], 'completed'],
    ['Bill', ['CookingCompleted'], 'cooking'],
    ['Closed', ['Served'], 'completed'],
    ['Deleted', ['Added'], 'cancelled'],
    ['Weird', ['Added'], null],
  ] as const)('a dine-in %s order with items %j is %s, never sent or cooked', (order, items, evva) => {
    expect(evvaStatus({ kind: 'table', order, delivery: null, items: [...items] })).toBe(evva);
  });

  it.each([
    ['Unconfirmed', 'New', [], 'new'],
    ['New', 'New', ['Added'], 'confirmed'],
    ['New', 'New', ['CookingStarted'], 'cooking'],
    ['New', 'New', ['CookingCompleted'], 'cooking'],
    ['Waiting', 'New', ['CookingCompleted'], 'cooking'],
    ['OnWay', 'New', ['CookingCompleted'], 'sent'],
    ['OnWay', 'Closed', ['CookingCompleted'], 'sent'],
    ['Delivered', 'Closed', ['CookingCompleted'], 'completed'],
    ['Closed', 'Closed', ['CookingCompleted'], 'completed'],
    ['Cancelled', 'Deleted', [], 'cancelled'],
  ] as const)('a courier delivery %s (order %s, items %j) is %s', (delivery, order, items, evva) => {
    expect(evvaStatus({ kind: 'delivery', order, delivery, items: [...items] })).toBe(evva);
  });

  it.each([
    ['Unconfirmed', 'New', [], 'new'],
    ['New', 'New', ['CookingStarted'], 'cooking'],
    ['New', 'New', ['CookingCompleted'], 'cooked'],
    ['Waiting', 'New', ['CookingCompleted'], 'cooked'],
    ['OnWay', 'New', ['CookingCompleted'], null],
    ['Closed', 'Closed', ['CookingCompleted'], 'completed'],
  ] as const)('a pickup %s (order %s, items %j) is %s, never sent', (delivery, order, items, evva) => {
    expect(evvaStatus({ kind: 'pickup', order, delivery, items: [...items] })).toBe(evva);
  });

  it('never completes a delivery because its bill was paid, nor calls it final', () => {
    expect(evvaStatus({ kind: 'delivery', order: 'Closed', delivery: 'Waiting', items: ['CookingCompleted'] })).toBe('cooking');
    expect(isFinal('delivery', 'Closed', 'OnWay')).toBe(false);
    expect(isFinal('delivery', 'Closed', 'Closed')).toBe(true);
    expect(isFinal('table', 'Closed', null)).toBe(true);
  });

  it('reads enums as names or as the SDK\'s numbers', () => {
    expect(enumName(2, OrderStatus)).toBe('Closed');
    expect(enumName('closed', OrderStatus)).toBe('Closed');
    expect(enumName(3, DeliveryStatus)).toBe('OnWay');
    expect(enumName(9, DeliveryStatus)).toBe('9');
    expect(enumName('Whatever', DeliveryStatus)).toBe('Whatever');
  });

  it('tells pickups from courier deliveries by the service type, the kitchen flag or the type\'s name', () => {
    expect(orderKind({ serviceType: 'DeliveryPickup', isDelivery: true, orderType: null })).toBe('pickup');
    expect(orderKind({ serviceType: 'DeliveryByClient', isDelivery: true, orderType: null })).toBe('pickup');
    expect(orderKind({ serviceType: 'Common', selfService: true, isDelivery: false, orderType: null })).toBe('pickup');
    expect(orderKind({ serviceType: null, isDelivery: true, orderType: 'Доставка самовывоз' })).toBe('pickup');
    expect(orderKind({ serviceType: 'DeliveryByCourier', isDelivery: true, orderType: 'Доставка курьером' })).toBe('delivery');
    expect(orderKind({ serviceType: 'Common', isDelivery: false, orderType: null })).toBe('table');
  });
});

describe('orders from the sim', () => {
  it('normalise every seeded order into the protocol shape, with discounts and payments, nothing degraded', () => {
    const w = world();
    const orders = w.orders.map((o) => normaliseOrder(renderOrder(view(w), o), ctx));
    for (const o of orders) expect(FeedOrder.safeParse(o).success).toBe(true);
    const discounted = orders.find((o) => o!.sums.discount > 0)!;
    expect(discounted.sums.source).toBe('discounts');
    expect(discounted.sums.full - discounted.sums.discount).toBeCloseTo(discounted.sums.result, 2);
    const evva = orders.find((o) => o!.payments.some((p) => p.isEvva))!;
    expect(evva.payments.find((p) => p.isEvva)!.rule).toBe('code');
    expect(orders.every((o) => o!.degraded.length === 0)).toBe(true);
    // Enums came as numbers; the feed carries names.
    expect(new Set(orders.map((o) => o!.iikoStatus))).toEqual(new Set(['New', 'Bill', 'Closed', 'Deleted']));
  });

  it('recognise EVVA by name when the plugin shows no payment codes', () => {
    const w = world();
    const o = w.createOrder({ tableNum: 3, items: [{ productCode: plain(w), amount: 2 }] });
    w.pay(o, 'EVVA');
    const n = normaliseOrder(renderOrder(view(w, false), o), ctx)!;
    expect(n.payments).toHaveLength(1);
    expect(n.payments[0]).toMatchObject({ isEvva: true, rule: 'name', typeCode: null, typeName: 'EVVA' });
    const cash = w.createOrder({ tableNum: 4, items: [{ productCode: plain(w), amount: 1 }] });
    w.pay(cash, 'Наличные');
    expect(normaliseOrder(renderOrder(view(w, false), cash), ctx)!.payments[0]).toMatchObject({ isEvva: false, rule: 'name' });
    expect(normaliseOrder(renderOrder(view(w, false), cash), { rule: { nameContains: 'налич' } })!.payments[0]!.isEvva).toBe(true);
  });

  it('a code other than EVVAP is not EVVA, even when the name says EVVA', () => {
    const raw = { Id: 'A', Number: 1, Status: 'Closed', Payments: [{ Id: 'p', Sum: 10, Type: { Name: 'EVVA старый', Code: 'CARD' } }] };
    expect(normaliseOrder(raw, ctx)!.payments[0]).toMatchObject({ isEvva: false, rule: 'code' });
  });

  it('joins a delivery by its Id (the order\'s), and a prepaid delivery on its way is sent, not completed', () => {
    const w = world();
    const d = w.createDelivery({ items: [{ productCode: plain(w), amount: 1 }], customerName: 'Ирина' });
    w.advanceDelivery(d, 'Waiting');
    w.prepayDelivery(d, 'Банковская карта');
    w.advanceDelivery(d, 'OnWay');
    const rec = normaliseDelivery(renderDelivery(view(w), d))!;
    const n = normaliseOrder(renderOrder(view(w), w.orderOf(d)!), ctx, rec.delivery)!;
    expect(rec.orderId).toBe(n.id);
    expect(n).toMatchObject({ kind: 'delivery', iikoStatus: 'Closed', status: 'sent', final: false });
    expect(n.delivery).toMatchObject({ customerName: 'Ирина', status: 'OnWay', selfService: false });
    w.advanceDelivery(d, 'Delivered');
    const done = withDelivery(normaliseOrder(renderOrder(view(w), w.orderOf(d)!), ctx)!, normaliseDelivery(renderDelivery(view(w), d))!.delivery);
    expect(done).toMatchObject({ status: 'completed', final: false });
  });

  it('a pickup whose items are cooked is cooked, and paying it completes it', () => {
    const w = world();
    const d = w.createDelivery({ items: [{ productCode: plain(w), amount: 1 }], selfService: true });
    w.advanceDelivery(d, 'Waiting');
    const n = () => normaliseOrder(renderOrder(view(w), w.orderOf(d)!), ctx, normaliseDelivery(renderDelivery(view(w), d))!.delivery)!;
    expect(n()).toMatchObject({ kind: 'pickup', status: 'cooked', orderType: 'Доставка самовывоз' });
    w.pay(w.orderOf(d)!, 'Наличные');
    expect(n()).toMatchObject({ status: 'completed', final: true });
  });

  it('reads a compound item\'s product from its primary component, with its size and template', () => {
    const w = world();
    const shawarma = w.products.find((p) => p.template?.name === 'Для шаурмы')!;
    const o = w.createOrder({ tableNum: 5, items: [{ productCode: shawarma.code, amount: 1, size: 'сред' }] });
    const item = normaliseOrder(renderOrder(view(w), o), ctx)!.items[0]!;
    expect(item).toMatchObject({ productCode: shawarma.code, compound: true, size: 'сред', template: 'Для шаурмы' });
  });
});

describe('a live plugin\'s recorded kitchen orders', () => {
  const kitchen = RECORDED.answer.map(normaliseKitchenOrder);

  it('read every recorded order and item: compound items by their primary component, sizes, pickups', () => {
    expect(kitchen.every((k) => k !== null)).toBe(true);
    const items = kitchen.flatMap((k) => k!.items);
    expect(items.length).toBeGreaterThan(10);
    expect(items.every((i) => i.productCode !== null)).toBe(true);
    const compound = items.filter((i) => i.compound);
    expect(compound.length).toBeGreaterThan(0);
    expect(compound.find((i) => i.template === 'Для шаурмы')).toMatchObject({ size: expect.any(String) });
    expect(kitchen.filter((k) => k!.kind === 'pickup').length).toBeGreaterThan(0);
    expect(kitchen.filter((k) => k!.kind === 'table').length).toBeGreaterThan(0);
    // Processed (5) and Served (6) count as done; Idle (0) does not.
    expect(new Set(items.map((i) => i.done))).toEqual(new Set([true, false]));
  });

  it('name the kitchens the sections list as their own, so they are not taken for halls', () => {
    expect([...kitchensOf(kitchen.filter((k) => k !== null))].sort()).toEqual(['Выдача', 'Шашлычник', 'Экран повара 1']);
  });

  it('are read the same way from the simulator', () => {
    const w = world();
    const v = view(w);
    const sim = w.orders.filter((o) => o.kitchenNumber !== null && w.isOpen(o)).map((o) => normaliseKitchenOrder(renderKitchenOrder(v, o))!);
    expect(sim.length).toBeGreaterThan(0);
    expect(sim.flatMap((k) => k.items).every((i) => i.productCode !== null && i.kitchen !== null)).toBe(true);
  });
});

describe('orders in shapes the sources leave open', () => {
  it('degrade one value when a field is missing or odd, never the whole order', () => {
    const raw = {
      Id: 'ABC', Number: '7', Status: 'New', FullSum: 'lots', ResultSum: 900,
      Guests: [{ Id: 'g', Items: [{ Id: 'i1', Amount: 2, Price: 500, Status: 'CookingStarted', Product: 'http://h/api/products/00%2001' }, 'junk'] }],
      Payments: 'none', Discounts: null,
    };
    const o = normaliseOrder(raw, ctx)!;
    expect(FeedOrder.safeParse(o).success).toBe(true);
    expect(o).toMatchObject({ id: 'abc', number: 7, status: 'cooking', payments: [] });
    expect(o.items[0]).toMatchObject({ productCode: '00 01', sum: 1000 });
    expect(o.sums).toMatchObject({ full: 1000, result: 900, discount: 100, surcharge: 0, source: 'derived' });
    expect(o.degraded).toEqual(expect.arrayContaining(['FullSum', 'Payments']));
  });

  it('take a compound part given as a plain link (a public client types it as a string)', () => {
    const raw = { Id: 'x', Number: 1, Status: 0, Guests: [{ Id: 'g', Items: [{ Id: 'i', Product: null, IsCompound: true, PrimaryComponent: 'http://h/api/products/00818', Size: 'мал' }] }] };
    expect(normaliseOrder(raw, ctx)!.items[0]).toMatchObject({ productCode: '00818', compound: true, size: 'мал' });
  });

  it('read surcharges as negative discount entries', () => {
    const raw = { Id: 'x', Number: 1, Status: 'New', FullSum: 1000, ResultSum: 1050, Discounts: [{ Name: 'Обслуживание', Sum: -100 }, { Name: 'Скидка', Percent: 5 }] };
    expect(normaliseOrder(raw, ctx)!.sums).toMatchObject({ full: 1000, result: 1050, discount: 50, surcharge: 100, source: 'discounts' });
  });

  it('skip only a record without an Id', () => {
    expect(normaliseOrder({ Number: 1 }, ctx)).toBeNull();
    expect(normaliseOrder('x', ctx)).toBeNull();
    expect(normaliseOrder({ Id: 'only-id' }, ctx)).toMatchObject({ id: 'only-id', status: null, items: [] });
  });

  it('hash the same order the same way, and a changed one differently', () => {
    const raw = { Id: 'x', Number: 1, Status: 'New', Revision: 5 };
    expect(hashOf(normaliseOrder(raw, ctx))).toBe(hashOf(normaliseOrder({ ...raw }, ctx)));
    expect(hashOf(normaliseOrder(raw, ctx))).not.toBe(hashOf(normaliseOrder({ ...raw, Status: 'Bill' }, ctx)));
  });
});

describe('staff', () => {
  it('carry the phone from CellPhone, and say courier and PIN are unknown unless the venue lists its couriers', () => {
    const w = world();
    const staff = w.staff.map((s) => normaliseStaff({ ...renderUser(view(w), s), PinCode: '4321' }));
    for (const s of staff) expect(FeedStaff.safeParse(s).success).toBe(true);
    expect(staff.every((s) => s!.courier === null && s!.hasPin === null && s!.role === null)).toBe(true);
    expect(staff.filter((s) => s!.phone !== null).length).toBe(w.staff.filter((s) => s.phone !== null).length);
    expect(JSON.stringify(staff)).not.toContain('4321');
  });

  it('mark the venue\'s couriers by code or name, and everyone else as not a courier', () => {
    const w = world();
    const [a, b] = w.couriers();
    const staff = w.staff.map((s) => normaliseStaff(renderUser(view(w), s), [a!.code, ` ${b!.name.toUpperCase()} `])!);
    expect(staff.filter((s) => s.courier).map((s) => s.name).sort()).toEqual([a!.name, b!.name].sort());
    expect(staff.filter((s) => s.courier === false)).toHaveLength(w.staff.length - 2);
  });
});

describe('sections', () => {
  it('list a hall\'s tables from its Tables links; a kitchen has none', () => {
    const w = world();
    const sections = w.sections.map((s) => normaliseSection(renderSection(view(w), s))!);
    expect(sections.find((s) => s.name === 'Основной зал')!.tables).toHaveLength(12);
    expect(sections.find((s) => s.name === 'Бар')!.tables).toEqual([]);
  });
});

describe('the menu', () => {
  it('has exactly three levels; products of deeper groups are lifted into their level-2 ancestor with a warning', () => {
    const w = world();
    const v = view(w);
    const menu = buildMenu(w.products.map((p) => renderProduct(v, p)), w.groups.map((g) => renderGroup(v, g)));
    for (const s of menu.sections) expect(MenuSection.safeParse(s).success).toBe(true);
    expect(menu.sections.flatMap((s) => s.categories.flatMap((c) => c.products))).toHaveLength(w.products.length);
    expect(menu.depth).toBe(4);
    const steak = menu.warnings.find((x) => x.from.split(' › ').length === 4)!;
    expect(steak.to.split(' › ')).toHaveLength(2);
    expect(steak.from.startsWith(steak.to)).toBe(true);
  });

  it('reads groups by ChildGroups/ChildProducts links as well as Parent, and puts products without a group where a person can find them', () => {
    const groups = [
      { Id: 'k', Name: 'Кухня', ChildGroups: ['http://h/api/productgroups/h'] },
      { Id: 'h', Name: 'Горячее', ChildGroups: ['http://h/api/productgroups/m'], ChildProducts: ['http://h/api/products/2'] },
      { Id: 'm', Name: 'Мясо' },
    ];
    const products = [
      { Number: '1', Name: 'Стейк', Parent: 'http://h/api/productgroups/m' },
      { Number: '2', Name: 'Суп' },
      { Number: '3', Name: 'Хлеб', Parent: 'http://h/api/productgroups/k' },
      { Number: '4', Name: 'Сирота' },
    ];
    const menu = buildMenu(products, groups);
    const names = menu.sections.map((s) => [s.name, s.categories.map((c) => [c.name, c.products.map((p) => p.code)])]);
    expect(names).toEqual([['Кухня', [['Горячее', ['1', '2']], ['Кухня', ['3']]]], ['Без раздела', [['Без раздела', ['4']]]]]);
    expect(menu.warnings.map((x) => x.productCode)).toEqual(['1', '3', '4']);
  });

  it('survives a parent loop instead of hanging', () => {
    const menu = buildMenu([{ Number: '1', Name: 'X', Parent: 'a' }], [{ Id: 'a', Name: 'A', Parent: 'b' }, { Id: 'b', Name: 'B', Parent: 'a' }]);
    expect(menu.products).toBe(1);
  });
});
