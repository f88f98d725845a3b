/**
 * The plugin's view of the world: PascalCase records, times as ISO 8601 with the
 * POS's offset, and absolute links built from the base the request came in on.
 * Every record here passes the matching validator in protocol/front.ts.
 */
import type {
  DeliveryOrder, KitchenOrder, Order, Product, ProductGroup, Section, Table, User,
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
  /** Show `Code` on payment types (a guess of ours; off exercises the name-only rule). */
  paymentCodes: boolean;
}

/** KitchenOrderItemProcessingStatus as numbers [guess: 6 = Processed, as a public client reads it]. */
export const PROCESSING_STATUS: Record<ItemStatusName, number> = {
  Added: 0, PrintedNotCooking: 1, CookingStarted: 2, CookingCompleted: 6, Served: 7,
};
const SERVICE_TYPE_NUMBER = { Common: 0, DeliveryByCourier: 1, DeliveryPickUp: 2 } as const;

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
    ServeTime: t(v, i.serveTime),
    Name: i.name,
    Product: link.product(v, i.productCode),
    Comment: i.comment,
    Status: i.status,
    Modifiers: [],
    IsCompound: false,
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

/** An order as the plugin sends it; `Tables` is an SDK field the validator does not name. */
export type OrderOut = Order & { Tables: string[] };

export function renderOrder(v: View, o: OrderRec): OrderOut {
  const w = v.world;
  const full = w.fullSum(o);
  const delivery = o.deliveryId ? w.deliveries.find((d) => d.id === o.deliveryId) : undefined;
  return {
    Id: o.id,
    Number: o.number,
    Status: o.status,
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
    Table: o.tableNum === null ? null : link.table(v, o.tableNum),
    Tables: o.tableNum === null ? [] : [link.table(v, o.tableNum)],
    Guests: o.guests.map((g) => ({ Id: g.id, Rank: g.rank, Name: g.name, Items: g.items.map((i) => renderItem(v, i)) })),
    IsDeliveryOrder: o.serviceType !== 'Common',
    Customers: delivery ? [{ Name: delivery.customerName, Phone: delivery.phone }] : [],
    Delivery: delivery ? link.delivery(v, delivery.id) : null,
    OrderType: null,
    OrderServiceType: o.serviceType,
    Payments: o.payments.map((p) => renderPayment(v, p)),
    Discounts: o.discounts.map((d) => ({ Id: d.id, Name: d.name, Percent: d.percent, Sum: round2((full * d.percent) / 100) })),
    Revision: o.revision,
    OriginName: o.originName,
    TabName: null,
    Url: link.order(v, o.id),
  };
}

export function renderUser(v: View, s: StaffRec): User {
  return {
    Id: s.id, Name: s.name, RoleName: s.role, Rights: s.rights.slice(), HasPinCode: s.hasPin,
    Phone: s.phone, IsSessionOpen: s.sessionOpen, Url: link.user(v, s.name),
  };
}

export function renderTable(v: View, tb: TableRec): Table {
  const section = v.world.section(tb.sectionId);
  return {
    Id: tb.id, Number: tb.number, Name: tb.name, SeatingCapacity: tb.seats,
    Section: section ? link.section(v, section.name) : null, SectionName: section?.name ?? null,
    IsActive: tb.active, Url: link.table(v, tb.number),
  };
}

export function renderSection(v: View, s: SectionRec): Section {
  return {
    Id: s.id, Name: s.name,
    Tables: v.world.tables.filter((tb) => tb.sectionId === s.id).map((tb) => link.table(v, tb.number)),
    Url: link.section(v, s.name),
  };
}

export function renderProduct(v: View, p: ProductRec): Product {
  return {
    Id: p.id, Code: p.code, Name: p.name, Price: p.price, Parent: link.group(v, p.groupId), ParentGroupId: p.groupId,
    Type: p.type, IsActive: p.active, Url: link.product(v, p.code),
  };
}

/** Groups are served flat, parents before children; the tree is in ParentId (no nested Children). */
export function renderGroup(v: View, g: GroupRec): ProductGroup {
  return {
    Id: g.id, Name: g.name, ParentId: g.parentId, Parent: g.parentId === null ? null : link.group(v, g.parentId),
    Products: v.world.products.filter((p) => p.groupId === g.id).map((p) => link.product(v, p.code)),
    IsActive: g.active, Url: link.group(v, g.id),
  };
}

export function renderDelivery(v: View, d: DeliveryRec): DeliveryOrder {
  const o = v.world.orderOf(d);
  return {
    Id: d.id, Number: d.number, Status: d.status,
    Address: d.address ? { City: d.address.city, Street: d.address.street, House: d.address.house, Flat: d.address.flat } : null,
    CustomerName: d.customerName, Phone: d.phone,
    CourierName: d.courierName, Courier: d.courierName === null ? null : link.user(v, d.courierName),
    ExpectedTime: t(v, d.expectedTime), CreatedTime: t(v, d.createdTime),
    Sum: o ? v.world.resultSum(o) : 0, Order: o ? link.order(v, o.id) : null,
    Comment: d.comment, IsSelfService: d.selfService, Url: link.delivery(v, d.id),
  };
}

/** The orders the kitchen screen shows: open orders with at least one item sent to the kitchen. */
export function kitchenOrders(w: World): OrderRec[] {
  return w.orders.filter((o) => o.kitchenNumber !== null && w.isOpen(o));
}

export function renderKitchenOrder(v: View, o: OrderRec): KitchenOrder {
  const delivery = o.deliveryId ? v.world.deliveries.find((d) => d.id === o.deliveryId) : undefined;
  return {
    Id: o.id, Number: o.kitchenNumber ?? 0, WaiterName: o.waiterName, TableNum: o.tableNum,
    Items: v.world.items(o).filter((i) => i.status !== 'Added').map((i) => ({
      Id: i.id, Amount: i.amount, ProductName: i.name, KitchenName: i.kitchen, Deleted: i.deleted, Course: i.course,
      IsCookingStarted: i.cookingStartTime !== null, PrintTime: t(v, i.printTime),
      ProcessingStatus: PROCESSING_STATUS[i.status], CookingTime: formatDuration(i.cookingMinutes),
      Size: null, Modifiers: [],
    })),
    BaseOrder: link.order(v, o.id), OrderServiceType: SERVICE_TYPE_NUMBER[o.serviceType],
    IsDeliverySelfService: delivery?.selfService ?? false, ExternalNumber: null, Url: link.kitchen(v, o.kitchenNumber ?? 0),
  };
}
