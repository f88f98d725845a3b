/** The rules the iiko data checks apply, on shapes the sim does not produce (nested groups, Alias codes, no rights). */
import { describe, expect, it } from 'vitest';
import { judgeMenu, judgePayment, judgeStaff } from '../../main/core/diagnostics/pos.ts';
import { atLeast } from '../../main/core/diagnostics/plugin.ts';
import { runChecks, reportText } from '../../main/core/diagnostics/run.ts';
import { realClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';

const order = (n: number, type: Record<string, string>, closeTime = `2025-01-28T1${n}:00:00+03:00`) => ({
  Id: `o${n}`, Number: n, Status: 'Closed', CloseTime: closeTime, Payments: [{ Id: `p${n}`, Sum: 100, Type: type }],
});

describe('menu depth', () => {
  it('counts depth through nested Children as well as ParentId, and lifts only items below level two', () => {
    const tree = [{ Id: 'a', Name: 'Кухня', Children: [{ Id: 'b', Name: 'Горячее', Children: [{ Id: 'c', Name: 'Мясо' }] }] }];
    const products = [
      { Code: '1', Name: 'Суп', ParentGroupId: 'b' },
      { Code: '2', Name: 'Стейк', Parent: 'http://127.0.0.1:9042/api/productgroups/c' },
    ];
    const f = judgeMenu(tree, products);
    expect(f.result).toBe('warn');
    expect(f.evidence).toMatchObject({ maxGroupDepth: 3, lifted: 1, liftedItems: ['Стейк'] });
  });

  it('survives a parent loop instead of hanging', () => {
    const f = judgeMenu([{ Id: 'a', Name: 'A', ParentId: 'b' }, { Id: 'b', Name: 'B', ParentId: 'a' }], []);
    expect(f.result).toBe('ok');
  });
});

describe('EVVA payment type', () => {
  it('takes an Alias of EVVAP as the code and reports the newest order closed with it', () => {
    const f = judgePayment([order(1, { Name: 'Оплата EVVA', Alias: 'evvap' }), order(2, { Name: 'Оплата EVVA', Alias: 'EVVAP' })], /EVVA/i);
    expect(f).toMatchObject({ result: 'ok', evidence: { rule: 'code', lastClosedWith: '2025-01-28T12:00:00+03:00' } });
  });

  it('does not accept a name match when the type shows another code', () => {
    expect(judgePayment([order(1, { Name: 'EVVA', Code: 'CARD2' })], /EVVA/i)).toMatchObject({ result: 'fail', evidence: { rule: 'wrong_code' } });
  });

  it('ignores orders that are not closed', () => {
    const open = { ...order(1, { Name: 'EVVA', Code: 'EVVAP' }), Status: 'Bill' };
    expect(judgePayment([open], /EVVA/i)).toMatchObject({ result: 'warn', evidence: { closed: 0 } });
  });
});

describe('staff', () => {
  it('keeps a report small enough for one tunnel frame even with a thousand couriers without a PIN', () => {
    const users = [{ Name: 'Главный', Rights: ['D_DC0'], HasPinCode: true }, ...Array.from({ length: 1000 }, (_, i) => ({ Name: `Курьер номер ${i}`, Rights: ['D_DC0'], HasPinCode: false }))];
    const f = judgeStaff(users);
    expect(f).toMatchObject({ result: 'warn', evidence: { withoutPinCount: 1000 } });
    expect(Buffer.byteLength(JSON.stringify(f))).toBeLessThan(8 * 1024);
  });

  it('skips when the plugin shows no rights at all, instead of claiming there are no couriers', () => {
    expect(judgeStaff([{ Name: 'A' }, { Name: 'B' }]).result).toBe('skip');
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
