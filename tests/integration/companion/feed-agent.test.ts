/**
 * The feed end to end on the companion side: the real agent polls the
 * simulated plugin, writes events to its outbox and sends them over a real
 * tunnel link to a relay-side test peer, which keeps and acks them. Payments
 * arrive as `payment.notice` commands from that peer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import type { Envelope, PaymentView } from '../../../protocol/events.ts';
import type { FeedOrder, FeedStaff, MenuInfo } from '../../../protocol/feed.ts';
import { LiveMessage, PaymentsList, Status } from '../../../protocol/local.ts';
import { startAgent, type Agent } from '../../../main/core/agent.ts';
import { silentLogger } from '../../../common/logger.ts';
import { loadSettings } from '../../../main/core/settings.ts';
import { startSim, type Sim } from '../../../sim/index.ts';
import { startPeer, type Peer } from '../../helpers/peer.ts';

const TOKEN = 'device-token-0123456789abcdef';
const VENUE = 'venue-feed-test';

let sim: Sim | null = null;
let agent: Agent | null = null;
let peer: Peer | null = null;
let dir = '';
afterEach(async () => {
  await agent?.stop();
  await peer?.close();
  await sim?.close();
  agent = null; peer = null; sim = null;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function setup(opts: { paymentCodes?: boolean; ack?: boolean; feed?: object; broken?: boolean } = {}) {
  sim = await startSim({ port: 0, auto: false, paymentCodes: opts.paymentCodes ?? true });
  peer = await startPeer({ token: TOKEN, venueId: VENUE, ack: opts.ack ?? true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-feed-'));
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({
    feed: { ordersIntervalMs: 150, staffIntervalSec: 1, tablesIntervalSec: 1, paymentCloseAfterMin: 0.05, ...opts.feed },
  }));
  if (opts.broken) fs.mkdirSync(path.join(dir, 'feed.sqlite'));
  fs.writeFileSync(path.join(dir, 'device.json'), JSON.stringify({ relayUrl: peer.url, venueId: VENUE, deviceToken: TOKEN, pairedAt: new Date().toISOString() }));
  const settings = loadSettings({ dataDir: dir, apiPort: '0', frontUrl: sim.url }, {});
  agent = await startAgent({ settings, logger: silentLogger });
  return { sim, peer, agent };
}

async function waitFor<T>(what: string, fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ordersOf = (p: Peer, id: string): FeedOrder[] => p.ordered()
  .filter((e) => e.eventType.endsWith('OrderUpdate') && (e.eventInfo.order as FeedOrder).id === id)
  .map((e) => e.eventInfo.order as FeedOrder);
const paymentsOf = (p: Peer, id: string): PaymentView[] => p.ordered()
  .filter((e) => e.eventType === 'PaymentUpdate' && e.eventInfo.paymentId === id).map((e) => e.eventInfo as unknown as PaymentView);
const api = async (a: Agent, p: string) => (await fetch(`${a.api.url}${p}`, { headers: { authorization: `Bearer ${a.api.token}` } })).json();
const code = (s: Sim) => s.world.products.find((p) => p.active)!.code;

describe('the feed through a real tunnel', () => {
  it('sends every state of an order once, in order, with its sums and EVVA payment', async () => {
    const { sim, peer } = await setup();
    const o = sim.act.createOrder({ tableNum: 5, items: [{ productCode: code(sim), amount: 2 }, { productCode: code(sim), amount: 1 }] });
    const id = o.Id.toLowerCase();
    await waitFor('the new order', () => ordersOf(peer, id).length > 0);
    sim.act.discount(o.Id, 10);
    await waitFor('the discount', () => ordersOf(peer, id).some((x) => x.sums.discount > 0));
    for (const to of ['PrintedNotCooking', 'CookingStarted', 'CookingCompleted', 'Served'] as const) {
      sim.act.kitchen(o.Id, to);
      await waitFor(to, () => ordersOf(peer, id).some((x) => x.items.every((i) => i.status === to)));
    }
    sim.act.bill(o.Id);
    await waitFor('the bill', () => ordersOf(peer, id).some((x) => x.iikoStatus === 'Bill'));
    sim.act.close(o.Id, 'EVVA');
    const closed = await waitFor('the close', () => ordersOf(peer, id).find((x) => x.iikoStatus === 'Closed'));
    const statuses = ordersOf(peer, id).map((x) => x.status);
    // A table order is never «Приготовлен» (pickups only) nor «Отправлен» (couriers only); served, it is with the guest.
    expect(statuses.filter((s, i) => s !== statuses[i - 1])).toEqual(['new', 'confirmed', 'cooking', 'completed']);
    expect(closed.sums.discount).toBeGreaterThan(0);
    expect(closed.sums.result).toBeCloseTo(closed.sums.full - closed.sums.discount, 2);
    expect(closed.payments).toEqual([expect.objectContaining({ isEvva: true, rule: 'code', sum: closed.sums.result })]);
    // Exactly once: no two events of this order carry the same state.
    const states = ordersOf(peer, id).map((x) => JSON.stringify(x));
    expect(new Set(states).size).toBe(states.length);
    expect(peer.frames()).toBe(peer.events.size);
    const seqs = peer.ordered().map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('sends staff, tables and the menu, then only what changed; menu.sync sends a fresh snapshot', async () => {
    const { sim, peer, agent } = await setup({ feed: { courierCodes: ['Курьеров Иван'] } });
    const menu = await waitFor('a menu snapshot', () => peer.ordered().find((e) => e.eventType === 'MenuSnapshot'));
    expect((menu.eventInfo as unknown as MenuInfo).sections.length).toBeGreaterThan(0);
    await waitFor('staff', () => peer.ordered().some((e) => e.eventType === 'StaffUpdate'));
    await waitFor('tables', () => peer.ordered().some((e) => e.eventType === 'TablesUpdate'));
    sim.act.addStaff({ name: 'Курьеров Иван', courier: true, hasPinCode: false });
    const staff = await waitFor('the new courier', () => peer.ordered().filter((e) => e.eventType === 'StaffUpdate')
      .map((e) => (e.eventInfo.staff as FeedStaff[]).find((s) => s.name === 'Курьеров Иван')).find(Boolean));
    // The venue listed this courier; the plugin shows no PIN, so hasPin stays unknown.
    expect(staff).toMatchObject({ courier: true, hasPin: null });
    const tables = peer.ordered().filter((e) => e.eventType === 'TablesUpdate').at(-1)!;
    // Kitchens and the bar are sections without tables: named apart, never sent as halls.
    expect((tables.eventInfo.sections as Array<{ name: string }>).map((x) => x.name)).toEqual(['Основной зал', 'Веранда']);
    expect(tables.eventInfo.kitchens).toEqual(expect.arrayContaining(['Бар', 'Горячий цех']));
    sim.act.addTable({ number: 40, section: 'Веранда' });
    await waitFor('table 40', () => peer.ordered().some((e) => e.eventType === 'TablesUpdate' && JSON.stringify(e.eventInfo).includes('"number":40')));
    const count = (t: string) => peer.ordered().filter((e) => e.eventType === t).length;
    const before = { staff: count('StaffUpdate'), tables: count('TablesUpdate') };
    // Two more staff and tables polls, both begun after the snapshot, then every event they wrote reached the relay.
    const lastOk = async () => Object.fromEntries(Status.parse(await api(agent, '/api/status')).feed!.pollers.map((p) => [p.name, p.lastOkAt]));
    for (let round = 0; round < 2; round++) {
      const was = await lastOk();
      await waitFor('a staff and a tables poll', async () => { const now = await lastOk(); return now.staff !== was.staff && now.tables !== was.tables; });
    }
    await waitFor('nothing queued', async () => Status.parse(await api(agent, '/api/status')).feed!.backlog === 0);
    expect({ staff: count('StaffUpdate'), tables: count('TablesUpdate') }).toEqual(before);
    const r = await peer.command('menu.sync', undefined);
    expect(r).toEqual({ ok: true, result: { queued: true } });
    await waitFor('the requested snapshot', () => peer.ordered().some((e) => e.eventType === 'MenuSnapshot' && e.eventInfo.reason === 'request'));
  });

  it('keeps events queued while the relay does not ack, and delivers them all on the next link', async () => {
    const { sim, peer, agent } = await setup({ ack: false });
    for (let i = 0; i < 3; i++) sim.act.createOrder({ tableNum: 2 + i, items: [{ productCode: code(sim), amount: 1 }] });
    const s1 = await waitFor('a backlog', async () => { const s = Status.parse(await api(agent, '/api/status')); return s.feed!.backlog >= 6 && s; });
    expect(s1.feed).toMatchObject({ state: 'running', venueId: VENUE });
    expect(s1.feed!.oldestUnsentAt).not.toBeNull();
    expect(s1.feed!.pollers.map((p) => p.name)).toEqual(['orders', 'staff', 'tables', 'menu']);
    const metrics = await (await fetch(`${agent.api.url}/metrics`, { headers: { authorization: `Bearer ${agent.api.token}` } })).text();
    expect(Number(/^evva_feed_backlog (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(6);
    expect(metrics).toMatch(/^evva_feed_failing 0$/m);
    const received = peer.events.size;
    peer.setAck(true);
    peer.drop();
    await waitFor('backlog drained', async () => Status.parse(await api(agent, '/api/status')).feed!.backlog === 0);
    expect(peer.frames()).toBeGreaterThan(received); // resent on the new link
    // Each link up is a CompanionHealth event telling the relay what was queued; so is the plugin coming up.
    const health = peer.ordered().filter((e) => e.eventType === 'CompanionHealth').map((e) => e.eventInfo);
    expect(health.filter((h) => h.reason === 'link').length).toBeGreaterThanOrEqual(2);
    expect(health.find((h) => h.reason === 'link' && (h.backlog as number) > 0)).toBeDefined();
    expect(health.some((h) => h.reason === 'front' && h.front === 'up')).toBe(true);
    const seqs = peer.ordered().map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('keeps the tunnel when its storage cannot be opened, and says why in Russian', async () => {
    const { peer, agent } = await setup({ broken: true });
    const s = await waitFor('the status', async () => { const x = Status.parse(await api(agent, '/api/status')); return x.tunnel.state === 'connected' && x; });
    expect(s.feed).toMatchObject({ state: 'failing', error: { code: 'outbox_failed' } });
    expect(s.feed!.error!.message).toMatch(/не может записать/);
    expect(s.level).toBe('error');
    const r = await peer.command('menu.sync', undefined);
    expect(r.error?.code).toBe('disabled');
  });

  it('streams each event on the live WebSocket', async () => {
    const { sim, agent } = await setup();
    const ws = new WebSocket(`${agent.api.url.replace('http', 'ws')}/api/live`, { headers: { authorization: `Bearer ${agent.api.token}` } });
    const got: LiveMessage[] = [];
    ws.on('message', (d) => got.push(LiveMessage.parse(JSON.parse(String(d)))));
    await new Promise((r) => ws.once('open', r));
    const o = sim.act.createOrder({ tableNum: 7, items: [{ productCode: code(sim), amount: 1 }] });
    const ev = await waitFor('the event on the live stream', () => got.find((m): m is Extract<LiveMessage, { type: 'event' }> =>
      m.type === 'event' && (m.event.eventInfo.order as FeedOrder | undefined)?.id === o.Id.toLowerCase()));
    expect(ev.event.venueId).toBe(VENUE);
    ws.close();
  });
});

describe('payments', () => {
  const notice = (id: string, orderId: string, amount: number) => ({ paymentId: id, orderId, amount, paidAt: new Date().toISOString() });

  for (const codes of [true, false]) {
    it(`reaches each of the four outcomes (${codes ? 'EVVAP code' : 'name only, --no-payment-codes'})`, async () => {
      const { sim, peer, agent } = await setup({ paymentCodes: codes });
      const open = () => sim.act.createOrder({ tableNum: 1 + Math.floor(Math.random() * 12), items: [{ productCode: code(sim), amount: 1 }] });
      const a = open();
      const b = open();
      const c = open();
      const d = open();
      await waitFor('orders seen', () => [a, b, c, d].every((o) => ordersOf(peer, o.Id.toLowerCase()).length > 0));
      const send = async (id: string, o: typeof a) => {
        const r = await peer.command('payment.notice', notice(id, o.Id, o.ResultSum!));
        expect(r.ok).toBe(true);
        return r.result as PaymentView;
      };
      // The view names the order as the cashier sees it: its number and table, from the feed's order cache.
      expect(await send('pay-a', a)).toMatchObject({ state: 'notified', orderId: a.Id.toLowerCase(), orderNumber: a.Number, table: String(a.TableNum) });
      await send('pay-b', b);
      await send('pay-d', d);
      sim.act.close(a.Id, 'EVVA');
      sim.act.close(b.Id, 'Наличные');
      sim.act.deleteOrder(d.Id);
      await send('pay-c', c);
      const final = (id: string, state: string) => waitFor(`${id} ${state}`, () => paymentsOf(peer, id).find((p) => p.state === state));
      expect((await final('pay-a', 'reconciled')).detail).toMatch(codes ? /по коду EVVAP/ : /по названию/);
      expect((await final('pay-b', 'mismatch')).detail).toMatch(/Наличные/);
      expect((await final('pay-c', 'pending-close')).detail).toMatch(/всё ещё открыт/);
      await final('pay-d', 'order-deleted');
      // Idempotent: the same notice again changes nothing and answers the current state.
      const again = await peer.command('payment.notice', notice('pay-a', a.Id, a.ResultSum!));
      expect(again).toMatchObject({ ok: true, result: { state: 'reconciled' } });
      expect(paymentsOf(peer, 'pay-a').map((p) => p.state)).toEqual(['notified', 'reconciled']);
      const reused = await peer.command('payment.notice', notice('pay-a', b.Id, 1));
      expect(reused.error?.code).toBe('bad_args');
      const list = PaymentsList.parse(await api(agent, '/api/payments'));
      expect(list.payments.map((p) => [p.paymentId, p.state]).sort()).toEqual([
        ['pay-a', 'reconciled'], ['pay-b', 'mismatch'], ['pay-c', 'pending-close'], ['pay-d', 'order-deleted'],
      ]);
      const status = Status.parse(await api(agent, '/api/status'));
      expect(status.payments).toMatchObject({ total: 4, alarms: 2, pendingClose: 1 });
      // A pending-close payment still settles when the order is finally closed.
      sim.act.close(c.Id, 'EVVA');
      await final('pay-c', 'reconciled');
    });
  }

  it('reminds on the live stream while a paid order stays open', async () => {
    // No close races the reminder here, so its time can be the shortest the setting allows (0.6 s).
    const { sim, peer, agent } = await setup({ feed: { paymentCloseAfterMin: 0.01 } });
    const ws = new WebSocket(`${agent.api.url.replace('http', 'ws')}/api/live`, { headers: { authorization: `Bearer ${agent.api.token}` } });
    const got: LiveMessage[] = [];
    ws.on('message', (d) => got.push(LiveMessage.parse(JSON.parse(String(d)))));
    await new Promise((r) => ws.once('open', r));
    const o = sim.act.createOrder({ tableNum: 9, items: [{ productCode: code(sim), amount: 1 }] });
    await waitFor('order seen', () => ordersOf(peer, o.Id.toLowerCase()).length > 0);
    await peer.command('payment.notice', notice('pay-r', o.Id, o.ResultSum!));
    const payments = () => got.filter((m): m is Extract<LiveMessage, { type: 'payment' }> => m.type === 'payment');
    await waitFor('a reminder', () => payments().some((m) => m.reminder && m.payment.state === 'pending-close'), 20_000);
    expect(payments().filter((m) => !m.reminder).map((m) => m.payment.state)).toEqual(['notified', 'pending-close']);
    ws.close();
  });

  it('settles a payment whose deleted order the restarted companion no longer knows', async () => {
    // A check every 5 s (a quarter of 0.4 min, capped at 5 s): the restarted feed's first poll, well before it,
    // forgets the finished order it finds on disk and not in the plugin's list.
    const { sim, peer } = await setup({ feed: { paymentCloseAfterMin: 0.4 } });
    const o = sim.act.createOrder({ tableNum: 3, items: [{ productCode: code(sim), amount: 1 }] });
    await waitFor('order seen', () => ordersOf(peer, o.Id.toLowerCase()).length > 0);
    await peer.command('payment.notice', notice('pay-k', o.Id, o.ResultSum!));
    sim.act.deleteOrder(o.Id);
    // A change after the deletion shows it as a gap in the revisions: the feed looks at once, not at its next sweep.
    sim.act.createOrder({ tableNum: 4, items: [{ productCode: code(sim), amount: 1 }] });
    await waitFor('order-deleted', () => paymentsOf(peer, 'pay-k').some((p) => p.state === 'order-deleted'));
    await agent!.stop();
    agent = null;
    // What a kill -9 between the order's commit and the payment's left while they were two: the order known Deleted, its payment notified.
    const db = new Database(path.join(dir, 'feed.sqlite'));
    expect(db.prepare("UPDATE payments SET state = 'notified', detail = NULL WHERE payment_id = 'pay-k'").run().changes).toBe(1);
    db.close();
    agent = await startAgent({ settings: loadSettings({ dataDir: dir, apiPort: '0', frontUrl: sim.url }, {}), logger: silentLogger });
    await waitFor('order-deleted after the restart', () => paymentsOf(peer, 'pay-k').filter((p) => p.state === 'order-deleted').length === 2, 15_000);
    const list = PaymentsList.parse(await api(agent, '/api/payments'));
    expect(list.payments.map((p) => [p.paymentId, p.state])).toEqual([['pay-k', 'order-deleted']]);
  });

  it('refuses a malformed notice with bad_args', async () => {
    const { peer } = await setup();
    await waitFor('link', () => peer.links() > 0 && peer.ordered().length > 0);
    const r = await peer.command('payment.notice', { paymentId: 'x', amount: -1 });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('bad_args');
  });
});

export type { Envelope };
