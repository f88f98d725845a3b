import { describe, expect, it } from 'vitest';
import type { Status } from '../../../protocol/local.ts';
import { createNotices, paymentOf, rub } from '../../../main/core/notices.ts';

const status = (tunnel: Status['tunnel']['state'], front: Status['front']['state'] = 'up'): Status => ({
  level: 'ok', version: '0.1.0', startedAt: '2026-11-28T12:00:00Z',
  front: { state: front, url: 'http://127.0.0.1:9042', latencyMs: 5, checkedAt: null, since: null, source: 'settings' },
  tunnel: { state: tunnel, since: null, rttMs: 12, reconnects: 0, venueId: 'v1', relayUrl: 'https://relay' },
});

describe('desktop notifications', () => {
  it('says nothing when the link drops for less than a minute', () => {
    const n = createNotices();
    expect(n.observe(status('connected'), 0)).toEqual([]);
    expect(n.observe(status('connecting'), 1_000)).toEqual([]);
    expect(n.observe(status('offline'), 59_000)).toEqual([]);
    expect(n.observe(status('connected'), 60_500)).toEqual([]);
  });

  it('announces a link lost for over a minute once, and its return once', () => {
    const n = createNotices();
    n.observe(status('offline'), 0);
    const lost = n.observe(status('offline'), 61_000);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ kind: 'link_lost', title: 'Нет связи с EVVA больше минуты' });
    expect(n.observe(status('connecting'), 120_000)).toEqual([]);
    expect(n.observe(status('connected'), 125_000).map((x) => x.kind)).toEqual(['link_back']);
    expect(n.observe(status('connected'), 126_000)).toEqual([]);
  });

  it('does not count an unpaired companion as a lost link', () => {
    const n = createNotices();
    n.observe(status('unpaired'), 0);
    expect(n.observe(status('unpaired'), 600_000)).toEqual([]);
  });

  it('announces the plugin down after 30 s, once per outage', () => {
    const n = createNotices();
    n.observe(status('connected', 'down'), 0);
    expect(n.observe(status('connected', 'down'), 10_000)).toEqual([]);
    expect(n.observe(status('connected', 'down'), 31_000).map((x) => x.kind)).toEqual(['front_down']);
    expect(n.observe(status('connected', 'down'), 90_000)).toEqual([]);
    n.observe(status('connected', 'up'), 100_000);
    n.observe(status('connected', 'down'), 110_000);
    expect(n.observe(status('connected', 'down'), 141_000).map((x) => x.kind)).toEqual(['front_down']);
  });

  it('tells the cashier which order to close with EVVAP, once per payment', () => {
    const n = createNotices();
    const [notice] = n.payment({ id: 'p1', kind: 'awaiting_close', order: '23', table: '5', amount: 1200 });
    expect(notice).toMatchObject({ kind: 'payment', title: 'Оплата через EVVA: закройте заказ' });
    expect(notice!.body).toBe('Заказ №23, стол 5: оплачено через EVVA 1 200 ₽ — закройте заказ типом оплаты EVVAP');
    expect(n.payment({ id: 'p1', kind: 'awaiting_close', order: '23', table: '5', amount: 1200 })).toEqual([]);
    expect(n.payment({ id: 'p1', kind: 'mismatch', order: '23', amount: 1200 }).map((x) => x.kind)).toEqual(['mismatch']);
  });

  it('speaks English when asked', () => {
    const [notice] = createNotices('en').payment({ id: 'p2', kind: 'awaiting_close', order: '7', amount: 99.5 });
    expect(notice!.body).toBe('Order #7: paid through EVVA 99,50 ₽ — close it with payment type EVVAP');
  });

  it('formats roubles with a space between thousands', () => {
    expect(rub(1200)).toBe('1 200 ₽');
    expect(rub(1234567.5)).toBe('1 234 567,50 ₽');
  });

  it('reads payment events from live messages and ignores anything else', () => {
    const view = { paymentId: 'pay-1', orderId: '6f1c…', orderNumber: 23, table: '5', state: 'notified', amount: 1200, paidAt: '2026-11-28T12:00:00Z', updatedAt: '2026-11-28T12:00:01Z' };
    // The live `payment` message (protocol/local.ts LiveMessage).
    expect(paymentOf({ type: 'payment', payment: view, reminder: false })).toEqual({ id: 'pay-1', kind: 'awaiting_close', order: '23', table: '5', amount: 1200 });
    // Without a known number the order is named by its iiko id, and no table is made up.
    const { orderNumber: _n, table: _t, ...bare } = view;
    expect(paymentOf({ type: 'payment', payment: bare, reminder: true })).toEqual({ id: 'pay-1', kind: 'awaiting_close', order: '6f1c…', table: null, amount: 1200 });
    expect(paymentOf({ type: 'payment', payment: { ...view, state: 'queued' }, reminder: false })).toBeNull();
    expect(paymentOf({ type: 'payment', payment: { id: 'a', kind: 'awaiting_close', order: '1', amount: 1 } })).toBeNull();
    expect(paymentOf({ type: 'status', status: {} })).toBeNull();
    expect(paymentOf('payment')).toBeNull();
    // The feed's envelope with a PaymentView (protocol/events.ts).
    expect(paymentOf({ type: 'event', event: { eventType: 'PaymentUpdate', eventInfo: view } })).toEqual({ id: 'pay-1', kind: 'awaiting_close', order: '23', table: '5', amount: 1200 });
    expect(paymentOf({ type: 'event', event: { eventType: 'PaymentUpdate', eventInfo: { ...view, state: 'reconciled' } } })).toBeNull();
    expect(paymentOf({ type: 'event', event: { eventType: 'PaymentUpdate', eventInfo: { ...view, state: 'mismatch' } } })!.kind).toBe('mismatch');
  });
});
