/**
 * One verdict: the level `status --check` and the CLI report (main/core/status.ts overallLevel) and the words the
 * tray and the window show (face/face.ts faceOf) must never disagree. Before, a full disk under the log made
 * `status --check` exit with a warning while the tray said «Всё работает», and a payment EVVA PAY could not match
 * (the guest may have paid twice) turned only the feed card red.
 */
import { describe, expect, it } from 'vitest';
import { faceOf, type Tone } from '../../face/face.ts';
import type { FeedStatus, Level, PaymentsSummary, Status } from '../../protocol/local.ts';
import { overallLevel } from '../../main/core/status.ts';

const feed = (more: Partial<FeedStatus> = {}): FeedStatus => ({
  state: 'running', venueId: 'v1', backlog: 0, inFlight: 0, oldestUnsentAt: null, lastEvent: null, acked: 0, ackedToday: 0,
  coalesced: 0, pollers: [{ name: 'orders', state: 'ok', intervalMs: 1000, lastOkAt: null, lastDurationMs: null, failures: 0 }], ...more,
});
const payments = (byState: Record<string, number>): PaymentsSummary => ({
  total: Object.values(byState).reduce((a, b) => a + b, 0), byState, alarms: (byState.mismatch ?? 0) + (byState['order-deleted'] ?? 0),
  pendingClose: byState['pending-close'] ?? 0,
} as PaymentsSummary);

/** A status as the agent builds it: the level comes from overallLevel, never set by hand. */
function status(parts: Partial<Omit<Status, 'level'>> = {}): Status {
  const s = {
    version: '0.1.0', startedAt: '2026-11-28T12:00:00Z',
    front: { state: 'up', url: 'http://127.0.0.1:9042', latencyMs: 8, version: '7.4', checkedAt: null, since: '2026-11-28T12:04:00Z', source: 'discovery' },
    tunnel: { state: 'connected', since: '2026-11-28T12:05:00Z', rttMs: 12, reconnects: 0, venueId: 'v1', relayUrl: 'https://relay' },
    feed: feed(),
    ...parts,
  } as Omit<Status, 'level'>;
  const level = overallLevel({ front: s.front, tunnel: s.tunnel, feed: s.feed, ...(s.payments ? { payments: s.payments } : {}), logsLost: s.logs?.state === 'console_only' });
  return { ...s, level } as Status;
}

const LEVEL: Record<Tone, Level> = { green: 'ok', amber: 'warn', grey: 'warn', red: 'error' };

const CASES: Array<[string, Status]> = [
  ['all well', status()],
  ['the log cannot be written (disk full)', status({ logs: { state: 'console_only', error: { code: 'log_file_failed', message: 'Журнал не записывается в файл: на диске нет места.' } } } as Partial<Status>)],
  ['a payment did not match its order', status({ payments: payments({ reconciled: 3, mismatch: 1 }) })],
  ['an order with an EVVA PAY payment was deleted', status({ payments: payments({ 'order-deleted': 1 }) })],
  ['payments waiting to be closed', status({ payments: payments({ notified: 2 }) })],
  ['the outbox cannot store', status({ feed: feed({ state: 'failing', error: { code: 'disk_full', message: 'нет места' } as FeedStatus['error'] }) })],
  ['the plugin is down', status({ front: { state: 'down', url: null, latencyMs: null, checkedAt: null, since: null, source: 'discovery' } })],
  ['the link is down', status({ tunnel: { state: 'offline', since: null, rttMs: null, reconnects: 2, venueId: 'v1', relayUrl: 'https://relay' } } as Partial<Status>)],
  ['connecting', status({ tunnel: { state: 'connecting', since: null, rttMs: null, reconnects: 0, venueId: 'v1', relayUrl: 'https://relay' } } as Partial<Status>)],
];

describe('one verdict for status --check, the CLI, the tray and the window', () => {
  it.each(CASES)('%s: the words and the level agree', (_name, s) => {
    expect(LEVEL[faceOf(s, 'ru').tone], faceOf(s, 'ru').sentence).toBe(s.level);
  });

  it('a payment that did not match is a problem the cashier sees first, with where to look', () => {
    const f = faceOf(CASES[2]![1], 'ru');
    expect(f).toMatchObject({ tone: 'red', sentence: 'Есть проблема: оплата EVVA PAY не сошлась с заказом (1)', action: 'journal' });
    expect(f.todo).toMatch(/Журнал/);
  });

  it('a log lost to a full disk is a note in amber that says the relaying goes on', () => {
    const f = faceOf(CASES[1]![1], 'ru');
    expect(f).toMatchObject({ tone: 'amber', sentence: 'Есть замечание: журнал компаньона не записывается в файл' });
    expect(f.todo).toMatch(/Заказы и оплаты передаются/);
    expect(faceOf(CASES[1]![1], 'en').sentence).toBe('Note: the companion’s log is not written to a file');
  });
});

describe('the CLI says it in the same words', () => {
  it('prints the window\'s sentence and what to do for a payment that did not match, and nothing extra when all is well', async () => {
    const { describe: text } = await import('../../main/core/cli.ts');
    const alarm = CASES[2]![1];
    const out = text(alarm, faceOf(alarm, 'ru'));
    expect(out).toMatch(/^EVVA Companion 0\.1\.0: есть проблема$/m);
    expect(out).toMatch(/^ {2}Заказы и оплаты: Есть проблема: оплата EVVA PAY не сошлась с заказом \(1\)\n {4}Что делать: Гость мог заплатить дважды/m);
    const well = CASES[0]![1];
    expect(text(well, faceOf(well, 'ru'))).not.toMatch(/Заказы и оплаты/);
  });
});
