import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { redact, redactText } from '../../common/redact.ts';
import { createLog } from '../../main/core/log.ts';

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

  it('leaves ids, times and sums alone', () => {
    const s = 'order 8a1b2c3d-1234-4abc-8def-812345678901 at 2025-01-28T12:31:49.56+03:00 sum 1500 ts 1764351234567';
    expect(redactText(s)).toBe(s);
  });
});
