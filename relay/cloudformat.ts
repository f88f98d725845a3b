/**
 * The iiko Cloud webhook format: what an iiko Cloud webhook handler takes, so
 * EVVA's Cloud handler can serve an older venue unchanged. The shapes follow
 * the public iikoCloud API OpenAPI specification (TableOrderUpdate and
 * DeliveryOrderUpdate webhook events; tests validate every event against its
 * schemas) and real Cloud webhook bodies: the body is a JSON array of
 * `{ eventType, eventTime, organizationId, correlationId, eventInfo }`, times
 * `yyyy-MM-dd HH:mm:ss.fff`, `eventInfo` `{ id, posId, externalNumber,
 * organizationId, timestamp, creationStatus, errorInfo, order }` with the
 * order in Cloud's field names and enums. docs/relay.md says what each field
 * is made from and what the plugin cannot give.
 *
 * Only the two order events have a Cloud counterpart; the others (staff,
 * tables, menu, payments, health) go in the same array under their own types,
 * which a Cloud handler skips.
 */
import { createHash } from 'node:crypto';
import type { Envelope } from '../protocol/events.ts';
import type { FeedItem, FeedModifier, FeedOrder, FeedPayment } from '../protocol/feed.ts';

/** The ids the format needs besides the event: the venue's iiko organization (required) and terminal group. */
export interface CloudIds {
  organizationId: string;
  terminalGroupId: string | null;
}

/**
 * Stands for an iiko GUID the plugin does not show (a size, a discount type,
 * an order type, a terminal group not configured): .NET's Guid.Empty, never a
 * made-up id a handler could take for a real one.
 */
export const GUID_EMPTY = '00000000-0000-0000-0000-000000000000';

/** The event types Cloud knows: their bodies follow its schemas. */
export const CLOUD_ORDER_EVENTS: ReadonlySet<string> = new Set(['TableOrderUpdate', 'DeliveryOrderUpdate']);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID as it is, or one derived from the text (stable), for ids the format requires to be UUIDs. */
export function asUuid(v: string): string {
  if (GUID.test(v)) return v.toLowerCase();
  const h = createHash('sha1').update(v).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `yyyy-MM-dd HH:mm:ss.fff` in UTC: Cloud's eventTime ("Event date and time (UTC)"). */
export function cloudTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/**
 * A plugin time (ISO 8601 with the POS's offset, e.g. 2025-01-28T12:31:49.5619262+05:00)
 * as Cloud writes order times: `yyyy-MM-dd HH:mm:ss.fff` in the venue's own time,
 * the offset dropped (public Cloud clients read these as the venue's local time).
 */
export function cloudLocalTime(iso: string | null): string | null {
  if (!iso) return null;
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?/.exec(iso);
  if (!m) return null;
  return `${m[1]} ${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}`;
}

const ORDER_STATUS = new Set(['New', 'Bill', 'Closed', 'Deleted']);
const ITEM_STATUS = new Set(['Added', 'PrintedNotCooking', 'CookingStarted', 'CookingCompleted', 'Served']);
const PAYMENT_KIND = new Set(['Unknown', 'Cash', 'Card', 'Credit', 'Writeoff', 'Voucher', 'External', 'SmartSale', 'Sberbank', 'Trpos']);
const round2 = (n: number) => Math.round(n * 100) / 100;

function modifier(m: FeedModifier) {
  const amount = m.amount ?? 1;
  const price = m.price ?? 0;
  return {
    product: { id: m.productId ?? GUID_EMPTY, name: m.name ?? m.productCode ?? '' },
    amount, amountIndependentOfParentAmount: false, price, pricePredefined: true, resultSum: round2(amount * price),
  };
}

/** One live item as Cloud's OrderItem: a Product, or a Compound whose primary component is the product. */
function item(i: FeedItem) {
  const amount = i.amount ?? 1;
  const price = i.price ?? 0;
  const cost = i.sum ?? round2(amount * price);
  const base = {
    status: i.status !== null && ITEM_STATUS.has(i.status) ? i.status : 'Added',
    amount,
    comment: i.comment,
    size: i.size === null ? null : { id: GUID_EMPTY, name: i.size },
  };
  const product = { id: i.productId ?? GUID_EMPTY, name: i.name ?? i.productCode ?? '' };
  const priced = { price, cost, pricePredefined: true, resultSum: cost };
  if (i.compound) {
    return {
      type: 'Compound', ...base,
      primaryComponent: { product, modifiers: i.modifiers.map(modifier), ...priced },
      secondaryComponent: null,
      template: i.template === null ? null : { id: GUID_EMPTY, name: i.template },
    };
  }
  return { type: 'Product', ...base, product, modifiers: i.modifiers.map(modifier), ...priced };
}

function payment(p: FeedPayment) {
  return {
    paymentType: {
      id: p.typeId !== null && GUID.test(p.typeId) ? p.typeId.toLowerCase() : GUID_EMPTY,
      name: p.typeName ?? p.typeCode ?? '',
      kind: p.typeKind !== null && PAYMENT_KIND.has(p.typeKind) ? p.typeKind : 'Unknown',
    },
    sum: p.sum, isPreliminary: false, isExternal: p.external ?? false, isProcessedExternally: false, isPrepay: p.prepay ?? false,
  };
}

/** What Cloud's table and delivery orders share. */
function common(o: FeedOrder, ids: CloudIds) {
  const live = o.items.filter((i) => !i.deleted);
  const guests = new Set(o.items.map((i) => i.guest).filter((g) => g !== null)).size;
  return {
    sum: o.sums.result,
    number: o.number ?? 0,
    whenBillPrinted: cloudLocalTime(o.billTime),
    whenClosed: cloudLocalTime(o.closeTime),
    guestsInfo: { count: Math.max(1, guests), splitBetweenPersons: false },
    // Deleted items are left out: Cloud marks them with how they were deleted, which the plugin does not say.
    items: live.map(item),
    payments: o.payments.map(payment),
    discounts: o.discounts.map((d) => ({
      discountType: { id: GUID_EMPTY, name: d.name ?? '' },
      sum: d.sum ?? (d.percent !== null ? round2((o.sums.full * d.percent) / 100) : 0),
    })),
    terminalGroupId: ids.terminalGroupId ?? GUID_EMPTY,
    processedPaymentsSum: o.sums.paid ?? 0,
  };
}

/** Cloud's TableOrder. */
function tableOrder(o: FeedOrder, ids: CloudIds, eventMs: number) {
  return {
    tableIds: o.tableIds,
    customer: null,
    phone: null,
    status: o.iikoStatus !== null && ORDER_STATUS.has(o.iikoStatus) ? o.iikoStatus : 'New',
    whenCreated: cloudLocalTime(o.openTime) ?? cloudTime(eventMs),
    waiter: o.waiter === null ? null : { id: o.waiterId ?? GUID_EMPTY, name: o.waiter, phone: null },
    tabName: null,
    ...common(o, ids),
    orderType: null,
  };
}

const PROGRESS: Record<string, string> = { none: 'WaitCooking', printed: 'ReadyForCooking', cooking: 'CookingStarted', cooked: 'CookingCompleted', served: 'CookingCompleted' };

/** Cloud's DeliveryStatus, which splits the plugin's New by how far the kitchen is (Cloud's WaitCooking … CookingCompleted). */
export function cloudDeliveryStatus(o: FeedOrder): string {
  const d = o.delivery?.status ?? null;
  if (o.iikoStatus === 'Deleted' || d === 'Cancelled') return 'Cancelled';
  if (d === 'Unconfirmed' || d === 'Waiting' || d === 'OnWay' || d === 'Delivered' || d === 'Closed') return d;
  if (d === null && o.iikoStatus === 'Closed') return 'Closed';
  const ranks = o.items.filter((i) => !i.deleted).map((i) => ['Added', 'PrintedNotCooking', 'CookingStarted', 'CookingCompleted', 'Served'].indexOf(i.status ?? 'Added'));
  const p = ranks.length === 0 || ranks.every((r) => r <= 0) ? 'none'
    : ranks.every((r) => r >= 3) ? 'cooked' : ranks.some((r) => r >= 2) ? 'cooking' : 'printed';
  return PROGRESS[p] ?? 'WaitCooking';
}

/** Cloud's delivery Order. */
function deliveryOrder(o: FeedOrder, ids: CloudIds, eventMs: number) {
  const d = o.delivery;
  const created = cloudLocalTime(o.openTime) ?? cloudTime(eventMs);
  const pickup = o.kind === 'pickup';
  return {
    parentDeliveryId: null,
    customer: d?.customerName ? { type: 'one-time', name: d.customerName } : null,
    phone: d?.phone ?? '',
    deliveryPoint: d?.address ? { coordinates: null, address: { street: null, region: null, line1: d.address }, externalCartographyId: null, comment: null } : null,
    status: cloudDeliveryStatus(o),
    cancelInfo: null,
    courierInfo: d?.courier ? { courier: { id: d.courierId ?? GUID_EMPTY, name: d.courier, phone: null }, isCourierSelectedManually: true } : null,
    completeBefore: cloudLocalTime(d?.expectedTime ?? null) ?? created,
    whenCreated: created,
    whenSended: cloudLocalTime(d?.sendTime ?? null),
    whenDelivered: cloudLocalTime(d?.deliveredTime ?? null),
    comment: d?.comment ?? null,
    // The plugin does not say when cooking started: the order's creation stands for it.
    cookingStartTime: created,
    ...common(o, ids),
    orderType: {
      id: GUID_EMPTY,
      name: o.orderType ?? (pickup ? 'Доставка самовывоз' : 'Доставка курьером'),
      orderServiceType: pickup ? 'DeliveryByClient' : 'DeliveryByCourier',
    },
  };
}

/** One event in the iiko Cloud webhook format (outer keys in Cloud's order). */
export interface CloudEvent {
  eventType: string;
  eventTime: string;
  organizationId: string;
  correlationId: string;
  eventInfo: Record<string, unknown>;
}

/** The event as an iiko Cloud handler takes it; order events in Cloud's shape, the rest as they are. */
export function toCloudEvent(e: Envelope, ids: CloudIds): CloudEvent {
  const ms = Date.parse(e.eventTime);
  const head = { eventType: e.eventType, eventTime: cloudTime(ms), organizationId: ids.organizationId, correlationId: asUuid(e.eventId) };
  const order = CLOUD_ORDER_EVENTS.has(e.eventType) ? (e.eventInfo.order as FeedOrder | undefined) : undefined;
  if (!order) return { ...head, eventInfo: e.eventInfo };
  const id = asUuid(order.id);
  return {
    ...head,
    eventInfo: {
      // The plugin knows one id, the POS's: it stands for Cloud's order id as well.
      id, posId: id, externalNumber: null, organizationId: ids.organizationId, timestamp: ms,
      creationStatus: 'Success', errorInfo: null,
      order: e.eventType === 'TableOrderUpdate' ? tableOrder(order, ids, ms) : deliveryOrder(order, ids, ms),
    },
  };
}

/** A batch's body in the iiko Cloud format. */
export function cloudBody(events: Envelope[], ids: CloudIds): string {
  return JSON.stringify(events.map((e) => toCloudEvent(e, ids)));
}
