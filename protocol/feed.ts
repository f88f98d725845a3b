/**
 * The feed's normalised shapes: what `eventInfo` holds for orders, staff,
 * tables and the menu (events.ts has the envelope). The companion builds them
 * from whatever the plugin sends (main/core/feed/normalise.ts); the relay and
 * EVVA read them. Documented in docs/feed.md.
 *
 * Every field the plugin may not send is nullable here: a missing or odd field
 * degrades that one value (and is named in `degraded`), never the whole event.
 */
import { z } from 'zod';
import { PaymentView, type EventType } from './events.ts';

/** EVVA's order statuses (Новый, Подтверждён, Готовится, Приготовлен, Отправлен, Завершён, Отменён). */
export const EvvaStatus = z.enum(['new', 'confirmed', 'cooking', 'cooked', 'sent', 'completed', 'cancelled']);
export type EvvaStatus = z.infer<typeof EvvaStatus>;

/** What kind of order it is: the seed's statuses differ per kind (docs/feed.md, "Statuses"). */
export const OrderKind = z.enum(['table', 'delivery', 'pickup']);
export type OrderKind = z.infer<typeof OrderKind>;

/** The payment type code EVVA's setup guide asks the venue to create. */
export const EVVA_PAYMENT_CODE = 'EVVAP';

const money = z.number();
const when = z.string().nullable();

export const FeedModifier = z.object({
  productCode: z.string().nullable(),
  /** The modifier product's iiko GUID, when the menu poll has seen it. */
  productId: z.string().nullable(),
  name: z.string().nullable(),
  amount: z.number().nullable(),
  price: money.nullable(),
});
export type FeedModifier = z.infer<typeof FeedModifier>;

export const FeedItem = z.object({
  id: z.string(),
  /** The product's code (the end of its link); for a compound item, its primary component's. */
  productCode: z.string().nullable(),
  /** The product's iiko GUID, when the menu poll has seen the product (iiko Cloud names products by it). */
  productId: z.string().nullable(),
  name: z.string().nullable(),
  amount: z.number().nullable(),
  price: money.nullable(),
  sum: money.nullable(),
  /** The plugin's item status (Added, PrintedNotCooking, CookingStarted, CookingCompleted, Served), raw. */
  status: z.string().nullable(),
  deleted: z.boolean(),
  comment: z.string().nullable(),
  guest: z.number().nullable(),
  modifiers: z.array(FeedModifier),
  /** A compound (template) item: pizza halves, sized dishes. Its product is `productCode` (the primary component). */
  compound: z.boolean(),
  /** The second half's product code, for a compound item of two products. */
  secondaryProductCode: z.string().nullable(),
  /** The size's name («сред», «0,5л»), when the item has one. */
  size: z.string().nullable(),
  /** The compound item's template name («Для шаурмы»). */
  template: z.string().nullable(),
});
export type FeedItem = z.infer<typeof FeedItem>;

export const FeedPayment = z.object({
  id: z.string().nullable(),
  typeId: z.string().nullable(),
  typeCode: z.string().nullable(),
  typeName: z.string().nullable(),
  typeKind: z.string().nullable(),
  sum: money,
  /** EVVA PAY's payment, by the code EVVAP or (without a code) by the name setting. */
  isEvva: z.boolean(),
  /** Which rule decided isEvva: `code`, `name`, or null when the type says nothing usable. */
  rule: z.enum(['code', 'name']).nullable(),
  prepay: z.boolean().nullable(),
  external: z.boolean().nullable(),
});
export type FeedPayment = z.infer<typeof FeedPayment>;

/** The four sums the EVVA guide says the Front Web Server path loses today. */
export const FeedSums = z.object({
  full: money,
  result: money,
  discount: money,
  surcharge: money,
  paid: money.nullable(),
  /** `discounts`: from the order's discount entries; `derived`: from full − result. */
  source: z.enum(['discounts', 'derived']),
});
export type FeedSums = z.infer<typeof FeedSums>;

export const FeedDiscount = z.object({ name: z.string().nullable(), sum: money.nullable(), percent: z.number().nullable() });

export const FeedDelivery = z.object({
  /** The delivery order's Id: the same as its order's (SDK IDeliveryOrder is an IOrder). */
  id: z.string(),
  number: z.number().nullable(),
  /** The delivery's own status (DeliveryStatus: Unconfirmed, New, Waiting, OnWay, Delivered, Closed, Cancelled), as a name. */
  status: z.string().nullable(),
  customerName: z.string().nullable(),
  phone: z.string().nullable(),
  address: z.string().nullable(),
  /** The courier's name (the end of the Courier link), when one is assigned. */
  courier: z.string().nullable(),
  /** The courier's iiko GUID, when the staff poll has seen them. */
  courierId: z.string().nullable(),
  expectedTime: when,
  /** When the courier left (SendTime) and when the guest got it (ActualDeliverTime). */
  sendTime: when,
  deliveredTime: when,
  comment: z.string().nullable(),
  /** True for a pickup (the guest collects it). */
  selfService: z.boolean().nullable(),
});
export type FeedDelivery = z.infer<typeof FeedDelivery>;

export const FeedOrder = z.object({
  /** The iiko order id (the plugin's Id, a GUID). */
  id: z.string(),
  number: z.number().nullable(),
  /** `table`: dine-in; `delivery`: a courier takes it to the guest; `pickup`: the guest collects it. */
  kind: OrderKind,
  /** The plugin's order status (New, Bill, Closed, Deleted) as a name, whether the plugin sent a name or a number. */
  iikoStatus: z.string().nullable(),
  /** EVVA's status for this kind of order, as docs/feed.md's table says; null when nothing maps. */
  status: EvvaStatus.nullable(),
  /** True once the order is done with: Deleted, or Closed (a table order), or its delivery Closed or Cancelled. */
  final: z.boolean(),
  /** True when the order left the plugin's list without a final status (the plugin pruned or lost it). */
  gone: z.boolean(),
  revision: z.number().nullable(),
  tableNumbers: z.array(z.number()),
  /** The tables' iiko GUIDs, when the tables poll has seen them (iiko Cloud names tables by them). */
  tableIds: z.array(z.string()),
  waiter: z.string().nullable(),
  /** The waiter's iiko GUID, when the staff poll has seen them. */
  waiterId: z.string().nullable(),
  /** The order type's name as iiko shows it («Доставка самовывоз»), when the plugin sends one. */
  orderType: z.string().nullable(),
  cashier: z.string().nullable(),
  items: z.array(FeedItem),
  sums: FeedSums,
  discounts: z.array(FeedDiscount),
  payments: z.array(FeedPayment),
  openTime: when,
  billTime: when,
  closeTime: when,
  delivery: FeedDelivery.nullable(),
  /** Fields the plugin did not send or sent in an unexpected shape (their values above are null or derived). */
  degraded: z.array(z.string()),
});
export type FeedOrder = z.infer<typeof FeedOrder>;

/**
 * A staff member as the plugin's user contract allows: it shows no role, no
 * rights and no PIN. `courier` is the venue's own word (the setting
 * feed.courierCodes), null when the venue has not said; `hasPin` is always null.
 */
export const FeedStaff = z.object({
  id: z.string().nullable(),
  name: z.string(),
  /** The user's personal number in iiko (Code). */
  code: z.string().nullable(),
  /** Always null: the plugin shows no roles. Kept so receivers of earlier events read the same shape. */
  role: z.string().nullable(),
  courier: z.boolean().nullable(),
  /** Always null: the plugin shows no PIN, nor whether one is set. */
  hasPin: z.boolean().nullable(),
  /** CellPhone. */
  phone: z.string().nullable(),
  sessionOpen: z.boolean().nullable(),
});
export type FeedStaff = z.infer<typeof FeedStaff>;

export const FeedTable = z.object({
  id: z.string().nullable(),
  number: z.number(),
  name: z.string().nullable(),
  seats: z.number().nullable(),
  section: z.string().nullable(),
  active: z.boolean().nullable(),
});
export type FeedTable = z.infer<typeof FeedTable>;

export const FeedSection = z.object({ id: z.string().nullable(), name: z.string(), tables: z.array(z.number()) });
export type FeedSection = z.infer<typeof FeedSection>;

export const FeedProduct = z.object({
  id: z.string().nullable(),
  code: z.string(),
  name: z.string(),
  price: money.nullable(),
  type: z.string().nullable(),
  active: z.boolean().nullable(),
});
export type FeedProduct = z.infer<typeof FeedProduct>;

/** Level 2 of EVVA's menu: a category and its products. */
export const MenuCategory = z.object({ id: z.string().nullable(), name: z.string(), products: z.array(FeedProduct) });
export type MenuCategory = z.infer<typeof MenuCategory>;
/** Level 1 of EVVA's menu (Раздел). */
export const MenuSection = z.object({ id: z.string().nullable(), name: z.string(), categories: z.array(MenuCategory) });
export type MenuSection = z.infer<typeof MenuSection>;

/** Why a product is not where iiko has it: its group was deeper than EVVA's 3 levels, or it had no group. */
export const MenuWarning = z.object({ productCode: z.string(), name: z.string(), from: z.string(), to: z.string() });
export type MenuWarning = z.infer<typeof MenuWarning>;

// ---- eventInfo per event type ------------------------------------------------

/** TableOrderUpdate / DeliveryOrderUpdate. */
const OrderInfo = z.object({ order: FeedOrder });
/** Present when a list was too large for one event: this is slice `part` of `parts`. */
const ListPart = { part: z.number().int().positive().optional(), parts: z.number().int().positive().optional() };
/** StaffUpdate: the whole list, sent when anything in it changed. */
const StaffInfo = z.object({ staff: z.array(FeedStaff), ...ListPart });
/**
 * TablesUpdate: tables and halls, sent when anything in them changed. `sections`
 * are the halls only (sections with tables); `kitchens` names the sections that
 * are kitchens or bars (no tables, or a kitchen of the kitchen orders).
 */
const TablesInfo = z.object({ tables: z.array(FeedTable), sections: z.array(FeedSection), kitchens: z.array(z.string()).optional(), ...ListPart });
/**
 * MenuSnapshot: Раздел → категория → товар. A menu too large for one event is
 * split by section into `parts` events sharing `snapshotId`.
 */
export const MenuInfo = z.object({
  snapshotId: z.string(),
  part: z.number().int().positive(),
  parts: z.number().int().positive(),
  sections: z.array(MenuSection),
  warnings: z.array(MenuWarning),
  /** Why this snapshot was taken: `daily`, `request` (menu.sync), `change` or `start`. */
  reason: z.string(),
});
export type MenuInfo = z.infer<typeof MenuInfo>;
/**
 * CompanionHealth: written when the plugin's state changes and when a link to
 * the relay comes up (so the relay learns how long the venue was cut off and
 * what is queued).
 */
export const HealthInfo = z.object({
  reason: z.enum(['front', 'link']),
  /** The plugin: up, down, unlicensed or unknown, with the problem code when not up. */
  front: z.string(),
  frontError: z.string().nullable(),
  /** Events written and not yet acknowledged when this one was written. */
  backlog: z.number(),
  oldestUnsentAt: z.string().nullable(),
  reconnects: z.number(),
});
export type HealthInfo = z.infer<typeof HealthInfo>;

// ---- what the relay accepts (relay/events.ts) ---------------------------------

/**
 * The shape each event type's eventInfo must have. The relay checks every
 * event against it before storing (extra fields pass; a missing or mistyped
 * one refuses the event), so EVVA never reads an order that is not an order.
 */
export const EVENT_INFO = {
  TableOrderUpdate: OrderInfo,
  DeliveryOrderUpdate: OrderInfo,
  StaffUpdate: StaffInfo,
  TablesUpdate: TablesInfo,
  MenuSnapshot: MenuInfo,
  PaymentUpdate: PaymentView,
  CompanionHealth: HealthInfo,
} as const satisfies Record<EventType, z.ZodType>;

/** Deepest nesting of objects and arrays an event may have: the feed's own shapes need 8 (menu products); anything far deeper is hostile. */
export const MAX_EVENT_DEPTH = 32;

/**
 * How deeply `v` nests objects and arrays (a scalar is 0, `{}` is 1), found
 * without recursion and without looking further than `limit + 1` levels, so
 * a value nested a million deep costs only what it takes to say so.
 */
export function jsonDepth(v: unknown, limit = MAX_EVENT_DEPTH): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop() as [unknown, number];
    if (x === null || typeof x !== 'object') continue;
    const depth = d + 1;
    if (depth > deepest) deepest = depth;
    if (depth > limit) return depth;
    for (const child of Array.isArray(x) ? x : Object.values(x)) if (child !== null && typeof child === 'object') stack.push([child, depth]);
  }
  return deepest;
}
