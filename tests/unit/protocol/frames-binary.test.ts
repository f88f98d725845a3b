import { describe, expect, it } from 'vitest';
import {
  BinaryType, CloseCode, ControlFrame, FrameError, MAX_CANCEL_REASON_CHARS, MAX_CHUNK_BYTES, MAX_CONTROL_FRAME_BYTES,
  MAX_FRAME_HEADER_VALUE_CHARS, MAX_HEADER_NAME_CHARS, MAX_HEADERS, MAX_METHOD_CHARS, MAX_PATH_CHARS, MAX_REQUEST_TIMEOUT_MS,
  MAX_STREAM_ID, MAX_STREAM_WINDOW_BYTES, STREAM_WINDOW_BYTES, TUNNEL_REVISION, decodeFrame, encodeFrame, encodeHead, type ExchangeFrame,
} from '../../../protocol/tunnel.ts';

// Revision 3 sends the frames of every exchange in binary form. Each must
// decode to exactly the frame its JSON form decodes to, every bound must hold
// just inside and be refused just outside (by the decoder, and already by the
// encoder, so a sender never emits what its peer refuses), and no byte string
// may make the decoder throw anything but a FrameError.

function refusal(data: Buffer, rev = TUNNEL_REVISION): FrameError {
  try {
    decodeFrame(data, true, rev);
  } catch (e) {
    if (e instanceof FrameError) return e;
    throw e;
  }
  throw new Error('frame was accepted');
}
function encodeRefusal(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FrameError) return e;
    throw e;
  }
  throw new Error('frame was encoded');
}
const bin = (f: ExchangeFrame) => encodeFrame(f, 3) as Buffer;
/** What the JSON form of `f` decodes to (the zod schema's output). */
const viaJson = (f: ExchangeFrame) => decodeFrame(Buffer.from(encodeFrame(f, 2) as string), false);
const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, 'v']));
const req = (more: Partial<Extract<ExchangeFrame, { t: 'req' }>> = {}): ExchangeFrame =>
  ({ t: 'req', sid: 1, method: 'GET', path: '/api/orders', headers: {}, body: false, timeoutMs: 15_000, ...more });
const head = (more: Partial<{ status: number; headers: Record<string, string>; end: boolean }> = {}) =>
  ({ status: 200, headers: {}, end: true, ...more });

describe('revision 3 binary frames', () => {
  it('decode to exactly the frame their JSON form decodes to', () => {
    const frames: ExchangeFrame[] = [
      req(), req({ sid: MAX_STREAM_ID, method: 'PROPFIND', path: '/api/orders?$filter=Revision%20gt%205&x=й', body: true, timeoutMs: 1 }),
      req({ headers: { accept: 'application/json', 'x-evva': 'значение', empty: '' }, timeoutMs: MAX_REQUEST_TIMEOUT_MS }),
      { t: 'end', sid: 3 }, { t: 'window', sid: 5, bytes: 1 }, { t: 'window', sid: MAX_STREAM_ID, bytes: STREAM_WINDOW_BYTES },
      { t: 'cancel', sid: 7 }, { t: 'cancel', sid: 7, reason: 'caller disconnected' }, { t: 'cancel', sid: 7, reason: 'ё'.repeat(MAX_CANCEL_REASON_CHARS) },
      { t: 'ping', id: 0 }, { t: 'ping', id: 0xffff_ffff }, { t: 'pong', id: 42 },
    ];
    for (const f of frames) {
      const expected = viaJson(f);
      expect(decodeFrame(bin(f), true), JSON.stringify(f).slice(0, 100)).toEqual(expected);
    }
  });

  it('are a fraction of the JSON form for a small GET', () => {
    const f = req({ headers: { accept: 'application/json', 'accept-encoding': 'gzip' } });
    expect(bin(f).length).toBeLessThan(Buffer.byteLength(encodeFrame(f, 2) as string) * 0.7);
    expect(bin({ t: 'window', sid: 1, bytes: 65536 })).toHaveLength(9);
    expect([...bin({ t: 'end', sid: 0x01020304 })]).toEqual([BinaryType.end, 1, 2, 3, 4]);
    expect([...bin({ t: 'ping', id: 258 })]).toEqual([BinaryType.ping, 0, 0, 1, 2]);
  });

  it('send a response head as one frame: status, end, headers and the first body bytes', () => {
    const payload = Buffer.from('{"ok":true}');
    const f = decodeFrame(encodeHead(9, head({ status: 201, headers: { 'content-type': 'application/json', 'x-a': 'б' }, end: false }), payload, 3), true);
    expect(f).toEqual({ t: 'head', sid: 9, status: 201, headers: { 'content-type': 'application/json', 'x-a': 'б' }, end: false, payload });
    expect(encodeHead(9, head(), payload, 3)[0]).toBe(BinaryType.res);
    expect(encodeHead(9, head(), payload)[0]).toBe(BinaryType.head);
    const full = Buffer.alloc(MAX_CHUNK_BYTES, 7);
    expect((decodeFrame(encodeHead(1, head({ status: 100 }), full, 3), true) as { payload: Buffer }).payload.equals(full)).toBe(true);
    expect(decodeFrame(encodeHead(1, head({ status: 599 }), Buffer.alloc(0), 3), true)).toMatchObject({ status: 599, end: true, payload: Buffer.alloc(0) });
    expect(encodeRefusal(() => encodeHead(1, head(), Buffer.alloc(MAX_CHUNK_BYTES + 1), 3)).closeCode).toBe(CloseCode.frameTooLarge);
  });

  it('carry every header the limits allow, and refuse one beyond them at both ends', () => {
    const longName = 'n'.repeat(MAX_HEADER_NAME_CHARS);
    const longValue = 'v'.repeat(MAX_FRAME_HEADER_VALUE_CHARS);
    for (const headers of [many(MAX_HEADERS), { [longName]: longValue }, { "!#$%&'*+.^_`|~09AZaz-": '' }, { a: 'ж'.repeat(MAX_FRAME_HEADER_VALUE_CHARS) }]) {
      expect(decodeFrame(bin(req({ headers })), true)).toEqual(viaJson(req({ headers })));
      expect(decodeFrame(encodeHead(1, head({ headers }), Buffer.alloc(0), 3), true)).toMatchObject({ headers });
    }
    const bad: Array<[Record<string, string>, RegExp]> = [
      [many(MAX_HEADERS + 1), /too many headers/], [{ ['n'.repeat(MAX_HEADER_NAME_CHARS + 1)]: 'v' }, /bad header name/],
      [{ 'a b': 'v' }, /bad header name/], [{ '': 'v' }, /bad header name/], [{ 'й': 'v' }, /bad header name/],
      [{ a: 'v'.repeat(MAX_FRAME_HEADER_VALUE_CHARS + 1) }, /header a too long/],
    ];
    for (const [headers, reason] of bad) {
      expect(ControlFrame.safeParse({ ...req({ headers }), t: 'req' }).success).toBe(false);
      const e = encodeRefusal(() => bin(req({ headers })));
      expect(e.closeCode).toBe(CloseCode.protocolError);
      expect(e.message).toMatch(reason);
      expect(encodeRefusal(() => encodeHead(1, head({ headers }), Buffer.alloc(0), 3)).message).toMatch(reason);
    }
  });

  it('refuse each field just outside its bound, on the wire', () => {
    /** A valid req frame of one header `h: v`, patched at `at` with `bytes`. */
    const patched = (f: ExchangeFrame, at: number, bytes: number[]) => { const b = Buffer.from(bin(f)); b.set(bytes, at); return b; };
    const r = req({ headers: { h: 'v' } });
    const cases: Array<[Buffer, RegExp]> = [
      [patched(r, 1, [0, 0, 0, 0]), /^stream id 0$/],
      [patched(r, 5, [0, 0, 0, 0]), /^bad 'req' frame: timeoutMs 0$/],
      [patched(r, 5, [0, 1, 0xd4, 0xc1]), new RegExp(`^bad 'req' frame: timeoutMs ${MAX_REQUEST_TIMEOUT_MS + 1}$`)],
      [patched(r, 9, [2]), /^bad 'req' frame: flags 2$/],
      [patched(r, 10, [0]), /^bad 'req' frame: method$/],
      // The header count byte (after "GET" and the path) raised above MAX_HEADERS.
      [patched(r, 11 + 3 + 2 + '/api/orders'.length, [MAX_HEADERS + 1]), new RegExp(`^bad 'req' frame: ${MAX_HEADERS + 1} headers$`)],
      [patched(r, 11 + 3 + 2 + '/api/orders'.length + 1 + 2, [' '.charCodeAt(0)]), /^bad 'req' frame: header name$/],
      [patched(r, 11 + 3 + 2 + '/api/orders'.length + 1, [0, 0]), /^bad 'req' frame: header name$/],
      [Buffer.concat([bin(r), Buffer.from([0])]), /^bad 'req' frame: bytes after its headers$/],
      [patched({ t: 'window', sid: 1, bytes: 1 }, 5, [0, 0, 0, 0]), /^window of 0 bytes$/],
      [patched({ t: 'window', sid: 1, bytes: 1 }, 5, [0, 0x10, 0, 1]), new RegExp(`^window of ${MAX_STREAM_WINDOW_BYTES + 1} bytes$`)],
      [Buffer.concat([bin({ t: 'end', sid: 1 }), Buffer.from([0])]), /^'end' frame of 6 bytes, not 5$/],
      [Buffer.concat([bin({ t: 'window', sid: 1, bytes: 1 }), Buffer.from([0])]), /^'window' frame of 10 bytes, not 9$/],
      [Buffer.concat([bin({ t: 'ping', id: 1 }), Buffer.from([0])]), /^'ping' frame of 6 bytes, not 5$/],
      [Buffer.concat([bin({ t: 'pong', id: 1 }), Buffer.from([0])]), /^'pong' frame of 6 bytes, not 5$/],
      [Buffer.concat([bin({ t: 'cancel', sid: 1 }), Buffer.from('x'.repeat(MAX_CANCEL_REASON_CHARS + 1))]), /^cancel reason too long$/],
      [Buffer.concat([bin({ t: 'cancel', sid: 1 }), Buffer.from('x'.repeat(3 * MAX_CANCEL_REASON_CHARS + 1))]), /^cancel reason too long$/],
      [patched({ t: 'end', sid: 1 }, 1, [0, 0, 0, 0]), /^stream id 0$/],
    ];
    for (const [buf, reason] of cases) {
      const e = refusal(buf);
      expect(e.closeCode, String(reason)).toBe(CloseCode.protocolError);
      expect(e.message).toMatch(reason);
    }
    const res = (status: number, flags = 1) => { const b = Buffer.from(encodeHead(1, head(), Buffer.alloc(0), 3)); b.writeUInt16BE(status, 5); b[7] = flags; return b; };
    expect(refusal(res(99)).message).toBe("bad 'res' frame: status 99");
    expect(refusal(res(600)).message).toBe("bad 'res' frame: status 600");
    expect(refusal(res(200, 2)).message).toBe("bad 'res' frame: flags 2");
    expect(decodeFrame(res(100, 0), true)).toMatchObject({ status: 100, end: false });
    // A heartbeat id may be 0 (the JSON form allows it too); a stream id may not.
    expect(decodeFrame(bin({ t: 'pong', id: 0 }), true)).toEqual({ t: 'pong', id: 0 });
  });

  it('grant a stream at most 256 KiB on a revision-3 link, and up to 1 MiB from revision 4 (a window that grows)', () => {
    /** A window frame whose bytes field says `bytes` (written past the encoder's check). */
    const windowOf = (bytes: number) => { const b = Buffer.from(bin({ t: 'window', sid: 1, bytes: 1 })); b.writeUInt32BE(bytes, 5); return b; };
    const over256k = windowOf(STREAM_WINDOW_BYTES + 1);
    expect(refusal(over256k, 3).message).toBe(`window of ${STREAM_WINDOW_BYTES + 1} bytes`);
    expect(decodeFrame(over256k, true, 4)).toEqual({ t: 'window', sid: 1, bytes: STREAM_WINDOW_BYTES + 1 });
    expect(decodeFrame(encodeFrame({ t: 'window', sid: 1, bytes: MAX_STREAM_WINDOW_BYTES }, 4) as Buffer, true, 4))
      .toEqual({ t: 'window', sid: 1, bytes: MAX_STREAM_WINDOW_BYTES });
    expect(refusal(windowOf(MAX_STREAM_WINDOW_BYTES + 1), 4).message).toBe(`window of ${MAX_STREAM_WINDOW_BYTES + 1} bytes`);
    // The encoder refuses what the link's peer would refuse.
    expect(encodeRefusal(() => encodeFrame({ t: 'window', sid: 1, bytes: STREAM_WINDOW_BYTES + 1 }, 3)).message).toMatch(/window of/);
    expect(encodeRefusal(() => encodeFrame({ t: 'window', sid: 1, bytes: MAX_STREAM_WINDOW_BYTES + 1 }, 4)).message).toMatch(/window of/);
  });

  it('refuse fields the encoder is handed out of bounds, instead of writing a frame the peer refuses', () => {
    const cases: Array<[ExchangeFrame, RegExp]> = [
      [req({ sid: 0 }), /stream id 0/], [req({ sid: MAX_STREAM_ID + 1 }), /stream id/], [req({ timeoutMs: 0 }), /timeout 0/],
      [req({ timeoutMs: MAX_REQUEST_TIMEOUT_MS + 1 }), /timeout/], [req({ method: '' }), /bad method/],
      [req({ method: 'M'.repeat(MAX_METHOD_CHARS + 1) }), /bad method/], [req({ path: '' }), /bad path/],
      [req({ path: '/'.repeat(MAX_PATH_CHARS + 1) }), /bad path/], [{ t: 'window', sid: 1, bytes: 0 }, /window of 0/],
      [{ t: 'window', sid: 1, bytes: STREAM_WINDOW_BYTES + 1 }, /window of/], [{ t: 'end', sid: 0 }, /stream id 0/],
    ];
    for (const [f, reason] of cases) expect(encodeRefusal(() => bin(f)).message, String(reason)).toMatch(reason);
    expect(encodeRefusal(() => encodeHead(1, head({ status: 99 }), Buffer.alloc(0), 3)).message).toBe('status 99');
    expect(encodeRefusal(() => encodeHead(1, head({ status: 600 }), Buffer.alloc(0), 3)).message).toBe('status 600');
    // At the bounds themselves they are written.
    for (const f of [req({ method: 'M'.repeat(MAX_METHOD_CHARS), path: '/'.repeat(MAX_PATH_CHARS) }), req({ method: 'G', path: '/' })]) {
      expect(decodeFrame(bin(f), true)).toEqual(viaJson(f));
    }
    // A cancel reason is cut to what the frame may carry rather than refused.
    const long = decodeFrame(bin({ t: 'cancel', sid: 1, reason: 'ы'.repeat(MAX_CANCEL_REASON_CHARS + 50) }), true) as { reason: string };
    expect(long.reason).toHaveLength(MAX_CANCEL_REASON_CHARS);
  });

  it('bound the head of a req or res frame like a JSON control frame', () => {
    const x = 'x'.repeat(MAX_FRAME_HEADER_VALUE_CHARS);
    /** Headers that make a req frame (or a res head) exactly `n` bytes long. */
    const sized = (n: number, encode: (h: Record<string, string>) => Buffer) => {
      const base = encode({ a: x, b: x, c: x, d: '' }).length;
      return { a: x, b: x, c: x, d: 'd'.repeat(n - base) };
    };
    const reqOf = (headers: Record<string, string>) => bin(req({ headers }));
    const resOf = (headers: Record<string, string>) => encodeHead(1, head({ headers }), Buffer.alloc(0), 3);
    expect(reqOf(sized(MAX_CONTROL_FRAME_BYTES, reqOf))).toHaveLength(MAX_CONTROL_FRAME_BYTES);
    expect(decodeFrame(reqOf(sized(MAX_CONTROL_FRAME_BYTES, reqOf)), true)).toMatchObject({ t: 'req' });
    const e = encodeRefusal(() => reqOf(sized(MAX_CONTROL_FRAME_BYTES + 1, reqOf)));
    expect(e.closeCode).toBe(CloseCode.frameTooLarge);
    expect(e.message).toBe("control frame 'req' too large");
    // A res head may reach the bound and still carry a full chunk after it.
    const full = encodeHead(1, head({ headers: sized(MAX_CONTROL_FRAME_BYTES, resOf) }), Buffer.alloc(MAX_CHUNK_BYTES, 1), 3);
    expect(decodeFrame(full, true)).toMatchObject({ t: 'head', end: true });
    expect(encodeRefusal(() => resOf(sized(MAX_CONTROL_FRAME_BYTES + 1, resOf))).message).toBe("control frame 'res' too large");
    // On the wire: a req frame over the bound is refused before it is read; so is a res head one byte over it.
    const wire = Buffer.alloc(MAX_CONTROL_FRAME_BYTES + 1);
    wire[0] = BinaryType.req;
    wire.writeUInt32BE(1, 1);
    expect(refusal(wire).closeCode).toBe(CloseCode.frameTooLarge);
    const over = Buffer.from(resOf(sized(MAX_CONTROL_FRAME_BYTES, resOf)));
    const longer = Buffer.concat([over.subarray(0, over.length), Buffer.from('d')]);
    // The last header's value length (2 bytes before the value) grows by one with it.
    const at = over.length - (MAX_CONTROL_FRAME_BYTES - resOf({ a: x, b: x, c: x, d: '' }).length) - 2;
    longer.writeUInt16BE(longer.readUInt16BE(at) + 1, at);
    const big = refusal(longer);
    expect(big.closeCode).toBe(CloseCode.frameTooLarge);
    expect(big.message).toBe(`res head of ${MAX_CONTROL_FRAME_BYTES + 1} bytes over ${MAX_CONTROL_FRAME_BYTES}`);
  });

  it('drop a header named __proto__ as the JSON schema does, without touching the prototype', () => {
    const f = decodeFrame(bin(req({ headers: JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string> })), true) as { headers: object };
    expect(f.headers).toEqual({ a: 'b' });
    expect(Object.getPrototypeOf(f.headers)).toBe(Object.prototype);
    expect(decodeFrame(Buffer.from('{"t":"res","sid":1,"status":200,"headers":{"__proto__":"x","a":"b"},"body":false}'), false))
      .toEqual({ t: 'res', sid: 1, status: 200, headers: { a: 'b' }, body: false });
  });

  it('are refused on a link of an earlier revision, by name', () => {
    const frames: Array<[Buffer, string]> = [
      [bin(req()), 'req'], [encodeHead(1, head(), Buffer.alloc(0), 3), 'res'], [bin({ t: 'end', sid: 1 }), 'end'],
      [bin({ t: 'window', sid: 1, bytes: 1 }), 'window'], [bin({ t: 'cancel', sid: 1 }), 'cancel'], [bin({ t: 'ping', id: 1 }), 'ping'], [bin({ t: 'pong', id: 1 }), 'pong'],
    ];
    for (const [buf, name] of frames) {
      expect(refusal(buf, 2).message).toBe(`'${name}' frame on a revision 2 link`);
      expect(decodeFrame(buf, true, 3).t).toBe(name === 'res' ? 'head' : name);
    }
    expect(refusal(encodeHead(1, head(), Buffer.alloc(0)), 1).message).toBe("'head' frame on a revision 1 link");
    expect(decodeFrame(encodeHead(1, head(), Buffer.alloc(0)), true, 2)).toMatchObject({ t: 'head' });
    expect(decodeFrame(encodeHead(1, head(), Buffer.alloc(0)), true, 3)).toMatchObject({ t: 'head' });
    // Revision 1 and 2 peers get the JSON forms, and a revision-3 link still reads them.
    for (const rev of [1, 2]) expect(typeof encodeFrame({ t: 'ping', id: 1 }, rev)).toBe('string');
    expect(decodeFrame(Buffer.from('{"t":"window","sid":1,"bytes":5}'), false, 3)).toEqual({ t: 'window', sid: 1, bytes: 5 });
  });

  it('never make the decoder throw anything but a FrameError: every prefix, and random bytes', () => {
    const frames = [
      bin(req({ headers: { accept: 'application/json', 'x-long': 'я'.repeat(40) }, body: true })),
      encodeHead(3, head({ headers: { 'content-type': 'text/plain', 'content-length': '2' } }), Buffer.from('ok'), 3),
      bin({ t: 'cancel', sid: 1, reason: 'тайм-аут' }), bin({ t: 'window', sid: 1, bytes: 7 }),
    ];
    let decoded = 0;
    const tryDecode = (b: Buffer) => {
      try {
        decodeFrame(b, true);
        decoded++;
      } catch (e) {
        expect(e, `${b.toString('hex').slice(0, 80)}`).toBeInstanceOf(FrameError);
      }
    };
    for (const f of frames) for (let n = 0; n <= f.length; n++) tryDecode(f.subarray(0, n));
    // A fixed-seed generator: the same 20 000 byte strings each run.
    let seed = 20261128;
    const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 8; };
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.alloc(1 + (rnd() % 48));
      for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
      b[0] = 1 + (rnd() % 9);
      if (b.length > 11 && b[0] === BinaryType.req) b[10] = rnd() % 4;
      tryDecode(b);
    }
    expect(decoded).toBeGreaterThan(0);
  });
});

/** A revision-2 head frame with stream id 3 around raw JSON text and a payload. */
function jsonHead(json: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const j = Buffer.from(json);
  const b = Buffer.alloc(9 + j.length + payload.length);
  b[0] = BinaryType.head;
  b.writeUInt32BE(3, 1);
  b.writeUInt32BE(j.length, 5);
  j.copy(b, 9);
  payload.copy(b, 9 + j.length);
  return b;
}

describe('the revision-2 head frame (JSON head) at its edges', () => {
  it('encodes a payload of exactly one chunk, and refuses one byte more', () => {
    const full = Buffer.alloc(MAX_CHUNK_BYTES, 7);
    const f = decodeFrame(encodeHead(9, { status: 200, headers: {}, end: true }, full), true);
    expect(f).toMatchObject({ t: 'head', sid: 9, status: 200, end: true });
    expect((f as { payload: Buffer }).payload.equals(full)).toBe(true);
    let e: unknown;
    try { encodeHead(9, { status: 200, headers: {}, end: true }, Buffer.alloc(MAX_CHUNK_BYTES + 1)); } catch (x) { e = x; }
    expect(e).toBeInstanceOf(FrameError);
    expect((e as FrameError).closeCode).toBe(CloseCode.frameTooLarge);
    expect((e as FrameError).message).toBe('chunk too large');
  });

  it('encodes head JSON of exactly the control-frame limit, and refuses one byte more', () => {
    // Five headers, since one value may carry at most 16 KiB.
    const base = JSON.stringify({ status: 200, headers: { a: '', b: '', c: '', d: '', e: '' }, end: true }).length;
    const sized = (n: number) => {
      const x = 'x'.repeat(16_000);
      return { status: 200, headers: { a: x, b: x, c: x, d: x, e: 'x'.repeat(n - base - 4 * 16_000) }, end: true };
    };
    const f = decodeFrame(encodeHead(1, sized(MAX_CONTROL_FRAME_BYTES), Buffer.alloc(0)), true) as { headers: Record<string, string> };
    expect(f.headers.e).toHaveLength(MAX_CONTROL_FRAME_BYTES - base - 4 * 16_000);
    let e: unknown;
    try { encodeHead(1, sized(MAX_CONTROL_FRAME_BYTES + 1), Buffer.alloc(0)); } catch (x) { e = x; }
    expect(e).toBeInstanceOf(FrameError);
    expect((e as FrameError).closeCode).toBe(CloseCode.frameTooLarge);
    expect((e as FrameError).message).toBe("control frame 'head' too large");
  });

  it('decodes JSON of exactly the limit and a payload of exactly one chunk; one byte more of either is too large', () => {
    const json = (n: number) => { const s = '{"status":200,"headers":{},"end":true}'; return s + ' '.repeat(n - s.length); };
    const ok = decodeFrame(jsonHead(json(MAX_CONTROL_FRAME_BYTES), Buffer.alloc(MAX_CHUNK_BYTES, 1)), true) as { payload: Buffer };
    expect(ok).toMatchObject({ t: 'head', sid: 3, status: 200, end: true });
    expect(ok.payload.length).toBe(MAX_CHUNK_BYTES);
    const bigJson = refusal(jsonHead(json(MAX_CONTROL_FRAME_BYTES + 1)));
    expect(bigJson.closeCode).toBe(CloseCode.frameTooLarge);
    expect(bigJson.message).toBe(`head of ${MAX_CONTROL_FRAME_BYTES + 1} bytes over ${MAX_CONTROL_FRAME_BYTES}`);
    const bigBody = refusal(jsonHead(json(40), Buffer.alloc(MAX_CHUNK_BYTES + 1)));
    expect(bigBody.closeCode).toBe(CloseCode.frameTooLarge);
    expect(bigBody.message).toBe('chunk larger than MAX_CHUNK_BYTES');
  });

  it('reads a header of exactly nine bytes (JSON length 0) and refuses eight', () => {
    const nine = jsonHead('');
    expect(nine.length).toBe(9);
    expect(refusal(nine).message).toBe('head frame JSON is not JSON');
    const eight = refusal(nine.subarray(0, 8));
    expect(eight.closeCode).toBe(CloseCode.protocolError);
    expect(eight.message).toBe('head frame shorter than its header');
  });

  it('takes a head frame of any size as a head frame, not as an oversized data frame', () => {
    // Larger than a data frame may be, yet valid: its JSON and payload are bounded apart.
    const big = jsonHead(JSON.stringify({ status: 200, headers: { a: 'x'.repeat(1000) }, end: false }), Buffer.alloc(MAX_CHUNK_BYTES));
    expect(decodeFrame(big, true)).toMatchObject({ t: 'head', sid: 3, end: false });
  });
});
