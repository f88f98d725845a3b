/**
 * Checks of what iiko itself holds, read through the one plugin reader
 * (main/core/iiko/) and judged by the same rules the feed uses: staff and
 * couriers (the plugin shows no rights or PIN, so this check says where to
 * look in iikoOffice), halls and tables, the EVVA payment type, menu depth.
 * The plugin has no payment-type list, so that check judges by recent closed
 * orders and says so.
 */
import type { FeedOrder, FeedStaff } from '../../../protocol/feed.ts';
import { explain } from '../front/errors.ts';
import type { FrontClient } from '../front/client.ts';
import type { buildMenu } from '../iiko/normalise.ts';
import { readHalls, readMenu, readOrders, readStaff, type Halls } from '../iiko/reader.ts';
import { evvaPayment, type CourierList, type PaymentRule } from '../iiko/rules.ts';
import { menu, noPluginData, payment, staff, tables, type Finding } from './catalogue.ts';
import type { CheckSpec } from './run.ts';

/** Each plugin read of a check may take this long. */
export const DATA_TIMEOUT_MS = 4_000;
export const DATA_CHECK_MS = 4_500;
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

const opts = (signal: AbortSignal) => ({ signal, timeoutMs: DATA_TIMEOUT_MS });

/** Reads the staff through the one reader; couriers are the venue's list (feed.courierCodes). */
export function staffCheck(client: ClientSource, couriers: CourierList): CheckSpec {
  return dataCheck('staff', client, async (c, signal) => judgeStaff(await readStaff(c, couriers, opts(signal)), couriers));
}

/**
 * The plugin shows no rights and no PIN, so whether the guide's couriers
 * (D_DC0 and a PIN) are set up cannot be read: without the venue's list this
 * says where to look in iikoOffice; with it, it checks the listed couriers exist.
 */
export function judgeStaff(list: FeedStaff[], couriers: CourierList): Finding {
  const wanted = couriers.map((c) => c.trim()).filter(Boolean);
  const base = { staff: list.length, courierList: wanted.length, rightsReadable: false };
  if (wanted.length === 0) return { ...staff.unknownRoles(list.length), evidence: base };
  const found = list.filter((s) => s.courier === true);
  const known = new Set(found.flatMap((s) => [s.name.toLowerCase(), ...(s.code ? [s.code.toLowerCase()] : [])]));
  const missing = wanted.filter((w) => !known.has(w.toLowerCase()));
  const noPhone = found.filter((s) => !s.phone).map((s) => s.name);
  // Lists are capped: the report must fit one tunnel control frame for remote support.
  const evidence = { ...base, couriers: found.length, missing: missing.slice(0, LIST_CAP), missingCount: missing.length, withoutPhone: noPhone.slice(0, LIST_CAP) };
  if (found.length === 0) return { ...staff.listedNone(wanted.length), evidence };
  if (missing.length) return { ...staff.listedMissing(found.length, missing.length > 10 ? [...missing.slice(0, 10), `… (${missing.length})`] : missing), evidence };
  return { ...staff.listedOk(list.length, found.length, noPhone.length), evidence };
}

/** Reads tables and halls; fails only when no table is active. Kitchens are named apart from halls. */
export function tablesCheck(client: ClientSource): CheckSpec {
  return dataCheck('tables', client, async (c, signal) => judgeTables(await readHalls(c, opts(signal))));
}

export function judgeTables(h: Halls): Finding {
  const active = h.tables.filter((t) => t.active !== false);
  const halls = h.sections.map((s) => s.name);
  const evidence = { tables: h.tables.length, active: active.length, halls: halls.slice(0, LIST_CAP), kitchens: h.kitchens.slice(0, LIST_CAP) };
  return { ...(active.length ? tables.ok(active.length, halls.slice(0, 10), h.kitchens.slice(0, 10)) : tables.none(h.tables.length)), evidence };
}

/** Reads the newest PAYMENT_ORDERS orders; judges by closed ones only. */
export function paymentCheck(client: ClientSource, rule: PaymentRule): CheckSpec {
  return dataCheck('payment', client, async (c, signal) =>
    judgePayment(await readOrders(c, `$orderby=Number desc&$top=${PAYMENT_ORDERS}`, { rule }, opts(signal)), rule));
}

/** Which rule finds EVVA's payment type in these orders: its code EVVAP, else its name (only when codes are not shown). */
export function judgePayment(orders: FeedOrder[], rule: PaymentRule): Finding {
  const closed = orders.filter((o) => o.iikoStatus === 'Closed');
  let codeHit: { name: string; at: string | null } | null = null;
  let nameHit: { name: string; at: string | null } | null = null;
  let wrong: { name: string; code: string } | null = null;
  // Newest first: the first hit is the last order closed with it.
  const when = (o: FeedOrder) => Date.parse(o.closeTime ?? o.openTime ?? '');
  const byTime = [...closed].sort((a, b) => when(b) - when(a) || (b.number ?? 0) - (a.number ?? 0));
  for (const o of byTime) {
    for (const p of o.payments) {
      const v = evvaPayment({ code: p.typeCode, name: p.typeName }, rule);
      const name = p.typeName ?? p.typeCode ?? '';
      if (v.isEvva && v.rule === 'code') codeHit ??= { name, at: o.closeTime };
      else if (v.isEvva && v.rule === 'name') nameHit ??= { name, at: o.closeTime };
      else if (v.wrongCode) wrong ??= { name, code: p.typeCode ?? '' };
    }
  }
  const evidence = { ordersRead: orders.length, closed: closed.length, nameRule: rule.nameContains, ...(codeHit ?? nameHit ? { lastClosedWith: (codeHit ?? nameHit)!.at } : {}) };
  if (codeHit) return { ...payment.seen('code', codeHit.name, codeHit.at), evidence: { ...evidence, rule: 'code' } };
  if (wrong) return { ...payment.wrongCode(wrong.name, wrong.code), evidence: { ...evidence, rule: 'wrong_code' } };
  if (nameHit) return { ...payment.seen('name', nameHit.name, nameHit.at), evidence: { ...evidence, rule: 'name' } };
  return { ...payment.notSeen(closed.length), evidence: { ...evidence, rule: null } };
}

/** Reads the menu the feed sends; warns with the items a three-level EVVA menu lifts. */
export function menuCheck(client: ClientSource): CheckSpec {
  return dataCheck('menu', client, async (c, signal) => judgeMenu((await readMenu(c, opts(signal))).menu));
}

/** Items whose group sits deeper than MENU_GROUP_LEVELS, i.e. what EVVA lifts into an upper category. */
export function judgeMenu(m: ReturnType<typeof buildMenu>): Finding {
  const lifted = m.warnings.filter((w) => w.from.split(' › ').length > MENU_GROUP_LEVELS).map((w) => w.name);
  const evidence = { groups: m.groups, products: m.products, maxGroupDepth: m.depth, lifted: lifted.length, liftedItems: lifted.slice(0, LIST_CAP) };
  if (lifted.length) return { ...menu.deep(lifted.length, m.depth, lifted.slice(0, 5)), evidence };
  return { ...menu.ok(m.groups, m.products), evidence };
}
