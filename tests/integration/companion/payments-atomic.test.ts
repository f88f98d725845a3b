/**
 * A payment's move and the order state that decided it are one transaction of
 * the outbox: a companion killed between two commits would restart with the
 * order's final state on disk and its payment still waiting. The real feed and
 * payments over the in-process sim, with the outbox's appends recorded.
 */
import { afterEach, expect, it } from 'vitest';
import type { PaymentView } from '../../../protocol/events.ts';
import type { FeedOrder } from '../../../protocol/feed.ts';
import { realClock } from '../../../common/clock.ts';
import { silentLogger } from '../../../common/logger.ts';
import { createFeed, DEFAULT_FEED_SETTINGS } from '../../../main/core/feed/feed.ts';
import { createFrontClient } from '../../../main/core/front/client.ts';
import { openOutbox, type Batch, type Outbox } from '../../../main/core/outbox/store.ts';
import { openLedger } from '../../../main/core/payments/ledger.ts';
import { createPayments, type Payments } from '../../../main/core/payments/watch.ts';
import { startSim } from '../../../sim/index.ts';
import { tempDir, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

it('writes a payment\'s order-deleted in the same transaction as its order\'s Deleted state', async () => {
  const sim = await startSim({ port: 0, auto: false });
  cleanups.push(() => sim.close());
  const d = tempDir('pay-atomic');
  cleanups.push(() => d.remove());
  const store = openOutbox({ dataDir: d.dir, now: () => Date.now() });
  cleanups.push(() => store.close());
  const appends: Batch[] = [];
  const outbox: Outbox = { ...store, append: (venueId, batch) => { appends.push(batch); return store.append(venueId, batch); } };
  const client = createFrontClient({ baseUrl: sim.url, moduleId: '2050', clock: realClock, logger: silentLogger });
  cleanups.push(() => client.close());
  let payments: Payments | null = null;
  const feed = createFeed({
    venueId: 'v', dataDir: d.dir, outbox, client: () => client, clock: realClock, logger: silentLogger,
    settings: { ...DEFAULT_FEED_SETTINGS, ordersIntervalMs: 100 }, onWritten: () => {},
    alongOrders: (orders) => payments?.settleWith(orders) ?? null,
  });
  // Not started: no periodic check, so only the orders' own writes can move the payment.
  payments = createPayments({ ledger: openLedger(store.db), venueId: 'v', feed, clock: realClock, logger: silentLogger });
  feed.start();
  cleanups.push(() => feed.stop());

  const product = sim.world.products.find((p) => p.active)!.code;
  const o = sim.act.createOrder({ tableNum: 2, items: [{ productCode: product, amount: 1 }] });
  const id = o.Id.toLowerCase();
  await waitFor(() => feed.order(id) !== null, 'the order in the feed');
  expect((await payments.notice({ paymentId: 'pay-x', orderId: o.Id, amount: o.ResultSum, paidAt: new Date().toISOString() })).state).toBe('notified');
  sim.act.deleteOrder(o.Id);
  // A change after the deletion shows it as a gap in the revisions: the feed looks at once, not at its next sweep.
  sim.act.createOrder({ tableNum: 3, items: [{ productCode: product, amount: 1 }] });
  const moving = (b: Batch) => b.events.some((e) => e.type === 'PaymentUpdate' && (e.info as unknown as PaymentView).state === 'order-deleted');
  await waitFor(() => appends.some(moving), 'the payment moved');
  const moved = appends.find(moving)!;
  const orderOf = (b: Batch) => b.events.flatMap((e) => (e.type === 'TableOrderUpdate' ? [(e.info as unknown as { order: FeedOrder }).order] : [])).find((x) => x.id === id);
  expect(orderOf(moved)?.iikoStatus).toBe('Deleted');
  expect(payments.list().map((p) => [p.paymentId, p.state])).toEqual([['pay-x', 'order-deleted']]);
});
