import { describe, expect, it } from 'vitest';
import { FrontError } from '../../../main/core/front/errors.ts';
import { MAX_RECORD_BYTES, RecordReader } from '../../../main/core/front/records.ts';

/** A fixed-seed generator, so every run reads the same answers. */
function rng(seed: number) {
  return () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 8; };
}

/** A random JSON value whose strings hold every character that could fool a scanner. */
function value(r: () => number, depth = 0): unknown {
  const k = r() % (depth > 3 ? 4 : 6);
  if (k === 0) return r() % 1000 - 500;
  if (k === 1) return ['', ']', ',', '[', '{', '}', '"', '\\', '\\"', 'Анна, "стол" [1]', '\u2028', 'a\\'][r() % 12];
  if (k === 2) return [true, false, null][r() % 3];
  if (k === 3) return 1.5e-3;
  if (k === 4) return Array.from({ length: r() % 4 }, () => value(r, depth + 1));
  return Object.fromEntries(Array.from({ length: r() % 4 }, (_, i) => [`k${i}${['', ']', '"', '\\'][r() % 4]}`, value(r, depth + 1)] as const));
}

const spaces = (r: () => number) => [' ', '', '\n', '\t ', ''][r() % 5]!;

/** Feeds `text` in random pieces; the reader's result, or the error it threw. */
function read(text: string | Buffer, max: number, r: () => number): { text: string; dropped: number; largest: number } | FrontError {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const reader = new RecordReader(max);
  try {
    for (let at = 0; at < buf.length;) {
      const n = 1 + (r() % 40);
      reader.push(buf.subarray(at, at + n));
      at += n;
    }
    return reader.end();
  } catch (e) {
    if (e instanceof FrontError) return e;
    throw e;
  }
}

describe('reading a plugin answer record by record', () => {
  it('gives back the same JSON for any list and any cut into pieces, when no record is too large', () => {
    const r = rng(20261206);
    for (let i = 0; i < 2000; i++) {
      const list = Array.from({ length: r() % 6 }, () => value(r));
      const text = `${spaces(r)}[${spaces(r)}${list.map((v) => `${JSON.stringify(v)}${spaces(r)}`).join(`,${spaces(r)}`)}]${spaces(r)}`;
      const got = read(text, 1_000_000, r);
      expect(got, text).not.toBeInstanceOf(FrontError);
      expect(JSON.parse((got as { text: string }).text), text).toEqual(list);
    }
  });

  it('leaves out exactly the list elements over the limit, whole, and counts them', () => {
    const r = rng(7);
    let droppedAll = 0;
    for (let i = 0; i < 2000; i++) {
      const list = Array.from({ length: 1 + (r() % 6) }, () => value(r));
      const texts = list.map((v) => JSON.stringify(v));
      const max = 1 + (r() % 40);
      const got = read(`[${texts.join(',')}]`, max, r) as { text: string; dropped: number; largest: number };
      const keep = list.filter((_, j) => Buffer.byteLength(texts[j]!) <= max);
      const big = texts.map((t) => Buffer.byteLength(t)).filter((n) => n > max);
      expect(JSON.parse(got.text)).toEqual(keep);
      expect(got.dropped).toBe(big.length);
      expect(got.largest).toBe(big.length ? Math.max(...big) : 0);
      droppedAll += got.dropped;
    }
    expect(droppedAll).toBeGreaterThan(500);
  });

  it('drops a 26 MB order between two small ones without keeping its bytes', () => {
    const small = JSON.stringify({ Id: 'a', Items: [{ Amount: 1 }] });
    const reader = new RecordReader();
    reader.push(Buffer.from(`[${small},{"Id":"huge","Items":[`));
    const item = Buffer.from(`${JSON.stringify({ Id: '00000000-0000-4000-8000-000000000000', Amount: 1, Price: 160, Status: 'Added' })},`);
    const chunk = Buffer.concat(Array.from({ length: 750 }, () => item)); // about 64 KB, as a socket read
    let most = 0;
    for (let i = 0; i < 400; i++) {
      reader.push(chunk);
      most = Math.max(most, (reader as unknown as { size: number; parts: Buffer[] }).parts.reduce((a, p) => a + p.length, 0));
    }
    reader.push(Buffer.from(`{"Amount":1}]},${small}]`));
    const got = reader.end();
    expect(JSON.parse(got.text)).toEqual([JSON.parse(small), JSON.parse(small)]);
    expect(got.dropped).toBe(1);
    expect(got.largest).toBeGreaterThan(25_000_000);
    // What it held of the huge order never passed the limit.
    expect(most).toBeLessThanOrEqual(MAX_RECORD_BYTES);
  });

  it('reads an answer that is one value whole, and refuses it over the limit as it arrives', () => {
    const r = rng(3);
    const one = JSON.stringify({ Id: 'x', Note: 'Анна [1], "a"' });
    expect(read(` ${one}`, 1_000, r)).toEqual({ text: one, dropped: 0, largest: 0 });
    expect(read('"token"', 7, r)).toEqual({ text: '"token"', dropped: 0, largest: 0 });
    const refused = read(one, 10, r);
    expect(refused).toBeInstanceOf(FrontError);
    expect((refused as FrontError).code).toBe('too_large');
    // Not JSON at all (a proxy's HTML page) comes back as it was, for the caller to refuse.
    expect(read('<html>[1,2]</html>', 1_000, r)).toMatchObject({ text: '<html>[1,2]</html>' });
  });

  it('keeps malformed lists malformed, and empty ones empty', () => {
    const r = rng(11);
    for (const bad of ['[1,,2]', '[1,]', '[,]', '[1 2]', '[1]x', '[1}]', '[{"a":1]]', '[1]]']) {
      const got = read(bad, 1_000, r);
      if (got instanceof FrontError) {
        expect(got.code, bad).toBe('bad_response');
      } else {
        expect(() => JSON.parse(got.text), `${bad} -> ${got.text}`).toThrow();
      }
    }
    for (const truncated of ['[', '[1,', '[{"a":"]', '  [ [1]']) {
      const got = read(truncated, 1_000, r);
      expect(got, truncated).toBeInstanceOf(FrontError);
      expect((got as FrontError).code).toBe('bad_response');
    }
    expect(read('[]', 1_000, r)).toEqual({ text: '[]', dropped: 0, largest: 0 });
    expect(read(' [ \n ] ', 1_000, r)).toEqual({ text: '[]', dropped: 0, largest: 0 });
    expect(read('', 1_000, r)).toEqual({ text: '', dropped: 0, largest: 0 });
  });

  it('reads multi-byte characters cut anywhere', () => {
    const list = [{ Name: 'Смирнова Ольга', Table: 'Веранда' }, 'ёлка'];
    const text = Buffer.from(JSON.stringify(list));
    for (let cut = 1; cut < text.length; cut++) {
      const reader = new RecordReader();
      reader.push(text.subarray(0, cut));
      reader.push(text.subarray(cut));
      expect(JSON.parse(reader.end().text)).toEqual(list);
    }
  });
});
