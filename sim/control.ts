/**
 * The control API under `/_sim/`: JSON in, JSON out, for tests and the demo
 * only (it changes the restaurant and breaks the plugin on purpose, so it must
 * never be reachable from outside the machine). Every input is checked with
 * zod; a bad one is a 400 that says which field is wrong. Faults never apply here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { DeliveryStatus, ItemStatus } from '../protocol/front.ts';
import type { Actions } from './actions.ts';
import type { Faults } from './faults.ts';
import { decodeSegment, readJson, sendJson } from './http.ts';
import { SimError, type HistoryEntry } from './world.ts';

export interface SimConfig {
  /** Lifetime of tokens issued from now on (absolute from login). */
  tokenTtlMs: number;
  /** Concurrent live tokens allowed. */
  licenceSlots: number;
  /** Show `Code` on payment types. */
  paymentCodes: boolean;
  /** Restaurant time and automatic activity multiplier. */
  speed: number;
}

export interface SimState {
  version: string;
  listening: boolean;
  auto: boolean;
  speed: number;
  now: string;
  liveTokens: number;
  logins: number;
  revision: number;
  autoEvents: number;
  config: SimConfig;
  faults: Faults;
  counts: {
    orders: number; openOrders: number; closedOrders: number; deletedOrders: number; deliveries: number;
    kitchenOrders: number; users: number; tables: number; sections: number; products: number; productGroups: number;
  };
}

/** What the control routes drive; index.ts provides it. */
export interface ControlHost {
  version: string;
  actionsFor(base: string): Actions;
  state(): SimState;
  setAuto(on: boolean): void;
  tick(count: number): string[];
  setFaults(f: Partial<Faults>): void;
  clearFaults(): void;
  restart(): Promise<void>;
  stopListening(): Promise<void>;
  startListening(): Promise<void>;
  /** Starts the main port again after `ms`, unless close() comes first. */
  startAfter(ms: number): void;
  configure(c: Partial<SimConfig>): void;
  /** Up to `limit` history entries with `n` above `after`, oldest first, and how many were dropped for room. */
  history(after: number, limit: number): { entries: HistoryEntry[]; dropped: number; last: number };
}

const Item = z.strictObject({
  productCode: z.string().min(1).max(64),
  amount: z.number().positive().max(1000),
  comment: z.string().max(500).optional(),
  guest: z.number().int().min(1).max(50).optional(),
  /** For a product sold in sizes (a compound item): one of its sizes; a random one when absent. */
  size: z.string().min(1).max(100).optional(),
});
const CreateOrder = z.strictObject({
  tableNum: z.number().int(),
  waiterName: z.string().min(1).max(200).optional(),
  items: z.array(Item).max(500),
  guests: z.number().int().min(1).max(50).optional(),
});
const AddItems = z.strictObject({ items: z.array(Item).min(1).max(500) });
const Kitchen = z.strictObject({ to: z.enum(ItemStatus).optional(), itemId: z.string().min(1).optional() });
const Discount = z.strictObject({ percent: z.number().gt(0).max(100), name: z.string().min(1).max(200).optional() });
const Close = z.strictObject({ paymentType: z.string().min(1).max(200), sum: z.number().positive().max(1e9).optional() });
const CreateDelivery = z.strictObject({
  items: z.array(Item).min(1).max(500),
  customerName: z.string().min(1).max(200).optional(),
  phone: z.string().min(1).max(50).optional(),
  selfService: z.boolean().optional(),
  comment: z.string().max(500).optional(),
});
const MoveDelivery = z.strictObject({ to: z.enum(DeliveryStatus).optional() });
const Staff = z.strictObject({
  name: z.string().trim().min(1).max(200),
  /** iikoOffice's role, right D_DC0 and PIN: the sim behaves by them, the plugin never shows them. */
  role: z.string().min(1).max(100).optional(),
  courier: z.boolean().optional(),
  hasPinCode: z.boolean().optional(),
  phone: z.string().min(1).max(50).optional(),
  code: z.string().trim().min(1).max(50).optional(),
});
const Prepay = z.strictObject({ paymentType: z.string().min(1).max(200) });
const TableIn = z.strictObject({
  number: z.number().int().min(0).max(1_000_000),
  section: z.string().min(1).max(200).optional(),
  seats: z.number().int().min(1).max(100).optional(),
  name: z.string().min(1).max(200).optional(),
});
const Auto = z.strictObject({ on: z.boolean() });
const Tick = z.strictObject({ count: z.number().int().min(1).max(10_000).optional() });
const FaultsIn = z.strictObject({
  latencyMs: z.number().min(0).max(600_000).optional(),
  errorRate: z.number().min(0).max(1).optional(),
  hang: z.boolean().optional(),
  malformed: z.boolean().optional(),
  html: z.boolean().optional(),
  reset: z.boolean().optional(),
});
const Stop = z.strictObject({ forMs: z.number().int().min(1).max(3_600_000).optional() });
const Config = z.strictObject({
  tokenTtlMs: z.number().int().min(1).max(7 * 24 * 3_600_000).optional(),
  licenceSlots: z.number().int().min(0).max(1000).optional(),
  paymentCodes: z.boolean().optional(),
  speed: z.number().gt(0).max(100_000).optional(),
});

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new SimError(400, `Bad request body: ${z.prettifyError(r.error).replace(/\n/g, '; ')}`);
  return r.data;
}

function tableNumber(raw: string): number {
  if (!/^\d{1,7}$/.test(raw)) throw new SimError(400, `'${raw}' is not a table number.`);
  return Number(raw);
}

/**
 * Serves one `/_sim/...` request. `onMain` says whether it came in on the main
 * port, which /_sim/stop is about to close: then the answer is sent first.
 */
export async function handleControl(
  host: ControlHost, req: IncomingMessage, res: ServerResponse, url: URL, base: string, onMain: boolean,
): Promise<void> {
  const reply = (status: number, value: unknown) => sendJson(res, status, value, host.version);
  try {
    const raw = url.pathname.split('/').slice(2);
    if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
    const p = raw.map(decodeSegment);
    const m = req.method ?? 'GET';
    const act = host.actionsFor(base);
    const body = m === 'POST' || m === 'PUT' ? await readJson(req) : {};
    const route = `${m} ${p.map((x, i) => (i % 2 === 1 ? ':' : x)).join('/')}`;
    const [, a = '', , b = ''] = p;

    switch (route) {
      case 'GET state': return reply(200, host.state());
      case 'GET history': {
        const num = (k: string, d: number, max: number) => {
          const raw = url.searchParams.get(k);
          if (raw === null) return d;
          if (!/^\d{1,9}$/.test(raw) || Number(raw) > max) throw new SimError(400, `?${k} must be a whole number from 0 to ${max}.`);
          return Number(raw);
        };
        return reply(200, host.history(num('after', 0, 999_999_999), num('limit', 5000, 50_000)));
      }
      case 'POST orders': return reply(201, act.createOrder(parse(CreateOrder, body)));
      case 'POST orders/:/items': return reply(200, act.addItems(a, parse(AddItems, body).items));
      case 'DELETE orders/:/items/:': return reply(200, act.deleteItem(a, b));
      case 'POST orders/:/status': { const k = parse(Kitchen, body); return reply(200, act.kitchen(a, k.to, k.itemId)); }
      case 'POST orders/:/discount': { const d = parse(Discount, body); return reply(200, act.discount(a, d.percent, d.name)); }
      case 'POST orders/:/bill': return reply(200, act.bill(a));
      case 'POST orders/:/close': { const c = parse(Close, body); return reply(200, act.close(a, c.paymentType, c.sum)); }
      case 'DELETE orders/:': return reply(200, act.deleteOrder(a));
      case 'POST deliveries': return reply(201, act.createDelivery(parse(CreateDelivery, body)));
      case 'POST deliveries/:/status': return reply(200, act.moveDelivery(a, parse(MoveDelivery, body).to));
      case 'POST deliveries/:/pay': return reply(200, act.prepayDelivery(a, parse(Prepay, body).paymentType));
      case 'POST staff': return reply(201, act.addStaff(parse(Staff, body)));
      case 'DELETE staff/:': return reply(200, act.removeStaff(a));
      case 'POST tables': return reply(201, act.addTable(parse(TableIn, body)));
      case 'DELETE tables/:': return reply(200, act.removeTable(tableNumber(a)));
      case 'POST auto': host.setAuto(parse(Auto, body).on); return reply(200, host.state());
      case 'POST tick': return reply(200, { events: host.tick(parse(Tick, body).count ?? 1) });
      case 'POST faults': host.setFaults(parse(FaultsIn, body)); return reply(200, host.state().faults);
      case 'DELETE faults': host.clearFaults(); return reply(200, host.state().faults);
      case 'POST restart': await host.restart(); return reply(200, host.state());
      case 'POST config': host.configure(parse(Config, body)); return reply(200, host.state());
      case 'POST start': await host.startListening(); return reply(200, host.state());
      case 'POST stop': {
        const { forMs } = parse(Stop, body);
        const stop = async () => {
          await host.stopListening();
          if (forMs !== undefined) host.startAfter(forMs);
        };
        if (!onMain) {
          await stop();
          return reply(200, { stopped: true, forMs: forMs ?? null });
        }
        // Answer first: closing the main port ends this very connection.
        res.on('finish', () => setImmediate(() => void stop()));
        return reply(200, { stopped: true, forMs: forMs ?? null });
      }
      default: {
        const known = ['GET state', 'POST orders', 'POST orders/:id/items', 'DELETE orders/:id/items/:itemId', 'POST orders/:id/status',
          'POST orders/:id/discount', 'POST orders/:id/bill', 'POST orders/:id/close', 'DELETE orders/:id', 'POST deliveries',
          'POST deliveries/:id/status', 'POST staff', 'DELETE staff/:name', 'POST tables', 'DELETE tables/:number', 'POST auto',
          'POST tick', 'POST faults', 'DELETE faults', 'POST restart', 'POST config', 'POST stop', 'POST start'];
        throw new SimError(404, `No control route ${m} ${url.pathname}. Routes under /_sim/: ${known.join(', ')}.`);
      }
    }
  } catch (e) {
    if (e instanceof SimError) return reply(e.status, { error: e.message });
    return reply(500, { error: `The sim failed: ${(e as Error).message}` });
  }
}
