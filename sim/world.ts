/**
 * The restaurant's state and every change to it. Records here are the sim's own
 * (camelCase, times as epoch ms); render.ts turns them into the plugin's
 * PascalCase shapes. Every change to an order raises its Revision from one
 * world-wide counter, so Revision grows on every change, per order and overall.
 *
 * The sim knows what iikoOffice holds (who is a courier, who has a PIN, the
 * staff's roles) because the restaurant behaves by it (only a courier with a
 * PIN takes a delivery); the plugin shows none of it, and neither does render.ts.
 */
import { createHash } from 'node:crypto';
import { ItemStatus } from '../protocol/front.ts';
import type { DeliveryStatusName, ItemStatusName, OrderStatusName, ServiceTypeName } from '../protocol/front.ts';
import type { Rng } from './random.ts';
import type { SimClock } from './time.ts';

export type { DeliveryStatusName, ItemStatusName, OrderStatusName };
export type ServiceType = ServiceTypeName;

export interface StaffRec {
  id: string;
  name: string;
  /** The personal number (User.Code). */
  code: string;
  /** iikoOffice's role: the plugin does not show it; the day uses it to pick waiters and cashiers. */
  role: string;
  /** iikoOffice gave the right D_DC0 (not shown by the plugin). */
  courier: boolean;
  /** A PIN is set in iikoOffice (not shown by the plugin). */
  hasPin: boolean;
  /** User.CellPhone. */
  phone: string | null;
  sessionOpen: boolean;
}
/** A restaurant section: a hall with tables, or a kitchen (a cooking place; items link to it as their Kitchen). */
export interface SectionRec { id: string; name: string; kind: 'hall' | 'kitchen' }
export interface TableRec { id: string; number: number; name: string; seats: number; sectionId: string; active: boolean }
export interface GroupRec { id: string; name: string; parentId: string | null; active: boolean }
/** A compound item template: the product is sold in sizes under a template (recorded: «Для шаурмы», scale «Размер шаурмы»). */
export interface TemplateRec { name: string; scale: string; sizes: string[] }
export interface ProductRec {
  id: string;
  code: string;
  name: string;
  price: number;
  groupId: string;
  type: 'Dish' | 'Goods';
  kitchen: string;
  cookingMinutes: number;
  /** Sold by weight: amounts are fractional (kg). */
  byWeight: boolean;
  active: boolean;
  /** Sold as a compound item in sizes. */
  template: TemplateRec | null;
}
export interface PaymentTypeRec { id: string; name: string; kind: 'Cash' | 'Card'; code: string }
export interface ItemRec {
  id: string;
  productCode: string;
  name: string;
  amount: number;
  price: number;
  status: ItemStatusName;
  deleted: boolean;
  printTime: number | null;
  cookingStartTime: number | null;
  cookingFinishTime: number | null;
  serveTime: number | null;
  comment: string | null;
  course: number;
  kitchen: string;
  cookingMinutes: number;
  /** A compound item: its template and size (the product is its primary component). */
  compound: { template: string; scale: string; size: string | null } | null;
}
export interface GuestRec { id: string; rank: number; name: string; items: ItemRec[] }
export interface PaymentRec { id: string; sum: number; typeId: string; isPrepay: boolean; isExternal: boolean }
export interface DiscountRec { id: string; name: string; percent: number }
export interface OrderRec {
  id: string;
  number: number;
  status: OrderStatusName;
  openTime: number;
  billTime: number | null;
  closeTime: number | null;
  waiterName: string | null;
  cashierName: string | null;
  tableNum: number | null;
  guests: GuestRec[];
  payments: PaymentRec[];
  discounts: DiscountRec[];
  revision: number;
  originName: string | null;
  serviceType: ServiceType;
  kitchenNumber: number | null;
  /** The kitchen order's own Id (recorded kitchen orders have one apart from BaseOrder). */
  kitchenId: string | null;
  /** The order's delivery, when it is a delivery order: the same Id as the order (SDK IDeliveryOrder is an IOrder). */
  deliveryId: string | null;
}
export interface AddressRec { city: string; street: string; house: string; flat: string | null }
/** The delivery part of a delivery order; `id` is its order's Id. */
export interface DeliveryRec {
  id: string;
  number: number;
  /** The delivery's own status (DeliveryStatus), apart from the order's Status. */
  status: DeliveryStatusName;
  orderId: string;
  customerName: string;
  phone: string;
  address: AddressRec | null;
  courierName: string | null;
  createdTime: number;
  expectedTime: number;
  sendTime: number | null;
  deliveredTime: number | null;
  comment: string | null;
  selfService: boolean;
}

/** A refusal a caller can act on: an HTTP status and a sentence saying what is wrong. */
export class SimError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface ItemInput { productCode: string; amount: number; comment?: string | undefined; guest?: number | undefined; size?: string | undefined }
export interface OrderInput { tableNum: number; waiterName?: string | undefined; items: ItemInput[]; guests?: number | undefined }
export interface StaffInput {
  name: string;
  role?: string | undefined;
  /** iikoOffice's right D_DC0 (the plugin will not show it). */
  courier?: boolean | undefined;
  /** A PIN set in iikoOffice (the plugin will not show it). */
  hasPinCode?: boolean | undefined;
  phone?: string | undefined;
  code?: string | undefined;
}
export interface TableInput { number: number; section?: string | undefined; seats?: number | undefined; name?: string | undefined }
export interface DeliveryInput {
  items: ItemInput[];
  customerName?: string | undefined;
  phone?: string | undefined;
  selfService?: boolean | undefined;
  comment?: string | undefined;
}

const ITEM_FLOW: readonly ItemStatusName[] = ItemStatus;
/**
 * A courier delivery's flow (SDK DeliveryStatus; iiko's posts: a confirmed delivery
 * is New, PrepareDeliveryForSending makes it Waiting, SendDelivery OnWay, then
 * Delivered and, once paid, Closed).
 */
export const DELIVERY_FLOW: readonly DeliveryStatusName[] = ['Unconfirmed', 'New', 'Waiting', 'OnWay', 'Delivered', 'Closed'];
/** A pickup's flow: no courier; paying for it closes it (iiko's post on paying deliveries). */
export const PICKUP_FLOW: readonly DeliveryStatusName[] = ['Unconfirmed', 'New', 'Waiting', 'Closed'];
export const flowOf = (d: DeliveryRec): readonly DeliveryStatusName[] => (d.selfService ? PICKUP_FLOW : DELIVERY_FLOW);
/** How many finished (closed or deleted) orders the sim keeps, so a long demo stays small. */
export const FINISHED_ORDERS_KEPT = 300;

export const round2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * One change the world made, as the chaos checker (bench/chaos/) needs it: what
 * changed, its revision and, for orders, the values the plugin will show.
 * `at` is wall time (ms since the epoch), not restaurant time, so it compares
 * with arrival times at a webhook receiver on the same machine.
 */
export interface HistoryEntry {
  n: number;
  at: number;
  kind: 'order' | 'staff' | 'table';
  revision: number;
  /** Order Id (lower case), staff name or table number. */
  key: string;
  /** Orders: the plugin's Status; staff and tables: added, removed, shift. */
  status: string;
  /** Orders: ResultSum at this revision. */
  result: number | null;
  /** Orders with a delivery: its status at this revision. */
  delivery: string | null;
}
/** History entries kept; older ones are dropped first (a 10-minute busy day makes a few thousand). */
export const HISTORY_KEPT = 200_000;

export class World {
  readonly staff: StaffRec[] = [];
  readonly sections: SectionRec[] = [];
  readonly tables: TableRec[] = [];
  readonly groups: GroupRec[] = [];
  readonly products: ProductRec[] = [];
  readonly paymentTypes: PaymentTypeRec[] = [];
  readonly orders: OrderRec[] = [];
  readonly deliveries: DeliveryRec[] = [];
  /** The world-wide change counter that order revisions are drawn from. */
  revision = 0;
  /** Every change, oldest first (see HistoryEntry); `historyDropped` counts entries cut off the front. */
  readonly history: HistoryEntry[] = [];
  historyDropped = 0;
  lastOrderNumber = 0;
  lastKitchenNumber = 0;

  constructor(
    readonly rng: Rng,
    readonly clock: SimClock,
    private readonly log: (line: string) => void = () => {},
  ) {}

  // ---- lookups -------------------------------------------------------------

  /** An order by its Id (any case) or its Number. */
  findOrder(key: string): OrderRec | undefined {
    const k = key.trim().toLowerCase();
    if (/^\d+$/.test(k)) return this.orders.find((o) => o.number === Number(k));
    return this.orders.find((o) => o.id === k);
  }

  order(key: string): OrderRec {
    const o = this.findOrder(key);
    if (!o) throw new SimError(404, `No order with id or number '${key}'.`);
    return o;
  }

  findDelivery(key: string): DeliveryRec | undefined {
    const k = key.trim().toLowerCase();
    if (/^\d+$/.test(k)) return this.deliveries.find((d) => d.number === Number(k));
    return this.deliveries.find((d) => d.id === k);
  }

  delivery(key: string): DeliveryRec {
    const d = this.findDelivery(key);
    if (!d) throw new SimError(404, `No delivery with id or number '${key}'.`);
    return d;
  }

  orderOf(d: DeliveryRec): OrderRec | undefined {
    return this.orders.find((o) => o.id === d.orderId);
  }

  product(code: string): ProductRec {
    const p = this.products.find((x) => x.code === code);
    if (!p) throw new SimError(400, `No product with code '${code}'.`);
    if (!p.active) throw new SimError(409, `Product '${code}' (${p.name}) is not on sale.`);
    return p;
  }

  /** A payment type by name or code, ignoring case: 'Наличные', 'EVVA', 'EVVAP', ... */
  paymentType(nameOrCode: string): PaymentTypeRec {
    const k = nameOrCode.trim().toLowerCase();
    const t = this.paymentTypes.find((p) => p.name.toLowerCase() === k || p.code.toLowerCase() === k);
    if (!t) {
      const known = this.paymentTypes.map((p) => `'${p.name}' (${p.code})`).join(', ');
      throw new SimError(400, `No payment type '${nameOrCode}'. Known: ${known}.`);
    }
    return t;
  }

  section(id: string): SectionRec | undefined {
    return this.sections.find((s) => s.id === id);
  }

  couriers(): StaffRec[] {
    return this.staff.filter((s) => s.courier);
  }

  waiters(): StaffRec[] {
    return this.staff.filter((s) => s.role === 'Официант');
  }

  items(o: OrderRec): ItemRec[] {
    return o.guests.flatMap((g) => g.items);
  }

  liveItems(o: OrderRec): ItemRec[] {
    return this.items(o).filter((i) => !i.deleted);
  }

  fullSum(o: OrderRec): number {
    return round2(this.liveItems(o).reduce((s, i) => s + i.price * i.amount, 0));
  }

  discountSum(o: OrderRec): number {
    const full = this.fullSum(o);
    return round2(o.discounts.reduce((s, d) => s + (full * d.percent) / 100, 0));
  }

  resultSum(o: OrderRec): number {
    return round2(this.fullSum(o) - this.discountSum(o));
  }

  paidSum(o: OrderRec): number {
    return round2(o.payments.reduce((s, p) => s + p.sum, 0));
  }

  isOpen(o: OrderRec): boolean {
    return o.status === 'New' || o.status === 'Bill';
  }

  // ---- orders ---------------------------------------------------------------

  /** Opens a table order. Refuses unknown or inactive tables, unknown waiters and products. */
  createOrder(input: OrderInput): OrderRec {
    const table = this.tables.find((t) => t.number === input.tableNum);
    if (!table) throw new SimError(400, `No table number ${input.tableNum}.`);
    if (!table.active) throw new SimError(409, `Table ${input.tableNum} is not active.`);
    let waiter: StaffRec | undefined;
    if (input.waiterName !== undefined) {
      waiter = this.staff.find((s) => s.name === input.waiterName);
      if (!waiter) throw new SimError(400, `No staff member named '${input.waiterName}'.`);
    } else {
      waiter = this.leastBusyWaiter();
    }
    this.checkItems(input.items);
    const o = this.newOrder('Common', waiter?.name ?? null, table.number, Math.max(1, input.guests ?? 1));
    this.putItems(o, input.items);
    this.orders.push(o);
    this.touch(o, `order ${o.number} opened at table ${table.number}`);
    return o;
  }

  /** Adds items to an open order that has no bill yet. */
  addItems(o: OrderRec, items: ItemInput[]): OrderRec {
    if (o.status !== 'New') throw new SimError(409, `Order ${o.number} is ${o.status}: items can be added only while it is New.`);
    this.checkItems(items);
    this.putItems(o, items);
    this.touch(o, `order ${o.number}: ${items.length} item(s) added`);
    return o;
  }

  /** Marks one item deleted (a waiter removed it). */
  deleteItem(o: OrderRec, itemId: string): OrderRec {
    if (o.status !== 'New') throw new SimError(409, `Order ${o.number} is ${o.status}: items can be removed only while it is New.`);
    const item = this.items(o).find((i) => i.id === itemId.toLowerCase());
    if (!item) throw new SimError(404, `Order ${o.number} has no item '${itemId}'.`);
    if (item.deleted) throw new SimError(409, `Item '${itemId}' is already deleted.`);
    item.deleted = true;
    this.touch(o, `order ${o.number}: item ${item.name} deleted`);
    return o;
  }

  /**
   * Kitchen progress. Without `to`, every live item moves one step
   * (Added → PrintedNotCooking → CookingStarted → CookingCompleted → Served);
   * with `to`, every live item behind `to` jumps there. Items never move back.
   */
  kitchen(o: OrderRec, to?: ItemStatusName, itemId?: string): OrderRec {
    if (!this.isOpen(o)) throw new SimError(409, `Order ${o.number} is ${o.status}: its items no longer change.`);
    let items = this.liveItems(o);
    if (itemId !== undefined) {
      items = items.filter((i) => i.id === itemId.toLowerCase());
      if (items.length === 0) throw new SimError(404, `Order ${o.number} has no live item '${itemId}'.`);
    }
    let moved = 0;
    for (const item of items) {
      const from = ITEM_FLOW.indexOf(item.status);
      const target = to === undefined ? Math.min(from + 1, ITEM_FLOW.length - 1) : ITEM_FLOW.indexOf(to);
      if (target <= from) continue;
      for (let step = from + 1; step <= target; step++) this.stamp(item, ITEM_FLOW[step] as ItemStatusName);
      moved++;
    }
    if (moved === 0) {
      throw new SimError(409, `Order ${o.number}: no item to move${to ? ` to ${to}` : ''} (items are already there or further).`);
    }
    if (this.liveItems(o).some((i) => i.status !== 'Added')) this.toKitchen(o);
    this.touch(o, `order ${o.number}: ${moved} item(s) moved in the kitchen`);
    return o;
  }

  /** Prints the bill (pre-check): New → Bill. */
  bill(o: OrderRec): OrderRec {
    if (o.status !== 'New') throw new SimError(409, `Order ${o.number} is ${o.status}: only a New order can get a bill.`);
    if (this.liveItems(o).length === 0) throw new SimError(409, `Order ${o.number} has no items to bill.`);
    o.status = 'Bill';
    o.billTime = this.clock.now();
    this.touch(o, `order ${o.number}: bill printed, ${this.resultSum(o)} ₽`);
    return o;
  }

  /**
   * Pays an order. `sum` defaults to what is still due. When the payments cover
   * the result sum the order is Closed; a smaller sum is a partial payment and
   * the order stays open.
   */
  pay(o: OrderRec, paymentType: string, sum?: number): OrderRec {
    if (!this.isOpen(o)) throw new SimError(409, `Order ${o.number} is ${o.status}: it cannot be paid.`);
    if (this.liveItems(o).length === 0) throw new SimError(409, `Order ${o.number} has no items to pay for.`);
    const type = this.paymentType(paymentType);
    const due = round2(this.resultSum(o) - this.paidSum(o));
    const amount = round2(sum ?? due);
    if (!(amount > 0)) throw new SimError(400, `The payment sum must be above zero (due: ${due}).`);
    o.payments.push({ id: this.rng.guid(), sum: amount, typeId: type.id, isPrepay: false, isExternal: false });
    if (this.paidSum(o) >= this.resultSum(o)) {
      this.closeOrder(o);
      o.cashierName ??= o.waiterName;
      // Paying a pickup closes the delivery too (iiko's post on paying deliveries).
      const d = o.deliveryId ? this.deliveries.find((x) => x.id === o.deliveryId) : undefined;
      if (d?.selfService && d.status !== 'Cancelled') d.status = 'Closed';
    }
    this.touch(o, `order ${o.number}: paid ${amount} ₽ by ${type.name}${o.status === 'Closed' ? ', closed' : ''}`);
    return o;
  }

  /** Gives an open order a percentage discount; ResultSum drops accordingly. */
  addDiscount(o: OrderRec, name: string, percent: number): OrderRec {
    if (o.status !== 'New') throw new SimError(409, `Order ${o.number} is ${o.status}: discounts can be added only while it is New.`);
    if (!(percent > 0 && percent <= 100)) throw new SimError(400, 'A discount percent must be above 0 and at most 100.');
    o.discounts.push({ id: this.rng.guid(), name, percent });
    this.touch(o, `order ${o.number}: discount ${name} ${percent}%`);
    return o;
  }

  /** Deletes an open order (Status Deleted). A closed order cannot be deleted. */
  deleteOrder(o: OrderRec): OrderRec {
    if (!this.isOpen(o)) throw new SimError(409, `Order ${o.number} is ${o.status}: only an open order can be deleted.`);
    o.status = 'Deleted';
    o.closeTime = this.clock.now();
    this.touch(o, `order ${o.number} deleted`);
    return o;
  }

  // ---- deliveries -------------------------------------------------------------

  /** Takes a delivery order (Unconfirmed), with its own order behind it. */
  createDelivery(input: DeliveryInput): DeliveryRec {
    if (input.items.length === 0) throw new SimError(400, 'A delivery needs at least one item.');
    this.checkItems(input.items);
    const self = input.selfService ?? false;
    const o = this.newOrder(self ? 'DeliveryPickup' : 'DeliveryByCourier', null, null, 1);
    o.originName = 'Телефон';
    this.putItems(o, input.items);
    const now = this.clock.now();
    const d: DeliveryRec = {
      id: o.id,
      number: o.number,
      status: 'Unconfirmed',
      orderId: o.id,
      customerName: input.customerName ?? 'Гость',
      phone: input.phone ?? '+79990000000',
      address: self ? null : { city: 'Москва', street: this.rng.pick(STREETS), house: String(this.rng.int(1, 60)), flat: String(this.rng.int(1, 200)) },
      courierName: null,
      createdTime: now,
      expectedTime: now + 60 * 60_000,
      sendTime: null,
      deliveredTime: null,
      comment: input.comment ?? null,
      selfService: self,
    };
    o.deliveryId = d.id;
    this.orders.push(o);
    this.deliveries.push(d);
    this.touch(o, `delivery ${d.number} taken`);
    return d;
  }

  /** Moves a delivery one step along its flow, or to `to` (Cancelled from any state before OnWay). */
  advanceDelivery(d: DeliveryRec, to?: DeliveryStatusName): DeliveryRec {
    const o = this.orderOf(d);
    if (!o) throw new SimError(409, `Delivery ${d.number} has lost its order.`);
    const flow = flowOf(d);
    const from = flow.indexOf(d.status);
    if (d.status === 'Closed' || d.status === 'Cancelled') throw new SimError(409, `Delivery ${d.number} is ${d.status}: it no longer moves.`);
    if (to === 'Cancelled') {
      if (d.status === 'OnWay' || d.status === 'Delivered') throw new SimError(409, `Delivery ${d.number} is ${d.status}: too late to cancel.`);
      d.status = 'Cancelled';
      if (this.isOpen(o)) { o.status = 'Deleted'; o.closeTime = this.clock.now(); }
      this.touch(o, `delivery ${d.number} cancelled`);
      return d;
    }
    const target = to === undefined ? from + 1 : flow.indexOf(to);
    if (target < 0) throw new SimError(409, `Delivery ${d.number} is a ${d.selfService ? 'pickup' : 'courier delivery'}: it never goes ${to ?? ''}.`);
    if (target <= from) throw new SimError(409, `Delivery ${d.number} is ${d.status}: it cannot go to ${to ?? 'the next status'}.`);
    for (let step = from + 1; step <= target; step++) this.deliveryStep(d, o, flow[step] as DeliveryStatusName);
    this.touch(o, `delivery ${d.number}: ${d.status}`);
    return d;
  }

  /**
   * Pays a delivery before it is delivered (a prepay, e.g. online): the order is
   * Closed while the delivery goes on (Waiting, OnWay …). A pickup paid this way
   * is also closed as a delivery (paying closes a pickup).
   */
  prepayDelivery(d: DeliveryRec, paymentType: string): DeliveryRec {
    const o = this.orderOf(d);
    if (!o) throw new SimError(409, `Delivery ${d.number} has lost its order.`);
    if (!this.isOpen(o)) throw new SimError(409, `Delivery ${d.number}: its order is ${o.status} already.`);
    if (d.status === 'Cancelled' || d.status === 'Closed') throw new SimError(409, `Delivery ${d.number} is ${d.status}.`);
    const type = this.paymentType(paymentType);
    o.payments.push({ id: this.rng.guid(), sum: round2(this.resultSum(o) - this.paidSum(o)), typeId: type.id, isPrepay: true, isExternal: true });
    this.closeOrder(o);
    if (d.selfService) d.status = 'Closed';
    this.touch(o, `delivery ${d.number}: prepaid by ${type.name}${d.selfService ? ', closed' : ` while ${d.status}`}`);
    return d;
  }

  private deliveryStep(d: DeliveryRec, o: OrderRec, status: DeliveryStatusName): void {
    d.status = status;
    // Confirming prints the items (normal priority: CookingStarted); Waiting means cooked and packed.
    const itemTo: Partial<Record<DeliveryStatusName, ItemStatusName>> = { New: 'CookingStarted', Waiting: 'CookingCompleted' };
    const to = itemTo[status];
    if (to) {
      for (const item of this.liveItems(o)) {
        const from = ITEM_FLOW.indexOf(item.status);
        for (let s = from + 1; s <= ITEM_FLOW.indexOf(to); s++) this.stamp(item, ITEM_FLOW[s] as ItemStatusName);
      }
      this.toKitchen(o);
    }
    const now = this.clock.now();
    if (status === 'OnWay') {
      d.sendTime = now;
      if (d.courierName === null) {
        // Only a courier who can sign in (has a PIN) can take the delivery.
        const able = this.couriers().filter((c) => c.hasPin);
        d.courierName = able.length > 0 ? this.rng.pick(able).name : null;
      }
    }
    if (status === 'Delivered') d.deliveredTime = now;
    if (status === 'Closed' && this.isOpen(o)) {
      const type = this.rng.pick(this.paymentTypes);
      o.payments.push({ id: this.rng.guid(), sum: round2(this.resultSum(o) - this.paidSum(o)), typeId: type.id, isPrepay: false, isExternal: false });
      this.closeOrder(o);
    }
  }

  private closeOrder(o: OrderRec): void {
    o.status = 'Closed';
    o.closeTime = this.clock.now();
    o.cashierName = this.staff.find((s) => s.role === 'Кассир')?.name ?? null;
  }

  /** The order reached the kitchen: it gets a kitchen order (number and Id) the kitchen screen shows. */
  private toKitchen(o: OrderRec): void {
    if (o.kitchenNumber !== null) return;
    o.kitchenNumber = ++this.lastKitchenNumber;
    // Derived from the order's Id, not drawn: a new draw here would change every later seeded record.
    const h = createHash('sha1').update(`kitchen:${o.id}`).digest('hex');
    o.kitchenId = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  // ---- staff and tables ---------------------------------------------------------

  addStaff(input: StaffInput): StaffRec {
    if (this.staff.some((s) => s.name === input.name)) throw new SimError(409, `A staff member named '${input.name}' already exists.`);
    const code = input.code ?? String(Math.max(0, ...this.staff.map((x) => Number(x.code) || 0)) + 1);
    if (this.staff.some((s) => s.code === code)) throw new SimError(409, `A staff member with code '${code}' already exists.`);
    const s: StaffRec = {
      id: this.rng.guid(),
      name: input.name,
      code,
      role: input.role ?? (input.courier ? 'Курьер' : 'Официант'),
      courier: input.courier ?? false,
      hasPin: input.hasPinCode ?? true,
      phone: input.phone ?? null,
      sessionOpen: true,
    };
    this.staff.push(s);
    this.revision++;
    this.record('staff', s.name, 'added');
    this.log(`staff added: ${s.name}`);
    return s;
  }

  removeStaff(name: string): StaffRec {
    const i = this.staff.findIndex((s) => s.name === name);
    if (i < 0) throw new SimError(404, `No staff member named '${name}'.`);
    const [s] = this.staff.splice(i, 1);
    this.revision++;
    this.record('staff', name, 'removed');
    this.log(`staff removed: ${name}`);
    return s as StaffRec;
  }

  addTable(input: TableInput): TableRec {
    if (this.tables.some((t) => t.number === input.number)) throw new SimError(409, `Table ${input.number} already exists.`);
    const halls = this.sections.filter((s) => s.kind === 'hall');
    const section = input.section === undefined
      ? halls[0]
      : this.sections.find((s) => s.name === input.section || s.id === input.section);
    if (!section) throw new SimError(400, `No section '${input.section ?? ''}'.`);
    if (section.kind !== 'hall') throw new SimError(409, `Section '${section.name}' is a kitchen: tables stand in halls.`);
    const t: TableRec = {
      id: this.rng.guid(), number: input.number, name: input.name ?? `Стол ${input.number}`,
      seats: input.seats ?? 4, sectionId: section.id, active: true,
    };
    this.tables.push(t);
    this.revision++;
    this.record('table', String(t.number), 'added');
    this.log(`table added: ${t.number}`);
    return t;
  }

  removeTable(num: number): TableRec {
    const i = this.tables.findIndex((t) => t.number === num);
    if (i < 0) throw new SimError(404, `No table number ${num}.`);
    const busy = this.orders.find((o) => o.tableNum === num && this.isOpen(o));
    if (busy) throw new SimError(409, `Table ${num} has open order ${busy.number}: close or delete it first.`);
    const [t] = this.tables.splice(i, 1);
    this.revision++;
    this.record('table', String(num), 'removed');
    this.log(`table removed: ${num}`);
    return t as TableRec;
  }

  /** A staff member opens or closes their shift (IsSessionOpen). */
  toggleSession(name: string): StaffRec {
    const s = this.staff.find((x) => x.name === name);
    if (!s) throw new SimError(404, `No staff member named '${name}'.`);
    s.sessionOpen = !s.sessionOpen;
    this.revision++;
    this.record('staff', s.name, s.sessionOpen ? 'shift-open' : 'shift-closed');
    this.log(`${s.name}: shift ${s.sessionOpen ? 'opened' : 'closed'}`);
    return s;
  }

  // ---- internals ------------------------------------------------------------------

  private leastBusyWaiter(): StaffRec | undefined {
    const load = (s: StaffRec) => this.orders.filter((o) => o.waiterName === s.name && this.isOpen(o)).length;
    let best: StaffRec | undefined;
    for (const w of this.waiters()) if (!best || load(w) < load(best)) best = w;
    return best;
  }

  private newOrder(type: ServiceType, waiterName: string | null, tableNum: number | null, guests: number): OrderRec {
    return {
      id: this.rng.guid(),
      number: ++this.lastOrderNumber,
      status: 'New',
      openTime: this.clock.now(),
      billTime: null,
      closeTime: null,
      waiterName,
      cashierName: null,
      tableNum,
      guests: Array.from({ length: guests }, (_, rank) => ({ id: this.rng.guid(), rank, name: `Гость ${rank + 1}`, items: [] })),
      payments: [],
      discounts: [],
      revision: 0,
      originName: null,
      serviceType: type,
      kitchenNumber: null,
      kitchenId: null,
      deliveryId: null,
    };
  }

  /** Refuses unknown or off-sale products and a size the product is not sold in, before anything changes. */
  private checkItems(items: ItemInput[]): void {
    for (const it of items) {
      const p = this.product(it.productCode);
      if (it.size !== undefined && !p.template?.sizes.includes(it.size)) {
        throw new SimError(400, `Product '${p.code}' (${p.name}) is not sold in size '${it.size}'${p.template ? `; sizes: ${p.template.sizes.join(', ')}` : ''}.`);
      }
    }
  }

  private putItems(o: OrderRec, items: ItemInput[]): void {
    for (const it of items) {
      const p = this.product(it.productCode);
      const rank = Math.max(0, (it.guest ?? 1) - 1);
      while (o.guests.length <= rank) {
        const r = o.guests.length;
        o.guests.push({ id: this.rng.guid(), rank: r, name: `Гость ${r + 1}`, items: [] });
      }
      const guest = o.guests[rank] as GuestRec;
      // The first size unless told: drawing one would change every later seeded record.
      const size = p.template ? (it.size ?? p.template.sizes[0] ?? null) : null;
      guest.items.push({
        id: this.rng.guid(), productCode: p.code, name: size ? `${p.name} ${size}` : p.name, amount: it.amount, price: p.price,
        status: 'Added', deleted: false, printTime: null, cookingStartTime: null, cookingFinishTime: null,
        serveTime: null, comment: it.comment ?? null, course: p.type === 'Goods' ? 0 : 1,
        kitchen: p.kitchen, cookingMinutes: p.cookingMinutes,
        compound: p.template ? { template: p.template.name, scale: p.template.scale, size } : null,
      });
    }
  }

  private stamp(item: ItemRec, status: ItemStatusName): void {
    const now = this.clock.now();
    item.status = status;
    if (status === 'PrintedNotCooking') item.printTime = now;
    if (status === 'CookingStarted') item.cookingStartTime = now;
    if (status === 'CookingCompleted') item.cookingFinishTime = now;
    if (status === 'Served') item.serveTime = now;
  }

  private touch(o: OrderRec, what: string): void {
    o.revision = ++this.revision;
    const d = o.deliveryId ? this.deliveries.find((x) => x.id === o.deliveryId) : undefined;
    this.record('order', o.id.toLowerCase(), o.status, this.resultSum(o), d?.status ?? null);
    this.log(what);
    this.prune();
  }

  private record(kind: HistoryEntry['kind'], key: string, status: string, result: number | null = null, delivery: string | null = null): void {
    const n = this.historyDropped + this.history.length + 1;
    this.history.push({ n, at: Date.now(), kind, revision: this.revision, key, status, result, delivery });
    if (this.history.length > HISTORY_KEPT) {
      this.history.shift();
      this.historyDropped++;
    }
  }

  private prune(): void {
    const finished = this.orders.filter((o) => !this.isOpen(o));
    let extra = finished.length - FINISHED_ORDERS_KEPT;
    if (extra <= 0) return;
    for (let i = 0; i < this.orders.length && extra > 0;) {
      const o = this.orders[i] as OrderRec;
      if (!this.isOpen(o)) {
        this.orders.splice(i, 1);
        if (o.deliveryId) {
          const di = this.deliveries.findIndex((d) => d.id === o.deliveryId);
          if (di >= 0) this.deliveries.splice(di, 1);
        }
        extra--;
      } else i++;
    }
  }
}

const STREETS = ['ул. Тверская', 'ул. Арбат', 'Ленинский пр-т', 'ул. Покровка', 'ул. Маросейка', 'Кутузовский пр-т'];
