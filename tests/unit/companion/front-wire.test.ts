import { describe, expect, it } from 'vitest';
import { MAX_HEAD_BYTES, MAX_HEADERS, Parser, type Headers, type Sink, type WireError } from '../../../main/core/front/wire.ts';

/**
 * The plugin client's response parser (wire.ts): every answer reads the same
 * however its bytes are split, and framing that could be read two ways is
 * refused, whatever the split.
 */

interface Seen {
  status?: number;
  headers?: Headers;
  body: string;
  /** 'clean' | 'unclean' once the answer ended. */
  end?: string;
  error?: string;
  keepAlive?: boolean;
  /** Events after the first end or failure (there must be none). */
  late: number;
}

function run(parts: Buffer[], o: { head?: boolean; eof?: boolean } = {}): Seen {
  const seen: Seen = { body: '', late: 0 };
  const over = () => seen.end !== undefined || seen.error !== undefined;
  const sink: Sink = {
    head(status, headers) { if (over()) seen.late++; seen.status = status; seen.headers = headers; },
    data(c) { if (over()) seen.late++; seen.body += c.toString('latin1'); },
    end(clean) { if (over()) seen.late++; seen.end = clean ? 'clean' : 'unclean'; seen.keepAlive = p.keepAlive; },
    fail(e: WireError) { if (over()) seen.late++; seen.error = e.code; },
  };
  const p = new Parser(sink);
  p.start(o.head ?? false);
  for (const part of parts) {
    // As the pool does: a connection whose answer failed or ended uncleanly is closed, never read again.
    if (seen.error !== undefined || seen.end === 'unclean') return seen;
    p.feed(part);
  }
  if (o.eof) p.eof();
  return seen;
}

/** Every way to cut `bytes` into two, and into equal pieces of every size from 1 to its length. */
function splits(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  for (let k = 1; k <= bytes.length; k++) {
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += k) parts.push(bytes.subarray(i, i + k));
    out.push(parts);
  }
  return out;
}

/** The answer fed whole, and the same in every split: all must agree. */
function everySplit(text: string, o: { head?: boolean; eof?: boolean } = {}): Seen {
  const bytes = Buffer.from(text, 'latin1');
  const whole = run([bytes], o);
  for (const parts of splits(bytes)) {
    expect(run(parts, o), `split into ${parts.map((p) => p.length).join('+')}`).toEqual(whole);
  }
  expect(whole.late).toBe(0);
  return whole;
}

describe('wire.ts parser reads an answer the same in every split', () => {
  it('reads a Content-Length body, lower-casing names and joining repeated fields', () => {
    const s = everySplit('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-A: 1\r\nx-a:  2 \r\nContent-Length: 11\r\n\r\n{"a":[1,2]}');
    expect(s).toMatchObject({ status: 200, body: '{"a":[1,2]}', end: 'clean', keepAlive: true });
    expect(s.headers).toEqual({ 'content-type': 'application/json', 'x-a': '1, 2', 'content-length': '11' });
  });

  it('reads chunks with extensions and trailers, handing over the data bytes only', () => {
    const s = everySplit('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;name=value\r\n \r\nA \r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n');
    expect(s).toMatchObject({ status: 200, body: 'hello 0123456789', end: 'clean', keepAlive: true });
  });

  it('skips 100 Continue and other interim heads', () => {
    const s = everySplit('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok');
    expect(s).toMatchObject({ status: 201, body: 'ok', end: 'clean' });
    expect(s.headers).toEqual({ 'content-length': '2' });
  });

  it('has no body for 204, 304 and an answer to HEAD, whatever length they declare', () => {
    expect(everySplit('HTTP/1.1 204 No Content\r\nX: y\r\n\r\n')).toMatchObject({ status: 204, body: '', end: 'clean' });
    expect(everySplit('HTTP/1.1 304 Not Modified\r\nContent-Length: 40\r\n\r\n')).toMatchObject({ status: 304, body: '', end: 'clean' });
    expect(everySplit('HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n', { head: true })).toMatchObject({ status: 200, body: '', end: 'clean' });
    expect(everySplit('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', { head: true })).toMatchObject({ status: 200, body: '', end: 'clean' });
  });

  it('reads an answer with neither length nor chunks to the close, and never reuses its connection', () => {
    const s = everySplit('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>whatever</html>', { eof: true });
    expect(s).toMatchObject({ status: 200, body: '<html>whatever</html>', end: 'unclean', keepAlive: false });
  });

  it('keeps a connection only when the answer allows it', () => {
    expect(everySplit('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ end: 'clean', keepAlive: false });
    expect(everySplit('HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ keepAlive: false });
    expect(everySplit('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ keepAlive: false });
    expect(everySplit('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ keepAlive: true });
  });

  it('takes a field named __proto__ as a plain field, never the prototype', () => {
    const s = everySplit('HTTP/1.1 200 OK\r\n__proto__: x\r\nContent-Length: 0\r\n\r\n');
    expect(Object.getPrototypeOf(s.headers)).toBe(Object.prototype);
    expect(Object.entries(s.headers!)).toEqual([['__proto__', 'x'], ['content-length', '0']]);
  });

  it('says a connection cannot carry another request when bytes follow the answer, in the same read or a later one', () => {
    for (const text of ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n', 'HTTP/1.1 204 No Content\r\n\r\nX']) {
      const bytes = Buffer.from(text, 'latin1');
      for (const parts of [[bytes], ...splits(bytes)]) {
        const s = run(parts);
        const at = `split into ${parts.map((p) => p.length).join('+')}`;
        expect(s.body, at).toBe(text.includes('204') ? '' : 'ok');
        // In the answer's own read: an unclean end (the pool drops the connection);
        // in a later one: bytes when no answer is due, refused.
        if (s.end === 'unclean') expect(s.error, at).toBeUndefined();
        else expect([s.end, s.error], at).toEqual(['clean', 'HPE_INVALID_CONSTANT']);
      }
    }
  });

  it('fails an answer cut short by the close, and stays silent when nothing came (the pool may retry)', () => {
    expect(everySplit('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf', { eof: true })).toMatchObject({ status: 200, body: 'half', error: 'ECONNRESET' });
    expect(everySplit('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel', { eof: true })).toMatchObject({ error: 'ECONNRESET' });
    // Inside the head the parser says nothing: the pool fails the call as the connection closes.
    expect(everySplit('HTTP/1.1 200 OK\r\nContent-Le', { eof: true })).toEqual({ body: '', late: 0 });
    expect(run([], { eof: true })).toEqual({ body: '', late: 0 });
  });
});

describe('wire.ts parser refuses framing that could be read two ways, in every split', () => {
  const refused: Array<[string, string, string]> = [
    ['both Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
    ['Transfer-Encoding before Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
    ['a repeated Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok', 'HPE_INVALID_CONTENT_LENGTH'],
    ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2a\r\n\r\nok', 'HPE_INVALID_CONTENT_LENGTH'],
    ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
    ['a Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok', 'HPE_INVALID_CONTENT_LENGTH'],
    ['an empty Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
    ['a Content-Length past 2^53', 'HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
    ['a coding other than chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx', 'HPE_INVALID_TRANSFER_ENCODING'],
    ['chunked not last', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING'],
    ['chunked twice', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING'],
    ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['a 0x chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['an empty chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['a signed chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['a chunk size past 2^52', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['a chunk size line ended by a bare LF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n', 'HPE_LF_EXPECTED'],
    ['a chunk longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n', 'HPE_STRICT'],
    ['a chunk ended by a byte other than CR', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\n\n0\r\n\r\n', 'HPE_STRICT'],
    ['a chunk ended by LF alone', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\n0\r\n\r\n', 'HPE_STRICT'],
    ['a bad trailer', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n continued\r\nContent-Length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
    ['obs-fold by tab', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n\tContent-Length: 5\r\nContent-Length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello', 'HPE_INVALID_HEADER_TOKEN'],
    ['a field without a colon', 'HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\nhello', 'HPE_INVALID_HEADER_TOKEN'],
    ['a bare LF inside the head', 'HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 5\r\n\r\nhello', 'HPE_INVALID_HEADER_TOKEN'],
    ['a bare CR inside a value', 'HTTP/1.1 200 OK\r\nX-A: 1\rContent-Length: 5\r\n\r\nhello', 'HPE_INVALID_HEADER_TOKEN'],
    ['a NUL inside a value', 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
    ['a bad status line', 'HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n', 'HPE_INVALID_CONSTANT'],
    ['another protocol', 'ICY 200 OK\r\nContent-Length: 0\r\n\r\n', 'HPE_INVALID_CONSTANT'],
    ['HTTP/2 in an HTTP/1 head', 'HTTP/2 200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT'],
    ['a status line with a bare LF', 'HTTP/1.1 200 O\nK\r\n\r\n', 'HPE_INVALID_CONSTANT'],
    ['101 never asked for', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', 'HPE_INVALID_CONSTANT'],
  ];
  for (const [what, text, code] of refused) {
    it(`refuses ${what}`, () => {
      const s = everySplit(text);
      expect(s.error).toBe(code);
      expect(s.end).toBeUndefined();
    });
  }

  it(`refuses a head over ${MAX_HEAD_BYTES} bytes, found or not`, () => {
    const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
    expect(run([Buffer.from(big)]).error).toBe('HPE_HEADER_OVERFLOW');
    // Never ended: refused once past the bound, not held forever.
    const parts = Array.from({ length: 40 }, () => Buffer.from('X-A: '.padEnd(1000, 'b') + '\r\n'));
    expect(run([Buffer.from('HTTP/1.1 200 OK\r\n'), ...parts]).error).toBe('HPE_HEADER_OVERFLOW');
    // Just under the bound is read.
    const fits = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES - 50)}\r\nContent-Length: 0\r\n\r\n`;
    expect(run([Buffer.from(fits)])).toMatchObject({ status: 200, end: 'clean' });
  });

  it(`refuses more than ${MAX_HEADERS} header fields`, () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
    expect(run([Buffer.from(`HTTP/1.1 200 OK\r\n${fields(MAX_HEADERS + 1)}\r\n`)]).error).toBe('HPE_HEADER_OVERFLOW');
    expect(run([Buffer.from(`HTTP/1.1 200 OK\r\n${fields(MAX_HEADERS - 1)}Content-Length: 0\r\n\r\n`)])).toMatchObject({ status: 200, end: 'clean' });
  });

  it('refuses an endless chunk size line or trailer section', () => {
    const line = Buffer.from(`1${';x'.repeat(600)}`);
    expect(run([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), line, line]).error).toBe('HPE_HEADER_OVERFLOW');
    const trailer = Buffer.from(`X-T: ${'t'.repeat(1000)}\r\n`);
    const trailers = Array.from({ length: 20 }, () => trailer);
    expect(run([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n'), ...trailers]).error).toBe('HPE_HEADER_OVERFLOW');
  });

  it('takes no byte at all when no answer is due', () => {
    let failed = '';
    const p = new Parser({ head: () => undefined, data: () => undefined, end: () => undefined, fail: (e) => { failed = e.code; } });
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
    expect(failed).toBe('HPE_INVALID_CONSTANT');
  });
});
