/**
 * One verdict: `status --check`, the CLI's text, the tray's icon and tooltip, the window's first sentence and EVVA's
 * support console all derive from face/verdict.ts, so they never disagree. Before, the level was judged in
 * main/core/status.ts and the words in protocol/face.ts: a full disk under the log made `status --check` exit with a
 * warning while the tray said «Всё работает», and a payment EVVA PAY could not match (the guest may have paid twice)
 * turned only the feed card red.
 */
import { describe, expect, it } from 'vitest';
import { faceOf } from '../../../face/face.ts';
import { SITUATIONS, judge, withLevel, type Situation } from '../../../face/verdict.ts';
import type { FeedStatus, FrontStatus, Level, PaymentsSummary, Status, TunnelStatus } from '../../../protocol/local.ts';
import { checkExit, describe as cliText } from '../../../main/core/summary.ts';
import { iconFile, toneOf as trayTone, tooltipFor } from '../../../main/desktop/tray.ts';
import { verdictOf as consoleVerdict, type VenueFacts } from '../../../relay/console/verdict.ts';

const poller = (state: 'ok' | 'failing') => ({ name: 'orders', state, intervalMs: 1000, lastOkAt: null, lastDurationMs: null, failures: state === 'ok' ? 0 : 3 });
const feed = (more: Partial<FeedStatus> = {}): FeedStatus => ({
  state: 'running', venueId: 'v1', backlog: 0, inFlight: 0, oldestUnsentAt: null, lastEvent: null, acked: 0, ackedToday: 0,
  coalesced: 0, pollers: [poller('ok')], ...more,
} as FeedStatus);
const payments = (byState: Record<string, number>): PaymentsSummary => ({
  total: Object.values(byState).reduce((a, b) => a + b, 0), byState, alarms: (byState.mismatch ?? 0) + (byState['order-deleted'] ?? 0),
  pendingClose: byState['pending-close'] ?? 0,
} as PaymentsSummary);

const FRONTS: Record<string, FrontStatus> = {
  up: { state: 'up', url: 'http://127.0.0.1:9042', latencyMs: 8, version: '7.4', checkedAt: null, since: '2026-11-28T12:04:00Z', source: 'discovery' },
  unknown: { state: 'unknown', url: null, latencyMs: null, checkedAt: null, since: null, source: null },
  down: { state: 'down', url: 'http://127.0.0.1:9042', latencyMs: null, checkedAt: null, since: '2026-11-28T12:10:00Z', source: 'discovery' },
  unlicensed: { state: 'unlicensed', url: 'http://127.0.0.1:9042', latencyMs: null, checkedAt: null, since: null, source: 'discovery' },
};
const link = { since: '2026-11-28T12:05:00Z', rttMs: 12, reconnects: 0, venueId: 'v1', relayUrl: 'https://relay' };
const TUNNELS: Record<string, TunnelStatus> = {
  connected: { state: 'connected', ...link },
  connecting: { state: 'connecting', ...link, rttMs: null },
  offline: { state: 'offline', ...link, rttMs: null, error: { code: 'relay_unreachable', message: 'Сервер EVVA недоступен.' } },
  unpaired: { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null },
  revoked: { state: 'unpaired', ...link, rttMs: null, error: { code: 'token_refused', message: 'Привязка отозвана в EVVA' } },
  damaged: { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null, error: { code: 'pairing_file', message: 'Файл привязки повреждён.', hint: 'Привяжите компаньон заново.' } },
} as Record<string, TunnelStatus>;
const FEEDS: Record<string, FeedStatus> = {
  off: feed({ state: 'off', venueId: null, pollers: [] }),
  running: feed(),
  disk: feed({ state: 'failing', error: { code: 'disk_full', message: 'нет места' } as FeedStatus['error'] }),
  orders: feed({ pollers: [{ ...poller('failing'), error: 'HTTP 500' }] as FeedStatus['pollers'] }),
};
const PAYMENTS: Record<string, PaymentsSummary | undefined> = {
  none: undefined, reconciled: payments({ reconciled: 3 }), waiting: payments({ notified: 2 }), mismatch: payments({ reconciled: 3, mismatch: 1 }),
  deleted: payments({ 'order-deleted': 1 }),
};
const LOGS = { file: { state: 'file' }, full: { state: 'console_only', error: { code: 'log_file_failed', message: 'Журнал не записывается в файл: на диске нет места.', hint: 'Освободите место на диске.' } } } as const;

/** A status as the agent builds it: the parts, then the level from the verdict (never set by hand). */
function status(parts: { front?: string; tunnel?: string; feed?: string; payments?: string; logs?: keyof typeof LOGS } = {}): Status {
  const p = PAYMENTS[parts.payments ?? 'none'];
  return withLevel({
    version: '0.1.0', startedAt: '2026-11-28T12:00:00Z', front: FRONTS[parts.front ?? 'up']!, tunnel: TUNNELS[parts.tunnel ?? 'connected']!,
    feed: FEEDS[parts.feed ?? 'running']!, ...(p ? { payments: p } : {}), logs: LOGS[parts.logs ?? 'file'] as Status['logs'],
  });
}

/**
 * The rules as docs/local-api.md states them, unordered: the worst that holds. The verdict tries situations in
 * order; this says what the order must come to.
 */
function expectedLevel(s: Status): Level {
  const unpaired = s.tunnel.state === 'unpaired';
  const feedOn = s.feed !== undefined && s.feed.state !== 'off';
  const error = s.tunnel.error?.code === 'token_refused' || (unpaired && s.tunnel.error !== undefined)
    || s.front.state === 'down' || s.front.state === 'unlicensed' || s.tunnel.state === 'offline'
    || s.feed?.state === 'failing' || (feedOn && s.feed!.pollers.some((x) => x.name === 'orders' && x.state === 'failing'))
    || (!unpaired && (s.payments?.alarms ?? 0) > 0);
  if (error) return 'error';
  const waiting = (s.payments?.byState.notified ?? 0) + (s.payments?.byState['pending-close'] ?? 0);
  const warn = unpaired || s.tunnel.state === 'connecting' || s.front.state === 'unknown' || waiting > 0 || s.logs?.state === 'console_only';
  return warn ? 'warn' : 'ok';
}

const EXIT: Record<Level, number> = { ok: 0, warn: 1, error: 2 };
const HEAD: Record<Level, string> = { ok: 'всё в порядке', warn: 'требует внимания', error: 'есть проблема' };
const TONE_LEVEL = { green: 'ok', amber: 'warn', grey: 'warn', red: 'error' } as const;

/** What EVVA's support console knows of a venue whose companion reported `s` over a link that is up. */
const reportedOverLink = (s: Status): VenueFacts => ({
  venueId: 'v1', createdAt: 0, pairedAt: 1, revokedAt: null, online: true, connectedAt: 2, lastSeenAt: 3, companionVersion: s.version, front: s.front, status: s,
});

/** Every reader of the state, side by side. */
function readers(s: Status) {
  const face = faceOf(s, 'ru');
  return {
    level: s.level,
    check: checkExit(s),
    cliHead: cliText(s).split('\n')[0],
    trayTone: trayTone(s),
    trayIcon: iconFile('/icons', trayTone(s), 'win32'),
    tooltip: tooltipFor(s),
    windowTone: face.tone,
    windowSentence: face.sentence,
  };
}

describe('one verdict, every state', () => {
  const combos: Array<[string, Status]> = [];
  for (const front of Object.keys(FRONTS)) for (const tunnel of Object.keys(TUNNELS)) for (const f of Object.keys(FEEDS))
    for (const pay of Object.keys(PAYMENTS)) for (const logs of Object.keys(LOGS) as Array<keyof typeof LOGS>) {
      combos.push([`${front}/${tunnel}/${f}/${pay}/${logs}`, status({ front, tunnel, feed: f, payments: pay, logs })]);
    }

  it(`gives each of the ${combos.length} combinations of the parts one level, which every reader shows`, () => {
    const seen = new Set<Situation>();
    for (const [name, s] of combos) {
      const r = readers(s);
      seen.add(judge(s).situation);
      expect(r.level, name).toBe(expectedLevel(s));
      expect(TONE_LEVEL[r.windowTone], `${name}: the window's colour`).toBe(r.level);
      expect(r.trayTone, `${name}: the tray icon`).toBe(r.windowTone);
      expect(r.trayIcon, name).toBe(`/icons/tray-${r.windowTone}.ico`);
      // The Russian tooltip lower-cases the sentence's first letter after «EVVA:»; it is cut at 60 characters.
      expect(r.tooltip.toLowerCase().startsWith(`EVVA: ${r.windowSentence}`.toLowerCase().slice(0, 58)), `${name}: the tooltip «${r.tooltip}»`).toBe(true);
      expect(r.check, `${name}: status --check`).toBe(EXIT[r.level]);
      expect(r.cliHead, `${name}: the CLI's first line`).toBe(`EVVA Companion 0.1.0: ${HEAD[r.level]}`);
      if (s.tunnel.state === 'connected') {
        // The support console reads the companion's report with the link as the relay sees it: up, so the same.
        const c = consoleVerdict(reportedOverLink(s), 'ru');
        expect([c.tone, c.sentence, c.level], `${name}: the support console`).toEqual([r.windowTone, r.windowSentence, r.level]);
      }
    }
    // The walk reaches every situation the verdict knows, so none goes untested.
    expect([...seen].sort()).toEqual([...SITUATIONS].sort());
  });

  it('words every situation in both languages, with what to do unless all is well', () => {
    for (const [name, s] of combos) {
      for (const lang of ['ru', 'en'] as const) {
        const f = faceOf(s, lang);
        expect(f.sentence, name).toMatch(/\S/);
        if (f.tone === 'green') expect(f.todo, name).toBeNull();
        if (f.tone === 'red' || f.tone === 'grey') expect(f.todo, `${name} (${lang})`).toMatch(/\S/);
      }
    }
  });
});

describe('the cases a cashier would see', () => {
  it('a log lost to a full disk: an amber tray, a note for a first sentence, and status --check says «warning»', () => {
    const s = status({ logs: 'full' });
    expect(readers(s)).toMatchObject({
      level: 'warn', check: 1, trayTone: 'amber', trayIcon: '/icons/tray-amber.ico', windowTone: 'amber',
      windowSentence: 'Есть замечание: журнал компаньона не записывается в файл',
    });
    expect(tooltipFor(s)).toMatch(/^EVVA: есть замечание/);
    expect(faceOf(s, 'ru').todo).toMatch(/Заказы и оплаты передаются/);
    expect(faceOf(s, 'en').sentence).toBe('Note: the companion’s log is not written to a file');
  });

  it('a payment that did not match its order: a red tray, the problem first, and status --check says «critical»', () => {
    const s = status({ payments: 'mismatch' });
    expect(readers(s)).toMatchObject({
      level: 'error', check: 2, trayTone: 'red', trayIcon: '/icons/tray-red.ico', windowTone: 'red',
      windowSentence: 'Есть проблема: оплата EVVA PAY не сошлась с заказом (1)',
    });
    const f = faceOf(s, 'ru');
    expect(f.action).toBe('journal');
    expect(f.todo).toMatch(/Журнал/);
  });

  it('a problem outranks a note: a mismatch while the plugin is still being checked is red, not amber', () => {
    expect(readers(status({ front: 'unknown', payments: 'mismatch' }))).toMatchObject({ level: 'error', trayTone: 'red', check: 2 });
    expect(readers(status({ tunnel: 'connecting', feed: 'disk' }))).toMatchObject({ level: 'error', trayTone: 'red', check: 2 });
  });
});

describe('the CLI says it in the same words', () => {
  it('prints the window\'s sentence and what to do for a payment that did not match, and nothing extra when all is well', () => {
    const out = cliText(status({ payments: 'mismatch' }));
    expect(out).toMatch(/^EVVA Companion 0\.1\.0: есть проблема$/m);
    expect(out).toMatch(/^ {2}Заказы и оплаты: Есть проблема: оплата EVVA PAY не сошлась с заказом \(1\)\n {4}Что делать: Гость мог заплатить дважды/m);
    expect(cliText(status())).not.toMatch(/Заказы и оплаты/);
  });
});
