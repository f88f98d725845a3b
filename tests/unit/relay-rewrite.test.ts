import { describe, expect, it } from 'vitest';
import { LinkRewriter, isTextual, linkReplacements } from '../../relay/rewrite.ts';

const ORIGIN = 'http://127.0.0.1:9042';
const BASE = 'https://relay.evva.ru/v1/venues/ven_abc/front';

function rewriteInChunks(text: string, cuts: number[]): { out: string; count: number } {
  const rw = new LinkRewriter(linkReplacements(ORIGIN, BASE));
  const buf = Buffer.from(text);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    parts.push(rw.push(buf.subarray(prev, c)));
    prev = c;
  }
  parts.push(rw.flush());
  return { out: Buffer.concat(parts).toString(), count: rw.count };
}

describe('link rewriting', () => {
  const body = JSON.stringify({
    Waiter: `${ORIGIN}/api/users/%D0%90%D0%BD%D0%BD%D0%B0`, Table: `${ORIGIN}/api/tables/1`, Url: `${ORIGIN}/api/orders/x`,
    Name: 'Анна — ёлка', Note: 'http://127.0.0.1:90420 is not ours? it starts with ours, so it is rewritten like the plugin would expect',
  });
  const expected = body.split(ORIGIN).join(BASE);

  it('rewrites every occurrence in one chunk', () => {
    expect(rewriteInChunks(body, [])).toEqual({ out: expected, count: 4 });
  });

  it('gives the same result for every single split point (needle cut anywhere, UTF-8 cut anywhere)', () => {
    const len = Buffer.byteLength(body);
    for (let cut = 1; cut < len; cut++) expect(rewriteInChunks(body, [cut]).out).toBe(expected);
  });

  it('survives byte-by-byte delivery', () => {
    const len = Buffer.byteLength(body);
    expect(rewriteInChunks(body, Array.from({ length: len - 1 }, (_, i) => i + 1)).out).toBe(expected);
  });

  it('rewrites the JSON-escaped form too', () => {
    const esc = '{"Url":"http:\\/\\/127.0.0.1:9042\\/api\\/orders\\/1"}';
    expect(rewriteInChunks(esc, [10, 20]).out).toBe('{"Url":"https:\\/\\/relay.evva.ru\\/v1\\/venues\\/ven_abc\\/front\\/api\\/orders\\/1"}');
  });

  it('rewrites the JSON-escaped form whatever single point the body is split at', () => {
    const esc = JSON.stringify({ Url: `${ORIGIN}/api/orders/1`, Name: 'Анна' }).replace(/\//g, '\\/');
    const expected = esc.split(ORIGIN.replace(/\//g, '\\/')).join(BASE.replace(/\//g, '\\/'));
    expect(esc).toContain('http:\\/\\/127.0.0.1:9042\\/api');
    const len = Buffer.byteLength(esc);
    for (let cut = 1; cut < len; cut++) expect(rewriteInChunks(esc, [cut]).out, `cut at ${cut}`).toBe(expected);
    expect(rewriteInChunks(esc, Array.from({ length: len - 1 }, (_, i) => i + 1))).toEqual({ out: expected, count: 1 });
  });

  it('rewrites both forms in one body, with the escaped link cut at every point', () => {
    const escOrigin = ORIGIN.replace(/\//g, '\\/');
    const body = `{"a":"${ORIGIN}/x","b":"${escOrigin}\\/y","c":"${ORIGIN}"}`;
    const expected = `{"a":"${BASE}/x","b":"${BASE.replace(/\//g, '\\/')}\\/y","c":"${BASE}"}`;
    const start = body.indexOf(escOrigin);
    for (let cut = start; cut <= start + escOrigin.length; cut++) {
      expect(rewriteInChunks(body, [cut]), `cut at ${cut}`).toEqual({ out: expected, count: 3 });
      expect(rewriteInChunks(body, [start - 1, cut]).out, `cuts at ${start - 1} and ${cut}`).toBe(expected);
    }
  });

  it('holds back at most one needle length across a boundary', () => {
    const rw = new LinkRewriter(linkReplacements(ORIGIN, BASE));
    const out = rw.push(Buffer.alloc(100_000, 'a'));
    expect(out.length).toBeGreaterThanOrEqual(100_000 - ORIGIN.length * 2);
  });

  it('leaves other hosts alone', () => {
    expect(rewriteInChunks('see http://127.0.0.2:9042/api and http://localhost:9042/', [7]).count).toBe(0);
  });

  it('only textual content types are rewritten', () => {
    for (const t of ['application/json; charset=utf-8', 'text/html', 'application/problem+json', 'application/xml']) expect(isTextual(t)).toBe(true);
    for (const t of ['application/octet-stream', 'image/png', undefined, 'application/zip']) expect(isTextual(t)).toBe(false);
  });
});
