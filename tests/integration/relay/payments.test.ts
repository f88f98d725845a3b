/**
 * Payment notices and the menu-sync action through the relay: straight down
 * the tunnel when the venue is online, queued in the store (in order, once)
 * while it is offline, and the payment's later states from PaymentUpdate events.
 */
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { PaymentNotice, PaymentView } from '../../../protocol/events.ts';
import { envelope, rawCompanion } from '../../helpers/feedpeers.ts';
import { API_KEY, pairedVenue, relayWithDataDir, startRelay, waitFor } from '../../helpers/relay.ts';

const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

function notice(paymentId: string, amount = 1500): PaymentNotice {
  return { paymentId, orderId: `order-${paymentId}`, amount, tips: 100, paidAt: '2026-11-28T12:00:00.000Z' };
}

/** What a companion answers to payment.notice: it has the notice and waits for iiko to close the order. */
const companionTakes = (name: string, args: unknown) =>
  name === 'payment.notice'
    ? { ok: true as const, result: { ...(args as PaymentNotice), state: 'notified', updatedAt: new Date().toISOString() } satisfies PaymentView }
    : name === 'menu.sync' ? { ok: true as const, result: { queued: true } } : null;

describe('payments and actions on the relay', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(opts: Parameters<typeof relayWithDataDir>[1] = {}) {
    const { relay, dataDir } = await relayWithDataDir(cleanups, opts);
    const venue = await pairedVenue(relay.url, dataDir);
    const post = async (body: unknown) => {
      const r = await fetch(`${relay.url}/v1/venues/${venue.venueId}/payments`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as PaymentView & { error?: string; message?: string } };
    };
    const get = async (id: string) => {
      const r = await fetch(`${relay.url}/v1/venues/${venue.venueId}/payments/${id}`, { headers: auth });
      return { status: r.status, body: (await r.json()) as PaymentView };
    };
    const menuSync = async () => {
      const r = await fetch(`${relay.url}/v1/venues/${venue.venueId}/actions/menu-sync`, { method: 'POST', headers: auth });
      return { status: r.status, body: (await r.json()) as { error?: string; message?: string; queued?: boolean } };
    };
    return { relay, venue, post, get, menuSync };
  }

  it('hands a notice to an online companion and answers with its state; a repeat is idempotent, a changed one refused', async () => {
    const { relay, venue, post } = await setup();
    const peer = await rawCompanion(relay.url, venue.deviceToken, companionTakes);
    cleanups.push(() => peer.close());
    const first = await post(notice('pay-1'));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ paymentId: 'pay-1', state: 'notified', amount: 1500, tips: 100 });
    expect(peer.cmds).toEqual([{ id: expect.any(String), name: 'payment.notice', args: notice('pay-1') }]);
    const again = await post(notice('pay-1'));
    expect([again.status, again.body.state]).toEqual([200, 'notified']);
    expect(peer.cmds).toHaveLength(1);
    const changed = await post(notice('pay-1', 999));
    expect([changed.status, changed.body.error]).toEqual([409, 'payment_conflict']);
  });

  it('queues notices while the venue is offline and sends them in order, once each, when its tunnel comes up', async () => {
    const { relay, venue, post, get } = await setup();
    for (const id of ['pay-a', 'pay-b', 'pay-c']) {
      const r = await post(notice(id));
      expect([r.status, r.body.state]).toEqual([201, 'queued']);
    }
    expect((await post(notice('pay-b'))).status).toBe(200);
    expect((await get('pay-b')).body.state).toBe('queued');
    const peer = await rawCompanion(relay.url, venue.deviceToken, companionTakes);
    cleanups.push(() => peer.close());
    await waitFor(async () => (await get('pay-c')).body.state === 'notified', 'the last queued notice delivered');
    expect(peer.cmds.map((c) => (c.args as PaymentNotice).paymentId)).toEqual(['pay-a', 'pay-b', 'pay-c']);
    expect((await get('pay-a')).body.state).toBe('notified');
  });

  it('keeps a notice queued when the companion does not answer, and sends it again on the next connection', async () => {
    const { relay, venue, post, get } = await setup({ payments: { commandTimeoutMs: 500 } });
    const silent = await rawCompanion(relay.url, venue.deviceToken, () => null);
    const r = await post(notice('pay-late'));
    expect([r.status, r.body.state]).toEqual([201, 'queued']);
    await silent.close();
    const peer = await rawCompanion(relay.url, venue.deviceToken, companionTakes);
    cleanups.push(() => peer.close());
    await waitFor(async () => (await get('pay-late')).body.state === 'notified', 'delivered on reconnect');
  });

  it('keeps queued notices across a relay restart', async () => {
    const { relay, venue, post } = await setup();
    await post(notice('pay-r'));
    await relay.relay.close();
    const again = await startRelay({ dataDir: relay.dataDir });
    cleanups.push(() => again.close());
    const peer = await rawCompanion(again.url, venue.deviceToken, companionTakes);
    cleanups.push(() => peer.close());
    await waitFor(() => peer.cmds.length === 1, 'the queued notice after restart');
    expect((peer.cmds[0]!.args as PaymentNotice).paymentId).toBe('pay-r');
  });

  it('shows the state the companion reports in PaymentUpdate events, only along the moves a payment makes', async () => {
    const { relay, venue, post, get } = await setup();
    const peer = await rawCompanion(relay.url, venue.deviceToken, companionTakes);
    cleanups.push(() => peer.close());
    await post(notice('pay-x'));
    const view = (state: PaymentView['state'], detail?: string): PaymentView => ({
      ...notice('pay-x'), state, updatedAt: new Date().toISOString(), ...(detail ? { detail } : {}),
    });
    peer.event(envelope(venue.venueId, 1, { eventType: 'PaymentUpdate', eventInfo: view('pending-close') }));
    peer.event(envelope(venue.venueId, 2, { eventType: 'PaymentUpdate', eventInfo: view('mismatch', 'закрыт наличными') }));
    // Closed as a mismatch: a later report cannot quietly turn it back into pending-close.
    peer.event(envelope(venue.venueId, 3, { eventType: 'PaymentUpdate', eventInfo: view('pending-close') }));
    await waitFor(() => peer.acked.length === 3, 'all three updates taken');
    const got = await get('pay-x');
    expect(got.body).toMatchObject({ state: 'mismatch', detail: 'закрыт наличными' });
    expect((await get('pay-unknown')).status).toBe(404);
  });

  it('never lets a venue change what EVVA posted, or create a payment EVVA never posted; the queued notice still goes out', async () => {
    const { relay, venue, post, get } = await setup();
    const posted = { ...notice('pay-evva', 5000), orderId: 'order-real' };
    expect((await post(posted)).body.state).toBe('queued');
    // A companion (hostile or broken) reports the queued payment as reconciled for 1 ₽ on another order, and invents one.
    const hostile = await rawCompanion(relay.url, venue.deviceToken, () => null);
    const forged: PaymentView = { ...posted, amount: 1, orderId: 'order-other', state: 'reconciled', updatedAt: new Date().toISOString() };
    const invented: PaymentView = { ...posted, paymentId: 'pay-invented', state: 'reconciled', updatedAt: new Date().toISOString() };
    hostile.event(envelope(venue.venueId, 1, { eventType: 'PaymentUpdate', eventInfo: forged }));
    hostile.event(envelope(venue.venueId, 2, { eventType: 'PaymentUpdate', eventInfo: invented }));
    await waitFor(() => hostile.acked.length === 2, 'both updates taken (and refused)');
    expect((await get('pay-evva')).body).toMatchObject({ state: 'queued', amount: 5000, orderId: 'order-real' });
    expect((await get('pay-invented')).status).toBe(404);
    const events = await (await fetch(`${relay.url}/v1/venues/${venue.venueId}/events`, { headers: auth })).json() as { events: unknown[] };
    expect(events.events).toEqual([]);
    await hostile.close();
    // The notice EVVA posted still reaches the venue when a companion that takes it connects.
    const peer = await rawCompanion(relay.url, venue.deviceToken, companionTakes);
    cleanups.push(() => peer.close());
    await waitFor(async () => (await get('pay-evva')).body.state === 'notified', 'the queued notice delivered');
    expect(peer.cmds.map((c) => (c.args as PaymentNotice).paymentId)).toEqual(['pay-evva']);
    expect((await get('pay-evva')).body).toMatchObject({ amount: 5000, orderId: 'order-real' });
  });

  it('keeps EVVA\'s amount and order when the companion\'s answer to a notice names others', async () => {
    const { relay, venue, post } = await setup();
    const liar = (name: string, args: unknown) => (name === 'payment.notice'
      ? { ok: true as const, result: { ...(args as PaymentNotice), amount: 1, state: 'reconciled', updatedAt: new Date().toISOString() } satisfies PaymentView }
      : null);
    const peer = await rawCompanion(relay.url, venue.deviceToken, liar);
    cleanups.push(() => peer.close());
    const r = await post(notice('pay-lie', 700));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ state: 'notified', amount: 700 });
  });

  it('refuses a malformed notice with 400 and an unknown venue with 404', async () => {
    const { relay, post } = await setup();
    expect((await post({ paymentId: 'x', orderId: 'o', amount: -5, paidAt: 'now' })).status).toBe(400);
    expect((await post({ paymentId: 'bad id with spaces', orderId: 'o', amount: 5, paidAt: '2026-11-28T12:00:00Z' })).status).toBe(400);
    const r = await fetch(`${relay.url}/v1/venues/ven_nosuchvenue000/payments`, { method: 'POST', headers: auth, body: JSON.stringify(notice('p')) });
    expect(r.status).toBe(404);
  });

  it('refuses amounts finer than a kopeck and a paidAt far from the relay\'s clock, and takes whole kopecks', async () => {
    const { post } = await setup();
    const base = notice('pay-k');
    for (const bad of [{ amount: 100.005 }, { amount: 0.001 }, { tips: 10.001 }, { paidAt: '2999-01-01T00:00:00.000Z' },
      { paidAt: new Date(Date.now() + 2 * 3_600_000).toISOString() }, { paidAt: '1970-01-01T00:00:00.000Z' }]) {
      const r = await post({ ...base, ...bad });
      expect({ bad, status: r.status, error: r.body.error }).toEqual({ bad, status: 400, error: 'bad_request' });
    }
    // Decimal sums that binary floating point cannot hold exactly are still whole kopecks.
    const ok = await post({ ...base, amount: 100.1, tips: 0.3, paidAt: new Date(Date.now() - 60_000).toISOString() });
    expect([ok.status, ok.body.amount, ok.body.tips]).toEqual([201, 100.1, 0.3]);
  });

  it('asks an online companion for a fresh menu, and says clearly that an offline venue cannot be asked', async () => {
    const { relay, venue, menuSync } = await setup();
    const offline = await menuSync();
    expect(offline.status).toBe(503);
    expect(offline.body.error).toBe('venue_offline');
    expect(offline.body.message).toMatch(/not connected/);
    const peer = await rawCompanion(relay.url, venue.deviceToken, companionTakes);
    cleanups.push(() => peer.close());
    const online = await menuSync();
    expect([online.status, online.body.queued]).toEqual([202, true]);
    expect(peer.cmds.map((c) => c.name)).toEqual(['menu.sync']);
  });

  it('maps a companion without menu.sync to 501 unsupported', async () => {
    const { relay, venue, menuSync } = await setup();
    const peer = await rawCompanion(relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    const r = await menuSync();
    expect([r.status, r.body.error]).toEqual([501, 'unsupported']);
  });
});
