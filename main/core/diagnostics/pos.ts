/**
 * Checks of what iiko itself holds, read through the probe's one plugin
 * client: couriers with a PIN (the guide's staff sync), tables, the EVVA
 * payment type, and menu depth. The plugin has no payment-type list, so that
 * check judges by recent closed orders and says so.
 */
import { z } from 'zod';
import { Order, Product, ProductGroup, Table, User, type ProductGroupShape } from '../../../protocol/front.ts';
import { explain } from '../front/errors.ts';
import type { FrontClient } from '../front/client.ts';
import { menu, noPluginData, payment, staff, tables, type Finding } from './catalogue.ts';
import type { CheckSpec } from './run.ts';

/** Each plugin read of a check may take this long. */
export const DATA_TIMEOUT_MS = 4_000;
export const DATA_CHECK_MS = 4_500;
/** The right that makes a user a courier, and so part of EVVA's staff sync. */
export const COURIER_RIGHT = 'D_DC0';
/** The payment type code EVVA's guide insists on. */
export const EVVA_CODE = 'EVVAP';
/** Recent orders the payment check looks through. */
export const PAYMENT_ORDERS = 200;
/** EVVA shows section → category → item: groups deeper than this have their items lifted. */
export const MENU_GROUP_LEVELS = 2;
/** Names listed in evidence at most, so a report always fits one tunnel control frame. */
export const LIST_CAP = 50;

/** The probe's client once the run's fresh plugin check is done (null while no plugin is known). */
export type ClientSource = () => Promise<FrontClient | null>;

function dataCheck(id: CheckSpec['id'], client: ClientSource, judge: (c: FrontClient, signal: AbortSignal) => Promise<Finding>): CheckSpec {
  return {
    id,
    timeoutMs: DATA_CHECK_MS,
    async run(signal) {
      const c = await client();
      if (!c) return noPluginData('плагин не найден');
      try {
        return await judge(c, signal);
      } catch (e) {
        return { ...noPluginData(explain(e, c.origin).message), evidence: { error: (e as { code?: string }).code ?? 'error' } };
      }
    },
    onTimeout: () => noPluginData('плагин не ответил вовремя'),
  };
}

const read = <S extends z.ZodTypeAny>(c: FrontClient, path: string, schema: S, signal: AbortSignal) =>
  c.get(path, schema, { signal, timeoutMs: DATA_TIMEOUT_MS });

/** Reads /api/users through the probe's client; couriers are users with D_DC0 (or IsCourier). */
export function staffCheck(client: ClientSource): CheckSpec {
  return dataCheck('staff', client, async (c, signal) => {
    const users = await read(c, '/api/users', z.array(User), signal);
    return judgeStaff(users);
  });
}

/** fail: no courier with a PIN; warn: some without; skip: rights not shown. */
export function judgeStaff(users: z.infer<typeof User>[]): Finding {
  if (users.length && users.every((u) => u.Rights == null && u.IsCourier == null)) return staff.noRights(users.length);
  const couriers = users.filter((u) => u.Rights?.includes(COURIER_RIGHT) || u.IsCourier === true);
  const ready = couriers.filter((u) => u.HasPinCode === true);
  const missing = couriers.filter((u) => u.HasPinCode !== true).map((u) => u.Name);
  // Lists are capped: the report must fit one tunnel control frame for remote support.
  const evidence = { staff: users.length, couriers: couriers.length, withPin: ready.length, withoutPin: missing.slice(0, LIST_CAP), withoutPinCount: missing.length };
  if (ready.length === 0) return { ...staff.none(users.length, couriers.length), evidence };
  if (missing.length) return { ...staff.someWithoutPin(users.length, ready.length, missing.length > 10 ? [...missing.slice(0, 10), `… (${missing.length})`] : missing), evidence };
  return { ...staff.ok(users.length, ready.length), evidence };
}

/** Reads /api/tables; fails only when no table is active. */
export function tablesCheck(client: ClientSource): CheckSpec {
  return dataCheck('tables', client, async (c, signal) => {
    const list = await read(c, '/api/tables', z.array(Table), signal);
    const active = list.filter((tb) => tb.IsActive !== false);
    const sections = [...new Set(active.map((tb) => tb.SectionName ?? tb.Section).filter((s): s is string => Boolean(s) && !/^https?:/.test(s!)))];
    const evidence = { tables: list.length, active: active.length, sections: sections.slice(0, LIST_CAP) };
    return { ...(active.length ? tables.ok(active.length, sections.slice(0, 10)) : tables.none(list.length)), evidence };
  });
}

/** Reads the newest PAYMENT_ORDERS orders; judges by closed ones only. */
export function paymentCheck(client: ClientSource, nameRule: RegExp): CheckSpec {
  return dataCheck('payment', client, async (c, signal) => {
    const orders = await read(c, `/api/orders?$orderby=Number desc&$top=${PAYMENT_ORDERS}`, z.array(Order), signal);
    return judgePayment(orders, nameRule);
  });
}

/** Which rule finds EVVA's payment type in these orders: its code EVVAP, else its name (only when codes are not shown). */
export function judgePayment(orders: z.infer<typeof Order>[], nameRule: RegExp): Finding {
  const closed = orders.filter((o) => o.Status === 'Closed');
  let codeHit: { name: string; at: string | null } | null = null;
  let nameHit: { name: string; at: string | null } | null = null;
  let wrong: { name: string; code: string } | null = null;
  // Newest first: the first hit is the last order closed with it.
  const byTime = [...closed].sort((a, b) => Date.parse(b.CloseTime ?? b.OpenTime ?? '') - Date.parse(a.CloseTime ?? a.OpenTime ?? '') || b.Number - a.Number);
  for (const o of byTime) {
    for (const p of o.Payments ?? []) {
      const type = p.Type;
      if (!type) continue;
      const code = (type.Code ?? type.Alias ?? '').trim();
      const name = type.Name ?? '';
      const at = o.CloseTime ?? null;
      if (code.toUpperCase() === EVVA_CODE) codeHit ??= { name: name || code, at };
      else if (!code && nameRule.test(name)) nameHit ??= { name, at };
      else if (code && nameRule.test(name)) wrong ??= { name, code };
    }
  }
  const evidence = { ordersRead: orders.length, closed: closed.length, nameRule: nameRule.source, ...(codeHit ?? nameHit ? { lastClosedWith: (codeHit ?? nameHit)!.at } : {}) };
  if (codeHit) return { ...payment.seen('code', codeHit.name, codeHit.at), evidence: { ...evidence, rule: 'code' } };
  if (wrong) return { ...payment.wrongCode(wrong.name, wrong.code), evidence: { ...evidence, rule: 'wrong_code' } };
  if (nameHit) return { ...payment.seen('name', nameHit.name, nameHit.at), evidence: { ...evidence, rule: 'name' } };
  return { ...payment.notSeen(closed.length), evidence: { ...evidence, rule: null } };
}

/** Reads groups and products; warns with the items a three-level EVVA menu would lift. */
export function menuCheck(client: ClientSource): CheckSpec {
  return dataCheck('menu', client, async (c, signal) => {
    const [groups, products] = await Promise.all([
      read(c, '/api/productgroups', z.array(ProductGroup), signal),
      read(c, '/api/products', z.array(Product), signal),
    ]);
    return judgeMenu(groups, products);
  });
}

/** Items whose group sits deeper than MENU_GROUP_LEVELS, i.e. what EVVA lifts into an upper category. */
export function judgeMenu(tree: ProductGroupShape[], products: z.infer<typeof Product>[]): Finding {
  const groups = flatten(tree);
  const parent = new Map(groups.map((g) => [g.Id, g.ParentId ?? idFromLink(g.Parent) ?? null]));
  const depth = new Map<string, number>();
  const depthOf = (id: string, seen = 0): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const p = parent.get(id);
    // A parent outside the list (or a loop) ends the walk: count the group as a root.
    const d = p && parent.has(p) && seen < 64 ? depthOf(p, seen + 1) + 1 : 1;
    depth.set(id, d);
    return d;
  };
  for (const g of groups) depthOf(g.Id);
  const maxDepth = Math.max(0, ...depth.values());
  const lifted = products.filter((p) => {
    const g = p.ParentGroupId ?? idFromLink(p.Parent);
    return g !== undefined && (depth.get(g) ?? 0) > MENU_GROUP_LEVELS;
  }).map((p) => p.Name);
  const evidence = { groups: groups.length, products: products.length, maxGroupDepth: maxDepth, lifted: lifted.length, liftedItems: lifted.slice(0, LIST_CAP) };
  if (lifted.length) return { ...menu.deep(lifted.length, maxDepth, lifted.slice(0, 5)), evidence };
  return { ...menu.ok(groups.length, products.length), evidence };
}

function flatten(tree: ProductGroupShape[]): ProductGroupShape[] {
  const out: ProductGroupShape[] = [];
  const walk = (g: ProductGroupShape, parentId: string | null) => {
    out.push({ ...g, ParentId: g.ParentId ?? parentId });
    for (const child of g.Children ?? []) walk(child, g.Id);
  };
  for (const g of tree) walk(g, null);
  return out;
}

/** The id at the end of a link like http://host/api/productgroups/<id>, or the value itself when it is an id. */
function idFromLink(v: string | null | undefined): string | undefined {
  if (!v) return undefined;
  const m = /\/api\/productgroups\/([^/?#]+)/i.exec(v);
  return m ? decodeURIComponent(m[1] as string) : /^[\w-]+$/.test(v) ? v : undefined;
}
