import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REDACT_MAX_DEPTH, redact, redactText } from '../../../common/redact.ts';
import { createLog } from '../../../main/core/log.ts';

describe('log redaction', () => {
  it('removes plugin keys, bearer tokens, logout tokens and device tokens from text', () => {
    const s = redactText('GET /api/orders?key=abc123&$top=1 Bearer evd_SECRETSECRET /api/logout/tok-9 cookie key=zzz');
    expect(s).not.toMatch(/abc123|SECRETSECRET|tok-9|zzz/);
    expect(s).toContain('$top=1');
  });

  it('masks secret-looking fields at any depth but keeps the rest', () => {
    const out = redact({ token: 't', nested: { deviceToken: 'd', apiKey: 'k', pairingCode: 'c', url: 'http://x/?key=q', count: 3 }, list: [{ password: 'p' }] });
    expect(JSON.stringify(out)).not.toMatch(/"t"|"d"|"k"|"c"|key=q|"p"/);
    expect(out).toMatchObject({ nested: { count: 3 } });
  });

  // One case per rule, each with a secret that only that rule can catch, and the exact line that must remain.
  it.each([
    ['a plugin key in a query', 'GET /api/orders?$top=1&key=k3y-only-in-query', 'GET /api/orders?$top=1&key=[скрыто]'],
    ['a bearer token that is not a device token', 'sent Authorization: Bearer abc.DEF-ghi_jkl~123', 'sent Authorization: Bearer [скрыто]'],
    ['a logout path', 'calling /api/logout/0f1e2d3c-4b5a', 'calling /api/logout/[скрыто]'],
    ['a device token on its own', 'paired, token is evd_Q2xhc3NpZmllZDEyMzQ1Njc4', 'paired, token is [скрыто]'],
    ['an EVVA key on its own', 'using evk_AAAABBBBCCCCDDDD for the call', 'using [скрыто] for the call'],
  ])('removes %s from text, whole', (_name, line, expected) => {
    expect(redactText(line)).toBe(expected);
  });

  it('removes a bearer token however much space precedes it', () => {
    expect(redactText('Authorization: Bearer    tok-after-spaces')).not.toContain('tok-after-spaces');
    expect(redactText('bearer\ttok-after-tab')).not.toContain('tok-after-tab');
  });

  it('masks exactly the fields whose names say secret, and nothing else', () => {
    const secret = { token: 'a', deviceToken: 'b', client_secret: 'c', password: 'd', Authorization: 'e', cookie: 'f', apiKey: 'g', api_key: 'h',
      pairingCode: 'i', pairing_code: 'j', key: 'k', pin: 'l', pincode: 'm', PIN: 'n' };
    for (const [k, v] of Object.entries(redact(secret) as Record<string, unknown>)) expect(v, k).toBe('[скрыто]');
    const plain = { sortKey: 'Number', keyboard: 'ru', monkey: 'yes', spin: 'x', pinned: 'top', pins: '3', keys: 'a,b', name: 'Анна' };
    expect(redact(plain)).toEqual(plain);
  });

  it('keeps empty, true/false and numeric values of secret-named fields: they reveal nothing', () => {
    const meta = { token: null, tokenExpired: true, cookieCount: 0, apiKey: undefined, hasPassword: false, tokenAgeMs: 42, nested: { secret: null } };
    expect(redact(meta)).toEqual(meta);
    expect(redact(null)).toBeNull();
    expect(redact(7)).toBe(7);
  });

  it('redacts errors to their name and a cleaned message, and arrays item by item', () => {
    expect(redact(new TypeError('login failed for /api/orders?key=ERRKEY1'))).toEqual({ name: 'TypeError', message: 'login failed for /api/orders?key=[скрыто]' });
    expect(redact({ err: new Error('Bearer ERRTOKEN2 refused') })).toEqual({ err: { name: 'Error', message: 'Bearer [скрыто] refused' } });
    expect(redact(['Bearer ARR1', { token: 'ARR2' }, 3, [{ cookie: 'ARR3' }]])).toEqual(['Bearer [скрыто]', { token: '[скрыто]' }, 3, [{ cookie: '[скрыто]' }]]);
  });

  it('masks authorization and cookie fields whatever their form', () => {
    const headers = { authorization: 'Basic dXNlcjpwYXNz', Cookie: 'sid=s3ss10n', 'proxy-authorization': 'Basic cHJveHk6cHc=', 'set-cookie': ['a=1', 'b=2'], accept: 'application/json' };
    const out = redact({ headers }) as { headers: Record<string, unknown> };
    expect(JSON.stringify(out)).not.toMatch(/dXNlcjpwYXNz|s3ss10n|cHJveHk6cHc=|a=1|b=2/);
    expect(out.headers).toEqual({ authorization: '[скрыто]', Cookie: '[скрыто]', 'proxy-authorization': '[скрыто]', 'set-cookie': '[скрыто]', accept: 'application/json' });
  });

  it('masks secrets at every depth it reads (objects nested six deep) and keeps the ordinary fields next to them', () => {
    // Objects nested six deep are still read; written out rather than read from REDACT_MAX_DEPTH, since a
    // limit cut lower would hide real log fields.
    for (let depth = 0; depth <= 6; depth++) {
      let v: Record<string, unknown> = { token: 'T0KEN', authorization: 'Basic QUJD', cookie: 'sid=C00K1E', note: 'Bearer B3ARER', count: depth, name: 'Анна' };
      for (let i = 0; i < depth; i++) v = { level: i, inner: v };
      const text = JSON.stringify(redact(v));
      expect(text, `depth ${depth}`).not.toMatch(/T0KEN|QUJD|C00K1E|B3ARER/);
      expect(text, `depth ${depth}`).toContain(`"count":${depth}`);
      expect(text, `depth ${depth}`).toContain('"name":"Анна"');
    }
  });

  it('logs nothing raw from deeper than the limit', () => {
    for (const extra of [1, 2, 10]) {
      let v: unknown = { token: 'DEEP-T0KEN', headers: { cookie: 'sid=DEEP' }, plain: 'evd_DEEPDEVICETOKEN1', list: [{ password: 'DEEP-PW' }] };
      for (let i = 0; i < REDACT_MAX_DEPTH + extra; i++) v = { inner: v };
      const text = JSON.stringify(redact(v));
      expect(text).not.toMatch(/DEEP/);
      expect(text).toContain('[слишком глубоко]');
    }
    // Arrays count as levels too.
    let arrays: unknown = [{ token: 'ARRAY-DEEP' }];
    for (let i = 0; i < REDACT_MAX_DEPTH + 2; i++) arrays = [arrays];
    expect(JSON.stringify(redact(arrays))).toContain('[слишком глубоко]');
    // A cycle, through objects or arrays, ends at the limit instead of looping or leaking.
    const loop: Record<string, unknown> = { apiKey: 'L00P' };
    loop.self = loop;
    expect(JSON.stringify(redact(loop))).not.toContain('L00P');
    const ring: unknown[] = ['Bearer RING0'];
    ring.push(ring);
    expect(JSON.stringify(redact(ring))).not.toContain('RING0');
  });

  it('writes redacted lines to the rotating file in the data dir', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-log-'));
    const log = createLog({ dataDir: dir, level: 'info', console: false });
    log.child({ part: 'test' }).info('calling /api/orders?key=SECRET1', { token: 'SECRET2', n: 1 });
    await log.close();
    const files = fs.readdirSync(path.join(dir, 'logs')).filter((f) => f.endsWith('.log'));
    expect(files.length).toBe(1);
    const text = fs.readFileSync(path.join(dir, 'logs', files[0]!), 'utf8');
    expect(text).toContain('calling /api/orders');
    expect(text).toContain('"part":"test"');
    expect(text).not.toMatch(/SECRET1|SECRET2/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('redaction for support output', () => {
  it('masks a proxy password but keeps the user and host', () => {
    expect(redactText('via http://evva:Pa55word@proxy.local:3128 ok')).toBe('via http://evva:[скрыто]@proxy.local:3128 ok');
  });

  it('masks pairing codes', () => {
    expect(redactText('code K7QF-2MXD typed')).toBe('code [скрыто] typed');
  });

  it('keeps only the last four digits of Russian phone numbers, whatever their format', () => {
    for (const p of ['+7 (912) 345-12-34', '+79123451234', '89123451234', '8 912 345 12 34']) {
      expect(redactText(`call ${p} now`)).toBe('call +7 *** ***-12-34 now');
    }
  });

  it('masks secret fields of JSON written into text, as it is and as it reads inside a JSON log line', () => {
    const body = JSON.stringify({ login: 'admin', password: 'P@ss"w0rd', token: 'tok-123', pin: 4321, pinCode: '9876', sessionKey: 'sk-abc', hasPin: true, tokens: 3 });
    const plain = redactText(`plugin said ${body}`);
    expect(plain).toBe('plugin said {"login":"admin","password":"[скрыто]","token":"[скрыто]","pin":"[скрыто]","pinCode":"[скрыто]","sessionKey":"[скрыто]","hasPin":true,"tokens":3}');
    // A log line read back from its file holds the same body escaped inside a string.
    const line = JSON.stringify({ level: 'warn', message: `plugin said ${body}` });
    const back = JSON.parse(redactText(line)) as { message: string };
    expect(back.message).toBe(plain);
  });

  it('masks a PIN given as a number in a field, and a session key', () => {
    expect(redact({ pin: 4321, pincode: 12, sessionKey: 'x', session_key: 'y', tokenAgeMs: 5 })).toEqual({ pin: '[скрыто]', pincode: '[скрыто]', sessionKey: '[скрыто]', session_key: '[скрыто]', tokenAgeMs: 5 });
  });

  it('masks a pairing code typed in lower case, but not the middle of a GUID', () => {
    expect(redactText('typed k7qf-2mxd then K7QF-2MXD')).toBe('typed [скрыто] then [скрыто]');
    const guid = 'order 8a1b2c3d-1234-4abc-8def-812345678901 and 4ABC-8DEF-1234';
    expect(redactText(guid)).toBe(guid);
  });

  it('keeps only the last four digits of phones written with 7 and spaces, or as ten bare digits', () => {
    expect(redactText('courier 7 912 345 67 82, guest 9123456784, also 912 345-67-84 and 79123456782'))
      .toBe('courier +7 *** ***-67-82, guest +7 *** ***-67-84, also +7 *** ***-67-84 and +7 *** ***-67-82');
  });

  it('leaves ids, times and sums alone', () => {
    const s = 'order 8a1b2c3d-1234-4abc-8def-812345678901 at 2025-01-28T12:31:49.56+03:00 sum 1500 ts 1764351234567 bytes 9123456784.5 v7.4.6012.0';
    expect(redactText(s)).toBe(s);
  });
});
