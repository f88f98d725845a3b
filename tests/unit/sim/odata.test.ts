import { describe, expect, it } from 'vitest';
import { applyQuery, parseFilter, parseOrderBy, parseQuery, tokenize } from '../../../sim/odata.ts';
import type { Schema } from '../../../sim/odata.ts';
import { SimError } from '../../../sim/world.ts';

const schema: Schema = {
  Number: { type: 'number' },
  Name: { type: 'string' },
  Paid: { type: 'boolean' },
  OpenTime: { type: 'time' },
  Status: { type: 'enum', enumName: 'OrderStatus', values: ['New', 'Bill', 'Closed', 'Deleted'] },
  Sum: { type: 'number' },
};
const rows = [
  { Number: 1, Name: 'Иванова', Paid: false, OpenTime: '2025-01-28T09:00:00+03:00', Status: 'New', Sum: 100 },
  { Number: 2, Name: "O'Brien", Paid: true, OpenTime: '2025-01-28T10:00:00+03:00', Status: 'Closed', Sum: 250.5 },
  { Number: 3, Name: 'Петров', Paid: false, OpenTime: '2025-01-28T11:00:00+03:00', Status: 'Bill', Sum: null },
  { Number: 4, Name: 'Анна', Paid: true, OpenTime: null, Status: 'Deleted', Sum: 40 },
];

const numbers = (filter: string) => applyQuery(rows, { filter: parseFilter(filter, schema), orderBy: [], skip: 0, top: null }, schema).map((r) => r.Number);
const refusal = (f: () => unknown): string => {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(SimError); expect((e as SimError).status).toBe(400); return (e as Error).message; }
  throw new Error('expected a 400 refusal');
};

describe('OData $filter', () => {
  it('supports every comparison operator on numbers', () => {
    expect(numbers('Number eq 2')).toEqual([2]);
    expect(numbers('Number ne 2')).toEqual([1, 3, 4]);
    expect(numbers('Number gt 2')).toEqual([3, 4]);
    expect(numbers('Number ge 2')).toEqual([2, 3, 4]);
    expect(numbers('Number lt 2')).toEqual([1]);
    expect(numbers('Number le 2')).toEqual([1, 2]);
    expect(numbers('Sum gt 100.25')).toEqual([2]);
    expect(numbers('Sum gt -1')).toEqual([1, 2, 4]);
  });

  it('compares strings (with escaped quotes and Cyrillic), booleans and null', () => {
    expect(numbers("Name eq 'O''Brien'")).toEqual([2]);
    expect(numbers("Name eq 'Петров'")).toEqual([3]);
    expect(numbers('Paid eq true')).toEqual([2, 4]);
    expect(numbers('Paid ne true')).toEqual([1, 3]);
    expect(numbers('Sum eq null')).toEqual([3]);
    expect(numbers('Sum ne null')).toEqual([1, 2, 4]);
  });

  it('compares date-times as instants, whatever their offset', () => {
    expect(numbers('OpenTime gt 2025-01-28T06:30:00Z')).toEqual([2, 3]);
    expect(numbers("OpenTime le datetimeoffset'2025-01-28T10:00:00+03:00'")).toEqual([1, 2]);
    expect(numbers("OpenTime lt '2025-01-28T09:30:00+03:00'")).toEqual([1]);
  });

  it('takes the enum form the public clients send, with has and eq', () => {
    expect(numbers("Status has Resto.Front.Api.V5.Data.Orders.OrderStatus'New'")).toEqual([1]);
    expect(numbers("Status eq Resto.Front.Api.V5.Data.Orders.OrderStatus'Closed'")).toEqual([2]);
    expect(numbers("Status eq 'Bill'")).toEqual([3]);
    expect(numbers("Status ne 'Bill'")).toEqual([1, 2, 4]);
  });

  it('combines with and, or, not and parentheses, and binds and tighter than or', () => {
    expect(numbers("Number eq 1 or Number eq 2 and Paid eq false")).toEqual([1]);
    expect(numbers("(Number eq 1 or Number eq 2) and Paid eq true")).toEqual([2]);
    expect(numbers("not (Paid eq true) and Number gt 1")).toEqual([3]);
    expect(numbers("((Number gt 0))")).toEqual([1, 2, 3, 4]);
    expect(numbers("2 lt Number")).toEqual([3, 4]);
  });

  it('refuses malformed filters with a message naming the problem', () => {
    expect(refusal(() => parseFilter('Foo eq 1', schema))).toMatch(/unknown field 'Foo'/);
    expect(refusal(() => parseFilter('(Number eq 1', schema))).toMatch(/unbalanced parentheses/);
    expect(refusal(() => parseFilter('Number eq 1)', schema))).toMatch(/unbalanced parentheses/);
    expect(refusal(() => parseFilter('Number eq', schema))).toMatch(/expected a field or a value/);
    expect(refusal(() => parseFilter('Number equals 1', schema))).toMatch(/expected an operator/);
    expect(refusal(() => parseFilter("Name eq 'open", schema))).toMatch(/unterminated string/);
    expect(refusal(() => parseFilter('Number eq 1 # 2', schema))).toMatch(/unexpected character '#'/);
    expect(refusal(() => parseFilter("Number eq 'one'", schema))).toMatch(/'Number' is a number field/);
    expect(refusal(() => parseFilter("Status has Resto.Front.Api.V5.Data.Orders.OrderStatus'Eaten'", schema))).toMatch(/'Eaten' is not a OrderStatus value/);
    expect(refusal(() => parseFilter("Status has Resto.X.DeliveryStatus'New'", schema))).toMatch(/not the type of 'Status'/);
    expect(refusal(() => parseFilter('Number has 1', schema))).toMatch(/'has' works on enum fields only/);
    expect(refusal(() => parseFilter('Number eq Sum', schema))).toMatch(/comparing two fields/);
    expect(refusal(() => parseFilter('Paid gt true', schema))).toMatch(/boolean/);
    expect(refusal(() => parseFilter('OpenTime gt 2025-13-45T99:00:00Z', schema))).toMatch(/not a valid date-time/);
    expect(refusal(() => parseFilter('', schema))).toMatch(/empty/);
    expect(refusal(() => parseFilter('Number eq 1 Number eq 2', schema))).toMatch(/expected 'and', 'or' or the end/);
  });

  it('refuses absurd nesting instead of overflowing the stack', () => {
    expect(refusal(() => parseFilter(`${'('.repeat(1000)}Number eq 1${')'.repeat(1000)}`, schema))).toMatch(/nested deeper/);
  });

  it('tokenizes a qualified enum literal as one token', () => {
    const t = tokenize("Status has Resto.Front.Api.V5.Data.Orders.OrderStatus'New'");
    expect(t.map((x) => x.t)).toEqual(['word', 'word', 'lit', 'end']);
  });
});

describe('OData $orderby, $top, $skip', () => {
  const run = (qs: string) => applyQuery(rows, parseQuery(new URLSearchParams(qs), schema), schema).map((r) => r.Number);

  it('orders ascending by default and descending on request, nulls first ascending', () => {
    expect(run('$orderby=Number desc')).toEqual([4, 3, 2, 1]);
    expect(run('$orderby=Name')).toEqual(["O'Brien", 'Анна', 'Иванова', 'Петров'].map((n) => rows.find((r) => r.Name === n)!.Number));
    expect(run('$orderby=Sum asc')).toEqual([3, 4, 1, 2]);
    expect(run('$orderby=OpenTime desc')).toEqual([3, 2, 1, 4]);
  });

  it('orders enums by their declared order and takes a comma list', () => {
    expect(run('$orderby=Status')).toEqual([1, 3, 2, 4]);
    expect(run('$orderby=Paid desc, Number desc')).toEqual([4, 2, 3, 1]);
  });

  it('applies filter, then order, then skip, then top', () => {
    expect(run('$top=2')).toEqual([1, 2]);
    expect(run('$skip=1&$top=2')).toEqual([2, 3]);
    expect(run('$skip=10')).toEqual([]);
    expect(run('$top=0')).toEqual([]);
    expect(run('$filter=Number gt 1&$orderby=Number desc&$skip=1&$top=1')).toEqual([3]);
    expect(run('key=abc&$top=2147483647')).toEqual([1, 2, 3, 4]);
  });

  it('refuses bad $top, $skip, $orderby and unsupported options', () => {
    expect(refusal(() => parseQuery(new URLSearchParams('$top=-1'), schema))).toMatch(/\$top: '-1' is not a whole number/);
    expect(refusal(() => parseQuery(new URLSearchParams('$top=abc'), schema))).toMatch(/\$top/);
    expect(refusal(() => parseQuery(new URLSearchParams('$top=99999999999999999999999'), schema))).toMatch(/too large/);
    expect(refusal(() => parseQuery(new URLSearchParams('$skip=1.5'), schema))).toMatch(/\$skip/);
    expect(refusal(() => parseQuery(new URLSearchParams('$orderby=Nope'), schema))).toMatch(/unknown field 'Nope'/);
    expect(refusal(() => parseOrderBy('Number sideways', schema))).toMatch(/asc or desc/);
    expect(refusal(() => parseOrderBy('Number,', schema))).toMatch(/item 2 is empty/);
    expect(refusal(() => parseQuery(new URLSearchParams('$select=Id'), schema))).toMatch(/'\$select' is not supported/);
    expect(refusal(() => parseQuery(new URLSearchParams('$top=1&$top=2'), schema))).toMatch(/more than once/);
  });
});
