/** The Журнал is the companion's own bounded store, with the times things happened. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../../protocol/events.ts';
import type { ActivityItem } from '../../../protocol/local.ts';
import { FOLD_WITHIN_MS, MAX_ROWS, openJournal, type Journal } from '../../../main/core/journal.ts';

const dirs: string[] = [];
const open: Journal[] = [];
afterEach(() => {
  for (const j of open.splice(0)) j.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function start(days = 30, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-journal-'))) {
  if (!dirs.includes(dir)) dirs.push(dir);
  const clock = { t: Date.parse('2026-11-28T12:00:00Z') };
  const j = openJournal({ dataDir: dir, now: () => clock.t, days });
  open.push(j);
  return { j, clock, dir };
}
const item = (part: 'front' | 'tunnel', state: string, at: number, message?: string): ActivityItem => ({ id: 0, at: new Date(at).toISOString(), part, state, ...(message ? { message } : {}) });
let seq = 0;
const orderEvent = (id: string, status: string, at: number, sum = 100): Envelope => ({
  eventId: `e${++seq}`, venueId: 'v', seq, eventType: 'TableOrderUpdate', eventTime: new Date(at).toISOString(),
  eventInfo: { order: { id, number: 7, kind: 'table', iikoStatus: 'New', status, final: false, gone: false, tableNumbers: [5], sums: { result: sum, full: sum }, items: [] } },
});

describe('the Журнал store', () => {
  it('keeps rows across reopening, newest first, each with the time it happened (not the time it was read)', () => {
    const { j, clock, dir } = start();
    const happened = clock.t - 30_000;
    j.events([orderEvent('o1', 'new', happened)]);
    j.activity([item('front', 'up', clock.t - 10_000)]);
    j.close();
    const again = openJournal({ dataDir: dir, now: () => clock.t + 3_600_000, days: 30 });
    open.push(again);
    const { rows } = again.list();
    expect(rows.map((r) => r.kind)).toEqual(['front', 'orders']);
    expect(rows[1]).toMatchObject({ at: new Date(happened).toISOString(), order: { number: 7, tables: [5], status: 'new', sum: 100 } });
  });

  it('writes an order again only when what a person sees changed', () => {
    const { j, clock } = start();
    expect(j.events([orderEvent('o1', 'new', clock.t)])).toHaveLength(1);
    expect(j.events([orderEvent('o1', 'new', clock.t + 1000)])).toHaveLength(0);
    expect(j.events([orderEvent('o1', 'cooking', clock.t + 2000)])).toHaveLength(1);
    expect(j.events([orderEvent('o1', 'cooking', clock.t + 3000, 250)])).toHaveLength(1);
    expect(j.list().rows).toHaveLength(3);
  });

  it('one row per payment and state, whether it came as a live change or as its event', () => {
    const { j, clock } = start();
    const p = { paymentId: 'pay-1', orderId: 'o1', state: 'notified' as const, amount: 1200, paidAt: new Date(clock.t).toISOString(), updatedAt: new Date(clock.t).toISOString(), orderNumber: 7 };
    expect(j.payment(p)).toHaveLength(1);
    expect(j.events([{ eventId: 'x', venueId: 'v', seq: 99, eventType: 'PaymentUpdate', eventTime: p.updatedAt, eventInfo: p }])).toHaveLength(0);
    expect(j.payment({ ...p, state: 'reconciled' })).toHaveLength(1);
    expect(j.list({ kinds: ['payments'] }).rows.map((r) => r.payment?.state)).toEqual(['reconciled', 'notified']);
  });

  it('folds a flapping link into three rows with counts instead of a screenful of identical lines', () => {
    const { j, clock } = start();
    for (let i = 0; i < 10; i++) {
      const t = clock.t + i * 20_000;
      j.activity([item('tunnel', 'offline', t, 'Сервер EVVA недоступен'), item('tunnel', 'connecting', t + 5_000), item('tunnel', 'connected', t + 10_000)]);
    }
    const { rows } = j.list();
    expect(rows.map((r) => `${r.activity?.state}×${r.count}`)).toEqual(['connected×10', 'connecting×10', 'offline×10']);
    expect(rows[0]!.lastAt).toBe(new Date(clock.t + 9 * 20_000 + 10_000).toISOString());
    // Much later, the same state is news again.
    j.activity([item('tunnel', 'offline', clock.t + 9 * 20_000 + FOLD_WITHIN_MS + 60_000, 'Сервер EVVA недоступен')]);
    expect(j.list().rows[0]).toMatchObject({ count: 1, activity: { state: 'offline' } });
  });

  it('filters by kind and pages back with a cursor', () => {
    const { j, clock } = start();
    for (let i = 0; i < 55; i++) j.events([orderEvent(`o${i}`, 'new', clock.t + i * 1000)]);
    j.activity([item('front', 'down', clock.t + 100_000)]);
    const first = j.list({ limit: 50, kinds: ['orders'] });
    expect(first.rows).toHaveLength(50);
    expect(first.rows.every((r) => r.kind === 'orders')).toBe(true);
    const second = j.list({ limit: 50, kinds: ['orders'], before: first.next! });
    expect(second.rows).toHaveLength(5);
    expect(second.next).toBeNull();
    expect(new Set([...first.rows, ...second.rows].map((r) => r.id)).size).toBe(55);
  });

  it('forgets rows older than the days kept, and keeps at most MAX_ROWS', () => {
    const { j, clock } = start(2);
    j.events([orderEvent('old', 'new', clock.t - 3 * 86_400_000)]);
    j.events([orderEvent('new', 'new', clock.t)]);
    j.keepDays(2);
    expect(j.list().rows.map((r) => r.order?.status)).toEqual(['new']);
  });

  it('keeps at most maxRows (MAX_ROWS in production), the newest', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-journal-'));
    dirs.push(dir);
    const t = Date.parse('2026-11-28T12:00:00Z');
    const j = openJournal({ dataDir: dir, now: () => t, days: 30, maxRows: 10 });
    open.push(j);
    for (let i = 0; i < 15; i++) j.events([orderEvent(`c${i}`, 'new', t + i)]);
    j.keepDays(30);
    const { rows } = j.list();
    expect(rows).toHaveLength(10);
    expect(rows.at(-1)!.at).toBe(new Date(t + 5).toISOString());
    expect(MAX_ROWS).toBe(50_000);
  });
});
