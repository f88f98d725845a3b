/**
 * Shapes of the iiko Front Web API plugin (port 9042), PascalCase as the plugin
 * sends them. docs/iiko-front-web-api.md names the public source of every field
 * here, or says it is an assumption. The simulator renders these shapes and the
 * companion reads them field by field (main/core/iiko/), so a validator here is
 * for tests and the sim: deliberately lenient (unknown fields pass, anything not
 * seen in a recorded answer is optional, enums are a name or a number).
 */
import { z } from 'zod';

const opt = <T extends z.ZodTypeAny>(t: T) => t.nullish();
const money = z.number();
/** ISO 8601 with the POS's UTC offset, e.g. 2025-01-28T12:31:49.5619262+05:00 (recorded). Kept as a string. */
const time = z.string();
/** An absolute link the plugin builds from the request's host, e.g. http://127.0.0.1:9042/api/products/00818. */
const link = z.string();
/**
 * An enum as the plugin writes it. The recorded kitchen orders carry numbers
 * (ProcessingStatus 6, OrderServiceType 2) and a public Go client types the
 * order's Status as a number; the SDK documents the names. Both are read.
 */
const enumValue = z.union([z.number().int(), z.string()]);

/** `GET /api/login/{moduleId}` answers a JSON string: the session token. */
export const LoginToken = z.string().min(1);

/** `GET /api/logout/{token}` answers `true`. */
export const LogoutResult = z.boolean();

// ---- Enums, in the SDK's numeric order (value = index) ------------------------

/** SDK OrderStatus: New 0, Bill 1, Closed 2, Deleted 3 (docs/v8 T_Resto_Front_Api_Data_Orders_OrderStatus). */
export const OrderStatus = ['New', 'Bill', 'Closed', 'Deleted'] as const;
/** SDK OrderItemStatus: Added 0 … Served 4 (docs/v8 T_Resto_Front_Api_Data_Orders_OrderItemStatus). */
export const ItemStatus = ['Added', 'PrintedNotCooking', 'CookingStarted', 'CookingCompleted', 'Served'] as const;
/** SDK Brd.DeliveryStatus, the delivery's own status: Unconfirmed 0 … Cancelled 6 (docs/v8 T_Resto_Front_Api_Data_Brd_DeliveryStatus). */
export const DeliveryStatus = ['Unconfirmed', 'New', 'Waiting', 'OnWay', 'Delivered', 'Closed', 'Cancelled'] as const;
/** WebApiServer KitchenOrderItemProcessingStatus: Idle 0, Processing1–4 = 1–4, Processed 5, Served 6. */
export const ProcessingStatus = ['Idle', 'Processing1', 'Processing2', 'Processing3', 'Processing4', 'Processed', 'Served'] as const;
/**
 * iikoFront's OrderServiceType: Common 0, DeliveryByCourier 1, DeliveryPickup 2
 * (the names and order of iikoFront's print templates' RMS entity wrapper).
 * Recorded kitchen orders show 0 for a table order and 2 for «Доставка самовывоз».
 * iiko Cloud calls a pickup DeliveryByClient; both names are read.
 */
export const ServiceType = ['Common', 'DeliveryByCourier', 'DeliveryPickup'] as const;

export type OrderStatusName = (typeof OrderStatus)[number];
export type ItemStatusName = (typeof ItemStatus)[number];
export type DeliveryStatusName = (typeof DeliveryStatus)[number];
export type ServiceTypeName = (typeof ServiceType)[number];

// ---- Staff, tables, sections (WebApiServer contracts) --------------------------

/** WebApiServer User: exactly these fields. No rights, no PIN flag, no role. */
export const User = z.object({
  Id: opt(z.string()),
  Name: z.string(),
  Code: opt(z.string()),
  CellPhone: opt(z.string()),
  Card: opt(z.string()),
  InsuranceNumber: opt(z.string()),
  IsSessionOpen: opt(z.boolean()),
  TaxpayerId: opt(z.string()),
  /** UserType (employee, special guest, supplier). */
  Type: opt(enumValue),
  Url: opt(link),
});

/** WebApiServer Table: Id, IsActive, Name, Number, SeatingCapacity. It names no section; sections list their tables. */
export const Table = z.object({
  Id: opt(z.string()),
  Number: z.number(),
  Name: opt(z.string()),
  SeatingCapacity: opt(z.number()),
  IsActive: opt(z.boolean()),
  Url: opt(link),
});

/**
 * WebApiServer RestaurantSection: Id, Name, Tables. Kitchens and bars are
 * sections too (recorded kitchen items link to /api/sections/Экран повара 1).
 */
export const Section = z.object({
  Id: opt(z.string()),
  Name: z.string(),
  Tables: opt(z.array(link)),
  Url: opt(link),
});

// ---- Menu -----------------------------------------------------------------------

/** WebApiServer Product; `Number` is the code item links end with (/api/products/00818, recorded). */
export const Product = z.object({
  Id: opt(z.string()),
  Name: z.string(),
  Number: opt(z.string()),
  Price: opt(money),
  Parent: opt(z.string()),
  Type: opt(enumValue),
  IsActive: opt(z.boolean()),
  Url: opt(link),
});

/** WebApiServer ProductGroup: Id, Name, Number, Parent, ChildGroups, ChildProducts (links, an assumption). */
export const ProductGroup = z.object({
  Id: z.string(),
  Name: z.string(),
  Number: opt(z.string()),
  Parent: opt(z.string()),
  ChildGroups: opt(z.array(z.string())),
  ChildProducts: opt(z.array(z.string())),
  IsActive: opt(z.boolean()),
  Url: opt(link),
});

// ---- Orders ---------------------------------------------------------------------

/** A compound item's component (recorded in kitchen orders: { Product, Amount, Modifiers }). */
export const Component = z.object({
  Product: opt(link),
  Amount: opt(z.number()),
  Modifiers: opt(z.array(z.unknown())),
});

/** Size as recorded in kitchen orders ({ Name, KitchenName }); a public client types it as a string in orders. */
const Size = z.union([z.object({ Name: opt(z.string()), KitchenName: opt(z.string()) }), z.string()]);
/** Template as recorded in kitchen orders ({ Name, AllowProductsCombining, Scale }). */
const Template = z.union([z.object({ Name: opt(z.string()), AllowProductsCombining: opt(z.boolean()), Scale: opt(z.string()) }), z.string()]);

export const OrderItem = z.object({
  Id: z.string(),
  Amount: opt(z.number()),
  Price: opt(money),
  Cost: opt(money),
  Deleted: opt(z.boolean()),
  PrintTime: opt(time),
  CookingStartTime: opt(time),
  CookingFinishTime: opt(time),
  ServeTime: opt(time),
  CookingTime: opt(z.string()),
  Name: opt(z.string()),
  /** A link to the product; null for a compound item, whose product is under PrimaryComponent. */
  Product: opt(link),
  Comment: opt(z.string()),
  /** OrderItemStatus, a name or a number. */
  Status: opt(enumValue),
  Course: opt(z.number()),
  Modifiers: opt(z.array(z.unknown())),
  IsCompound: opt(z.boolean()),
  PrimaryComponent: opt(z.union([Component, link])),
  SecondaryComponent: opt(z.union([Component, link])),
  Size: opt(Size),
  Template: opt(Template),
});

export const Guest = z.object({
  Id: z.string(),
  Rank: opt(z.number()),
  Name: opt(z.string()),
  Items: opt(z.array(OrderItem)),
});

/** SDK IPaymentType: Id, Name, Kind. `Code` is not in the SDK; the plugin may show it (assumption). */
export const PaymentType = z.object({
  Id: opt(z.string()),
  Name: opt(z.string()),
  Kind: opt(enumValue),
  Code: opt(z.string()),
});

/** SDK IPaymentItem names (an assumption for the plugin: no recorded answer shows payments). */
export const Payment = z.object({
  Id: z.string(),
  Sum: money,
  Status: opt(enumValue),
  IsExternal: opt(z.boolean()),
  IsProcessedExternally: opt(z.boolean()),
  IsPrepay: opt(z.boolean()),
  Type: opt(PaymentType),
});

export const Discount = z.object({
  Id: opt(z.string()),
  Name: opt(z.string()),
  Sum: opt(money),
  Percent: opt(z.number()),
});

/**
 * An order of `/api/orders`: the fields a public Go client of the plugin reads,
 * plus SDK IOrder names the plugin may add (Payments, Discounts, Revision,
 * Tables, TabName: assumptions). Deleted orders are not listed (SDK GetOrders
 * leaves them out unless asked).
 */
export const Order = z.object({
  Id: z.string(),
  Number: z.number(),
  /** OrderStatus, a name or a number. */
  Status: enumValue,
  FullSum: opt(money),
  ResultSum: opt(money),
  ProcessedPaymentsSum: opt(money),
  IsBanquetOrder: opt(z.boolean()),
  OpenTime: opt(time),
  BillTime: opt(time),
  CloseTime: opt(time),
  WaiterName: opt(z.string()),
  CashierName: opt(z.string()),
  TableNum: opt(z.number()),
  Waiter: opt(link),
  Cashier: opt(link),
  Table: opt(link),
  Guests: opt(z.array(Guest)),
  IsDeliveryOrder: opt(z.boolean()),
  Customers: opt(z.array(z.unknown())),
  Delivery: opt(z.unknown()),
  /** The order type's name, e.g. «Доставка самовывоз» (recorded in kitchen orders). */
  OrderType: opt(z.string()),
  /** OrderServiceType, a number (Go client) or a name. */
  OrderServiceType: opt(enumValue),
  OriginName: opt(z.string()),
  Url: opt(link),
  Payments: opt(z.array(Payment)),
  Discounts: opt(z.array(Discount)),
  Revision: opt(z.number()),
  TabName: opt(z.string()),
  Tables: opt(z.array(link)),
});

/**
 * A record of `/api/deliveries`: SDK IDeliveryOrder, which is an order (same Id,
 * `Status` the order's status) with the delivery's own `DeliveryStatus`.
 */
export const DeliveryOrder = Order.extend({
  DeliveryStatus: enumValue,
  Phone: opt(z.string()),
  ClientName: opt(z.string()),
  Client: opt(z.unknown()),
  Address: opt(z.unknown()),
  /** The courier: a link to the user, as the plugin links users (an assumption). */
  Courier: opt(z.string()),
  Comment: opt(z.string()),
  ExpectedDeliverTime: opt(time),
  SendTime: opt(time),
  ActualDeliverTime: opt(time),
  DeliveryCloseTime: opt(time),
  CreateTime: opt(time),
});

// ---- Kitchen orders (recorded) ---------------------------------------------------

export const KitchenModifier = z.object({
  Id: z.string(),
  Amount: opt(z.number()),
  ProductName: opt(z.string()),
  Product: opt(link),
  KitchenName: opt(z.string()),
  Kitchen: opt(link),
  Deleted: opt(z.boolean()),
  ProcessingStatus: opt(z.number()),
});

export const KitchenItem = z.object({
  Id: z.string(),
  Amount: opt(z.number()),
  ProductName: opt(z.string()),
  Product: opt(link),
  KitchenName: opt(z.string()),
  /** The kitchen as a section link: /api/sections/<name>. */
  Kitchen: opt(link),
  Deleted: opt(z.boolean()),
  Course: opt(z.number()),
  ServeGroupNumber: opt(z.number()),
  IsCookingStarted: opt(z.boolean()),
  PrintTime: opt(time),
  ProcessingCompleteTime: opt(time),
  ServeTime: opt(time),
  /** KitchenOrderItemProcessingStatus as a number: 0 Idle … 5 Processed, 6 Served. */
  ProcessingStatus: opt(z.number()),
  CookingTime: opt(z.string()),
  Size: opt(z.object({ Name: opt(z.string()), KitchenName: opt(z.string()) })),
  Comment: opt(z.string()),
  Modifiers: opt(z.array(KitchenModifier)),
  IsCompound: opt(z.boolean()),
  PrimaryComponent: opt(Component),
  SecondaryComponent: opt(Component),
  Template: opt(z.object({ Name: opt(z.string()), AllowProductsCombining: opt(z.boolean()), Scale: opt(z.string()) })),
});

export const KitchenOrder = z.object({
  Id: z.string(),
  Number: z.number(),
  WaiterName: opt(z.string()),
  TableNum: opt(z.number()),
  Waiter: opt(link),
  Table: opt(link),
  Items: opt(z.array(KitchenItem)),
  BaseOrder: opt(link),
  OrderType: opt(z.string()),
  /** A number: 0 a table order, 2 a pickup (recorded). */
  OrderServiceType: opt(z.number()),
  IsDeliverySelfService: opt(z.boolean()),
  OriginName: opt(z.string()),
  ExternalNumber: opt(z.string()),
  Url: opt(link),
});

export type Order = z.infer<typeof Order>;
export type OrderItem = z.infer<typeof OrderItem>;
export type Guest = z.infer<typeof Guest>;
export type Payment = z.infer<typeof Payment>;
export type PaymentType = z.infer<typeof PaymentType>;
export type User = z.infer<typeof User>;
export type Table = z.infer<typeof Table>;
export type Section = z.infer<typeof Section>;
export type Product = z.infer<typeof Product>;
export type ProductGroup = z.infer<typeof ProductGroup>;
export type DeliveryOrder = z.infer<typeof DeliveryOrder>;
export type KitchenOrder = z.infer<typeof KitchenOrder>;

/** Every resource the plugin serves, its list path and the validator of one record. */
export const resources = {
  orders: { path: '/api/orders', item: Order },
  users: { path: '/api/users', item: User },
  tables: { path: '/api/tables', item: Table },
  sections: { path: '/api/sections', item: Section },
  products: { path: '/api/products', item: Product },
  productgroups: { path: '/api/productgroups', item: ProductGroup },
  deliveries: { path: '/api/deliveries', item: DeliveryOrder },
  kitchenorders: { path: '/api/kitchenorders', item: KitchenOrder },
} as const;

/** The default module id every public sample logs in with. */
export const DEFAULT_MODULE_ID = '2050';
/** The plugin's default port. */
export const DEFAULT_FRONT_PORT = 9042;
/**
 * Where the simulated plugin shows its version [assumption, ours]: a response
 * header on every answer, and the root page's `<meta name="generator">`/visible
 * text. The client treats the version as optional.
 */
export const VERSION_HEADER = 'x-iiko-front-api-version';

/**
 * The version the root page shows, when the header is absent (the companion's
 * probe and the relay's probe-back both read it): `<meta name="generator" content="... 7.4.6012.0">` or a
 * dotted number in text.
 */
export function versionFromPage(html: string): string | undefined {
  const meta = /<meta\s+name=["']generator["']\s+content=["'][^"']*?(\d+(?:\.\d+){1,3})["']/i.exec(html);
  if (meta) return meta[1];
  const text = /(?:version|версия)[^0-9]{0,20}(\d+(?:\.\d+){1,3})/i.exec(html);
  return text?.[1];
}

/**
 * How the plugin refuses a login when no licence slot is free [assumption, from
 * iiko/front.api.sdk issue 32: "isn't licensed"]. The simulator answers `403`
 * with a JSON string message containing "isn't licensed"; the client counts a
 * 403 on login, or any login answer whose text matches this, as a licence refusal.
 */
export const LICENCE_REFUSAL = /licen[sc]/i;

/** Default cap on a plugin answer the core reads whole (probe, page, later the feed). */
export const DEFAULT_MAX_ANSWER_BYTES = 32 * 1024 * 1024;
