/**
 * What iiko's data means for EVVA, decided once: enum values (a name or a
 * number), what kind of order it is, EVVA's status for each kind (the seed's
 * definitions, docs/feed.md "Statuses"), who is a courier, which payment is
 * EVVA's, which sections are halls. The feed, the diagnostics and the probe
 * all ask these functions; none of them decides on its own.
 */
import {
  DeliveryStatus, ItemStatus, OrderStatus, ProcessingStatus, ServiceType,
  type DeliveryStatusName, type ItemStatusName, type OrderStatusName, type ServiceTypeName,
} from '../../../protocol/front.ts';
import { EVVA_PAYMENT_CODE, type EvvaStatus, type OrderKind } from '../../../protocol/feed.ts';
import { DEFAULTS } from '../table.ts';

/**
 * An enum value as a name: a number is the SDK's index (the recorded answers
 * carry numbers), a name is matched ignoring case. An unknown name is returned
 * as it came (so nothing is lost), an unknown number as its digits; null for
 * anything else.
 */
export function enumName<T extends readonly string[]>(v: unknown, names: T): T[number] | string | null {
  if (typeof v === 'number' && Number.isInteger(v)) return names[v] ?? String(v);
  if (typeof v === 'string' && v.trim() !== '') {
    const t = v.trim();
    if (/^\d+$/.test(t)) return names[Number(t)] ?? t;
    return names.find((n) => n.toLowerCase() === t.toLowerCase()) ?? t;
  }
  return null;
}

export const orderStatus = (v: unknown): OrderStatusName | string | null => enumName(v, OrderStatus);
export const itemStatus = (v: unknown): ItemStatusName | string | null => enumName(v, ItemStatus);
export const deliveryStatus = (v: unknown): DeliveryStatusName | string | null => enumName(v, DeliveryStatus);
export const serviceType = (v: unknown): ServiceTypeName | string | null => enumName(v, ServiceType);

/** A kitchen item is ready (Processed, 5) or already with the guest (Served, 6). */
export function processingDone(v: unknown): boolean | null {
  const n = enumName(v, ProcessingStatus);
  if (n === null) return null;
  return n === 'Processed' || n === 'Served';
}

// ---- Kind of order -----------------------------------------------------------------

/** An order type named like a pickup: the recorded «Доставка самовывоз» [assumption beyond that name]. */
const PICKUP_NAME = /самовывоз|с собой|pick\s*-?up|take\s*-?away/i;

export interface KindSigns {
  /** OrderServiceType, as a name (see serviceType). */
  serviceType: string | null;
  /** IsDeliverySelfService (kitchen orders), when known. */
  selfService?: boolean | null;
  /** IsDeliveryOrder, or the order is listed by /api/deliveries. */
  isDelivery: boolean;
  /** The order type's name. */
  orderType: string | null;
}

/** Dine-in, courier delivery or pickup: the service type when the plugin shows it, else the other signs. */
export function orderKind(s: KindSigns): OrderKind {
  if (s.serviceType === 'DeliveryPickup' || s.serviceType === 'DeliveryByClient' || s.selfService === true) return 'pickup';
  if (s.serviceType === 'DeliveryByCourier') return s.orderType && PICKUP_NAME.test(s.orderType) ? 'pickup' : 'delivery';
  if (s.serviceType === 'Common' && !s.isDelivery) return 'table';
  if (s.orderType && PICKUP_NAME.test(s.orderType)) return 'pickup';
  return s.isDelivery ? 'delivery' : 'table';
}

// ---- EVVA's status, per kind ---------------------------------------------------------

const RANK: Record<string, number> = { Added: 0, PrintedNotCooking: 1, CookingStarted: 2, CookingCompleted: 3, Served: 4 };

/** How far the kitchen is with the live items: none sent yet, printed, cooking, all cooked, all served. */
export type Progress = 'none' | 'printed' | 'cooking' | 'cooked' | 'served';

export function progressOf(items: Array<string | null>): Progress {
  const ranks = items.map((s) => (s === null ? 0 : RANK[s] ?? 0));
  if (ranks.length === 0 || ranks.every((r) => r === 0)) return 'none';
  if (ranks.every((r) => r === 4)) return 'served';
  if (ranks.every((r) => r >= 3)) return 'cooked';
  if (ranks.some((r) => r >= 2)) return 'cooking';
  return 'printed';
}

export interface StatusInput {
  kind: OrderKind;
  /** The order's status as a name. */
  order: string | null;
  /** The delivery's own status as a name; null when the plugin did not list the delivery. */
  delivery: string | null;
  /** The live items' statuses as names. */
  items: Array<string | null>;
}

/**
 * EVVA's status (the seed: Новый, Подтверждён, Готовится, Приготовлен,
 * Отправлен, Завершён, Отменён) for one order of its kind. `sent` only for a
 * delivery a courier has taken; `cooked` only for a pickup; a table order is
 * never either; a delivery is completed when delivered or closed as a
 * delivery, never because its bill was paid. null when nothing maps.
 */
export function evvaStatus(s: StatusInput): EvvaStatus | null {
  if (s.order === 'Deleted' || s.delivery === 'Cancelled') return 'cancelled';
  const p = progressOf(s.items);
  if (s.kind === 'table') {
    if (s.order === 'Closed') return 'completed';
    if (s.order !== 'New' && s.order !== 'Bill') return null;
    // Every live item served: the order is with the guest (Завершён — «заказ выдан клиенту»).
    return p === 'none' ? 'new' : p === 'printed' ? 'confirmed' : p === 'served' ? 'completed' : 'cooking';
  }
  const cooked: EvvaStatus = s.kind === 'pickup' ? 'cooked' : 'cooking';
  switch (s.delivery) {
    case 'Unconfirmed': return 'new';
    case 'New': return p === 'none' || p === 'printed' ? 'confirmed' : p === 'cooking' ? 'cooking' : cooked;
    // Ready and waiting: for a courier, not yet sent; for a pickup, ready to collect.
    case 'Waiting': return cooked;
    case 'OnWay': return s.kind === 'delivery' ? 'sent' : null;
    case 'Delivered':
    case 'Closed': return 'completed';
    case null: break;
    default: return null;
  }
  // No delivery record (the plugin did not list it): judge by the order and its items only.
  if (s.order === 'Closed') return s.kind === 'pickup' ? 'completed' : null;
  if (s.order !== 'New' && s.order !== 'Bill') return null;
  return p === 'none' ? 'new' : p === 'printed' ? 'confirmed' : p === 'cooking' ? 'cooking' : cooked;
}

/** Done with: nothing will change any more. A paid delivery on its way is not done. */
export function isFinal(kind: OrderKind, order: string | null, delivery: string | null): boolean {
  if (order === 'Deleted') return true;
  if (kind === 'table' || delivery === null) return order === 'Closed';
  return delivery === 'Closed' || delivery === 'Cancelled';
}

// ---- Couriers ---------------------------------------------------------------------------

/** The venue's couriers: user codes or names (setting feed.courierCodes), compared trimmed and ignoring case. */
export type CourierList = readonly string[];

/**
 * Whether the user is a courier. The plugin shows no rights, so only the venue
 * can say: null when it has not (an empty list), else whether the user's Code
 * or Name is on its list.
 */
export function isCourier(user: { code: string | null; name: string }, couriers: CourierList): boolean | null {
  const list = couriers.map((c) => c.trim().toLowerCase()).filter(Boolean);
  if (list.length === 0) return null;
  const code = user.code?.trim().toLowerCase();
  return (code !== undefined && code !== '' && list.includes(code)) || list.includes(user.name.trim().toLowerCase());
}

// ---- EVVA's payment type -------------------------------------------------------------------

/** How EVVA's payment type is recognised when the plugin shows no code: a case-insensitive part of its name. */
export interface PaymentRule { nameContains: string }
/** feed.evvaPaymentName's default, for normalising without settings. */
export const DEFAULT_PAYMENT_RULE: PaymentRule = { nameContains: DEFAULTS.feed.evvaPaymentName };

/** True when the type's name contains the setting (ignoring case). */
export function looksLikeEvva(name: string | null, rule: PaymentRule): boolean {
  return name !== null && rule.nameContains !== '' && name.toLowerCase().includes(rule.nameContains.toLowerCase());
}

/**
 * Whether a payment type is EVVA's: by its code EVVAP when the plugin shows a
 * code; by the name rule only when it shows none. A type with another code is
 * never EVVA's, whatever its name (`wrongCode` then says it looks like one).
 */
export function evvaPayment(type: { code: string | null; name: string | null }, rule: PaymentRule): { isEvva: boolean; rule: 'code' | 'name' | null; wrongCode: boolean } {
  const code = type.code?.trim() ?? '';
  if (code !== '') {
    const isEvva = code.toUpperCase() === EVVA_PAYMENT_CODE;
    return { isEvva, rule: 'code', wrongCode: !isEvva && looksLikeEvva(type.name, rule) };
  }
  if (type.name !== null && rule.nameContains !== '') return { isEvva: looksLikeEvva(type.name, rule), rule: 'name', wrongCode: false };
  return { isEvva: false, rule: null, wrongCode: false };
}

// ---- Halls ------------------------------------------------------------------------------------

/**
 * A section is a hall when tables belong to it and no kitchen item names it as
 * its kitchen: kitchens and bars are sections too, with no tables.
 */
export function isHall(section: { name: string; tables: number[] }, kitchens: ReadonlySet<string>): boolean {
  return section.tables.length > 0 && !kitchens.has(section.name);
}
