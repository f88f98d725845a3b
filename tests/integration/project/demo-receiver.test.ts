/**
 * The demo's webhook receiver: it takes the relay's signed batches, prints each
 * event once, and refuses forged ones; in the iiko-cloud format it takes Cloud's
 * body with the handler's token, as EVVA's iiko Cloud handler would.
 */
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver } from '../../../scripts/receiver.ts';
import { signWebhook } from '../../../protocol/signature.ts';
import { envelope, feedOrder, rawCompanion, startReceiver as tapReceiver } from '../../helpers/feedpeers.ts';
import { API_KEY, pairedVenue, relayWithDataDir, waitFor } from '../../helpers/relay.ts';
import { busyWorld, feedOrders } from '../../helpers/cloudorders.ts';
import { cloudSchemas } from '../../helpers/openapi.ts';

const SECRET = 'demo-receiver-secret-0123';

describe('demo webhook receiver', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('prints the events the relay delivers, one line each, and answers a forged signature with 401', async () => {
    const lines: string[] = [];
    const rx = await startReceiver({ secret: SECRET, print: (l) => lines.push(l) });
    cleanups.push(() => rx.close());
    const { relay, dataDir } = await relayWithDataDir(cleanups, { webhooks: { url: rx.url, secret: SECRET, pollMs: 200, allowLoopback: true } });
    const venue = await pairedVenue(relay.url, dataDir);
    const peer = await rawCompanion(relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    peer.event(envelope(venue.venueId, 1, { eventInfo: { order: feedOrder('o1', { number: 105, status: 'cooking', sums: { full: 1250, result: 1250, discount: 0, surcharge: 0, paid: null, source: 'derived' } }) } }));
    // A PaymentUpdate is about a payment EVVA posted: post it first.
    const paidAt = new Date().toISOString();
    const posted = await fetch(`${relay.url}/v1/venues/${venue.venueId}/payments`, {
      method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ paymentId: 'pay-1', orderId: 'o1', amount: 1250, paidAt }),
    });
    expect(posted.status).toBe(201);
    peer.event(envelope(venue.venueId, 2, { eventType: 'PaymentUpdate', eventInfo: { paymentId: 'pay-1', orderId: 'o1', amount: 1250, paidAt, state: 'reconciled', updatedAt: paidAt } }));
    const staff = (name: string) => ({ id: null, name, code: null, role: null, courier: false, hasPin: null, phone: null, sessionOpen: null });
    peer.event(envelope(venue.venueId, 3, { eventType: 'StaffUpdate', eventInfo: { staff: [staff('А'), staff('Б')] } }));
    await waitFor(() => lines.length === 3, 'three printed events');
    expect(lines[0]).toMatch(/^#1 TableOrderUpdate\s+заказ 105: cooking, 1250 ₽$/);
    expect(lines[1]).toMatch(/^#2 PaymentUpdate\s+платёж pay-1 \(заказ o1\): reconciled$/);
    expect(lines[2]).toMatch(/^#3 StaffUpdate\s+персонал: 2 чел\.$/);
    const body = JSON.stringify([envelope(venue.venueId, 4)]);
    const forged = await fetch(rx.url, {
      method: 'POST', body, headers: { 'content-type': 'application/json', ...signWebhook('another-secret-0123', 'dlv_forged', body, Date.now()) },
    });
    expect(forged.status).toBe(401);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/неверной подписью/);
  });

  it('in the iiko-cloud format takes the token the relay sends, prints Cloud\'s order fields, and every event it saves fits the OpenAPI schemas', async () => {
    const lines: string[] = [];
    const saved: unknown[] = [];
    const token = 'demo-cloud-token-0123';
    const rx = await startReceiver({ format: 'iiko-cloud', authToken: token, print: (l) => lines.push(l), save: (e) => saved.push(e) });
    cleanups.push(() => rx.close());
    const { relay, dataDir } = await relayWithDataDir(cleanups, { webhooks: { url: rx.url, format: 'iiko-cloud', authToken: token, pollMs: 200, allowLoopback: true } });
    const venue = await pairedVenue(relay.url, dataDir);
    const org = '0f4d3c2b-1a09-4e8d-9c7b-6a5f4e3d2c1b';
    const put = await fetch(`${relay.url}/v1/venues/${venue.venueId}`, {
      method: 'PUT', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ iikoOrganizationId: org }),
    });
    expect(put.status).toBe(200);
    const peer = await rawCompanion(relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    const orders = feedOrders(busyWorld());
    const pickup = orders.find((o) => o.kind === 'pickup')!;
    const table = orders.find((o) => o.kind === 'table' && o.iikoStatus === 'Bill')!;
    peer.event(envelope(venue.venueId, 1, { eventInfo: { order: table } }));
    peer.event(envelope(venue.venueId, 2, { eventType: 'DeliveryOrderUpdate', eventInfo: { order: pickup } }));
    peer.event(envelope(venue.venueId, 3, { eventType: 'StaffUpdate', eventInfo: { staff: [{ id: null, name: 'А', code: null, role: null, courier: null, hasPin: null, phone: null, sessionOpen: null }] } }));
    await waitFor(() => lines.length === 3, 'three printed events');
    expect(lines[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} TableOrderUpdate\\s+заказ ${table.number}: Bill, ${table.sums.result} ₽$`));
    expect(lines[1]).toMatch(new RegExp(`DeliveryOrderUpdate\\s+заказ ${pickup.number} \\(самовывоз\\): `));
    expect(lines[2]).toMatch(/StaffUpdate\s+персонал: 1 чел\.$/);
    const schemas = cloudSchemas();
    expect(saved).toHaveLength(3);
    for (const e of saved) expect(schemas.validate(e)).toEqual({ ok: true, errors: [] });
    const body = JSON.stringify(saved.slice(0, 1));
    const post = (authorization: string) => fetch(rx.url, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization } });
    expect((await post('wrong-token-000000000')).status).toBe(401);
    expect(lines[3]).toMatch(/неверным токеном/);
    // A handler takes `Bearer <token>` too; an event seen before is not printed again.
    expect((await post(`Bearer ${token}`)).status).toBe(204);
    expect(lines).toHaveLength(4);
  });

  it('refuses a captured delivery replayed after its 5-minute window, and takes it within the window', async () => {
    const lines: string[] = [];
    let clock = Date.now();
    const rx = await startReceiver({ secret: SECRET, print: (l) => lines.push(l), now: () => clock });
    cleanups.push(() => rx.close());
    // A real delivery, captured on the way (a recording receiver stands where an eavesdropper would).
    const tap = await tapReceiver();
    cleanups.push(() => tap.close());
    const { relay, dataDir } = await relayWithDataDir(cleanups, { webhooks: { url: tap.url, secret: SECRET, pollMs: 200, allowLoopback: true } });
    const venue = await pairedVenue(relay.url, dataDir);
    const peer = await rawCompanion(relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    peer.event(envelope(venue.venueId, 1));
    await waitFor(() => tap.requests.length === 1, 'the captured delivery');
    const captured = tap.requests[0]!;
    const replay = () => fetch(rx.url, { method: 'POST', body: captured.body, headers: { 'content-type': 'application/json', ...captured.headers } });
    clock = captured.at + 6 * 60_000;
    expect((await replay()).status).toBe(401);
    expect(lines.at(-1)).toMatch(/старше 5 минут/);
    clock = captured.at + 60_000;
    expect((await replay()).status).toBe(204);
    expect(lines.at(-1)).toMatch(/^#1 TableOrderUpdate/);
  });
});
