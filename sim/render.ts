/**
 * The plugin's view of the world: PascalCase records, times as ISO 8601 with the
 * POS's offset, absolute links built from the base the request came in on, and
 * enums as numbers, as the recorded answers carry them (docs/iiko-front-web-api.md
 * names the source of each field). Every record here passes the matching
 * validator in protocol/front.ts. Nothing iikoOffice alone knows (roles, rights,
 * PINs) is shown.
 */
import {
  DeliveryStatus, ItemStatus, OrderStatus, ServiceType,
  type DeliveryOrder, type KitchenOrder, type Order, type Product, type ProductGroup, type Section, type Table, type User,
} from '../protocol/front.ts';
import type {
  DeliveryRec, GroupRec, ItemRec, ItemStatusName, OrderRec, PaymentRec, ProductRec, SectionRec, StaffRec, TableRec, World,
} from './world.ts';
import { round2 } from './world.ts';
import { formatDuration } from './time.ts';

export interface View {
  world: World;
  /** `http://host:port`, no trailing slash; see http.ts for how it is made safe. */
  base: string;
  /** Show `Code` on payment types (an assumption of ours; off exercises the name-only rule). */
  paymentCodes: boolean;
}

/**
 * KitchenOrderItemProcessingStatus (Idle 0 … Processed 5, Served 6) of an item
 * in the kitchen: printed and waiting is Idle, cooking a Processing step.
 */
export const PROCESSING_STATUS: Record<ItemStatusName, number> = {
  Added: 0, PrintedNotCooking: 0, CookingStarted: 2, CookingCompleted: 5, Served: 6,
};
/** The order type's name per service type: «Доставка самовывоз» is recorded; the others are ours. */
export const ORDER_TYPE_NAME: Record<OrderRec['serviceType'], string | null> = {
  Common: null, DeliveryByCourier: 'Доставка курьером', DeliveryPickup: 'Доставка самовывоз',
};

/** An enum as the plugin writes it: its number (the SDK's order). */
const num = <T extends readonly string[]>(names: T, v: T[number]): number => names.indexOf(v);

const enc = encodeURIComponent;
export const link = {
  order: (v: View, id: string) => `${v.base}/api/orders/${id}`,
  user: (v: View, name: string) => `${v.base}/api/users/${enc(name)}`,
  table: (v: View, n: number) => `${v.base}/api/tables/${n}`,
  section: (v: View, name: string) => `${v.base}/api/sections/${enc(name)}`,
  product: (v: View, code: string) => `${v.base}/api/products/${enc(code)}`,
  group: (v: View, id: string) => `${v.base}/api/productgroups/${id}`,
  delivery: (v: View, id: string) => `${v.base}/api/deliveries/${id}`,
  kitchen: (v: View, n: number) => `${v.base}/api/kitchenorders/${n}`,
};

const t = (v: View, ms: number | null): string | null => (ms === null ? null : v.world.clock.format(ms));

/** A compound item's parts as recorded: Product null, PrimaryComponent.Product, Size { Name, KitchenName }, Template. */
function compoundParts(v: View, i: ItemRec) {
  if (!i.compound) return { Product: link.product(v, i.productCode), IsCompound: false, PrimaryComponent: null, SecondaryComponent: null, Size: null, Template: null };
  return {
    Product: null,
    IsCompound: true,
    PrimaryComponent: { Product: link.product(v, i.productCode), Amount: i.amount, Modifiers: [] },
    SecondaryComponent: null,
    Size: i.compound.size === null ? null : { Name: i.compound.size, KitchenName: i.compound.size },
    Template: { Name: i.compound.template, AllowProductsCombining: false, Scale: i.compound.scale },
  };
}

function renderItem(v: View, i: ItemRec) {
  return {
    Id: i.id,
    Amount: i.amount,
    Price: i.price,
    Cost: round2(i.price * i.amount),
    Deleted: i.deleted,
    PrintTime: t(v, i.printTime),
    CookingStartTime: t(v, i.cookingStartTime),
    CookingFinishTime: t(v, i.cookingFinishTime),
    CookingTime: formatDuration(i.cookingMinutes),
    ServeTime: t(v, i.serveTime),
    Name: i.name,
    Comment: i.comment,
    Status: num(ItemStatus, i.status),
    Course: i.course,
    Modifiers: [],
    ...compoundParts(v, i),
  };
}

function renderPayment(v: View, p: PaymentRec) {
  const type = v.world.paymentTypes.find((x) => x.id === p.typeId);
  return {
    Id: p.id,
    Sum: p.sum,
    Status: 'Processed',
    IsExternal: p.isExternal,
    IsProcessedExternally: false,
    IsPrepay: p.isPrepay,
    Type: type
      ? { Id: type.id, Name: type.name, Kind: type.kind, ...(v.paymentCodes ? { Code: type.code } : {}) }
      : null,
  };
}

export type OrderOut = Order;

export function renderOrder(v: View, o: OrderRec): OrderOut {
  const w = v.world;
  const full = w.fullSum(o);
  const delivery = o.deliveryId ? w.deliveries.find((d) => d.id === o.deliveryId) : undefined;
  return {
    Id: o.id,
    Number: o.number,
    Status: num(OrderStatus, o.status),
    FullSum: full,
    ResultSum: w.resultSum(o),
    ProcessedPaymentsSum: w.paidSum(o),
    IsBanquetOrder: false,
    OpenTime: t(v, o.openTime),
    BillTime: t(v, o.billTime),
    CloseTime: t(v, o.closeTime),
    WaiterName: o.waiterName,
    CashierName: o.cashierName,
    TableNum: o.tableNum,
    Waiter: o.waiterName === null ? null : link.user(v, o.waiterName),
    Cashier: o.cashierName === null ? null : link.user(v, o.cashierName),
    Table: o.tableNum === null ? null : link.table(v, o.tableNum),
    Tables: o.tableNum === null ? [] : [link.table(v, o.tableNum)],
    Guests: o.guests.map((g) => ({ Id: g.id, Rank: g.rank, Name: g.name, Items: g.items.map((i) => renderItem(v, i)) })),
    IsDeliveryOrder: o.serviceType !== 'Common',
    Customers: [],
    Delivery: delivery ? link.delivery(v, delivery.id) : null,
    OrderType: ORDER_TYPE_NAME[o.serviceType],
    OrderServiceType: num(ServiceType, o.serviceType),
    OriginName: o.originName,
    Payments: o.payments.map((p) => renderPayment(v, p)),
    Discounts: o.discounts.map((d) => ({ Id: d.id, Name: d.name, Percent: d.percent, Sum: round2((full * d.percent) / 100) })),
    Revision: o.revision,
    TabName: null,
    Url: link.order(v, o.id),
  };
}

/** A user with exactly the WebApiServer User contract's fields. */
export function renderUser(_v: View, s: StaffRec): User {
  return {
    Card: null, CellPhone: s.phone, Code: s.code, Id: s.id, InsuranceNumber: null, IsSessionOpen: s.sessionOpen,
    Name: s.name, TaxpayerId: null, Type: null,
  };
}

/** A table with exactly the WebApiServer Table contract's fields; its section lists it, it names no section. */
export function renderTable(_v: View, tb: TableRec): Table {
  return { Id: tb.id, IsActive: tb.active, Name: tb.name, Number: tb.number, SeatingCapacity: tb.seats };
}

/** A section (hall or kitchen) with the RestaurantSection contract's fields: Id, Name, Tables. */
export function renderSection(v: View, s: SectionRec): Section {
  return {
    Id: s.id, Name: s.name,
    Tables: v.world.tables.filter((tb) => tb.sectionId === s.id).map((tb) => link.table(v, tb.number)),
  };
}

/** A product: Number is the code its links end with. */
export function renderProduct(v: View, p: ProductRec): Product {
  return { Id: p.id, Name: p.name, Number: p.code, Price: p.price, Parent: link.group(v, p.groupId), Type: p.type, IsActive: p.active };
}

/** A group: Parent and ChildGroups/ChildProducts as links (links are how the plugin refers to records). */
export function renderGroup(v: View, g: GroupRec): ProductGroup {
  const w = v.world;
  return {
    Id: g.id, Name: g.name, Number: null,
    Parent: g.parentId === null ? null : link.group(v, g.parentId),
    ChildGroups: w.groups.filter((c) => c.parentId === g.id).map((c) => link.group(v, c.id)),
    ChildProducts: w.products.filter((p) => p.groupId === g.id).map((p) => link.product(v, p.code)),
  };
}

/** A delivery: the order itself (same Id, Status the order's) with the delivery's own DeliveryStatus. */
export function renderDelivery(v: View, d: DeliveryRec): DeliveryOrder {
  const o = v.world.orderOf(d);
  if (!o) throw new Error(`delivery ${d.number} lost its order`);
  return {
    ...renderOrder(v, o),
    DeliveryStatus: num(DeliveryStatus, d.status),
    Phone: d.phone,
    ClientName: d.customerName,
    Address: d.address ? { Street: { Name: d.address.street, City: { Name: d.address.city } }, House: d.address.house, Flat: d.address.flat } : null,
    Courier: d.courierName === null ? null : link.user(v, d.courierName),
    Comment: d.comment,
    ExpectedDeliverTime: t(v, d.expectedTime),
    SendTime: t(v, d.sendTime),
    ActualDeliverTime: t(v, d.deliveredTime),
    CreateTime: t(v, d.createdTime),
    Url: link.delivery(v, d.id),
  };
}

/** The orders the kitchen screen shows: open orders with at least one item sent to the kitchen. */
export function kitchenOrders(w: World): OrderRec[] {
  return w.orders.filter((o) => o.kitchenNumber !== null && w.isOpen(o));
}

/** A kitchen order as recorded: its own Id, items with their kitchen (a section), ProcessingStatus as a number. */
export function renderKitchenOrder(v: View, o: OrderRec): KitchenOrder {
  const delivery = o.deliveryId ? v.world.deliveries.find((d) => d.id === o.deliveryId) : undefined;
  return {
    Id: o.kitchenId ?? o.id, Number: o.kitchenNumber ?? 0, WaiterName: o.waiterName, TableNum: o.tableNum,
    Waiter: o.waiterName === null ? null : link.user(v, o.waiterName), Table: o.tableNum === null ? null : link.table(v, o.tableNum),
    Items: v.world.items(o).filter((i) => i.status !== 'Added').map((i) => {
      const parts = compoundParts(v, i);
      return {
        Id: i.id, Amount: i.amount, ProductName: i.name, Product: parts.Product, KitchenName: i.kitchen, Kitchen: link.section(v, i.kitchen),
        Deleted: i.deleted, Course: i.course, ServeGroupNumber: 1, IsCookingStarted: i.cookingStartTime !== null,
        PrintTime: t(v, i.printTime), ProcessingCompleteTime: t(v, i.cookingFinishTime), ServeTime: t(v, i.serveTime),
        ProcessingStatus: PROCESSING_STATUS[i.status], CookingTime: formatDuration(i.cookingMinutes),
        Size: parts.Size, Comment: i.comment, Modifiers: [],
        IsCompound: parts.IsCompound, PrimaryComponent: parts.PrimaryComponent, SecondaryComponent: null, Template: parts.Template,
      };
    }),
    BaseOrder: link.order(v, o.id), OrderType: ORDER_TYPE_NAME[o.serviceType], OrderServiceType: num(ServiceType, o.serviceType),
    IsDeliverySelfService: delivery?.selfService ?? false, OriginName: o.originName, ExternalNumber: null, Url: link.kitchen(v, o.kitchenNumber ?? 0),
  };
}
