/** The rules the iiko data checks apply, on shapes the sim does not produce (deep groups, odd codes, courier lists). */
import { describe, expect, it } from 'vitest';
import { judgeMenu, judgePayment, judgeStaff } from '../../../main/core/diagnostics/pos.ts';
import { buildMenu, normaliseOrder, normaliseStaff } from '../../../main/core/iiko/normalise.ts';
import { atLeast } from '../../../main/core/diagnostics/plugin.ts';
import { runChecks } from '../../../main/core/diagnostics/run.ts';
import { reportText } from '../../../face/report.ts';
import { realClock } from '../../../common/clock.ts';
import { silentLogger } from '../../../common/logger.ts';

const rule = { nameContains: 'EVVA' };
const order = (n: number, type: Record<string, string>, closeTime = `2025-01-28T1${n}:00:00+03:00`) =>
  normaliseOrder({ Id: `o${n}`, Number: n, Status: 'Closed', CloseTime: closeTime, Payments: [{ Id: `p${n}`, Sum: 100, Type: type }] }, { rule })!;
const staffOf = (list: Array<Record<string, unknown>>, couriers: string[]) => list.map((u) => normaliseStaff(u, couriers)!);

describe('menu depth', () => {
  it('counts depth through ChildGroups links as well as Parent, and lifts only items below level two', () => {
    const groups = [
      { Id: 'a', Name: 'Кухня', ChildGroups: ['http://127.0.0.1:9042/api/productgroups/b'] },
      { Id: 'b', Name: 'Горячее', ChildGroups: ['http://127.0.0.1:9042/api/productgroups/c'] },
      { Id: 'c', Name: 'Мясо' },
    ];
    const products = [
      { Number: '1', Name: 'Суп', Parent: 'http://127.0.0.1:9042/api/productgroups/b' },
      { Number: '2', Name: 'Стейк', Parent: 'http://127.0.0.1:9042/api/productgroups/c' },
    ];
    const f = judgeMenu(buildMenu(products, groups));
    expect(f.result).toBe('warn');
    expect(f.evidence).toMatchObject({ maxGroupDepth: 3, lifted: 1, liftedItems: ['Стейк'] });
  });

  it('survives a parent loop instead of hanging', () => {
    const f = judgeMenu(buildMenu([], [{ Id: 'a', Name: 'A', Parent: 'b' }, { Id: 'b', Name: 'B', Parent: 'a' }]));
    expect(f.result).toBe('ok');
  });
});

describe('EVVA payment type', () => {
  it('takes the code EVVAP (any case) and reports the newest order closed with it', () => {
    const f = judgePayment([order(1, { Name: 'Оплата EVVA', Code: 'evvap' }), order(2, { Name: 'Оплата EVVA', Code: 'EVVAP' })], rule);
    expect(f).toMatchObject({ result: 'ok', evidence: { rule: 'code', lastClosedWith: '2025-01-28T12:00:00+03:00' } });
  });

  it('does not accept a name match when the type shows another code', () => {
    expect(judgePayment([order(1, { Name: 'EVVA', Code: 'CARD2' })], rule)).toMatchObject({ result: 'fail', evidence: { rule: 'wrong_code' } });
  });

  it('ignores orders that are not closed', () => {
    const open = { ...order(1, { Name: 'EVVA', Code: 'EVVAP' }), iikoStatus: 'Bill' };
    expect(judgePayment([open], rule)).toMatchObject({ result: 'warn', evidence: { closed: 0 } });
  });
});

describe('staff', () => {
  it('says roles and PINs cannot be read through the plugin, and where to check them, when the venue lists no couriers', () => {
    const f = judgeStaff(staffOf([{ Name: 'A', Code: '1' }, { Name: 'B', Code: '2' }], []), []);
    expect(f.result).toBe('warn');
    expect(f.explanation.ru).toMatch(/не показывает ни права, ни ПИН-коды/);
    expect(f.fix!.ru).toMatch(/iikoOffice.*Сотрудники.*D_DC0 Быть курьером для доставки.*ПИН-код/s);
    expect(f.fix!.ru).toMatch(/feed\.courierCodes/);
  });

  it('checks the listed couriers exist, and keeps the report small enough for one tunnel frame', () => {
    const users = [{ Name: 'Главный', Code: '1', CellPhone: '+7900' }];
    const listed = ['1', ...Array.from({ length: 1000 }, (_, i) => `нет-${i}`)];
    const f = judgeStaff(staffOf(users, listed), listed);
    expect(f).toMatchObject({ result: 'warn', evidence: { couriers: 1, missingCount: 1000 } });
    expect(Buffer.byteLength(JSON.stringify(f))).toBeLessThan(8 * 1024);
    expect(judgeStaff(staffOf(users, ['1']), ['1']).result).toBe('ok');
    expect(judgeStaff(staffOf(users, ['9']), ['9']).result).toBe('fail');
  });
});

describe('versions and the runner', () => {
  it('compares dotted versions the way the guide means 7.7.1 or newer', () => {
    expect(atLeast('7.7.1', [7, 7, 1])).toBe(true);
    expect(atLeast('7.10.0.1', [7, 7, 1])).toBe(true);
    expect(atLeast('7.7.0.9999', [7, 7, 1])).toBe(false);
    expect(atLeast('7.4.6012.0', [7, 7, 1])).toBe(false);
  });

  it('turns a check that throws into a failure and one that hangs into its own timeout, keeping the others', async () => {
    const r = await runChecks([
      { id: 'plugin', timeoutMs: 100, run: () => new Promise(() => {}) },
      { id: 'tables', timeoutMs: 1000, run: async () => { throw new Error('boom'); } },
      { id: 'menu', timeoutMs: 1000, run: async () => ({ result: 'ok', explanation: { ru: 'всё хорошо', en: 'fine' } }) },
    ], { clock: realClock, logger: silentLogger, companion: 'test', venueId: null });
    expect(r.checks.map((c) => c.result)).toEqual(['fail', 'fail', 'ok']);
    expect(r.checks[0]!.explanation).toMatch(/не закончилась за 0,1 с/);
    expect(r.checks[1]!.explanation).toMatch(/boom/);
    expect(r.summary).toMatchObject({ result: 'fail', counts: { ok: 1, fail: 2 } });
    expect(reportText(r)).toMatch(/Итог: Есть проблемы: 2/);
  });
});
