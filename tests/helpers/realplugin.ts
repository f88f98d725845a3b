/**
 * A stand-in for a real venue's Front Web API plugin that answers only in the
 * shapes public sources show (docs/iiko-front-web-api.md names each), never in
 * the simulator's: users with exactly the WebApiServer User contract's fields,
 * enums as numbers, a delivery that is its order (same Id, the order's Status)
 * with its own DeliveryStatus, a compound item with Product null and its
 * product under PrimaryComponent, kitchens and a pickup counter among the
 * sections, deleted orders left out of /api/orders, and the live plugin's
 * recorded /api/kitchenorders answer (tests/fixtures/iiko/plugin-kitchenorders.json).
 * The iiko fidelity tests feed the companion from it, so they do not depend on the
 * simulator agreeing with the companion.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

type Json = Record<string, unknown>;
const RECORDED = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../fixtures/iiko/plugin-kitchenorders.json'), 'utf8')) as { answer: Json[] };

// SDK enums as numbers (protocol/front.ts gives each one's source).
export const ORDER = { New: 0, Bill: 1, Closed: 2, Deleted: 3 } as const;
export const ITEM = { Added: 0, PrintedNotCooking: 1, CookingStarted: 2, CookingCompleted: 3, Served: 4 } as const;
export const DELIVERY = { Unconfirmed: 0, New: 1, Waiting: 2, OnWay: 3, Delivered: 4, Closed: 5, Cancelled: 6 } as const;
export const SERVICE = { Common: 0, DeliveryByCourier: 1, DeliveryPickup: 2 } as const;

/** The product the recorded compound items name (code 00827, as recorded). */
export const SHAWARMA = { id: '1d3c1f0e-8a55-4d1c-9a7e-3f1b2c4d5e60', code: '00827', name: 'Шаурма Курица' };
export const TEA = { id: '2e4d2a1f-9b66-4e2d-8b8f-4a2c3d5e6f71', code: '00100', name: 'Чай' };
export const COURIER = { id: '3f5e3b2a-0c77-4f3e-9c90-5b3d4e6f7a82', name: 'Курьер Олег', code: '7', phone: '+79120000007' };
export const WAITER = { id: '4a6f4c3b-1d88-4a4f-8da1-6c4e5f7a8b93', name: 'Официант Один', code: '12', phone: null };
export const TABLES = [
  { Id: '5b7a5d4c-2e99-4b5a-9eb2-7d5f6a8b9ca4', IsActive: true, Name: '1', Number: 1, SeatingCapacity: 4 },
  { Id: '6c8b6e5d-3faa-4c6b-8fc3-8e6a7b9cadb5', IsActive: true, Name: '2', Number: 2, SeatingCapacity: 2 },
];
/** The kitchens the recorded kitchen orders link to, plus the hall. */
export const KITCHENS = ['Выдача', 'Шашлычник', 'Экран повара 1'];

export interface RealPlugin {
  url: string;
  orders: Json[];
  deliveries: Json[];
  /** Orders found by Id only (Deleted orders: GetOrders leaves them out). */
  hidden: Json[];
  requests: string[];
  /** Writes the order enums as names (the contracts allow either; recorded answers show numbers). */
  enumsAsNames: boolean;
  close(): Promise<void>;
}

const nameOf = (names: Record<string, number>, v: unknown) => (typeof v === 'number' ? Object.keys(names).find((k) => names[k] === v) ?? v : v);

/** An order or delivery with its enums written as names. */
function named(o: Json): Json {
  const out: Json = { ...o, Status: nameOf(ORDER, o.Status), OrderServiceType: nameOf(SERVICE, o.OrderServiceType) };
  if ('DeliveryStatus' in o) out.DeliveryStatus = nameOf(DELIVERY, o.DeliveryStatus);
  out.Guests = (o.Guests as Json[]).map((g) => ({ ...g, Items: (g.Items as Json[]).map((i) => ({ ...i, Status: nameOf(ITEM, i.Status) })) }));
  return out;
}

const T = (hhmm: string) => `2025-01-28T${hhmm}:00.0000000+05:00`;

/** A plain (non-compound) item. */
export function item(id: string, p: { id: string; code: string; name: string }, status: number, price = 100): Json {
  return {
    Id: id, Amount: 1, Price: price, Cost: price, Deleted: false, Name: p.name, Product: `/api/products/${p.code}`, Comment: null,
    Status: status, Course: 1, Modifiers: [], IsCompound: false, PrimaryComponent: null, SecondaryComponent: null, Size: null, Template: null,
  };
}

/** A compound item as recorded: Product null, the product under PrimaryComponent, Size and Template objects. */
export function compoundItem(id: string, status: number, price = 250): Json {
  return {
    Id: id, Amount: 1, Price: price, Cost: price, Deleted: false, Name: `${SHAWARMA.name} сред`, Product: null, Comment: null,
    Status: status, Course: 1, Modifiers: [], IsCompound: true,
    PrimaryComponent: { Product: `/api/products/${SHAWARMA.code}`, Amount: 1, Modifiers: [] }, SecondaryComponent: null,
    Size: { Name: 'сред', KitchenName: 'сред' }, Template: { Name: 'Для шаурмы', AllowProductsCombining: false, Scale: 'Размер шаурмы' },
  };
}

/** An order record with the fields a public client of the plugin reads. */
export function order(o: { id: string; number: number; status: number; items: Json[]; table?: number | null; service?: number; type?: string | null; paid?: number }): Json {
  const sum = o.items.reduce((s, i) => s + Number(i.Cost), 0);
  const table = o.table === undefined ? 1 : o.table;
  return {
    Id: o.id, Number: o.number, Status: o.status, FullSum: sum, ResultSum: sum, ProcessedPaymentsSum: o.paid ?? 0, IsBanquetOrder: false,
    OpenTime: T('12:00'), BillTime: o.status >= ORDER.Bill ? T('12:30') : null, CloseTime: o.status === ORDER.Closed ? T('12:31') : null,
    WaiterName: WAITER.name, CashierName: null, TableNum: table,
    Waiter: `/api/users/${encodeURIComponent(WAITER.name)}`, Cashier: null, Table: table === null ? null : `/api/tables/${table}`,
    Guests: [{ Id: `${o.id.slice(0, 30)}000001`, Rank: 1, Name: 'Гость 1', Items: o.items }],
    IsDeliveryOrder: (o.service ?? SERVICE.Common) !== SERVICE.Common, Customers: [], Delivery: null,
    OrderType: o.type ?? null, OrderServiceType: o.service ?? SERVICE.Common, OriginName: null, Url: `/api/orders/${o.id}`,
    Payments: [], Discounts: [],
  };
}

/** A delivery record: the order itself with the delivery's own fields. */
export function delivery(o: Json, d: { status: number; courier?: boolean; phone?: string; client?: string }): Json {
  return {
    ...o, DeliveryStatus: d.status, Phone: d.phone ?? '+79990000001', ClientName: d.client ?? 'Ирина', Client: null, Address: null,
    Courier: d.courier ? `/api/users/${encodeURIComponent(COURIER.name)}` : null, Comment: null,
    ExpectedDeliverTime: T('13:00'), SendTime: d.status >= DELIVERY.OnWay ? T('12:40') : null, ActualDeliverTime: null, CreateTime: T('12:00'),
    Url: `/api/deliveries/${String(o.Id)}`,
  };
}

const user = (u: { id: string; name: string; code: string; phone: string | null }) => ({
  Card: null, CellPhone: u.phone, Code: u.code, Id: u.id, InsuranceNumber: null, IsSessionOpen: true, Name: u.name, TaxpayerId: null, Type: null,
});

export async function startRealPlugin(): Promise<RealPlugin> {
  const state: RealPlugin = { url: '', orders: [], deliveries: [], hidden: [], requests: [], enumsAsNames: false, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = decodeURIComponent(url.pathname);
    state.requests.push(`${req.method} ${p}`);
    const json = (body: unknown, status = 200) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    // Links carry the plugin's own address, as recorded.
    const out = (list: Json[]) => abs(state.enumsAsNames ? list.map(named) : list) as Json[];
    const abs = (v: unknown): unknown => (typeof v === 'string' && v.startsWith('/api/') ? `${state.url}${v}` : Array.isArray(v) ? v.map(abs)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, abs(x)])) : v);
    if (p === '/') { res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><h1>iikoFront Web API</h1></body></html>'); return; }
    if (p.startsWith('/api/login/')) return json('0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0');
    if (p.startsWith('/api/logout/')) return json(true);
    if (!url.searchParams.get('key')) return json({ Message: 'Authorization has been denied for this request.' }, 401);
    const byId = (list: Json[], id: string) => list.find((o) => String(o.Id).toLowerCase() === id.toLowerCase());
    let m: RegExpExecArray | null;
    switch (p) {
      case '/api/users': return json(abs([user(COURIER), user(WAITER)]));
      case '/api/tables': return json(TABLES);
      case '/api/sections': return json(abs([
        { Id: '7d9c7f6e-4abb-4d7c-9ad4-9f7b8cadbec6', Name: 'Зал', Tables: TABLES.map((t) => `/api/tables/${t.Number}`) },
        ...KITCHENS.map((k, i) => ({ Id: `8ead8a7f-5bcc-4e8d-8be5-a08c9dbecfd${i}`, Name: k, Tables: [] })),
      ]));
      case '/api/products': return json(abs([SHAWARMA, TEA].map((x) => ({
        Id: x.id, Name: x.name, Number: x.code, Price: x === SHAWARMA ? 250 : 100, Parent: '/api/productgroups/9fbe9b80-6cdd-4f9e-9cf6-b19daecfd0e7', Type: 'Dish', IsActive: true,
      }))));
      case '/api/productgroups': return json(abs([{
        Id: '9fbe9b80-6cdd-4f9e-9cf6-b19daecfd0e7', Name: 'Кухня', Number: null, Parent: null, ChildGroups: [],
        ChildProducts: [`/api/products/${SHAWARMA.code}`, `/api/products/${TEA.code}`],
      }]));
      // As recorded (links on the recorded plugin's port).
      case '/api/kitchenorders': return json(RECORDED.answer);
      case '/api/orders': return json(out(state.orders));
      case '/api/deliveries': return json(out(state.deliveries));
    }
    if ((m = /^\/api\/orders\/([^/]+)$/.exec(p))) {
      const o = byId(state.orders, m[1]!) ?? byId(state.hidden, m[1]!);
      return o ? json(out([o])[0]) : json({ Message: 'No order' }, 404);
    }
    if ((m = /^\/api\/deliveries\/([^/]+)$/.exec(p))) {
      const d = byId(state.deliveries, m[1]!);
      return d ? json(out([d])[0]) : json({ Message: 'No delivery' }, 404);
    }
    json({ Message: 'No HTTP resource was found that matches the request URI.' }, 404);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return state;
}
