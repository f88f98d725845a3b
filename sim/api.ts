/**
 * The plugin's surface: `GET /api/...`. Answers are computed as a Reply and
 * written by the caller, so faults (truncation, HTML, 500) can be laid over a
 * real answer. Errors use ASP.NET Web API's `{ "Message": "..." }` body.
 */
import type { IncomingMessage } from 'node:http';
import { DeliveryStatus, OrderStatus, ServiceType } from '../protocol/front.ts';
import type { Sessions } from './auth.ts';
import { decodeSegment } from './http.ts';
import { applyQuery, parseQuery } from './odata.ts';
import type { Schema } from './odata.ts';
import {
  kitchenOrders, renderDelivery, renderGroup, renderKitchenOrder, renderOrder, renderProduct, renderSection, renderTable,
  renderUser,
} from './render.ts';
import type { View } from './render.ts';
import { SimError } from './world.ts';
import type { World } from './world.ts';

export interface Reply { status: number; type: string; body: string }

const JSON_TYPE = 'application/json; charset=utf-8';
export const json = (status: number, value: unknown): Reply => ({ status, type: JSON_TYPE, body: JSON.stringify(value) });
export const message = (status: number, text: string): Reply => json(status, { Message: text });

const s = (type: 'string' | 'number' | 'boolean' | 'time') => ({ type });
const e = (enumName: string, values: readonly string[]) => ({ type: 'enum' as const, enumName, values });
const ORDER_FIELDS: Schema = {
  Id: s('string'), Number: s('number'), Status: e('OrderStatus', OrderStatus),
  FullSum: s('number'), ResultSum: s('number'), ProcessedPaymentsSum: s('number'), IsBanquetOrder: s('boolean'),
  OpenTime: s('time'), BillTime: s('time'), CloseTime: s('time'), WaiterName: s('string'), CashierName: s('string'),
  TableNum: s('number'), Waiter: s('string'), Cashier: s('string'), Table: s('string'), IsDeliveryOrder: s('boolean'),
  OrderType: s('string'), OrderServiceType: e('OrderServiceType', ServiceType),
  Revision: s('number'), OriginName: s('string'), TabName: s('string'), Url: s('string'),
};
const DELIVERY_FIELDS: Schema = {
  ...ORDER_FIELDS, DeliveryStatus: e('DeliveryStatus', DeliveryStatus), Phone: s('string'), ClientName: s('string'), Courier: s('string'),
  Comment: s('string'), ExpectedDeliverTime: s('time'), SendTime: s('time'), ActualDeliverTime: s('time'), CreateTime: s('time'),
};
const USER_FIELDS: Schema = {
  Id: s('string'), Name: s('string'), Code: s('string'), CellPhone: s('string'), Card: s('string'), InsuranceNumber: s('string'),
  IsSessionOpen: s('boolean'), TaxpayerId: s('string'),
};
const TABLE_FIELDS: Schema = { Id: s('string'), Number: s('number'), Name: s('string'), SeatingCapacity: s('number'), IsActive: s('boolean') };
const SECTION_FIELDS: Schema = { Id: s('string'), Name: s('string') };
const PRODUCT_FIELDS: Schema = {
  Id: s('string'), Name: s('string'), Number: s('string'), Price: s('number'), Parent: s('string'), Type: s('string'), IsActive: s('boolean'),
};
const GROUP_FIELDS: Schema = { Id: s('string'), Name: s('string'), Number: s('string'), Parent: s('string') };
const KITCHEN_FIELDS: Schema = {
  Id: s('string'), Number: s('number'), WaiterName: s('string'), TableNum: s('number'), BaseOrder: s('string'), OrderType: s('string'),
  OrderServiceType: s('number'), IsDeliverySelfService: s('boolean'), ExternalNumber: s('string'), Url: s('string'),
};
interface Resource {
  schema: Schema;
  /** Every record, rendered, in the plugin's default order. */
  list(v: View): object[];
  /** One record by its key, or undefined. */
  one(v: View, key: string): object | undefined;
}

const asNumber = (key: string): number | null => (/^-?\d{1,9}$/.test(key) ? Number(key) : null);
const lower = (key: string) => key.toLowerCase();

/** What `/{key}` means per resource: order and delivery Id (any case), user/section Name, table/kitchen Number, product Number (code), group Id. */
export const RESOURCES: Record<string, Resource> = {
  orders: {
    schema: ORDER_FIELDS,
    // Deleted orders are not listed (the SDK's GetOrders leaves them out unless asked); by Id they are still found [assumption].
    list: (v) => v.world.orders.filter((o) => o.status !== 'Deleted').map((o) => renderOrder(v, o)),
    one: (v, k) => { const o = v.world.orders.find((x) => x.id === lower(k)); return o && renderOrder(v, o); },
  },
  users: {
    schema: USER_FIELDS,
    list: (v) => v.world.staff.map((x) => renderUser(v, x)),
    one: (v, k) => { const u = v.world.staff.find((x) => x.name === k); return u && renderUser(v, u); },
  },
  tables: {
    schema: TABLE_FIELDS,
    list: (v) => v.world.tables.map((x) => renderTable(v, x)),
    one: (v, k) => { const t = v.world.tables.find((x) => x.number === asNumber(k)); return t && renderTable(v, t); },
  },
  sections: {
    schema: SECTION_FIELDS,
    list: (v) => v.world.sections.map((x) => renderSection(v, x)),
    one: (v, k) => { const sec = v.world.sections.find((x) => x.name === k); return sec && renderSection(v, sec); },
  },
  products: {
    schema: PRODUCT_FIELDS,
    list: (v) => v.world.products.map((x) => renderProduct(v, x)),
    one: (v, k) => { const p = v.world.products.find((x) => x.code === k); return p && renderProduct(v, p); },
  },
  productgroups: {
    schema: GROUP_FIELDS,
    list: (v) => v.world.groups.map((x) => renderGroup(v, x)),
    one: (v, k) => { const g = v.world.groups.find((x) => x.id === lower(k)); return g && renderGroup(v, g); },
  },
  deliveries: {
    schema: DELIVERY_FIELDS,
    list: (v) => v.world.deliveries.map((x) => renderDelivery(v, x)),
    one: (v, k) => { const d = v.world.deliveries.find((x) => x.id === lower(k)); return d && renderDelivery(v, d); },
  },
  kitchenorders: {
    schema: KITCHEN_FIELDS,
    list: (v) => kitchenOrders(v.world).map((o) => renderKitchenOrder(v, o)),
    one: (v, k) => {
      const n = asNumber(k);
      const o = kitchenOrders(v.world).find((x) => x.kitchenNumber === n);
      return o && renderKitchenOrder(v, o);
    },
  },
};

export interface ApiContext {
  world: World;
  sessions: Sessions;
  paymentCodes(): boolean;
}

function keyOf(req: IncomingMessage, url: URL): string | null {
  const q = url.searchParams.get('key');
  if (q !== null) return q;
  const cookie = req.headers.cookie;
  if (!cookie) return null;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === 'key') return part.slice(eq + 1).trim();
  }
  return null;
}

/** Answers one `/api/...` request. Never throws: a refusal becomes a Reply. */
export function apiReply(ctx: ApiContext, req: IncomingMessage, url: URL, base: string): Reply {
  try {
    return route(ctx, req, url, base);
  } catch (e) {
    if (e instanceof SimError) return message(e.status, e.message);
    return message(500, `An error has occurred: ${(e as Error).message}`);
  }
}

function route(ctx: ApiContext, req: IncomingMessage, url: URL, base: string): Reply {
  const raw = url.pathname.split('/').slice(2); // ['', 'api', ...rest]
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  const parts = raw.map(decodeSegment);
  const [first, arg, ...extra] = parts;
  // ASP.NET routes ignore case: /API/Orders is /api/orders. Keys keep their case.
  const head = first?.toLowerCase();
  const notFound = () => message(404, `No HTTP resource was found that matches the request URI '${url.pathname}'.`);
  if (head === undefined || extra.length > 0) return notFound();
  const known = head === 'login' || head === 'logout' || Object.hasOwn(RESOURCES, head);
  if (!known || ((head === 'login' || head === 'logout') && arg === undefined)) return notFound();
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return message(405, `The requested resource does not support http method '${req.method ?? ''}'.`);
  }

  if (head === 'login') {
    const r = ctx.sessions.login(arg as string);
    return r.ok ? json(200, r.token) : json(403, r.message);
  }
  if (head === 'logout') {
    // Logging out an unknown or expired token is not an error: the slot is free either way.
    ctx.sessions.logout(arg as string);
    return json(200, true);
  }

  const key = keyOf(req, url);
  if (key === null || key === '') return message(401, 'Authorization has been denied for this request: no key. Log in at /api/login/{moduleId} and pass ?key=<token>.');
  if (!ctx.sessions.valid(key)) return message(401, 'Authorization has been denied for this request: the key is unknown or expired. Log in again.');

  const res = RESOURCES[head] as Resource;
  const view: View = { world: ctx.world, base, paymentCodes: ctx.paymentCodes() };
  if (arg !== undefined) {
    const one = res.one(view, arg);
    return one ? json(200, one) : message(404, `No ${head} record with key '${arg}'.`);
  }
  const query = parseQuery(url.searchParams, res.schema);
  return json(200, applyQuery(res.list(view), query, res.schema));
}
