import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryStatus, ItemStatus, Order, OrderStatus, Table, User } from '../../../protocol/front.ts';
import { startSim } from '../../../sim/index.ts';
import type { Sim, SimState } from '../../../sim/index.ts';
import { control, get, getJson, login } from '../../helpers/sim.ts';

interface OrderView {
  Id: string; Number: number; Status: number; Revision: number; FullSum: number; ResultSum: number;
  ProcessedPaymentsSum: number; BillTime: string | null; CloseTime: string | null; WaiterName: string;
  Guests: { Items: { Id: string; Status: number; Deleted: boolean; PrintTime: string | null; ServeTime: string | null }[] }[];
  Payments: { Sum: number; Type: { Name: string; Kind: string; Code?: string } }[];
}

const items = (o: OrderView) => o.Guests.flatMap((g) => g.Items);
/** Enums come as numbers (as recorded); tests read them by name. */
const status = (o: { Status: number }) => OrderStatus[o.Status];
const itemStatus = (i: { Status: number }) => ItemStatus[i.Status];

describe('the control API', () => {
  let sim: Sim;
  let token: string;
  let codes: string[];
  beforeAll(async () => {
    sim = await startSim({ port: 0, auto: false });
    token = await login(sim);
    const simple = new Set(sim.world.products.filter((p) => !p.template).map((p) => p.code));
    codes = (await get<{ Number: string; IsActive: boolean }[]>(sim, '/api/products', token)).filter((p) => p.IsActive && simple.has(p.Number)).map((p) => p.Number);
  });
  afterAll(async () => { await sim.close(); });

  it('reports its state', async () => {
    const s = await control<SimState>(sim, 'GET', 'state');
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ listening: true, auto: false, liveTokens: 1, logins: 1, version: '7.4.6012.0' });
    expect(s.body.counts.tables).toBe(20);
    expect(s.body.faults).toEqual({ latencyMs: 0, errorRate: 0, hang: false, malformed: false, html: false, reset: false });
  });

  it('runs an order from opening to an EVVA payment, raising Revision at every step', async () => {
    const made = await control<OrderView>(sim, 'POST', 'orders', { tableNum: 5, items: [{ productCode: codes[0], amount: 2 }] });
    expect(made.status).toBe(201);
    expect(Order.safeParse(made.body).success).toBe(true);
    const id = made.body.Id;
    expect(status(made.body)).toBe('New');
    expect(made.body.ProcessedPaymentsSum).toBe(0);
    let rev = made.body.Revision;
    const step = async (method: string, path: string, body?: unknown) => {
      const r = await control<OrderView>(sim, method, path, body);
      expect(r.status, `${method} ${path}: ${r.text}`).toBe(200);
      expect(r.body.Revision).toBeGreaterThan(rev);
      rev = r.body.Revision;
      return r.body;
    };
    const more = await step('POST', `orders/${id}/items`, { items: [{ productCode: codes[1], amount: 1 }] });
    expect(items(more)).toHaveLength(2);
    const printed = await step('POST', `orders/${id}/status`, {});
    expect(items(printed).map(itemStatus)).toEqual(['PrintedNotCooking', 'PrintedNotCooking']);
    expect(items(printed)[0]?.PrintTime).not.toBeNull();
    const kitchen = await get<{ BaseOrder: string; Items: { ProcessingStatus: number }[] }[]>(sim, '/api/kitchenorders', token);
    expect(kitchen.some((k) => k.BaseOrder.endsWith(id))).toBe(true);
    const served = await step('POST', `orders/${id}/status`, { to: 'Served' });
    expect(items(served).every((i) => itemStatus(i) === 'Served' && i.ServeTime !== null)).toBe(true);
    const billed = await step('POST', `orders/${id}/bill`);
    expect(status(billed)).toBe('Bill');
    expect(billed.BillTime).not.toBeNull();
    const closed = await step('POST', `orders/${id}/close`, { paymentType: 'EVVA' });
    expect(status(closed)).toBe('Closed');
    expect(closed.CloseTime).not.toBeNull();
    expect(closed.Payments).toHaveLength(1);
    expect(closed.Payments[0]).toMatchObject({ Sum: closed.ResultSum, Type: { Name: 'EVVA', Kind: 'Card', Code: 'EVVAP' } });
    expect(closed.ProcessedPaymentsSum).toBe(closed.ResultSum);
    // And the plugin shows the same.
    const seen = await get<OrderView>(sim, `/api/orders/${id}`, token);
    expect(status(seen)).toBe('Closed');
    expect(seen.Revision).toBe(rev);
    // A closed order no longer changes.
    expect((await control(sim, 'POST', `orders/${id}/items`, { items: [{ productCode: codes[0], amount: 1 }] })).status).toBe(409);
    expect((await control(sim, 'DELETE', `orders/${id}`)).status).toBe(409);
  });

  it('keeps a history of every change: order revisions with status and sum, staff and tables, paged by n', async () => {
    type H = { entries: Array<{ n: number; at: number; kind: string; revision: number; key: string; status: string; result: number | null }>; dropped: number; last: number };
    const before = (await control<H>(sim, 'GET', 'history?limit=1')).body.last;
    const made = await control<OrderView>(sim, 'POST', 'orders', { tableNum: 7, items: [{ productCode: codes[0], amount: 1 }] });
    await control(sim, 'POST', `orders/${made.body.Id}/discount`, { percent: 10 });
    const gone = await control<OrderView>(sim, 'DELETE', `orders/${made.body.Id}`);
    await control(sim, 'POST', 'staff', { name: 'История Анна' });
    const h = await control<H>(sim, 'GET', `history?after=${before}`);
    expect(made.status, made.text).toBe(201);
    expect(h.status).toBe(200);
    expect(h.body.entries.map((e) => [e.kind, e.status])).toEqual([['order', 'New'], ['order', 'New'], ['order', 'Deleted'], ['staff', 'added']]);
    expect(h.body.entries.map((e) => e.n)).toEqual([before + 1, before + 2, before + 3, before + 4]);
    expect(h.body.entries[0]?.key).toBe(made.body.Id.toLowerCase());
    expect(h.body.entries[2]?.revision).toBe(gone.body.Revision);
    expect(h.body.entries[1]!.result!).toBeLessThan(h.body.entries[0]!.result!);
    expect(h.body.entries[3]?.key).toBe('История Анна');
    const paged = await control<H>(sim, 'GET', `history?after=${before + 2}&limit=1`);
    expect(paged.body.entries.map((e) => e.n)).toEqual([before + 3]);
    expect((await control(sim, 'GET', 'history?after=-1')).status).toBe(400);
  });

  it('takes a partial payment, then closes with the code EVVAP', async () => {
    const o = (await control<OrderView>(sim, 'POST', 'orders', { tableNum: 6, items: [{ productCode: codes[2], amount: 1 }] })).body;
    const half = Math.floor(o.ResultSum / 2);
    const part = (await control<OrderView>(sim, 'POST', `orders/${o.Number}/close`, { paymentType: 'Наличные', sum: half })).body;
    expect(status(part)).toBe('New');
    expect(part.ProcessedPaymentsSum).toBe(half);
    const rest = (await control<OrderView>(sim, 'POST', `orders/${o.Id}/close`, { paymentType: 'EVVAP' })).body;
    expect(status(rest)).toBe('Closed');
    expect(rest.Payments.map((p) => p.Type.Name)).toEqual(['Наличные', 'EVVA']);
  });

  it('deletes an order and an item', async () => {
    const o = (await control<OrderView>(sim, 'POST', 'orders', { tableNum: 7, items: [{ productCode: codes[3], amount: 1 }, { productCode: codes[4], amount: 1 }] })).body;
    const itemId = items(o)[0]!.Id;
    const less = await control<OrderView>(sim, 'DELETE', `orders/${o.Id}/items/${itemId}`);
    expect(items(less.body).find((i) => i.Id === itemId)?.Deleted).toBe(true);
    expect(less.body.FullSum).toBeLessThan(o.FullSum);
    const gone = await control<OrderView>(sim, 'DELETE', `orders/${o.Id}`);
    expect(gone.status).toBe(200);
    // Gone from the list (the SDK's GetOrders leaves Deleted orders out); by Id it is still there.
    expect(status(await get<OrderView>(sim, `/api/orders/${o.Id}`, token))).toBe('Deleted');
    expect((await get<OrderView[]>(sim, '/api/orders', token)).some((x) => x.Id === o.Id)).toBe(false);
  });

  it('adds and removes staff and tables, which the plugin then shows or forgets', async () => {
    const added = await control(sim, 'POST', 'staff', { name: 'Сидоров Пётр', courier: true, hasPinCode: false, phone: '+79001112233', code: '77' });
    expect(added.status).toBe(201);
    // iikoOffice's courier right and PIN shape the sim's day, but the plugin shows only the user contract.
    expect(User.parse(added.body)).toMatchObject({ Name: 'Сидоров Пётр', Code: '77', CellPhone: '+79001112233' });
    expect(added.body).not.toHaveProperty('HasPinCode');
    expect(added.body).not.toHaveProperty('Rights');
    expect((await getJson(sim, `/api/users/${encodeURIComponent('Сидоров Пётр')}`, token)).status).toBe(200);
    expect((await control(sim, 'POST', 'staff', { name: 'Сидоров Пётр' })).status).toBe(409);
    expect((await control(sim, 'DELETE', `staff/${encodeURIComponent('Сидоров Пётр')}`)).status).toBe(200);
    expect((await getJson(sim, `/api/users/${encodeURIComponent('Сидоров Пётр')}`, token)).status).toBe(404);

    const t = await control(sim, 'POST', 'tables', { number: 40, section: 'Веранда', seats: 6 });
    expect(t.status).toBe(201);
    expect(Table.parse(t.body)).toMatchObject({ Number: 40, SeatingCapacity: 6 });
    expect((await get<{ Number: number }[]>(sim, '/api/tables', token)).some((x) => x.Number === 40)).toBe(true);
    const veranda = await get<{ Tables: string[] }>(sim, `/api/sections/${encodeURIComponent('Веранда')}`, token);
    expect(veranda.Tables.some((l) => l.endsWith('/api/tables/40'))).toBe(true);
    expect((await control(sim, 'POST', 'tables', { number: 41, section: 'Бар' })).status).toBe(409);
    expect((await control(sim, 'DELETE', 'tables/40')).status).toBe(200);
    expect((await getJson(sim, '/api/tables/40', token)).status).toBe(404);
  });

  it('will not remove a table that has an open order', async () => {
    await control(sim, 'POST', 'orders', { tableNum: 8, items: [] });
    const r = await control<{ error: string }>(sim, 'DELETE', 'tables/8');
    expect(r.status).toBe(409);
    expect(r.body.error).toMatch(/open order/);
  });

  it('creates and moves a delivery: the delivery\'s own status beside the order\'s, and a prepay closing the order while it is on the way', async () => {
    type D = { Id: string; Status: number; DeliveryStatus: number; Courier: string | null };
    const d = await control<D>(sim, 'POST', 'deliveries', { items: [{ productCode: codes[0], amount: 1 }], customerName: 'Ирина' });
    expect(d.status).toBe(201);
    expect(DeliveryStatus[d.body.DeliveryStatus]).toBe('Unconfirmed');
    const order = await get<OrderView>(sim, `/api/orders/${d.body.Id}`, token);
    expect(order.Id).toBe(d.body.Id);
    const paid = await control<D>(sim, 'POST', `deliveries/${d.body.Id}/pay`, { paymentType: 'Банковская карта' });
    expect([status(paid.body), DeliveryStatus[paid.body.DeliveryStatus]]).toEqual(['Closed', 'Unconfirmed']);
    const moved = await control<D>(sim, 'POST', `deliveries/${d.body.Id}/status`, { to: 'OnWay' });
    expect([status(moved.body), DeliveryStatus[moved.body.DeliveryStatus]]).toEqual(['Closed', 'OnWay']);
    expect(moved.body.Courier).toMatch(/\/api\/users\//);
    expect((await control(sim, 'POST', `deliveries/${d.body.Id}/status`, { to: 'Cancelled' })).status).toBe(409);
    const pickup = await control<D>(sim, 'POST', 'deliveries', { items: [{ productCode: codes[0], amount: 1 }], selfService: true });
    expect((await control(sim, 'POST', `deliveries/${pickup.body.Id}/status`, { to: 'OnWay' })).status).toBe(409);
  });

  it('refuses bad input with 400 and says which field is wrong', async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', 'orders', { tableNum: 'five', items: [] }, /tableNum/],
      ['POST', 'orders', { tableNum: 5 }, /items/],
      ['POST', 'orders', { tableNum: 5, items: [{ productCode: 'nope', amount: 1 }] }, /No product with code 'nope'/],
      ['POST', 'orders', { tableNum: 999, items: [] }, /No table number 999/],
      ['POST', 'orders', { tableNum: 5, items: [], extra: 1 }, /extra/],
      ['POST', 'orders', { tableNum: 5, items: [{ productCode: codes[0], amount: -1 }] }, /amount/],
      ['POST', 'faults', { errorRate: 2 }, /errorRate/],
      ['POST', 'faults', { hang: 'yes' }, /hang/],
      ['POST', 'auto', {}, /on/],
      ['POST', 'config', { licenceSlots: -1 }, /licenceSlots/],
      ['POST', 'stop', { forMs: 'soon' }, /forMs/],
      ['POST', 'staff', { name: '' }, /name/],
      ['POST', 'tables', { number: 1.5 }, /number/],
    ];
    for (const [method, path, body, re] of cases) {
      const r = await control<{ error: string }>(sim, method, path, body);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.error, `${path} ${JSON.stringify(body)}`).toMatch(re);
    }
    const raw = await fetch(`${sim.url}/_sim/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(raw.status).toBe(400);
    expect((await control(sim, 'POST', 'orders/00000000-0000-4000-8000-000000000000/bill')).status).toBe(404);
    expect((await control(sim, 'GET', 'nowhere')).status).toBe(404);
    const o = (await control<OrderView>(sim, 'POST', 'orders', { tableNum: 9, items: [{ productCode: codes[0], amount: 1 }] })).body;
    const barter = await control<{ error: string }>(sim, 'POST', `orders/${o.Number}/close`, { paymentType: 'Бартер' });
    expect(barter.status).toBe(400);
    expect(barter.body.error).toMatch(/No payment type 'Бартер'/);
  });

  it('changes config: slots and token lifetime', async () => {
    const r = await control<SimState>(sim, 'POST', 'config', { licenceSlots: 1 });
    expect(r.body.config.licenceSlots).toBe(1);
    expect((await fetch(`${sim.url}/api/login/2050`)).status).toBe(403);
    await control(sim, 'POST', 'config', { licenceSlots: 5 });
    expect((await fetch(`${sim.url}/api/login/2050`)).status).toBe(200);
  });

  it('runs automatic events on demand with /_sim/tick', async () => {
    const before = (await control<SimState>(sim, 'GET', 'state')).body.revision;
    const r = await control<{ events: string[] }>(sim, 'POST', 'tick', { count: 5 });
    expect(r.body.events).toHaveLength(5);
    expect((await control<SimState>(sim, 'GET', 'state')).body.revision).toBeGreaterThan(before);
  });

  it('turns automatic activity on and off', async () => {
    expect((await control<SimState>(sim, 'POST', 'auto', { on: true })).body.auto).toBe(true);
    expect((await control<SimState>(sim, 'POST', 'auto', { on: false })).body.auto).toBe(false);
  });
});
