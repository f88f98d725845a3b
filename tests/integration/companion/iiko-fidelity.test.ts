/**
 * What a real venue's plugin sends, and what the companion
 * and the relay made of it. One test per bullet, each fed by answers in the
 * shapes public sources show (tests/helpers/realplugin.ts: the SDK contracts
 * and a live plugin's recorded answer), not by the simulator agreeing with the
 * companion; the simulator's own fidelity is checked where the bullet is about
 * it. Each of these failed on the code before the companion read real answers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../../protocol/events.ts';
import type { FeedOrder, FeedStaff } from '../../../protocol/feed.ts';
import { realClock } from '../../../common/clock.ts';
import { silentLogger } from '../../../common/logger.ts';
import { createFrontClient } from '../../../main/core/front/client.ts';
import { CANDIDATE_PORTS, identify } from '../../../main/core/front/discovery.ts';
import { createFeed, DEFAULT_FEED_SETTINGS, type FeedSettings } from '../../../main/core/feed/feed.ts';
import { openOutbox } from '../../../main/core/outbox/store.ts';
import { startSim } from '../../../sim/index.ts';
import { envelope, rawCompanion, startReceiver } from '../../helpers/feedpeers.ts';
import { cloudSchemas } from '../../helpers/openapi.ts';
import {
  COURIER, DELIVERY, ITEM, KITCHENS, ORDER, SERVICE, SHAWARMA, TEA, WAITER,
  compoundItem, delivery, item, order, startRealPlugin, type RealPlugin,
} from '../../helpers/realplugin.ts';
import { API_KEY, pairedVenue, startRelay, tempDir } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function waitFor<T>(what: string, fn: () => T | undefined | null | false, ms = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The companion's feed on `pluginUrl`; every event it writes lands in `events`. */
function feedOn(pluginUrl: string, settings: Partial<FeedSettings> = {}): Envelope[] {
  const d = tempDir('fidelity');
  cleanups.push(() => d.remove());
  const outbox = openOutbox({ dataDir: d.dir, now: () => Date.now() });
  cleanups.push(() => outbox.close());
  const client = createFrontClient({ baseUrl: pluginUrl, moduleId: '2050', clock: realClock, logger: silentLogger });
  cleanups.push(() => client.close());
  const events: Envelope[] = [];
  const feed = createFeed({
    venueId: 'ven_real', dataDir: d.dir, outbox, client: () => client, clock: realClock, logger: silentLogger,
    settings: { ...DEFAULT_FEED_SETTINGS, ordersIntervalMs: 100, staffIntervalSec: 0.2, tablesIntervalSec: 0.2, ...settings }, onWritten: (e) => events.push(...e),
  });
  cleanups.push(() => feed.stop());
  feed.start();
  return events;
}

async function realPlugin(): Promise<RealPlugin> {
  const p = await startRealPlugin();
  cleanups.push(() => p.close());
  return p;
}

const lastOrder = (events: Envelope[], id: string): FeedOrder | undefined =>
  events.map((e) => e.eventInfo.order as FeedOrder | undefined).filter((o) => o?.id === id).at(-1);
const lastStaff = (events: Envelope[]): FeedStaff[] | undefined =>
  events.filter((e) => e.eventType === 'StaffUpdate').map((e) => e.eventInfo.staff as FeedStaff[]).at(-1);

describe('a real venue, as public sources show it', () => {
  it('couriers: the user contract has no roles or PIN, so courier and hasPin are unknown unless the venue lists its couriers; phones come from CellPhone', async () => {
    const p = await realPlugin();
    const plain = feedOn(p.url);
    const courier = (await waitFor('staff', () => lastStaff(plain))).find((s) => s.name === COURIER.name);
    expect(courier).toMatchObject({ phone: COURIER.phone, courier: null, hasPin: null });
    // The venue says who its couriers are (feed.courierCodes): by code.
    const listed = feedOn(p.url, { courierCodes: [COURIER.code] });
    const known = await waitFor('staff with couriers', () => lastStaff(listed));
    expect(known.find((s) => s.name === COURIER.name)).toMatchObject({ courier: true, phone: COURIER.phone });
    expect(known.find((s) => s.name === WAITER.name)).toMatchObject({ courier: false, phone: null });
  });

  it.each([['numbers', false], ['names', true]] as const)('deliveries (enums as %s): a prepaid delivery whose courier is on the way is sent, not completed; a delivered one is completed whatever its bill', async (_, names) => {
    const p = await realPlugin();
    p.enumsAsNames = names;
    const prepaid = order({ id: 'a1b2c3d4-0000-4000-8000-000000000001', number: 41, status: ORDER.Closed, items: [item('i-1', TEA, ITEM.CookingCompleted)], table: null, service: SERVICE.DeliveryByCourier, paid: 100 });
    const unpaid = order({ id: 'a1b2c3d4-0000-4000-8000-000000000002', number: 42, status: ORDER.New, items: [item('i-2', TEA, ITEM.CookingCompleted)], table: null, service: SERVICE.DeliveryByCourier });
    p.orders.push(prepaid, unpaid);
    p.deliveries.push(delivery(prepaid, { status: DELIVERY.OnWay, courier: true }), delivery(unpaid, { status: DELIVERY.Delivered, courier: true }));
    const events = feedOn(p.url);
    const onWay = await waitFor('the prepaid delivery', () => lastOrder(events, String(prepaid.Id)));
    expect(onWay).toMatchObject({ kind: 'delivery', status: 'sent', final: false, delivery: { status: 'OnWay', courier: COURIER.name } });
    expect(await waitFor('the delivered one', () => lastOrder(events, String(unpaid.Id)))).toMatchObject({ status: 'completed' });
    expect(events.find((e) => (e.eventInfo.order as FeedOrder | undefined)?.id === prepaid.Id)!.eventType).toBe('DeliveryOrderUpdate');
  });

  it('deliveries: a cancelled delivery, whose order is Deleted and so gone from /api/orders, arrives as that order, read from its delivery record', async () => {
    const p = await realPlugin();
    const o = order({ id: 'a1b2c3d4-0000-4000-8000-000000000003', number: 43, status: ORDER.New, items: [item('i-10', TEA, ITEM.Added)], table: null, service: SERVICE.DeliveryByCourier });
    p.orders.push(o);
    p.deliveries.push(delivery(o, { status: DELIVERY.New }));
    const events = feedOn(p.url);
    expect(await waitFor('the new delivery', () => lastOrder(events, String(o.Id)))).toMatchObject({ iikoStatus: 'New', status: 'confirmed' });
    p.orders.splice(0);
    p.hidden.push({ ...o, Status: ORDER.Deleted });
    p.deliveries[0] = delivery({ ...o, Status: ORDER.Deleted }, { status: DELIVERY.Cancelled });
    const gone = await waitFor('the cancellation', () => { const x = lastOrder(events, String(o.Id)); return x?.status === 'cancelled' && x; });
    expect(gone).toMatchObject({ iikoStatus: 'Deleted', final: true, gone: false, delivery: { status: 'Cancelled' } });
  });

  it.each([['numbers', false], ['names', true]] as const)('dine-in (enums as %s): a table order with its bill printed or every item served is never sent, and one cooked is never "cooked" (pickup only)', async (_, names) => {
    const p = await realPlugin();
    p.enumsAsNames = names;
    const billed = order({ id: 'b1b2c3d4-0000-4000-8000-000000000001', number: 51, status: ORDER.Bill, items: [item('i-3', TEA, ITEM.Served)] });
    const cooked = order({ id: 'b1b2c3d4-0000-4000-8000-000000000002', number: 52, status: ORDER.New, items: [item('i-4', TEA, ITEM.CookingCompleted)], table: 2 });
    const pickup = order({ id: 'b1b2c3d4-0000-4000-8000-000000000003', number: 53, status: ORDER.New, items: [item('i-5', TEA, ITEM.CookingCompleted)], table: null, service: SERVICE.DeliveryPickup, type: 'Доставка самовывоз' });
    p.orders.push(billed, cooked, pickup);
    p.deliveries.push(delivery(pickup, { status: DELIVERY.Waiting }));
    const events = feedOn(p.url);
    const a = await waitFor('billed', () => lastOrder(events, String(billed.Id)));
    const b = await waitFor('cooked', () => lastOrder(events, String(cooked.Id)));
    const c = await waitFor('pickup', () => lastOrder(events, String(pickup.Id)));
    expect([a.kind, a.status]).toEqual(['table', 'completed']);
    expect([b.kind, b.status]).toEqual(['table', 'cooking']);
    expect([c.kind, c.status]).toEqual(['pickup', 'cooked']);
    for (const e of events) {
      const o = e.eventInfo.order as FeedOrder | undefined;
      if (o?.kind === 'table') expect(['sent', 'cooked']).not.toContain(o.status);
    }
  });

  it('template dishes: a compound item (Product null) arrives with its product from PrimaryComponent, its size and template', async () => {
    const p = await realPlugin();
    const o = order({ id: 'c1b2c3d4-0000-4000-8000-000000000001', number: 61, status: ORDER.New, items: [compoundItem('i-6', ITEM.CookingStarted)] });
    p.orders.push(o);
    const events = feedOn(p.url);
    const got = await waitFor('the order', () => lastOrder(events, String(o.Id)));
    expect(got.items[0]).toMatchObject({ productCode: SHAWARMA.code, size: 'сред', compound: true, template: 'Для шаурмы' });
    expect(got.items[0]!.productId).toBe(SHAWARMA.id);
  });

  it('kitchens: the kitchens and the pickup counter among the sections are not halls', async () => {
    const p = await realPlugin();
    const events = feedOn(p.url);
    const t = await waitFor('tables', () => events.find((e) => e.eventType === 'TablesUpdate'));
    const sections = (t.eventInfo.sections as Array<{ name: string }>).map((s) => s.name);
    expect(sections).toEqual(['Зал']);
    expect(t.eventInfo.kitchens).toEqual(KITCHENS);
  });

  it('deleted orders: the simulator, like the SDK, leaves them out of /api/orders; the feed still says the order was cancelled', async () => {
    const sim = await startSim({ port: 0, auto: false });
    cleanups.push(() => sim.close());
    const events = feedOn(sim.url);
    const w = sim.world;
    const o = w.createOrder({ tableNum: 3, items: [{ productCode: w.products.find((x) => x.active && !x.template)!.code, amount: 1 }] });
    await waitFor('the new order', () => lastOrder(events, o.id.toLowerCase()));
    w.deleteOrder(o);
    const login = await (await fetch(`${sim.url}/api/login/2050`)).json() as string;
    const list = await (await fetch(`${sim.url}/api/orders?key=${login}`)).json() as Array<{ Id: string }>;
    expect(list.map((x) => x.Id.toLowerCase())).not.toContain(o.id.toLowerCase());
    const one = await (await fetch(`${sim.url}/api/orders/${o.id}?key=${login}`)).json() as { Status: unknown };
    expect([3, 'Deleted']).toContain(one.Status);
    expect(await waitFor('the cancellation', () => { const x = lastOrder(events, o.id.toLowerCase()); return x?.status === 'cancelled' && x; })).toMatchObject({ iikoStatus: 'Deleted', final: true });
  });

  it('kitchen orders: the simulator answers like the recorded plugin (ProcessingStatus 0-6 with Served 6, OrderServiceType a number, OrderType a name)', async () => {
    const sim = await startSim({ port: 0, auto: false });
    cleanups.push(() => sim.close());
    const login = await (await fetch(`${sim.url}/api/login/2050`)).json() as string;
    const got = await (await fetch(`${sim.url}/api/kitchenorders?key=${login}`)).json() as Array<{ OrderServiceType: unknown; OrderType: unknown; Items: Array<{ ProcessingStatus: unknown }> }>;
    const statuses = got.flatMap((k) => k.Items.map((i) => i.ProcessingStatus));
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => typeof s === 'number' && s >= 0 && s <= 6)).toBe(true);
    expect(statuses).toContain(6);
    expect(got.every((k) => typeof k.OrderServiceType === 'number')).toBe(true);
    expect(got.filter((k) => k.OrderServiceType === 2).map((k) => k.OrderType)).toContain('Доставка самовывоз');
  });

  it('iiko Cloud: the orders a real-shaped plugin gives reach a Cloud handler with its token, in bodies the iikoCloud OpenAPI schemas accept', async () => {
    const p = await realPlugin();
    const table = order({ id: 'd1b2c3d4-0000-4000-8000-000000000001', number: 71, status: ORDER.Bill, items: [compoundItem('i-7', ITEM.Served), item('i-8', TEA, ITEM.Served)] });
    const prepaid = order({ id: 'd1b2c3d4-0000-4000-8000-000000000002', number: 72, status: ORDER.Closed, items: [item('i-9', TEA, ITEM.CookingCompleted)], table: null, service: SERVICE.DeliveryByCourier, paid: 100 });
    p.orders.push(table, prepaid);
    p.deliveries.push(delivery(prepaid, { status: DELIVERY.OnWay, courier: true }));
    const events = feedOn(p.url);
    await waitFor('both orders', () => lastOrder(events, String(table.Id)) && lastOrder(events, String(prepaid.Id)));
    const staff = await waitFor('staff', () => events.find((e) => e.eventType === 'StaffUpdate'));

    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const relayDir = tempDir('fidelity-relay');
    cleanups.push(() => relayDir.remove());
    const relay = await startRelay({ dataDir: relayDir.dir, webhooks: { pollMs: 100, baseBackoffMs: 100, maxBackoffMs: 200, allowLoopback: true } });
    cleanups.push(() => relay.close());
    const companionDir = tempDir('fidelity-companion');
    cleanups.push(() => companionDir.remove());
    const venue = await pairedVenue(relay.url, companionDir.dir);
    const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
    const token = 'cloud-handler-token-17';
    const org = '2f1e0d9c-8b7a-4695-a4b3-c2d1e0f9a8b7';
    expect((await fetch(`${relay.url}/v1/venues/${venue.venueId}/webhook`, {
      method: 'PUT', headers: auth, body: JSON.stringify({ url: rx.url, format: 'iiko-cloud', authToken: token, secret: 'also-signed-0123456789' }),
    })).status).toBe(200);
    expect((await fetch(`${relay.url}/v1/venues/${venue.venueId}`, { method: 'PUT', headers: auth, body: JSON.stringify({ iikoOrganizationId: org }) })).status).toBe(200);
    const peer = await rawCompanion(relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    const send = [lastOrder(events, String(table.Id))!, lastOrder(events, String(prepaid.Id))!];
    send.forEach((o, i) => peer.event(envelope(venue.venueId, i + 1, { eventType: o.kind === 'table' ? 'TableOrderUpdate' : 'DeliveryOrderUpdate', eventInfo: { order: o } })));
    peer.event(envelope(venue.venueId, 3, { eventType: 'StaffUpdate', eventInfo: staff.eventInfo }));
    await waitFor('the Cloud handler got all three', () => rx.requests.filter((r) => r.status === 200).flatMap((r) => JSON.parse(r.body) as unknown[]).length === 3);
    const got = rx.requests.filter((r) => r.status === 200).flatMap((r) => JSON.parse(r.body) as Array<Record<string, unknown>>);
    const schemas = cloudSchemas();
    for (const e of got) expect(schemas.validate(e)).toEqual({ ok: true, errors: [] });
    expect(got.map((e) => e.eventType)).toEqual(['TableOrderUpdate', 'DeliveryOrderUpdate', 'StaffUpdate']);
    const info = got[1]!.eventInfo as { creationStatus: string; order: { status: string; courierInfo: { courier: { name: string } } } };
    expect(info).toMatchObject({ creationStatus: 'Success', order: { status: 'OnWay', courierInfo: { courier: { name: COURIER.name } } } });
    for (const r of rx.requests) expect(r.authorization).toBe(token);
    expect(rx.requests[0]!.headers['x-evva-signature']).toMatch(/^v1=/);
  });

  it('discovery: a port counts as the plugin by its page and an API that refuses without a key, whatever the refusal\'s status; 8102 is tried', async () => {
    expect(CANDIDATE_PORTS).toContain(8102);
    for (const [status, body] of [[403, '{"Message":"Authorization has been denied for this request."}'], [400, '{"Message":"key is required"}'], [401, '']] as const) {
      const server = http.createServer((req, res) => {
        if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>iikoFront Web API</body></html>');
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
      const who = await identify(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      expect({ status, kind: who.kind }).toEqual({ status, kind: 'plugin' });
    }
  });
});
