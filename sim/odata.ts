/**
 * The OData subset the plugin is seen to take: `$top`, `$skip`, `$orderby`
 * and `$filter` with eq ne gt lt ge le has, and/or/not and parentheses, on
 * scalar fields. A tokenizer and a recursive-descent parser; field names and
 * literal types are checked against a declared schema before anything runs,
 * so a bad query is refused with a 400 that names the problem and never half-applied.
 *
 *   filter  := or
 *   or      := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | '(' or ')' | compare
 *   compare := operand op operand        (one side a field, the other a literal)
 *   literal := number | 'text' | true | false | null | 2025-01-28T12:00:00+03:00
 *            | datetime'…' | datetimeoffset'…' | guid'…' | Qualified.EnumType'Value'
 */
import { SimError } from './world.ts';

export type FieldType = 'number' | 'string' | 'boolean' | 'time' | 'enum';
export interface FieldSpec {
  type: FieldType;
  /** For enums: the values in their declared order (used for sorting and checks). */
  values?: readonly string[];
  /** For enums: the type's short name, e.g. OrderStatus, that a qualified literal must end with. */
  enumName?: string;
}
export type Schema = Record<string, FieldSpec>;

export interface Query {
  filter: Expr | null;
  orderBy: { field: string; desc: boolean }[];
  skip: number;
  top: number | null;
}

type Op = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'has';
type Literal =
  | { type: 'number'; value: number }
  | { type: 'string'; value: string }
  | { type: 'boolean'; value: boolean }
  | { type: 'null' }
  | { type: 'time'; value: number; raw: string }
  | { type: 'enum'; enumType: string; value: string };
export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr }
  | { kind: 'cmp'; op: Op; field: string; lit: Literal };

type Token =
  | { t: 'lparen'; pos: number }
  | { t: 'rparen'; pos: number }
  | { t: 'end'; pos: number }
  | { t: 'word'; value: string; pos: number }
  | { t: 'lit'; lit: Literal; pos: number };

const OPS: readonly string[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'has'];
const MAX_INT32 = 2_147_483_647;
/** Longest $filter or $orderby accepted; longer is refused rather than parsed. */
export const MAX_QUERY_LENGTH = 4096;
/** Deepest nesting accepted, so a pathological filter cannot exhaust the stack. */
const MAX_DEPTH = 64;

function fail(option: string, message: string): never {
  throw new SimError(400, `${option}: ${message}`);
}

const isDigit = (c: string) => c >= '0' && c <= '9';
const isWordStart = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isWordChar = (c: string) => isWordStart(c) || isDigit(c) || c === '.';
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function parseTime(raw: string, pos: number): Literal {
  const ms = ISO_TIME.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(ms)) fail('$filter', `'${raw}' at position ${pos} is not a valid date-time (expected e.g. 2025-01-28T12:00:00+03:00)`);
  return { type: 'time', value: ms, raw };
}

/** Splits a $filter into tokens; refuses any character it does not know, naming its position. */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const readQuoted = (start: number): string => {
    // src[i] is the opening quote; '' inside is an escaped quote.
    let s = '';
    i++;
    for (;;) {
      if (i >= src.length) fail('$filter', `unterminated string starting at position ${start}`);
      const c = src[i] as string;
      if (c === "'") {
        if (src[i + 1] === "'") { s += "'"; i += 2; continue; }
        i++;
        return s;
      }
      s += c;
      i++;
    }
  };
  while (i < src.length) {
    const c = src[i] as string;
    const pos = i;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    if (c === '(') { out.push({ t: 'lparen', pos }); i++; continue; }
    if (c === ')') { out.push({ t: 'rparen', pos }); i++; continue; }
    if (c === "'") { out.push({ t: 'lit', lit: { type: 'string', value: readQuoted(pos) }, pos }); continue; }
    if (isDigit(c) || (c === '-' && isDigit(src[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < src.length && !' \t\r\n()'.includes(src[j] as string)) j++;
      const raw = src.slice(i, j);
      i = j;
      if (/^-?\d+(\.\d+)?$/.test(raw)) {
        const n = Number(raw);
        if (!Number.isFinite(n)) fail('$filter', `number '${raw}' at position ${pos} is out of range`);
        out.push({ t: 'lit', lit: { type: 'number', value: n }, pos });
      } else if (/^\d{4}-/.test(raw)) {
        out.push({ t: 'lit', lit: parseTime(raw, pos), pos });
      } else {
        fail('$filter', `'${raw}' at position ${pos} is not a number`);
      }
      continue;
    }
    if (isWordStart(c)) {
      let j = i + 1;
      while (j < src.length && isWordChar(src[j] as string)) j++;
      const word = src.slice(i, j);
      i = j;
      if (src[i] === "'") {
        // A typed literal: datetime'…', guid'…', or an enum: Namespace.EnumType'Value'.
        const value = readQuoted(i);
        const prefix = word.toLowerCase();
        if (prefix === 'datetime' || prefix === 'datetimeoffset') out.push({ t: 'lit', lit: parseTime(value, pos), pos });
        else if (prefix === 'guid') out.push({ t: 'lit', lit: { type: 'string', value: value.toLowerCase() }, pos });
        else out.push({ t: 'lit', lit: { type: 'enum', enumType: word, value }, pos });
        continue;
      }
      if (word === 'true' || word === 'false') out.push({ t: 'lit', lit: { type: 'boolean', value: word === 'true' }, pos });
      else if (word === 'null') out.push({ t: 'lit', lit: { type: 'null' }, pos });
      else out.push({ t: 'word', value: word, pos });
      continue;
    }
    fail('$filter', `unexpected character '${c}' at position ${pos}`);
  }
  out.push({ t: 'end', pos: src.length });
  return out;
}

class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[], private readonly schema: Schema) {}

  parse(): Expr {
    const e = this.or();
    const t = this.peek();
    if (t.t === 'rparen') fail('$filter', `unbalanced parentheses: ')' at position ${t.pos} has no matching '('`);
    if (t.t !== 'end') fail('$filter', `unexpected ${describe(t)} at position ${t.pos}; expected 'and', 'or' or the end`);
    return e;
  }

  private peek(): Token {
    return this.tokens[this.i] as Token;
  }

  private take(): Token {
    return this.tokens[this.i++] as Token;
  }

  private isWord(value: string): boolean {
    const t = this.peek();
    return t.t === 'word' && t.value === value;
  }

  private or(): Expr {
    let left = this.and();
    while (this.isWord('or')) { this.take(); left = { kind: 'or', left, right: this.and() }; }
    return left;
  }

  private and(): Expr {
    let left = this.unary();
    while (this.isWord('and')) { this.take(); left = { kind: 'and', left, right: this.unary() }; }
    return left;
  }

  private unary(): Expr {
    if (++this.depth > MAX_DEPTH) fail('$filter', `nested deeper than ${MAX_DEPTH} levels`);
    try {
      if (this.isWord('not')) { this.take(); return { kind: 'not', expr: this.unary() }; }
      const t = this.peek();
      if (t.t === 'lparen') {
        this.take();
        const e = this.or();
        const close = this.take();
        if (close.t !== 'rparen') fail('$filter', `unbalanced parentheses: '(' at position ${t.pos} is not closed (found ${describe(close)} at position ${close.pos})`);
        return e;
      }
      return this.compare();
    } finally {
      this.depth--;
    }
  }

  private operand(): Token {
    const t = this.take();
    if (t.t === 'word' || t.t === 'lit') return t;
    fail('$filter', `expected a field or a value at position ${t.pos}, found ${describe(t)}`);
  }

  private compare(): Expr {
    const a = this.operand();
    const opTok = this.take();
    if (opTok.t !== 'word' || !OPS.includes(opTok.value)) {
      fail('$filter', `expected an operator (${OPS.join(', ')}) at position ${opTok.pos}, found ${describe(opTok)}`);
    }
    let op = opTok.value as Op;
    const b = this.operand();
    let fieldTok: Token & { t: 'word' };
    let lit: Literal;
    if (a.t === 'word' && b.t === 'lit') { fieldTok = a; lit = b.lit; }
    else if (a.t === 'lit' && b.t === 'word') { fieldTok = b; lit = a.lit; op = flip(op); }
    else if (a.t === 'word' && b.t === 'word') fail('$filter', `comparing two fields ('${a.value}' ${op} '${b.value}') is not supported`);
    else fail('$filter', `a comparison at position ${a.pos} needs a field on one side`);
    return { kind: 'cmp', op, field: fieldTok.value, lit: this.check(fieldTok, op, lit) };
  }

  /** Checks a comparison against the field's type; returns the literal, a quoted date-time made a time. */
  private check(f: Token & { t: 'word' }, op: Op, lit: Literal): Literal {
    const spec = fieldSpec(this.schema, f.value, '$filter', f.pos);
    const name = f.value;
    if (op === 'has') {
      if (spec.type !== 'enum') fail('$filter', `'has' works on enum fields only; '${name}' is ${spec.type}`);
      if (lit.type !== 'enum' && lit.type !== 'string') fail('$filter', `'${name} has' needs an enum value such as Resto.Front.Api.V5.Data.Orders.${spec.enumName ?? 'Enum'}'${spec.values?.[0] ?? 'Value'}'`);
    }
    if (lit.type === 'null') {
      if (op !== 'eq' && op !== 'ne') fail('$filter', `null can only be compared with eq or ne (field '${name}')`);
      return lit;
    }
    const mismatch = () => fail('$filter', `'${name}' is ${spec.type === 'time' ? 'a date-time' : `a ${spec.type}`} field and cannot be compared with ${describeLit(lit)}`);
    switch (spec.type) {
      case 'number': if (lit.type !== 'number') mismatch(); break;
      case 'string': if (lit.type !== 'string') mismatch(); break;
      case 'boolean':
        if (lit.type !== 'boolean') mismatch();
        if (op !== 'eq' && op !== 'ne') fail('$filter', `'${name}' is a boolean; use eq or ne`);
        break;
      case 'time':
        if (lit.type === 'string') return parseTime(lit.value, f.pos);
        if (lit.type !== 'time') mismatch();
        break;
      case 'enum': {
        if (lit.type !== 'string' && lit.type !== 'enum') mismatch();
        if (op !== 'eq' && op !== 'ne' && op !== 'has') fail('$filter', `'${name}' is an enum; use eq, ne or has`);
        if (lit.type === 'enum' && spec.enumName) {
          const short = lit.enumType.split('.').pop();
          if (short !== spec.enumName) fail('$filter', `'${lit.enumType}' is not the type of '${name}' (expected …${spec.enumName})`);
        }
        const value = lit.type === 'enum' || lit.type === 'string' ? lit.value : '';
        if (spec.values && !spec.values.includes(value)) fail('$filter', `'${value}' is not a ${spec.enumName ?? name} value; expected one of ${spec.values.join(', ')}`);
        break;
      }
    }
    return lit;
  }
}

function flip(op: Op): Op {
  const m: Record<Op, Op> = { eq: 'eq', ne: 'ne', gt: 'lt', lt: 'gt', ge: 'le', le: 'ge', has: 'has' };
  if (op === 'has') fail('$filter', "'has' needs the field on its left");
  return m[op];
}

function describe(t: Token): string {
  if (t.t === 'end') return 'the end of the filter';
  if (t.t === 'lparen') return "'('";
  if (t.t === 'rparen') return "')'";
  if (t.t === 'word') return `'${t.value}'`;
  return describeLit(t.lit);
}

function describeLit(l: Literal): string {
  switch (l.type) {
    case 'number': return `the number ${l.value}`;
    case 'string': return `the string '${l.value}'`;
    case 'boolean': return `${l.value}`;
    case 'null': return 'null';
    case 'time': return `the date-time ${l.raw}`;
    case 'enum': return `the enum value ${l.enumType}'${l.value}'`;
  }
}

function fieldSpec(schema: Schema, name: string, option: string, pos: number): FieldSpec {
  const spec = Object.hasOwn(schema, name) ? schema[name] : undefined;
  if (!spec) fail(option, `unknown field '${name}' at position ${pos}; fields here: ${Object.keys(schema).join(', ')}`);
  return spec;
}

/** Parses a $filter against a schema. Throws SimError(400) naming the problem. */
export function parseFilter(src: string, schema: Schema): Expr {
  if (src.trim() === '') fail('$filter', 'is empty');
  if (src.length > MAX_QUERY_LENGTH) fail('$filter', `is longer than ${MAX_QUERY_LENGTH} characters`);
  return new Parser(tokenize(src), schema).parse();
}

/** Parses `Field [asc|desc], Field [asc|desc], …`. */
export function parseOrderBy(src: string, schema: Schema): Query['orderBy'] {
  if (src.length > MAX_QUERY_LENGTH) fail('$orderby', `is longer than ${MAX_QUERY_LENGTH} characters`);
  const parts = src.split(',');
  return parts.map((part, n) => {
    const words = part.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) fail('$orderby', `item ${n + 1} is empty`);
    const [field, dir, extra] = words as [string, string | undefined, string | undefined];
    if (extra !== undefined) fail('$orderby', `unexpected '${extra}' after '${field} ${dir}'`);
    fieldSpec(schema, field, '$orderby', src.indexOf(field));
    if (dir !== undefined && dir !== 'asc' && dir !== 'desc') fail('$orderby', `'${dir}' after '${field}' should be asc or desc`);
    return { field, desc: dir === 'desc' };
  });
}

function parseCount(option: string, raw: string): number {
  if (!/^\d+$/.test(raw.trim())) fail(option, `'${raw}' is not a whole number`);
  const n = Number(raw.trim());
  if (n > MAX_INT32) fail(option, `${raw} is too large (at most ${MAX_INT32})`);
  return n;
}

const SUPPORTED = ['$top', '$skip', '$orderby', '$filter'];

/** Reads the OData options from a query string. Other `$` options are refused; other parameters (key) ignored. */
export function parseQuery(params: URLSearchParams, schema: Schema): Query {
  const q: Query = { filter: null, orderBy: [], skip: 0, top: null };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (!name.startsWith('$')) continue;
    if (!SUPPORTED.includes(name)) throw new SimError(400, `The query option '${name}' is not supported; supported: ${SUPPORTED.join(', ')}.`);
    if (seen.has(name)) throw new SimError(400, `The query option '${name}' is given more than once.`);
    seen.add(name);
    if (name === '$top') q.top = parseCount('$top', value);
    if (name === '$skip') q.skip = parseCount('$skip', value);
    if (name === '$orderby') q.orderBy = parseOrderBy(value, schema);
    if (name === '$filter') q.filter = parseFilter(value, schema);
  }
  return q;
}

type Row = Record<string, unknown>;

function asTime(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : ms;
}

function litValue(l: Literal): unknown {
  switch (l.type) {
    case 'null': return null;
    case 'enum': return l.value;
    default: return l.value;
  }
}

/** An enum value's place in its declared order: the plugin writes enums as numbers (their index), a literal names them. */
function enumIndex(spec: FieldSpec, v: unknown): number {
  return typeof v === 'number' ? v : (spec.values ?? []).indexOf(String(v));
}

/** Compares two non-null values of a field's type: negative, zero or positive. */
function compareValues(spec: FieldSpec, a: unknown, b: unknown): number {
  if (spec.type === 'time') return (asTime(a) ?? 0) - (asTime(b) ?? 0);
  if (spec.type === 'enum' && spec.values) return enumIndex(spec, a) - enumIndex(spec, b);
  if (spec.type === 'number') return Number(a) - Number(b);
  if (spec.type === 'boolean') return Number(a) - Number(b);
  const x = String(a), y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function test(e: Expr, row: Row, schema: Schema): boolean {
  switch (e.kind) {
    case 'and': return test(e.left, row, schema) && test(e.right, row, schema);
    case 'or': return test(e.left, row, schema) || test(e.right, row, schema);
    case 'not': return !test(e.expr, row, schema);
    case 'cmp': {
      const spec = schema[e.field] as FieldSpec;
      const v = row[e.field] ?? null;
      const l = e.lit;
      if (l.type === 'null') return e.op === 'eq' ? v === null : v !== null;
      if (v === null) return e.op === 'ne';
      if (e.op === 'has') {
        const name = typeof v === 'number' ? spec.values?.[v] ?? String(v) : String(v);
        return name.split(/,\s*/).includes(String(litValue(l)));
      }
      const rhs = l.type === 'time' ? l.value : litValue(l);
      const c = spec.type === 'time' ? (asTime(v) ?? NaN) - (rhs as number) : compareValues(spec, v, rhs);
      switch (e.op) {
        case 'eq': return c === 0;
        case 'ne': return c !== 0;
        case 'gt': return c > 0;
        case 'lt': return c < 0;
        case 'ge': return c >= 0;
        case 'le': return c <= 0;
      }
    }
  }
}

/** Applies filter, then order (stable, nulls first ascending), then skip and top. */
export function applyQuery<T extends object>(rows: T[], q: Query, schema: Schema): T[] {
  const row = (r: T) => r as Record<string, unknown>;
  let out = q.filter ? rows.filter((r) => test(q.filter as Expr, row(r), schema)) : rows.slice();
  if (q.orderBy.length > 0) {
    out = out
      .map((r, i) => ({ r, i }))
      .sort((x, y) => {
        for (const { field, desc } of q.orderBy) {
          const spec = schema[field] as FieldSpec;
          const a = row(x.r)[field] ?? null, b = row(y.r)[field] ?? null;
          const c = a === null || b === null ? (a === null ? (b === null ? 0 : -1) : 1) : compareValues(spec, a, b);
          if (c !== 0) return desc ? -c : c;
        }
        return x.i - y.i;
      })
      .map((x) => x.r);
  }
  const start = Math.min(q.skip, out.length);
  return out.slice(start, q.top === null ? undefined : start + q.top);
}
