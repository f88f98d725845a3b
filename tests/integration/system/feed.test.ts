/**
 * The feed end to end with the three real processes and EVVA's receiver:
 * sim (a scripted restaurant day) → companion → relay → a webhook receiver on
 * loopback. Along the way the relay is down for 30 s, the companion is
 * killed with -9 while events wait in its outbox, the receiver answers 500
 * for a while and the plugin restarts (sessions dropped); at the end every change is at the receiver, in
 * order, once after dedup by eventId, every signature valid, with discounts,
 * the EVVA payment, and each of the four payment outcomes, by the payment
 * type's code and (with the plugin's codes switched off) by its name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { PaymentView } from '../../../protocol/events.ts';
import { signatureValid, startReceiver } from '../../helpers/feedpeers.ts';
import { freePort, runBin, startBin, type Proc } from '../../helpers/proc.ts';
import { API_KEY, createVenue, tempDir, waitFor } from '../../helpers/relay.ts';

const SECRET = 'feed-system-webhook-secret-01';
/** As long as the "relay down" fault: three times the companion's 10 s reconnect cap. */
const RELAY_DOWN_MS = 30_000;
const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

interface Got { eventId: string; seq: number; eventType: string; eventInfo: Record<string, unknown>; organizationId: string }
interface Order { id: string; status: string | null; sums: { full: number; result: number; discount: number; surcharge: number }; payments: Array<{ typeName: string; isEvva: boolean; sum: number }> }

describe('the feed through real processes', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('brings a scripted day to the receiver in order, once, signed, through a relay outage, kill -9, a failing receiver and a plugin restart', async () => {
    let failing = false;
    const rx = await startReceiver(() => (failing ? 500 : 200));
    cleanups.push(() => rx.close());
    const relayDir = tempDir('feed-relay');
    const companionDir = tempDir('feed-companion');
    cleanups.push(() => relayDir.remove(), () => companionDir.remove());
    const secretFile = path.join(relayDir.dir, 'webhook.secret');
    fs.writeFileSync(secretFile, SECRET);

    // A companion killed with -9 never logs out: spare licence slots let the restarted one log in at once.
    const sim = startBin('evva-sim.js', ['--port', '0', '--no-auto', '--seed', '1', '--licence-slots', '5']);
    cleanups.push(() => sim.stop('SIGKILL'));
    const simUrl = (await sim.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const relayPort = await freePort();
    const startRelayProc = (): Proc => {
      const p = startBin('evva-relay.js', ['serve', '--port', String(relayPort), '--data-dir', relayDir.dir,
        '--webhook-url', rx.url, '--webhook-secret-file', secretFile, '--allow-loopback-webhooks'], { EVVA_RELAY_API_KEYS: API_KEY });
      cleanups.push(() => p.stop('SIGKILL'));
      return p;
    };
    let relay = startRelayProc();
    const relayUrl = (await relay.waitFor(/\{"listening":"([^"]+)"\}/))[1]!;
    const venue = await createVenue(relayUrl, 'Система');
    const paired = await runBin('evva-companion.js', ['pair', venue.pairingCode, '--relay-url', relayUrl, '--data-dir', companionDir.dir]);
    expect(paired.code).toBe(0);
    fs.writeFileSync(path.join(companionDir.dir, 'settings.json'), JSON.stringify({
      feed: { ordersIntervalMs: 250, staffIntervalSec: 1, tablesIntervalSec: 1, paymentCloseAfterMin: 0.1 },
    }));
    const startCompanion = async () => {
      const p = startBin('evva-companion.js', ['run', '--data-dir', companionDir.dir, '--front-url', simUrl, '--api-port', '0']);
      cleanups.push(() => p.stop('SIGKILL'));
      await p.waitFor(/Локальный API/, 30_000);
      return p;
    };
    const first = await startCompanion();

    const control = async (method: string, p: string, body?: unknown) => {
      const r = await fetch(`${simUrl}/_sim/${p}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      expect(r.status, `${method} /_sim/${p}`).toBeLessThan(300);
      return (await r.json()) as { Id: string; ResultSum: number };
    };
    const unique = () => {
      const seen = new Map<string, Got>();
      for (const e of rx.accepted() as unknown as Got[]) if (!seen.has(e.eventId)) seen.set(e.eventId, e);
      return [...seen.values()];
    };
    const ordersOf = (id: string) => unique().filter((e) => e.eventType === 'TableOrderUpdate' && (e.eventInfo.order as Order).id === id.toLowerCase())
      .map((e) => e.eventInfo.order as Order);
    const pay = async (paymentId: string, o: { Id: string; ResultSum: number }) => {
      const r = await fetch(`${relayUrl}/v1/venues/${venue.venueId}/payments`, {
        method: 'POST', headers: auth, body: JSON.stringify({ paymentId, orderId: o.Id, amount: o.ResultSum, paidAt: new Date().toISOString() }),
      });
      return { status: r.status, view: (await r.json()) as PaymentView };
    };
    const payment = async (id: string) => ((await (await fetch(`${relayUrl}/v1/venues/${venue.venueId}/payments/${id}`, { headers: auth })).json()) as PaymentView);

    await waitFor(() => unique().some((e) => e.eventType === 'StaffUpdate') && unique().some((e) => e.eventType === 'TablesUpdate'), 'staff and tables at the receiver', 30_000);

    // A table orders, gets a discount, eats, pays by card.
    const a = await control('POST', 'orders', { tableNum: 5, waiterName: 'Смирнова Ольга', items: [{ productCode: '02401', amount: 2 }, { productCode: '02402', amount: 1 }] });
    await waitFor(() => ordersOf(a.Id).length > 0, 'order A at the receiver', 20_000);
    await control('POST', `orders/${a.Id}/discount`, { percent: 10 });
    await control('POST', `orders/${a.Id}/status`, {});
    // The kitchen's step seen before the next one: a poll that came after both would show A go from new to completed.
    await waitFor(() => ordersOf(a.Id).some((o) => o.sums.discount > 0 && o.status === 'confirmed'), 'A with its discount, confirmed', 20_000);
    await control('POST', `orders/${a.Id}/status`, { to: 'Served' });
    await control('POST', `orders/${a.Id}/bill`);
    await control('POST', `orders/${a.Id}/close`, { paymentType: 'Банковская карта' });

    // Four tables pay through EVVA PAY; iiko then closes them in four ways.
    const b = await control('POST', 'orders', { tableNum: 6, items: [{ productCode: '02403', amount: 1 }] });
    const c = await control('POST', 'orders', { tableNum: 7, items: [{ productCode: '02404', amount: 1 }] });
    const d = await control('POST', 'orders', { tableNum: 8, items: [{ productCode: '02405', amount: 1 }] });
    const e = await control('POST', 'orders', { tableNum: 9, items: [{ productCode: '02406', amount: 1 }] });
    await waitFor(() => [b, c, d, e].every((o) => ordersOf(o.Id).length > 0), 'B..E at the receiver', 20_000);
    for (const [id, o] of [['pay-b', b], ['pay-c', c], ['pay-d', d], ['pay-e', e]] as const) {
      const r = await pay(id, o);
      expect([r.status, r.view.state]).toEqual([201, 'notified']);
    }

    // The relay goes away for 30 s while iiko closes the orders: the companion keeps the events.
    await relay.stop('SIGTERM');
    const down = Date.now();
    await control('POST', `orders/${b.Id}/close`, { paymentType: 'EVVA' });
    await control('POST', `orders/${c.Id}/close`, { paymentType: 'Наличные' });
    await control('DELETE', `orders/${e.Id}`);
    await new Promise((r) => setTimeout(r, 3_000));
    // The companion dies hard with those events only in its outbox, and comes back.
    await first.stop('SIGKILL');
    await startCompanion();
    await new Promise((r) => setTimeout(r, Math.max(0, down + RELAY_DOWN_MS - Date.now())));
    // Back, but EVVA's receiver fails for a while.
    failing = true;
    relay = startRelayProc();
    await relay.waitFor(/\{"listening":/);
    await waitFor(() => rx.requests.some((r) => r.status === 500), 'the receiver failing', 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    failing = false;
    // The plugin restarts and forgets every session; the companion logs in again and carries on.
    await control('POST', 'restart');
    const f = await control('POST', 'orders', { tableNum: 10, items: [{ productCode: '02407', amount: 1 }] });
    await waitFor(() => ordersOf(f.Id).length > 0, 'an order after the plugin restart', 30_000);

    const states = { 'pay-b': 'reconciled', 'pay-c': 'mismatch', 'pay-d': 'pending-close', 'pay-e': 'order-deleted' } as const;
    for (const [id, state] of Object.entries(states)) {
      await waitFor(async () => (await payment(id)).state === state, `${id} ${state} on the relay`, 30_000, 200);
      await waitFor(() => unique().some((x) => x.eventType === 'PaymentUpdate' && x.eventInfo.paymentId === id && x.eventInfo.state === state),
        `${id} ${state} at the receiver`, 30_000);
    }
    await waitFor(() => ordersOf(a.Id).some((o) => o.status === 'completed'), 'A completed at the receiver', 30_000);
    expect((await payment('pay-b')).detail).toMatch(/по коду EVVAP/);

    // The same four outcomes when the plugin shows no payment codes (EVVA's type known by its name).
    await control('POST', 'config', { paymentCodes: false });
    const [g, h, i, j] = await Promise.all([1, 2, 3, 4].map((t, k) => control('POST', 'orders', { tableNum: t, items: [{ productCode: `0241${k}`, amount: 1 }] })));
    await waitFor(() => [g!, h!, i!, j!].every((o) => ordersOf(o.Id).length > 0), 'G..J at the receiver', 20_000);
    for (const [id, o] of [['pay-g', g!], ['pay-h', h!], ['pay-i', i!], ['pay-j', j!]] as const) expect((await pay(id, o)).view.state).toBe('notified');
    await control('POST', `orders/${g!.Id}/close`, { paymentType: 'EVVA' });
    await control('POST', `orders/${h!.Id}/close`, { paymentType: 'Наличные' });
    await control('DELETE', `orders/${j!.Id}`);
    const byName = { 'pay-g': 'reconciled', 'pay-h': 'mismatch', 'pay-i': 'pending-close', 'pay-j': 'order-deleted' } as const;
    for (const [id, state] of Object.entries(byName)) {
      await waitFor(() => unique().some((x) => x.eventType === 'PaymentUpdate' && x.eventInfo.paymentId === id && x.eventInfo.state === state),
        `${id} ${state} at the receiver`, 30_000);
    }
    expect((await payment('pay-g')).detail).toMatch(/по названию/);

    // Every request signed; after dedup by eventId the receiver has every stored event exactly once, in seq order.
    for (const r of rx.requests) expect(signatureValid(SECRET, r)).toBe(true);
    const pulled = (await (await fetch(`${relayUrl}/v1/venues/${venue.venueId}/events?after=0&limit=1000`, { headers: auth })).json()) as { events: Got[] };
    await waitFor(() => unique().length >= pulled.events.length, 'receiver caught up with the store', 30_000);
    const got = unique();
    expect(got.map((x) => x.seq)).toEqual(pulled.events.map((x) => x.seq));
    expect(got.map((x) => x.seq)).toEqual(Array.from({ length: got.length }, (_, i) => i + 1));
    for (const x of got) expect(x.organizationId).toBe(venue.venueId);

    const finalA = ordersOf(a.Id).at(-1)!;
    expect(finalA.sums.discount).toBeGreaterThan(0);
    expect(finalA.sums.result).toBeLessThan(finalA.sums.full);
    expect(finalA.payments.map((p) => [p.typeName, p.isEvva])).toEqual([['Банковская карта', false]]);
    const finalB = ordersOf(b.Id).at(-1)!;
    expect(finalB.status).toBe('completed');
    expect(finalB.payments.some((p) => p.isEvva)).toBe(true);
    // One order's states arrive in the order they happened: EVVA's status never steps back.
    const rank = ['new', 'confirmed', 'cooking', 'cooked', 'sent', 'completed'];
    const statusesA = ordersOf(a.Id).map((o) => rank.indexOf(o.status ?? ''));
    expect(statusesA).toEqual([...statusesA].sort((x, y) => x - y));
    expect(statusesA.at(-1)).toBe(rank.indexOf('completed'));
    expect(new Set(statusesA).size).toBeGreaterThan(2);
    const metrics = await (await fetch(`${relayUrl}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/evva_relay_webhook_deliveries_total\{result="http_error"\} [1-9]/);
    console.log(`feed system: ${got.length} events, ${rx.requests.length} webhook POSTs (${rx.requests.filter((r) => r.status === 500).length} answered 500)`);
  }, 240_000);
});
