/**
 * Orders as the companion's feed carries them, made by the simulator and read
 * by the companion's own normaliser (with the catalog the staff, tables and
 * menu polls fill): what tests of the iiko Cloud webhook format feed in.
 */
import { createCatalog } from '../../main/core/feed/catalog.ts';
import { normaliseDelivery, normaliseOrder, normaliseStaff, normaliseTable, productIds } from '../../main/core/iiko/normalise.ts';
import type { FeedOrder } from '../../protocol/feed.ts';
import { Rng } from '../../sim/random.ts';
import { renderDelivery, renderOrder, renderProduct, renderTable, renderUser, type View } from '../../sim/render.ts';
import { SEED_SPAN_MIN, seedWorld } from '../../sim/seed.ts';
import { SimClock } from '../../sim/time.ts';
import { World } from '../../sim/world.ts';

/** The seeded world, its clock held. */
export function world(): World {
  const start = Date.parse('2025-01-28T12:00:00+03:00');
  const clock = new SimClock(() => 0, start - SEED_SPAN_MIN * 60_000, 1, 180);
  clock.hold();
  const w = new World(Rng.derive(1, 'world'), clock);
  seedWorld(w);
  return w;
}

/** Every order of the world as the feed reads it: with the catalog the staff, tables and menu polls fill. */
export function feedOrders(w: World): FeedOrder[] {
  const v: View = { world: w, base: 'http://127.0.0.1:9042', paymentCodes: true };
  const catalog = createCatalog();
  catalog.setStaff(w.staff.map((s) => normaliseStaff(renderUser(v, s))!));
  catalog.setTables(w.tables.map((t) => normaliseTable(renderTable(v, t))!));
  catalog.setProducts(productIds(w.products.map((p) => renderProduct(v, p))));
  return w.orders.map((o) => {
    const d = w.deliveries.find((x) => x.id === o.deliveryId);
    const delivery = d ? normaliseDelivery(renderDelivery(v, d), catalog)!.delivery : null;
    return normaliseOrder(renderOrder(v, o), { rule: { nameContains: 'EVVA' }, catalog }, delivery)!;
  });
}

/** A world with every kind of order the format has to carry, besides the seeded ones. */
export function busyWorld(): World {
  const w = world();
  const plain = w.products.find((p) => p.active && !p.template)!.code;
  const shawarma = w.products.find((p) => p.template?.name === 'Для шаурмы')!.code;
  const t = w.createOrder({ tableNum: 2, items: [{ productCode: shawarma, amount: 1, size: 'сред' }, { productCode: plain, amount: 2 }] });
  w.addDiscount(t, 'Счастливые часы', 10);
  w.kitchen(t, 'Served');
  w.bill(t);
  const prepaid = w.createDelivery({ items: [{ productCode: plain, amount: 1 }], customerName: 'Ирина', phone: '+79990000000' });
  w.advanceDelivery(prepaid, 'Waiting');
  w.prepayDelivery(prepaid, 'Банковская карта');
  w.advanceDelivery(prepaid, 'OnWay');
  const pickup = w.createDelivery({ items: [{ productCode: shawarma, amount: 1, size: 'сред' }], selfService: true });
  w.advanceDelivery(pickup, 'Waiting');
  const gone = w.createOrder({ tableNum: 3, items: [{ productCode: plain, amount: 1 }] });
  w.deleteOrder(gone);
  return w;
}
