import { describe, expect, it } from 'vitest';
import { faceOf, reportOf } from '../../../face/face.ts';
import type { Status } from '../../../protocol/local.ts';

const base = (): Status => ({
  level: 'ok', version: '0.1.0', startedAt: '2026-11-28T12:00:00Z',
  front: { state: 'up', url: 'http://127.0.0.1:9042', latencyMs: 8, version: '7.4', checkedAt: null, since: '2026-11-28T12:04:00Z', source: 'discovery' },
  tunnel: { state: 'connected', since: '2026-11-28T12:05:00Z', rttMs: 12, reconnects: 0, venueId: 'v1', relayUrl: 'https://relay' },
});
const time = (iso: string) => iso.slice(11, 16);

describe('how the status reads to a person', () => {
  it('says «Всё работает» in green with the time it has been so', () => {
    const f = faceOf(base(), 'ru', time);
    expect(f).toMatchObject({ tone: 'green', sentence: 'Всё работает', since: '2026-11-28T12:05:00Z', todo: null });
    expect(f.cards.map((c) => c.state)).toEqual(['Отвечает · порт 9042 · 8 мс', 'Есть · 12 мс', 'Не нужен — связь идёт через EVVA', 'нет данных']);
  });

  it('names the venue by its name when the pairing brought one, by its id otherwise', () => {
    const s = base();
    expect(faceOf(s, 'ru').cards[1]!.detail).toBe('заведение v1');
    s.tunnel.venueName = 'Кафе «Тест»';
    expect(faceOf(s, 'ru').cards[1]!.detail).toBe('заведение Кафе «Тест»');
    expect(faceOf(s, 'en').cards[1]!.detail).toBe('venue Кафе «Тест»');
  });

  it('shows whole milliseconds', () => {
    const s = base();
    s.tunnel.rttMs = 5.4;
    s.front.latencyMs = 13.6;
    expect(faceOf(s, 'ru').cards.slice(0, 2).map((c) => c.state)).toEqual(['Отвечает · порт 9042 · 14 мс', 'Есть · 5 мс']);
  });

  it('names the plugin problem in red, with what to do and the diagnostics button', () => {
    const s = base();
    s.front = { ...s.front, state: 'down', error: { code: 'unreachable', message: 'iikoFront не отвечает на порту 9042.', hint: 'Проверьте, что iikoFront запущен.' } };
    const f = faceOf(s, 'ru', time);
    expect(f).toMatchObject({ tone: 'red', sentence: 'Есть проблема: iikoFront не отвечает', todo: 'Проверьте, что iikoFront запущен.', action: 'diagnostics' });
    expect(f.cards[0]).toMatchObject({ tone: 'red', state: 'Не отвечает с 12:04' });
  });

  it('shows reconnect attempts in amber and a revoked pairing in red', () => {
    const s = base();
    s.tunnel = { ...s.tunnel, state: 'connecting', reconnects: 3 };
    expect(faceOf(s, 'ru').cards[1]).toMatchObject({ tone: 'amber', state: 'Переподключение… попытка 3' });
    expect(faceOf(s, 'ru').todo).toContain('проверьте интернет');
    s.tunnel = { ...s.tunnel, state: 'offline', error: { code: 'token_refused', message: 'не принял ключ' } };
    expect(faceOf(s, 'ru')).toMatchObject({ tone: 'red', sentence: 'Привязка отозвана: получите новый код в EVVA', action: 'setup' });
  });

  it('is grey and points to setup when not paired', () => {
    const s = base();
    s.tunnel = { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null };
    expect(faceOf(s, 'ru')).toMatchObject({ tone: 'grey', sentence: 'Не настроено: введите код привязки', action: 'setup' });
  });

  it('shows the feed only from what the core reports, never a made-up zero', () => {
    const s = base();
    expect(faceOf(s, 'ru').cards[3]).toMatchObject({ tone: 'none', state: 'нет данных' });
    s.feed = {
      state: 'running', venueId: 'v', backlog: 0, inFlight: 0, oldestUnsentAt: null,
      lastEvent: { seq: 160, eventType: 'CompanionHealth', eventTime: '2026-11-28T12:45:00Z' }, acked: 160, ackedToday: 160,
      ordersToday: 148, lastOrderAt: '2026-11-28T12:31:00Z', coalesced: 0, pollers: [],
    };
    s.payments = { total: 1, byState: { notified: 1 }, alarms: 0, pendingClose: 0 };
    const f = faceOf(s, 'ru', time);
    expect(f.cards[3]).toMatchObject({ tone: 'amber', state: 'Передано сегодня: 148 · последний 12:31', detail: 'Ждут закрытия: 1' });
    expect(f).toMatchObject({ tone: 'amber', sentence: 'Оплат ждут закрытия: 1', action: 'journal' });
    expect(f.todo).toContain('EVVAP');
    s.payments = { total: 1, byState: { reconciled: 1 }, alarms: 0, pendingClose: 0 };
    expect(faceOf(s, 'ru').cards[3]).toMatchObject({ detail: 'Нет оплат, ждущих закрытия' });
  });

  it('never says the feed works while nothing flows: plugin down, no licence, orders poller failing, link down', () => {
    const running = (): Status => ({
      ...base(),
      feed: {
        state: 'running', venueId: 'v1', backlog: 3, inFlight: 0, oldestUnsentAt: null, lastEvent: null, acked: 0, ackedToday: 0, ordersToday: 5, lastOrderAt: '2026-11-28T12:31:00Z', coalesced: 0,
        pollers: [{ name: 'orders', state: 'ok', intervalMs: 1000, lastOkAt: null, lastDurationMs: null, failures: 0 }],
      },
    });
    expect(faceOf(running(), 'ru', time).cards[3]).toMatchObject({ tone: 'green', state: 'Передано сегодня: 5 · последний 12:31' });

    const poller = running();
    poller.feed!.pollers[0] = { ...poller.feed!.pollers[0]!, state: 'failing', failures: 4, error: 'unlicensed 403' };
    const f = faceOf(poller, 'ru', time);
    expect(f.cards[3]).toMatchObject({ tone: 'red', state: 'Не передаются: заказы не читаются' });
    expect(f.cards[3]!.detail).toContain('нет свободной лицензии');
    expect(f).toMatchObject({ tone: 'red', sentence: 'Есть проблема: заказы не читаются из iikoFront', action: 'diagnostics' });
    expect(faceOf(poller, 'en', time).cards[3]!.detail).toContain('no free licence');

    const down = running();
    down.front = { ...down.front, state: 'down' };
    expect(faceOf(down, 'ru', time).cards[3]).toMatchObject({ tone: 'red', state: 'Не передаются: iikoFront не отвечает' });
    const unlicensed = running();
    unlicensed.front = { ...unlicensed.front, state: 'unlicensed' };
    expect(faceOf(unlicensed, 'ru', time).cards[3]).toMatchObject({ tone: 'red', state: 'Не передаются: у плагина нет лицензии' });
    const offline = running();
    offline.tunnel = { ...offline.tunnel, state: 'offline' };
    expect(faceOf(offline, 'ru', time).cards[3]).toMatchObject({ tone: 'red', state: 'Не передаются: нет связи с EVVA' });
    expect(faceOf(offline, 'ru', time).cards[3]!.detail).toContain('в очереди 3');
    const disk = running();
    disk.feed = { ...disk.feed!, state: 'failing', error: { code: 'disk_full', message: 'Диск заполнен.' } };
    expect(faceOf(disk, 'ru', time)).toMatchObject({ tone: 'red', sentence: 'Есть проблема: заказы не сохраняются на диск' });
  });

  it('warns about a port open to the internet only when the check said so', () => {
    const s = base();
    expect(faceOf(s, 'ru').cards[2]).toMatchObject({ detail: 'Открыт ли порт в интернет: ещё не проверялось' });
    s.port = { result: 'fail', exposed: true, explanation: 'Порт открыт в интернет.', checkedAt: '2026-11-28T12:40:00Z' };
    expect(faceOf(s, 'ru').cards[2]).toMatchObject({ tone: 'amber', state: 'Порт 9042 открыт в интернет — закройте его', detail: 'Порт открыт в интернет.' });
    s.port = { result: 'ok', exposed: false, explanation: 'закрыт', checkedAt: '2026-11-28T12:40:00Z' };
    expect(faceOf(s, 'ru').cards[2]?.detail).toMatch(/^Порт закрыт для интернета \(проверено в \d\d:\d\d\)$/);
    s.port = { result: 'warn', exposed: null, explanation: 'Проверить проброс порта не удалось.', checkedAt: '2026-11-28T12:40:00Z' };
    expect(faceOf(s, 'ru').cards[2]?.detail).toMatch(/^Проверить проброс порта не удалось\. \(проверено в/);
  });

  it('speaks English when asked, and writes the support report from the same cards', () => {
    expect(faceOf(base(), 'en').sentence).toBe('Everything works');
    const report = reportOf(base(), 'ru', '2026-11-28T12:40:00Z');
    // The time as the venue writes it, in local time with the offset, never a raw ISO string.
    expect(report.split('\n')[0]).toMatch(/^EVVA Companion 0\.1\.0 — 28\.11\.2026, \d\d:\d\d \(UTC[+−]\d+(:\d\d)?\)$/);
    expect(report.split('\n').slice(1)).toEqual([
      'Всё работает',
      '- iikoFront: Отвечает · порт 9042 · 8 мс (версия 7.4 · адрес найден автоматически)',
      '- Связь с EVVA: Есть · 12 мс (заведение v1)',
      '- Проброс порта: Не нужен — связь идёт через EVVA (Открыт ли порт в интернет: ещё не проверялось)',
      '- Заказы и оплаты: нет данных (Заказы начнут передаваться после привязки к EVVA)',
    ]);
  });
});
