/**
 * The chaos checker on hand-made records: a clean run passes, and each kind of
 * damage a broken feed could do (a lost final state, a state sent twice, a gap,
 * a reorder, a bad signature, a state the plugin never had, a payment left
 * behind, an unhealed fault) makes it fail with that kind named.
 */
import { describe, expect, it } from 'vitest';
import { check, summary, type ChaosRecord } from '../../../scripts/chaos/check.ts';
import type { Delivery } from '../../../scripts/chaos/receiver.ts';
import type { HistoryEntry } from '../../../sim/world.ts';

const V = 'ven_1';
const T0 = 1_700_000_000_000;
const h = (n: number, key: string, status: string, result: number): HistoryEntry =>
  ({ n, at: T0 + n * 1000, kind: 'order', revision: n, key, status, result, delivery: null });
const order = (key: string, revision: number, iikoStatus: string, result: number) =>
  ({ order: { id: key, revision, iikoStatus, sums: { result } } });
const ev = (seq: number, eventType: string, eventInfo: Record<string, unknown>, eventId = `evt_${seq}`) =>
  ({ eventId, venueId: V, organizationId: V, correlationId: eventId, seq, eventType, eventInfo });
const post = (at: number, events: Array<Record<string, unknown>>, more: Partial<Delivery> = {}): Delivery =>
  ({ at, deliveryId: `dlv_${at}`, status: 200, signatureOk: true, bytes: 1, events, ...more });

function clean(): ChaosRecord {
  const history = [h(1, 'a', 'New', 100), h(2, 'a', 'New', 90), h(3, 'b', 'New', 50), h(4, 'a', 'Closed', 90)];
  const events = [
    ev(1, 'StaffUpdate', { staff: [{ name: 'Анна', sessionOpen: true }] }),
    ev(2, 'TablesUpdate', { tables: [{ number: 1 }, { number: 2 }] }),
    ev(3, 'TableOrderUpdate', order('a', 1, 'New', 100)),
    ev(4, 'TableOrderUpdate', order('b', 3, 'New', 50)),
    ev(5, 'TableOrderUpdate', order('a', 4, 'Closed', 90)),
    ev(6, 'PaymentUpdate', { paymentId: 'p1', state: 'notified' }),
    ev(7, 'PaymentUpdate', { paymentId: 'p1', state: 'reconciled' }),
  ];
  return {
    seed: 7, venueId: V, startedAt: T0, endedAt: T0 + 60_000, history, historyDropped: 0,
    // The relay retried the first batch after a 500 and sent the last one twice (at-least-once): both are fine.
    deliveries: [post(T0 + 500, events.slice(0, 3), { status: 500 }), post(T0 + 3500, events.slice(0, 3)),
      post(T0 + 5000, events.slice(3)), post(T0 + 5100, events.slice(5))],
    payments: [{ paymentId: 'p1', orderId: 'a', amount: 90, postedAt: T0 + 2500, expected: 'reconciled', relayState: 'reconciled' }],
    finalStaff: [{ name: 'Анна', sessionOpen: true }], finalTables: [2, 1],
    faults: [{ kind: 'relay-kill', detail: '3 s', at: T0, endAt: T0 + 3000, healMs: 1200 }],
  };
}

describe('the chaos checker', () => {
  it('passes a run where everything arrived once, in order, signed', () => {
    const r = check(clean());
    expect(r.examples).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.counts).toMatchObject({ uniqueEvents: 7, redelivered: 2, orders: 2, historyChanges: 4, statesSeen: 3, statesSkipped: 1 });
    // Order a rev 1 changed at +1 s and was accepted at +3.5 s (its first POST was refused).
    expect(r.delay.max).toBe(3500 - 1000);
    expect(r.faultsByKind['relay-kill']).toMatchObject({ count: 1, unhealed: 0, heal: { p50: 1200, max: 1200 } });
    expect(summary(r)).toMatch(/PASS/);
  });

  it('fails when an order\'s final state never arrives', () => {
    const rec = clean();
    rec.deliveries = rec.deliveries.map((d) => ({ ...d, events: d.events.filter((e) => e.seq !== 5) }));
    const r = check(rec);
    expect(r.ok).toBe(false);
    expect(r.violations.lost).toBe(1);
    expect(r.violations.gap).toBe(1);
    expect(r.examples.find((v) => v.kind === 'lost')?.what).toMatch(/order a: its final state \(rev 4, Closed/);
    expect(summary(r)).toMatch(/FAIL/);
  });

  it('fails when an order never arrives at all', () => {
    const rec = clean();
    rec.history.push(h(5, 'c', 'New', 10));
    expect(check(rec).examples).toEqual([expect.objectContaining({ kind: 'lost', what: expect.stringMatching(/order c .*never reached/) })]);
  });

  it('counts an order deleted before the companion could list it, and still fails one seen that never arrives deleted', () => {
    // The plugin leaves Deleted orders out of its lists: c lived and died between two polls.
    const rec = clean();
    rec.history.push(h(5, 'c', 'New', 10), h(6, 'c', 'Deleted', 10));
    const r = check(rec);
    expect(r.ok).toBe(true);
    expect(r.counts.deletedUnseen).toBe(1);
    expect(summary(r)).toMatch(/never listed by the plugin\) \| 1 \|/);
    // b was seen New; its deletion must arrive.
    rec.history.push(h(7, 'b', 'Deleted', 50));
    expect(check(rec).examples).toEqual([expect.objectContaining({ kind: 'lost', what: expect.stringMatching(/order b: its final state \(rev 7, Deleted/) })]);
  });

  it('fails when the same state comes twice under two eventIds, and when a seq is reused', () => {
    const rec = clean();
    rec.deliveries.push(post(T0 + 6000, [ev(8, 'TableOrderUpdate', order('a', 4, 'Closed', 90), 'evt_again')]));
    rec.deliveries.push(post(T0 + 6100, [ev(8, 'StaffUpdate', { staff: [{ name: 'Анна', sessionOpen: true }] }, 'evt_other')]));
    const r = check(rec);
    // The order state again, seq 8 reused, and a staff list equal to the one before it.
    expect(r.violations.duplicate).toBe(3);
  });

  it('fails with the missing seqs named when an outbox forgets events it sent into a dying link (what ack-on-send did)', () => {
    const rec = clean();
    // seq 4 and 5 went into a blackholed link and were forgotten: the next batch starts at 6.
    rec.deliveries = [rec.deliveries[1]!, post(T0 + 5000, rec.deliveries[2]!.events.filter((e) => (e.seq as number) > 5))];
    const r = check(rec);
    expect(r.ok).toBe(false);
    expect(r.violations.gap).toBe(1);
    expect(r.examples.some((v) => v.kind === 'gap' && /2 seq\(s\) missing below 7: 4, 5/.test(v.what))).toBe(true);
    // Order a's final Closed state was in seq 5: lost, not merely late.
    expect(r.violations.lost).toBeGreaterThan(0);
  });

  it('fails when events arrive out of seq order or an order goes back in revision', () => {
    const rec = clean();
    const [a, b] = [rec.deliveries[1]!, rec.deliveries[2]!];
    rec.deliveries = [b, a];
    expect(check(rec).violations.order).toBeGreaterThan(0);
    const back = clean();
    back.deliveries.push(post(T0 + 7000, [ev(8, 'TableOrderUpdate', order('a', 2, 'New', 90))]));
    expect(check(back).examples.some((v) => v.kind === 'order' && /went back from revision 4 to 2/.test(v.what))).toBe(true);
  });

  it('fails on a bad signature, even on a refused delivery', () => {
    const rec = clean();
    rec.deliveries[0] = { ...rec.deliveries[0]!, signatureOk: false };
    expect(check(rec).violations.signature).toBe(1);
  });

  it('fails on a state the plugin never had', () => {
    const rec = clean();
    rec.deliveries.push(post(T0 + 7000, [ev(8, 'TableOrderUpdate', order('b', 3, 'Bill', 50))]));
    expect(check(rec).examples.some((v) => v.kind === 'wrong' && /says Bill, the plugin had New/.test(v.what))).toBe(true);
  });

  it('fails when a payment does not reach the state its order calls for, at the relay or at the receiver', () => {
    const rec = clean();
    rec.payments[0] = { ...rec.payments[0]!, expected: 'mismatch' };
    expect(check(rec).violations.lost).toBe(2);
  });

  it('fails when the final staff or tables differ, and when a fault never healed', () => {
    const rec = clean();
    rec.finalStaff = [{ name: 'Анна', sessionOpen: false }];
    rec.finalTables = [1];
    rec.faults.push({ kind: 'link-blackhole', detail: '20 s', at: T0, endAt: T0 + 20_000, healMs: null });
    const r = check(rec);
    expect(r.violations).toMatchObject({ lost: 2, unhealed: 1 });
  });
});
