/**
 * The iiko Cloud webhook format (relay/cloudformat.ts) against the iikoCloud
 * API OpenAPI schemas (tests/fixtures/iiko/cloud-webhook-schemas.json) and
 * real Cloud bodies (tests/fixtures/iiko/cloud-webhook-heads.json): every
 * order the simulator can make, read by the companion's normaliser as the
 * feed reads it, becomes an event a Cloud handler's schema accepts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../../protocol/events.ts';
import type { FeedOrder } from '../../../protocol/feed.ts';
import { GUID_EMPTY, asUuid, cloudBody, cloudDeliveryStatus, cloudLocalTime, cloudTime, toCloudEvent, type CloudEvent } from '../../../relay/cloudformat.ts';
import { toWebhookEvent } from '../../../relay/events.ts';
import { busyWorld, feedOrders } from '../../helpers/cloudorders.ts';
import { cloudSchemas } from '../../helpers/openapi.ts';

const HEADS = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../fixtures/iiko/cloud-webhook-heads.json'), 'utf8')) as { heads: string[] };
const IDS = { organizationId: '7f0b1c1e-4f6a-4d2b-9a51-0c9d3e2f1a10', terminalGroupId: null };
const schemas = cloudSchemas();

let seq = 0;
function envelope(eventType: Envelope['eventType'], eventInfo: Record<string, unknown>): Envelope {
  seq++;
  return { eventId: `evt_${seq}`, venueId: 'ven_a', seq, eventType, eventTime: new Date(Date.UTC(2025, 0, 28, 9, 0, seq)).toISOString(), eventInfo };
}
const orderEvent = (o: FeedOrder) => envelope(o.kind === 'table' ? 'TableOrderUpdate' : 'DeliveryOrderUpdate', { order: o });
const cloud = (o: FeedOrder) => toCloudEvent(orderEvent(o), IDS);
const order = (e: CloudEvent) => (e.eventInfo as { order: Record<string, unknown> }).order;

describe('the iiko Cloud format', () => {
  it('turns every order the sim can make, read by the normaliser, into an event the iikoCloud OpenAPI schemas accept', () => {
    const orders = feedOrders(busyWorld());
    expect(new Set(orders.map((o) => o.kind))).toEqual(new Set(['table', 'delivery', 'pickup']));
    expect(new Set(orders.map((o) => o.iikoStatus))).toEqual(new Set(['New', 'Bill', 'Closed', 'Deleted']));
    const failures = orders.flatMap((o) => {
      const r = schemas.validate(cloud(o));
      return r.ok ? [] : [`${o.kind} ${o.number} ${o.iikoStatus}: ${r.errors.slice(0, 5).join('; ')}`];
    });
    expect(failures).toEqual([]);
  });

  it('names products, tables and waiters by the GUIDs the other polls saw', () => {
    const w = busyWorld();
    const orders = feedOrders(w);
    const table = orders.find((o) => o.kind === 'table' && o.items.some((i) => i.compound) && o.discounts.length > 0)!;
    const body = order(cloud(table));
    expect(body.tableIds).toEqual([w.tables.find((t) => t.number === 2)!.id]);
    expect((body.waiter as { id: string }).id).toBe(w.staff.find((s) => s.name === table.waiter)!.id);
    const items = body.items as Array<Record<string, unknown>>;
    const compound = items.find((i) => i.type === 'Compound')!;
    const shawarma = w.products.find((p) => p.template?.name === 'Для шаурмы')!;
    expect(compound).toMatchObject({ primaryComponent: { product: { id: shawarma.id } }, size: { name: 'сред' }, template: { name: 'Для шаурмы' } });
    expect(items.find((i) => i.type === 'Product')).toMatchObject({ product: { id: expect.not.stringMatching(GUID_EMPTY) } });
    expect(body.status).toBe('Bill');
    expect((body.discounts as unknown[]).length).toBe(1);
  });

  it('says a prepaid delivery a courier has taken is OnWay, a pickup is DeliveryByClient, a deleted order is gone', () => {
    const orders = feedOrders(busyWorld());
    const onWay = orders.find((o) => o.delivery?.customerName === 'Ирина')!;
    expect(onWay).toMatchObject({ kind: 'delivery', iikoStatus: 'Closed', delivery: { status: 'OnWay' } });
    const e = cloud(onWay);
    expect(e.eventType).toBe('DeliveryOrderUpdate');
    expect(order(e)).toMatchObject({ status: 'OnWay', orderType: { orderServiceType: 'DeliveryByCourier' }, phone: '+79990000000', customer: { name: 'Ирина' } });
    expect(order(e).courierInfo).toMatchObject({ courier: { name: onWay.delivery!.courier } });
    const pickup = cloud(orders.find((o) => o.kind === 'pickup' && o.delivery?.status === 'Waiting')!);
    expect(pickup.eventType).toBe('DeliveryOrderUpdate');
    expect(order(pickup)).toMatchObject({ status: 'Waiting', orderType: { orderServiceType: 'DeliveryByClient', name: 'Доставка самовывоз' } });
    expect(order(cloud(orders.find((o) => o.iikoStatus === 'Deleted')!)).status).toBe('Deleted');
  });

  it('splits a new delivery by how far its kitchen is, as Cloud\'s statuses do', () => {
    const base = feedOrders(busyWorld()).find((o) => o.kind === 'delivery')!;
    const at = (d: string | null, items: string[], iiko = 'New') => cloudDeliveryStatus({
      ...base, iikoStatus: iiko, delivery: d === null ? null : { ...base.delivery!, status: d },
      items: items.map((s) => ({ ...base.items[0]!, status: s, deleted: false })),
    });
    expect(at('New', ['Added'])).toBe('WaitCooking');
    expect(at('New', ['PrintedNotCooking'])).toBe('ReadyForCooking');
    expect(at('New', ['CookingStarted', 'Added'])).toBe('CookingStarted');
    expect(at('New', ['CookingCompleted', 'Served'])).toBe('CookingCompleted');
    expect(at('Unconfirmed', ['Added'])).toBe('Unconfirmed');
    expect(at('Cancelled', ['Added'], 'Deleted')).toBe('Cancelled');
    expect(at(null, ['Added'], 'Closed')).toBe('Closed');
  });

  it('writes eventTime in UTC and order times in the venue\'s own time, as Cloud does', () => {
    expect(cloudTime(Date.UTC(2026, 1, 26, 10, 6, 18, 203))).toBe('2026-02-26 10:06:18.203');
    expect(cloudLocalTime('2025-01-28T12:31:49.5619262+05:00')).toBe('2025-01-28 12:31:49.561');
    expect(cloudLocalTime('2025-01-28T12:31:49+05:00')).toBe('2025-01-28 12:31:49.000');
    expect(cloudLocalTime(null)).toBeNull();
    // Real bodies: eventTime is the same instant as eventInfo.timestamp (epoch ms), written in UTC.
    for (const h of HEADS.heads) {
      const time = /"eventTime": "([^"]+)"/.exec(h)![1]!;
      const stamp = Number(/"timestamp": (\d+)/.exec(h)![1]);
      expect(Math.abs(Date.parse(`${time.replace(' ', 'T')}Z`) - stamp)).toBeLessThan(1_000);
    }
  });

  it('puts the keys in the order real Cloud bodies have them', () => {
    const keys = (json: string) => [...json.matchAll(/"([A-Za-z]+)":/g)].map((m) => m[1]);
    const delivery = feedOrders(busyWorld()).find((o) => o.kind === 'delivery')!;
    const ours = keys(JSON.stringify(cloud(delivery)));
    for (const h of HEADS.heads) {
      const real = keys(h);
      expect(real.length).toBeGreaterThan(10);
      expect(ours.slice(0, real.length)).toEqual(real);
    }
  });

  it('passes the events Cloud has no counterpart for as they are, under their own type, which a Cloud handler skips', () => {
    for (const [type, info] of [
      ['StaffUpdate', { staff: [] }], ['TablesUpdate', { tables: [], sections: [] }], ['MenuSnapshot', { sections: [] }],
      ['PaymentUpdate', { paymentId: 'pay_1', orderId: 'o', state: 'queued' }], ['CompanionHealth', { front: 'ok' }],
    ] as const) {
      const e = toCloudEvent(envelope(type, info), IDS);
      expect(schemas.cloudTypes).not.toContain(type);
      expect(schemas.validate(e)).toEqual({ ok: true, errors: [] });
      expect(e.eventInfo).toEqual(info);
    }
  });

  it('is checked for real: the evva format and a broken Cloud event both fail the schemas', () => {
    const o = feedOrders(busyWorld()).find((x) => x.kind === 'table')!;
    expect(schemas.validate(toWebhookEvent(orderEvent(o))).ok).toBe(false);
    const good = cloud(o);
    expect(schemas.validate(good).ok).toBe(true);
    const broken = (f: (e: CloudEvent & { eventInfo: { order: Record<string, unknown> } }) => void) => {
      const e = structuredClone(good) as CloudEvent & { eventInfo: { order: Record<string, unknown> } };
      f(e);
      return schemas.validate(e).ok;
    };
    expect(broken((e) => { e.eventTime = new Date().toISOString(); })).toBe(false);
    expect(broken((e) => { e.organizationId = 'ven_a'; })).toBe(false);
    expect(broken((e) => { e.eventInfo.order.status = 'cooking'; })).toBe(false);
    expect(broken((e) => { delete e.eventInfo.order.sum; })).toBe(false);
    expect(broken((e) => { (e.eventInfo.order.items as Array<Record<string, unknown>>)[0]!.type = 'Dish'; })).toBe(false);
    expect(broken((e) => { e.eventInfo.order.extra = 1; })).toBe(false);
  });

  it('sends one JSON array per batch, ids as UUIDs (derived when the plugin\'s are not)', () => {
    const o = feedOrders(busyWorld())[0]!;
    const body = JSON.parse(cloudBody([orderEvent(o), envelope('CompanionHealth', { front: 'ok' })], IDS)) as CloudEvent[];
    expect(body.map((e) => e.eventType)).toEqual([o.kind === 'table' ? 'TableOrderUpdate' : 'DeliveryOrderUpdate', 'CompanionHealth']);
    expect(body.every((e) => e.organizationId === IDS.organizationId)).toBe(true);
    expect(asUuid('evt_1')).toBe(asUuid('evt_1'));
    expect(asUuid('evt_1')).not.toBe(asUuid('evt_2'));
    expect(asUuid('EB3F5A2C-0000-4000-8000-000000000001')).toBe('eb3f5a2c-0000-4000-8000-000000000001');
    expect(schemas.validate({ ...body[0], correlationId: asUuid('evt_9') }).ok).toBe(true);
  });
});
