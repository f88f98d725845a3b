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

  it('rewrites bodies dense with both link forms, cut anywhere, exactly like a whole-string replace', () => {
    const esc = (x: string) => x.replace(/\//g, '\\/');
    let seed = 7;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    const bits = [ORIGIN, esc(ORIGIN), '/api/orders/', 'Анна', 'http://127.0.0.1:904', 'x'];
    for (let round = 0; round < 30; round++) {
      const text = Array.from({ length: 400 }, () => bits[rnd(bits.length)]).join('');
      const len = Buffer.byteLength(text);
      const cuts = [...new Set(Array.from({ length: rnd(40) }, () => 1 + rnd(len - 1)))].sort((a, b) => a - b);
      const want = text.split(ORIGIN).join(BASE).split(esc(ORIGIN)).join(esc(BASE));
      expect(rewriteInChunks(text, cuts).out).toBe(want);
    }
  });

  it('hands a chunk with nothing to rewrite back without copying it', () => {
    const rw = new LinkRewriter(linkReplacements(ORIGIN, BASE));
    const chunk = Buffer.alloc(10_000, 'a');
    const out = rw.push(chunk);
    expect(out.buffer).toBe(chunk.buffer);
  });
});
