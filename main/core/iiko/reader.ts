/**
 * The one plugin reader: every read of the plugin's data the companion makes
 * (the feed's polls, the diagnostics, the probe) goes through these functions,
 * through the probe's one client (one session), and comes back normalised.
 * "404 means none" lives here and nowhere else: a plugin that does not serve a
 * resource (a table-service venue without /api/deliveries) simply has none.
 */
import { z } from 'zod';
import type { FeedOrder, FeedSection, FeedStaff, FeedTable } from '../../../protocol/feed.ts';
import type { FrontClient } from '../front/client.ts';
import { isFrontError } from '../front/errors.ts';
import {
  buildMenu, kitchensOf, normaliseDelivery, normaliseKitchenOrder, normaliseOrder, normaliseSection, normaliseStaff, normaliseTable,
  productIds, type KitchenOrderView, type OrderContext,
} from './normalise.ts';
import { byName } from './names.ts';
import { isHall, type CourierList } from './rules.ts';
import type { FeedDelivery } from '../../../protocol/feed.ts';

const List = z.array(z.unknown());

/** Per-call deadline and cancellation, as FrontClient.get takes them. */
export interface ReadOptions { signal?: AbortSignal; timeoutMs?: number }

/** True for the plugin's "no such resource or record" (HTTP 404). */
export function isNone(e: unknown): boolean {
  return isFrontError(e) && e.code === 'http' && e.status === 404;
}

/** The answer, or null when the plugin says there is none (404); any other failure is thrown. */
export async function orNone<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (isNone(e)) return null;
    throw e;
  }
}

const list = (c: FrontClient, path: string, o?: ReadOptions) => c.get(path, List, o);

/** Staff as the user contract shows them, sorted by name as a Russian POS PC sorts them (names.ts); `couriers` is the venue's list (feed.courierCodes). */
export async function readStaff(c: FrontClient, couriers: CourierList, o?: ReadOptions): Promise<FeedStaff[]> {
  return (await list(c, '/api/users', o)).map((u) => normaliseStaff(u, couriers)).filter((s): s is FeedStaff => s !== null)
    .sort((a, b) => byName(a.name, b.name));
}

/** The probe's health read: the sections list, which every plugin serves (a 404 here is not "none"). */
export async function readSections(c: FrontClient, o?: ReadOptions): Promise<FeedSection[]> {
  return (await list(c, '/api/sections', o)).map(normaliseSection).filter((s): s is FeedSection => s !== null);
}

export interface Halls {
  /** Every table, with its hall's name when a hall lists it. */
  tables: FeedTable[];
  /** The sections that are halls: with tables, and not a kitchen. */
  sections: FeedSection[];
  /** Sections that are kitchens or bars (no tables, or a kitchen of the kitchen orders), by name. */
  kitchens: string[];
}

/**
 * Tables and halls. Kitchens and bars are sections too (a recorded kitchen
 * item links to /api/sections/Экран повара 1), so only sections with tables
 * that no kitchen order names as a kitchen are halls.
 */
export async function readHalls(c: FrontClient, o?: ReadOptions): Promise<Halls> {
  const tables = (await list(c, '/api/tables', o)).map(normaliseTable).filter((t): t is FeedTable => t !== null)
    .sort((a, b) => a.number - b.number);
  const all = ((await orNone(list(c, '/api/sections', o))) ?? []).map(normaliseSection).filter((s): s is FeedSection => s !== null);
  const kitchens = kitchensOf((await readKitchen(c, o)) ?? []);
  const halls = all.filter((s) => isHall(s, kitchens));
  for (const t of tables) t.section = halls.find((s) => s.tables.includes(t.number))?.name ?? null;
  const notHalls = all.filter((s) => !halls.includes(s)).map((s) => s.name);
  return { tables, sections: halls, kitchens: [...new Set([...notHalls, ...kitchens])].sort() };
}

/** The kitchen screen's orders, or null when the plugin serves none (404). */
export async function readKitchen(c: FrontClient, o?: ReadOptions): Promise<KitchenOrderView[] | null> {
  const raws = await orNone(list(c, '/api/kitchenorders', o));
  return raws === null ? null : raws.map(normaliseKitchenOrder).filter((k): k is KitchenOrderView => k !== null);
}

/** The menu as EVVA's three levels, and the products' GUIDs by code. A plugin without groups (404) has a flat menu. */
export async function readMenu(c: FrontClient, o?: ReadOptions): Promise<{ menu: ReturnType<typeof buildMenu>; productIds: Map<string, string> }> {
  const products = await list(c, '/api/products', o);
  const groups = (await orNone(list(c, '/api/productgroups', o))) ?? [];
  return { menu: buildMenu(products, groups), productIds: productIds(products) };
}

/** Orders of `/api/orders` with an optional OData query (`$filter=…&$top=…`), normalised. */
export async function readOrders(c: FrontClient, query: string, ctx: OrderContext, o?: ReadOptions): Promise<FeedOrder[]> {
  const raws = await list(c, `/api/orders${query ? `?${query}` : ''}`, o);
  return raws.map((r) => normaliseOrder(r, ctx)).filter((x): x is FeedOrder => x !== null);
}

/** One order by Id, or null when the plugin has none by that Id (404). */
export async function readOrder(c: FrontClient, id: string, ctx: OrderContext, o?: ReadOptions): Promise<FeedOrder | null> {
  const raw = await orNone(c.get(`/api/orders/${encodeURIComponent(id)}`, z.unknown(), o));
  return raw === null ? null : normaliseOrder(raw, ctx);
}

/** A record of /api/deliveries: the delivery, and the record read as the order it is (null when it carries no order status). */
export interface DeliveryRecord {
  delivery: FeedDelivery;
  order: FeedOrder | null;
}

/**
 * Deliveries by their order's Id, or null when the plugin serves none (404: a
 * table-service venue). A delivery record is an SDK IDeliveryOrder, an order
 * with the same Id, so it is also read as that order: it stays current when
 * the order has left /api/orders (a cancelled delivery's Deleted order).
 */
export async function readDeliveries(c: FrontClient, ctx: OrderContext, o?: ReadOptions): Promise<Map<string, DeliveryRecord> | null> {
  const raws = await orNone(list(c, '/api/deliveries', o));
  if (raws === null) return null;
  const out = new Map<string, DeliveryRecord>();
  for (const raw of raws) {
    const d = normaliseDelivery(raw, ctx.catalog);
    if (!d) continue;
    const order = normaliseOrder(raw, ctx, d.delivery);
    out.set(d.orderId, { delivery: d.delivery, order: order?.iikoStatus ? order : null });
  }
  return out;
}
