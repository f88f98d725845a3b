/**
 * Shapes of the iiko Front Web API plugin (port 9042), as far as they are known
 * (see docs/front-api.md, copied from shared/reference). PascalCase, as the plugin sends them.
 *
 * Validators are deliberately lenient: unknown fields are stripped, anything
 * the reference marks as a guess is optional, and nullable where the plugin may
 * send null. Identity fields (Id, Number, Name) are required: without them a
 * record cannot be used at all, so it is better to report a bad response.
 */
import { z } from 'zod';

const opt = <T extends z.ZodTypeAny>(t: T) => t.nullish();
const money = z.number();
/** ISO 8601 with the POS's UTC offset, e.g. 2025-01-28T12:31:49.56+05:00. Kept as a string. */
const time = z.string();

/** `GET /api/login/{moduleId}` answers a JSON string: the session token. */
export const LoginToken = z.string().min(1);

/** `GET /api/logout/{token}` answers `true`. */
export const LogoutResult = z.boolean();

export const TableOrderStatus = ['New', 'Bill', 'Closed', 'Deleted'] as const;
export const ItemStatus = ['Added', 'PrintedNotCooking', 'CookingStarted', 'CookingCompleted', 'Served'] as const;
export const DeliveryStatus = [
  'Unconfirmed', 'WaitCooking', 'ReadyForCooking', 'CookingStarted', 'CookingCompleted',
  'Waiting', 'OnWay', 'Delivered', 'Closed', 'Cancelled',
] as const;

export const Modifier = z.object({
  Id: opt(z.string()),
  Name: opt(z.string()),
  Amount: opt(z.number()),
  Price: opt(money),
  Product: opt(z.string()),
});

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
  Name: opt(z.string()),
  Product: opt(z.string()),
  Comment: opt(z.string()),
  /** One of ItemStatus; kept open so a new status does not break the client. */
  Status: opt(z.string()),
  Modifiers: opt(z.array(Modifier)),
  IsCompound: opt(z.boolean()),
});

export const Guest = z.object({
  Id: z.string(),
  Rank: opt(z.number()),
  Name: opt(z.string()),
  Items: opt(z.array(OrderItem)),
});

export const PaymentType = z.object({
  Id: opt(z.string()),
  Name: opt(z.string()),
  /** Cash, Card, ... as in the SDK's PaymentTypeKind. */
  Kind: opt(z.string()),
  /** Not in the SDK; the Cloud API shows it. The companion matches EVVAP on it when present. */
  Code: opt(z.string()),
  Alias: opt(z.string()),
});

export const Payment = z.object({
  Id: z.string(),
  Sum: money,
  Status: opt(z.string()),
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

export const Order = z.object({
  Id: z.string(),
  Number: z.number(),
  /** One of TableOrderStatus. */
  Status: z.string(),
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
  Waiter: opt(z.string()),
  Table: opt(z.string()),
  Guests: opt(z.array(Guest)),
  IsDeliveryOrder: opt(z.boolean()),
  Customers: opt(z.array(z.unknown())),
  Delivery: opt(z.unknown()),
  OrderType: opt(z.unknown()),
  OrderServiceType: opt(z.string()),
  Payments: opt(z.array(Payment)),
  Discounts: opt(z.array(Discount)),
  Revision: opt(z.number()),
  OriginName: opt(z.string()),
  TabName: opt(z.string()),
  Url: opt(z.string()),
});

export const User = z.object({
  Id: opt(z.string()),
  Name: z.string(),
  /** Access rights codes, e.g. "D_DC0" (may deliver as a courier). [guess] */
  Rights: opt(z.array(z.string())),
  HasPinCode: opt(z.boolean()),
  IsCourier: opt(z.boolean()),
  Phone: opt(z.string()),
  RoleName: opt(z.string()),
  IsSessionOpen: opt(z.boolean()),
  Url: opt(z.string()),
});

export const Table = z.object({
  Id: opt(z.string()),
  Number: z.number(),
  Name: opt(z.string()),
  SeatingCapacity: opt(z.number()),
  Section: opt(z.string()),
  SectionName: opt(z.string()),
  IsActive: opt(z.boolean()),
  Url: opt(z.string()),
});

export const Section = z.object({
  Id: opt(z.string()),
  Name: z.string(),
  Tables: opt(z.array(z.string())),
  Url: opt(z.string()),
});

export const Product = z.object({
  Id: opt(z.string()),
  Code: z.string(),
  Name: z.string(),
  Price: opt(money),
  Parent: opt(z.string()),
  ParentGroupId: opt(z.string()),
  Type: opt(z.string()),
  IsActive: opt(z.boolean()),
  Url: opt(z.string()),
});

export interface ProductGroupShape {
  Id: string;
  Name: string;
  ParentId?: string | null;
  Parent?: string | null;
  Products?: string[] | null;
  Children?: ProductGroupShape[] | null;
  IsActive?: boolean | null;
  Url?: string | null;
}
export const ProductGroup: z.ZodType<ProductGroupShape> = z.lazy(() => z.object({
  Id: z.string(),
  Name: z.string(),
  ParentId: opt(z.string()),
  Parent: opt(z.string()),
  Products: opt(z.array(z.string())),
  Children: opt(z.array(ProductGroup)),
  IsActive: opt(z.boolean()),
  Url: opt(z.string()),
}));

export const DeliveryOrder = z.object({
  Id: z.string(),
  Number: z.number(),
  /** One of DeliveryStatus. */
  Status: z.string(),
  Address: opt(z.unknown()),
  CustomerName: opt(z.string()),
  Phone: opt(z.string()),
  CourierName: opt(z.string()),
  Courier: opt(z.string()),
  ExpectedTime: opt(time),
  CreatedTime: opt(time),
  Sum: opt(money),
  Order: opt(z.string()),
  Comment: opt(z.string()),
  IsSelfService: opt(z.boolean()),
  Url: opt(z.string()),
});

export const KitchenItem = z.object({
  Id: z.string(),
  Amount: opt(z.number()),
  ProductName: opt(z.string()),
  KitchenName: opt(z.string()),
  Deleted: opt(z.boolean()),
  Course: opt(z.number()),
  IsCookingStarted: opt(z.boolean()),
  PrintTime: opt(time),
  /** A number; a public client reads 6 as cooked. */
  ProcessingStatus: opt(z.number()),
  CookingTime: opt(z.string()),
  Size: opt(z.object({ Name: opt(z.string()) })),
  Modifiers: opt(z.array(z.unknown())),
});

export const KitchenOrder = z.object({
  Id: z.string(),
  Number: z.number(),
  WaiterName: opt(z.string()),
  TableNum: opt(z.number()),
  Items: opt(z.array(KitchenItem)),
  BaseOrder: opt(z.string()),
  OrderServiceType: opt(z.number()),
  IsDeliverySelfService: opt(z.boolean()),
  ExternalNumber: opt(z.string()),
  Url: opt(z.string()),
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
export type ProductGroup = ProductGroupShape;
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
export type ResourceName = keyof typeof resources;

/** The default module id every public sample logs in with. */
export const DEFAULT_MODULE_ID = '2050';
/** The plugin's default port. */
export const DEFAULT_FRONT_PORT = 9042;
/**
 * Where the simulated plugin shows its version [guess, ours]: a response header
 * on every answer, and the root page's `<meta name="generator">`/visible text.
 * The client treats the version as optional.
 */
export const VERSION_HEADER = 'x-iiko-front-api-version';
/**
 * How the plugin refuses a login when no licence slot is free [guess, from
 * iiko/front.api.sdk issue 32: "isn't licensed"]. The simulator answers
 * `403` with a JSON string message containing "isn't licensed"; the client
 * counts a 403 on login, or any login answer whose text matches this, as a
 * licence refusal.
 */
export const LICENCE_REFUSAL = /licen[sc]/i;

/** Default cap on a plugin answer the companion reads whole (probe, page, later the feed). */
export const DEFAULT_MAX_ANSWER_BYTES = 32 * 1024 * 1024;
