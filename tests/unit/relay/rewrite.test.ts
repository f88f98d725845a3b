import { describe, expect, it } from 'vitest';
import { LENT_BYTES, LENT_KEPT, LinkRewriter, isTextual, lentWaiting, linkReplacements, rewriteWhole, whenWritten } from '../../../relay/rewrite.ts';

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

  it('holds back exactly the longest needle less one byte across a boundary, and gives it back at the end', () => {
    const rw = new LinkRewriter(linkReplacements(ORIGIN, BASE));
    const longest = Buffer.byteLength(ORIGIN.replace(/\//g, '\\/'));
    const out = rw.push(Buffer.alloc(100_000, 'a'));
    expect(out.length).toBe(100_000 - (longest - 1));
    expect(rw.flush().length).toBe(longest - 1);
    expect(rw.flush().length).toBe(0);
  });

  it('rewrites a body that starts with a link and has the other form later', () => {
    const escOrigin = ORIGIN.replace(/\//g, '\\/');
    const escBase = BASE.replace(/\//g, '\\/');
    expect(rewriteInChunks(`${ORIGIN}/a ${escOrigin}\\/b`, [])).toEqual({ out: `${BASE}/a ${escBase}\\/b`, count: 2 });
    expect(rewriteInChunks(`${escOrigin}\\/b ${ORIGIN}/a`, [])).toEqual({ out: `${escBase}\\/b ${BASE}/a`, count: 2 });
  });

  it('prefers the longer needle where two start at the same byte, whatever their order', () => {
    for (const pairs of [[['http://h', 'S'], ['http://h:1', 'L']], [['http://h:1', 'L'], ['http://h', 'S']]] as Array<Array<[string, string]>>) {
      const rw = new LinkRewriter(pairs);
      const out = Buffer.concat([rw.push(Buffer.from('http://h:1/x http://h/y')), rw.flush()]).toString();
      expect(out, JSON.stringify(pairs)).toBe('L/x S/y');
    }
  });

  it('ignores an empty needle instead of matching everywhere', () => {
    const rw = new LinkRewriter([['', 'X'], [ORIGIN, BASE]]);
    const out = Buffer.concat([rw.push(Buffer.from(`abc ${ORIGIN}/d`)), rw.flush()]).toString();
    expect(out).toBe(`abc ${BASE}/d`);
    expect(rw.count).toBe(1);
  });

  it('makes one pair per distinct form of the origin', () => {
    expect(linkReplacements(ORIGIN, BASE)).toEqual([[ORIGIN, BASE], [ORIGIN.replace(/\//g, '\\/'), BASE.replace(/\//g, '\\/')]]);
    expect(linkReplacements('origin-without-slashes', 'base')).toEqual([['origin-without-slashes', 'base']]);
  });

  it('leaves other hosts alone', () => {
    expect(rewriteInChunks('see http://127.0.0.2:9042/api and http://localhost:9042/', [7]).count).toBe(0);
  });

  it('only textual content types are rewritten', () => {
    const textual = ['application/json; charset=utf-8', 'text/html', 'application/problem+json', 'application/xml', ' Application/JSON ; charset=utf-8',
      'image/svg+xml', 'application/atom+xml;charset=utf-8', 'application/javascript', 'TEXT/PLAIN'];
    const binary = ['application/octet-stream', 'image/png', undefined, '', 'application/zip', 'application/xml-dtd-not', 'application/jsonx', 'x-text/plain'];
    // Each type is judged once and remembered: asked again (and after a hundred others pushed the memory
    // past its bound), the answer is the same.
    const many = Array.from({ length: 100 }, (_, i) => (i % 2 ? `text/x-${i}` : `image/x-${i}`));
    for (let pass = 0; pass < 3; pass++) {
      for (const t of textual) expect(isTextual(t), t).toBe(true);
      for (const t of binary) expect(isTextual(t), String(t)).toBe(false);
      for (const [i, t] of many.entries()) expect(isTextual(t), t).toBe(i % 2 === 1);
    }
    expect(isTextual(`text/${'x'.repeat(200)}`)).toBe(true);
    expect(isTextual(`image/${'x'.repeat(200)}`)).toBe(false);
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

describe('rewriting a whole body at once', () => {
  const escOrigin = ORIGIN.replace(/\//g, '\\/');
  const streamed = (body: Buffer, pairs: Array<[string, string]>) => {
    const rw = new LinkRewriter(pairs);
    return Buffer.concat([rw.push(body), rw.flush()]);
  };

  // A venue's links grow (the relay's base is longer than the plugin's origin): rewritten on the bytes alone.
  // Links that shrink or keep their length, and lists that mix both, take the string path: each must give
  // exactly what the chunked rewriter gives.
  it.each([
    ['replacements longer than the links (the bytes path)', linkReplacements(ORIGIN, BASE)],
    ['replacements of the same length', linkReplacements(ORIGIN, 'https://relay.evva.ru')],
    ['replacements shorter than the links (the string path)', linkReplacements(ORIGIN, 'https://r.ru/v')],
    ['one longer and one shorter (the string path)', [[ORIGIN, BASE], [escOrigin, 'x']] as Array<[string, string]>],
    ['a Cyrillic replacement', linkReplacements(ORIGIN, 'https://релей.рф/v1/venues/ven_abc/front')],
  ])('gives exactly what the chunked rewriter gives, on bodies built from every kind of piece: %s', (_name, pairs) => {
    // Pieces that meet in every order: both needles, their prefixes, Cyrillic, bytes that are not UTF-8.
    const pieces = [ORIGIN, escOrigin, ORIGIN.slice(0, 10), escOrigin.slice(0, 9), '/api/orders/1', 'Анна', '"', '\\', 'h', '9042', Buffer.from([0xff, 0xfe, 0x80]).toString('latin1')];
    let seed = 7;
    const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 8; };
    let rewritten = 0;
    for (let i = 0; i < 3000; i++) {
      const parts = Array.from({ length: 1 + (rnd() % 12) }, () => pieces[rnd() % pieces.length]!);
      const body = Buffer.concat(parts.map((p) => (/^[\x80-\xff]+$/.test(p) ? Buffer.from(p, 'latin1') : Buffer.from(p))));
      const whole = rewriteWhole(body, pairs);
      expect(whole.equals(streamed(body, pairs)), body.toString('latin1')).toBe(true);
      if (!whole.equals(body)) rewritten++;
    }
    expect(rewritten).toBeGreaterThan(1000);
  });

  it('takes the longer of two needles that match at the same place, as the chunked rewriter does', () => {
    const pairs: Array<[string, string]> = [['http://a', 'X'], ['http://ab', 'Y'], ['', 'never']];
    expect(rewriteWhole(Buffer.from('http://ab http://a http://abc'), pairs).toString()).toBe('Y X Yc');
    expect(streamed(Buffer.from('http://ab http://a http://abc'), pairs).toString()).toBe('Y X Yc');
  });

  it('rewrites an answer with hundreds of links (more than its first scratch space holds) and one that starts and ends with a link', () => {
    const pairs = linkReplacements(ORIGIN, BASE);
    const many = Buffer.from(`[${Array.from({ length: 500 }, (_, i) => `"${ORIGIN}/api/orders/${i}"`).join(',')}]`);
    const out = rewriteWhole(many, pairs);
    expect(out.equals(streamed(many, pairs))).toBe(true);
    expect(out.toString().split(`${BASE}/api/orders/`).length - 1).toBe(500);
    expect(out.toString()).not.toContain(ORIGIN);
    const edges = Buffer.from(`${ORIGIN}/a ${escOrigin}\\/b ${ORIGIN}`);
    expect(rewriteWhole(edges, pairs).toString()).toBe(`${BASE}/a ${BASE.replace(/\//g, '\\/')}\\/b ${BASE}`);
  });

  it('returns the body itself when nothing matches, and carries non-ASCII replacements byte for byte', () => {
    const body = Buffer.from('{"Name":"Анна"}');
    expect(rewriteWhole(body, linkReplacements(ORIGIN, BASE))).toBe(body);
    const out = rewriteWhole(Buffer.from(`[${ORIGIN}/x]`), [[ORIGIN, 'https://релей.рф/v1']]);
    expect(out.toString()).toBe('[https://релей.рф/v1/x]');
    expect(rewriteWhole(Buffer.from('[http://хост/x]'), [['http://хост', 'https://r']]).toString()).toBe('[https://r/x]');
  });
});

describe('the buffers a rewritten chunk is lent in', () => {
  const pairs = linkReplacements(ORIGIN, BASE);
  const chunkOf = (i: number) => Buffer.from(`[{"Url":"${ORIGIN}/api/orders/${i}","n":${i}}]`.padEnd(2_000, ' '));
  const want = (i: number) => chunkOf(i).toString().split(ORIGIN).join(BASE);
  /** Takes every buffer waiting for reuse out of the pool (each test starts with none waiting). */
  const drain = () => {
    const rw = new LinkRewriter(pairs);
    for (let i = 0; i <= LENT_KEPT && lentWaiting() > 0; i++) rw.push(chunkOf(0));
    expect(lentWaiting()).toBe(0);
  };

  it('never lends a buffer again while the write of the chunk in it is not done, and lends it again once it is', () => {
    drain();
    const rw = new LinkRewriter(pairs);
    const lent: Buffer[] = [];
    for (let i = 0; i < 5; i++) lent.push(rw.push(chunkOf(i)));
    // Five chunks in flight: five different buffers, each still holding its own chunk.
    expect(new Set(lent.map((b) => b.buffer)).size).toBe(5);
    const flushed = rw.flush();
    const all = Array.from({ length: 5 }, (_, i) => want(i)).join('');
    const intact = () => Buffer.concat([...lent, flushed]).toString();
    expect(intact()).toBe(all);
    // Until a write is done nothing comes back: a new chunk gets a buffer of its own, and the five are untouched.
    const other = new LinkRewriter(pairs).push(chunkOf(9));
    expect(lent.some((b) => b.buffer === other.buffer)).toBe(false);
    expect(intact()).toBe(all);
    // The second chunk's write is done: the next chunk is written into that same memory.
    const done = whenWritten(lent[1]!);
    expect(done).toBeTypeOf('function');
    done!();
    expect(lentWaiting()).toBe(1);
    const again = new LinkRewriter(pairs).push(chunkOf(7));
    expect(again.buffer).toBe(lent[1]!.buffer);
    expect(lentWaiting()).toBe(0);
  });

  it('takes a buffer back once however often its callback runs', () => {
    drain();
    const out = new LinkRewriter(pairs).push(chunkOf(1));
    const done = whenWritten(out)!;
    done();
    done();
    whenWritten(out)!();
    expect(lentWaiting()).toBe(1);
    const rw = new LinkRewriter(pairs);
    const a = rw.push(chunkOf(2));
    const b = rw.push(chunkOf(3));
    expect(a.buffer).toBe(out.buffer);
    expect(b.buffer).not.toBe(a.buffer);
  });

  it('keeps at most LENT_KEPT buffers for reuse', () => {
    drain();
    const rw = new LinkRewriter(pairs);
    const outs = Array.from({ length: LENT_KEPT + 5 }, (_, i) => rw.push(chunkOf(i)));
    for (const o of outs) whenWritten(o)!();
    expect(lentWaiting()).toBe(LENT_KEPT);
    drain();
  });

  it('lends a buffer for a chunk that grows up to LENT_BYTES, not past it, and both come out whole', () => {
    drain();
    // Links that grow by (BASE - ORIGIN) bytes each: sized so that the rewritten chunk lands just under, then just over.
    const link = `${ORIGIN}/x `;
    const grows = BASE.length - ORIGIN.length;
    const fits = Math.floor(LENT_BYTES / (link.length + grows)) - 1;
    for (const [n, lent] of [[fits, true], [fits + 2, false]] as const) {
      const text = link.repeat(n);
      const rw = new LinkRewriter(pairs);
      const out = rw.push(Buffer.from(text));
      expect(text.length, 'the chunk itself fits').toBeLessThan(LENT_BYTES);
      expect(out.length + rw.flush().length > LENT_BYTES, `${n} links`).toBe(!lent);
      expect(whenWritten(out) !== undefined, `${n} links`).toBe(lent);
      expect(out.toString()).toBe(text.split(ORIGIN).join(BASE).slice(0, out.length));
    }
  });

  it('lends nothing when all there is to send is held back', () => {
    drain();
    const rw = new LinkRewriter(pairs);
    rw.push(Buffer.from(`${ORIGIN}/a http:`));
    // A few more bytes that could still begin a link: nothing is sent yet, so nothing is lent.
    const out = rw.push(Buffer.from('//1'));
    expect(out.length).toBe(0);
    expect(whenWritten(out)).toBeUndefined();
    expect(Buffer.concat([out, rw.flush()]).toString()).toBe('/a http://1');
  });

  it('lends nothing for a chunk it hands back as it came, or one too big for its buffers', () => {
    const plain = Buffer.alloc(5_000, 'a');
    const rw = new LinkRewriter(pairs);
    expect(whenWritten(rw.push(plain))).toBeUndefined();
    expect(whenWritten(Buffer.alloc(10))).toBeUndefined();
    const big = Buffer.from(`${ORIGIN}/x `.repeat(Math.ceil(LENT_BYTES / 10)));
    const out = new LinkRewriter(pairs).push(big);
    expect(out.length).toBeGreaterThan(LENT_BYTES);
    expect(whenWritten(out)).toBeUndefined();
    expect(out.toString()).toBe(big.toString().split(ORIGIN).join(BASE).slice(0, out.length));
  });
});
