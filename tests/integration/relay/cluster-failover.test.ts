/**
 * Failover: kill -9 of the node holding a venue's tunnel. The
 * companion reconnects through HAProxy to another node and the venue answers
 * again within 10 s; the node's lease in Redis runs out, nothing else holds the
 * dead node's venue. Events made while the node was dead (they wait in the
 * companion's outbox) and a payment notice posted meanwhile reach the webhook
 * receiver once each, in order: no event is lost, none sent twice.
 */
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentView } from '../../../protocol/events.ts';
import { signatureValid } from '../../helpers/feedpeers.ts';
import { WEBHOOK_SECRET, auth, startCluster, type Cluster, type ClusterVenue } from '../../helpers/cluster.ts';
import { waitFor } from '../../helpers/relay.ts';

/** The bound for a venue to be back after its node died. */
const BACK_WITHIN_MS = 10_000;

interface Order { Id: string; ResultSum: number }

describe('kill -9 of the node holding a venue', () => {
  let c: Cluster;
  let v: ClusterVenue;

  const caughtUp = () => c.delivered(v.venueId);
  const pay = async (paymentId: string, o: Order) => {
    // EVVA retries a payment notice it could not hand over (it is idempotent by paymentId).
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`${c.url}/v1/venues/${v.venueId}/payments`, {
        method: 'POST', headers: auth, body: JSON.stringify({ paymentId, orderId: o.Id, amount: o.ResultSum, paidAt: new Date().toISOString() }),
      }).catch(() => null);
      const body = r ? await r.text() : '';
      if (r && r.status < 300) return JSON.parse(body) as PaymentView;
      await new Promise((res) => setTimeout(res, 500));
    }
    throw new Error(`payment ${paymentId} never accepted`);
  };
  const payment = async (id: string) =>
    (await (await fetch(`${c.url}/v1/venues/${v.venueId}/payments/${id}`, { headers: auth })).json()) as PaymentView;

  beforeAll(async () => {
    c = await startCluster();
    v = await c.venue();
  }, 240_000);

  afterAll(async () => { await c?.stop(); }, 60_000);

  it('is back through another node within 10 s, with every event and payment notice delivered once', async () => {
    // Some history, all delivered before the kill, so no delivery is in flight when the node dies.
    const a = await v.control<Order>('POST', 'orders', { tableNum: 3, items: [{ productCode: '02401', amount: 1 }] });
    await waitFor(() => c.events().some((e) => JSON.stringify(e.eventInfo).includes(a.Id.toLowerCase())), 'order A at the receiver', 30_000);
    await caughtUp();
    expect(c.duplicates()).toEqual([]);

    const holder = (await c.owner(v.venueId))!;
    expect(holder).toMatch(/^n\d$/);
    const killedAt = performance.now();
    await c.kill9(c.node(holder));

    // While the venue moves: iiko keeps working (events wait in the companion's outbox), EVVA notices a payment.
    const b = await v.control<Order>('POST', 'orders', { tableNum: 4, items: [{ productCode: '02402', amount: 1 }] });
    const paying = pay('pay-failover', b);

    let backMs = -1;
    for (let i = 0; i < 200 && backMs < 0; i++) {
      const r = await c.front(v.venueId, '/api/orders?$top=1').catch(() => null);
      if (r?.status === 200) backMs = performance.now() - killedAt;
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect(backMs, 'the venue answered again').toBeGreaterThan(0);
    expect(backMs).toBeLessThanOrEqual(BACK_WITHIN_MS);
    // The node the companion reconnected to serves the venue as soon as the tunnel is up and writes its claim to Redis
    // just after (relay/tunnels.ts: onReady, then settle): a read in between still finds the dead node's.
    let now: string | null = null;
    await waitFor(async () => { now = await c.owner(v.venueId); return now !== holder; }, 'the claim moved off the killed node', 10_000, 50).catch(() => undefined);
    expect(now).not.toBe(holder);
    expect(c.nodes.map((n) => n.name)).toContain(now);
    console.log(`failover: venue back ${Math.round(backMs)} ms after kill -9 of ${holder}, now on ${now}`);

    // The notice reached the venue through its new node; iiko closes the order with EVVA's payment.
    expect(['queued', 'notified']).toContain((await paying).state);
    await waitFor(async () => (await payment('pay-failover')).state === 'notified', 'the notice delivered', 20_000, 250);
    await v.control('POST', `orders/${b.Id}/close`, { paymentType: 'EVVA' });
    await waitFor(async () => (await payment('pay-failover')).state === 'reconciled', 'the payment reconciled', 30_000, 250);

    const stored = await caughtUp();
    // Once each, in the venue's order, signed.
    expect(c.duplicates()).toEqual([]);
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    const mine = c.events().filter((e) => e.venueId === v.venueId);
    expect(mine.map((e) => e.seq)).toEqual(stored.map((e) => e.seq));
    for (const r of c.receiver.requests) expect(signatureValid(WEBHOOK_SECRET, r)).toBe(true);
    const updates = mine.filter((e) => e.eventType === 'PaymentUpdate' && e.eventInfo.paymentId === 'pay-failover').map((e) => e.eventInfo.state);
    expect(updates).toContain('reconciled');
    expect(new Set(updates).size).toBe(updates.length);
    expect(mine.some((e) => JSON.stringify(e.eventInfo).includes(b.Id.toLowerCase()))).toBe(true);
    console.log(`failover: ${stored.length} events stored, ${mine.length} at the receiver, ${c.receiver.requests.length} webhook POSTs, payment states ${updates.join(' → ')}`);
  }, 180_000);
});
