import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REDACT_MAX_DEPTH, createLog, redact, redactText } from '../../main/core/log.ts';

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

  // One case per rule, each with a secret that only that rule can catch.
  it.each([
    ['a plugin key in a query', 'GET /api/orders?$top=1&key=k3y-only-in-query', 'k3y-only-in-query'],
    ['a bearer token that is not a device token', 'sent Authorization: Bearer abc.DEF-ghi_jkl~123', 'abc.DEF-ghi_jkl~123'],
    ['a logout path', 'calling /api/logout/0f1e2d3c-4b5a', '0f1e2d3c-4b5a'],
    ['a device token on its own', 'paired, token is evd_Q2xhc3NpZmllZDEyMzQ1Njc4', 'evd_Q2xhc3NpZmllZDEyMzQ1Njc4'],
    ['an EVVA key on its own', 'using evk_AAAABBBBCCCCDDDD for the call', 'evk_AAAABBBBCCCCDDDD'],
  ])('removes %s from text', (_name, line, secret) => {
    const out = redactText(line);
    expect(out).not.toContain(secret);
    expect(out).toContain('[скрыто]');
  });

  it('masks authorization and cookie fields whatever their form', () => {
    const headers = { authorization: 'Basic dXNlcjpwYXNz', Cookie: 'sid=s3ss10n', 'proxy-authorization': 'Basic cHJveHk6cHc=', 'set-cookie': ['a=1', 'b=2'], accept: 'application/json' };
    const out = redact({ headers }) as { headers: Record<string, unknown> };
    expect(JSON.stringify(out)).not.toMatch(/dXNlcjpwYXNz|s3ss10n|cHJveHk6cHc=|a=1|b=2/);
    expect(out.headers).toEqual({ authorization: '[скрыто]', Cookie: '[скрыто]', 'proxy-authorization': '[скрыто]', 'set-cookie': '[скрыто]', accept: 'application/json' });
  });

  it('masks secrets at every depth up to six levels and keeps the ordinary fields next to them', () => {
    // Six levels, written out rather than read from REDACT_MAX_DEPTH: a limit cut lower would hide real log fields.
    for (let depth = 0; depth <= 5; depth++) {
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
    // A cycle ends at the limit instead of looping or leaking.
    const loop: Record<string, unknown> = { apiKey: 'L00P' };
    loop.self = loop;
    expect(JSON.stringify(redact(loop))).not.toContain('L00P');
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
