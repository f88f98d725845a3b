import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CloseCode, ControlFrame, FrameError, HeadJson, MAX_CHUNK_BYTES, MAX_CONTROL_FRAME_BYTES, MAX_HEADERS, MAX_PATH_CHARS,
  MAX_REQUEST_TIMEOUT_MS, MAX_STREAM_ID, STREAM_WINDOW_BYTES, decodeFrame, encodeHead,
} from '../../protocol/tunnel.ts';

// The hand-written checks of the hot path (fastControl, fastHead in
// protocol/tunnel.ts) must accept every valid frame up to each bound on their
// own — otherwise the schema silently takes over and the speed is lost — and
// must never accept a frame the schema refuses. The spies tell which of the two
// decided.

const text = (v: unknown) => Buffer.from(JSON.stringify(v));
function refusal(data: Buffer, binary: boolean): FrameError {
  try {
    decodeFrame(data, binary);
  } catch (e) {
    if (e instanceof FrameError) return e;
    throw e;
  }
  throw new Error('frame was accepted');
}
/** A head frame with stream id 3 around raw JSON text and a payload. */
function head(json: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const j = Buffer.from(json);
  const b = Buffer.alloc(9 + j.length + payload.length);
  b[0] = 2;
  b.writeUInt32BE(3, 1);
  b.writeUInt32BE(j.length, 5);
  j.copy(b, 9);
  payload.copy(b, 9 + j.length);
  return b;
}

const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, 'v']));
const longName = 'n'.repeat(256);
const longValue = 'v'.repeat(16 * 1024);
const req = { t: 'req', sid: 1, method: 'GET', path: '/', headers: {}, body: false, timeoutMs: 1000 };
const res = { t: 'res', sid: 1, status: 200, headers: {}, body: false };

/** Valid at the edge of each bound: the hot path alone must accept them. */
const insideControl: Array<Record<string, unknown>> = [
  { t: 'ping', id: 0 }, { t: 'ping', id: Number.MAX_SAFE_INTEGER }, { t: 'pong', id: 0 }, { t: 'pong', id: Number.MAX_SAFE_INTEGER },
  { t: 'end', sid: 1 }, { t: 'end', sid: MAX_STREAM_ID },
  { t: 'window', sid: 1, bytes: 1 }, { t: 'window', sid: MAX_STREAM_ID, bytes: STREAM_WINDOW_BYTES },
  { ...res, status: 100 }, { ...res, status: 599, body: true }, { ...res, sid: MAX_STREAM_ID },
  { ...res, headers: many(MAX_HEADERS) }, { ...res, headers: { [longName]: longValue } }, { ...res, headers: { "!#$%&'*+.^_`|~09AZaz-": '' } },
  { ...req, method: 'G' }, { ...req, method: 'M'.repeat(16) }, { ...req, path: '/'.repeat(MAX_PATH_CHARS) }, { ...req, sid: MAX_STREAM_ID, body: true },
  { ...req, timeoutMs: 1 }, { ...req, timeoutMs: MAX_REQUEST_TIMEOUT_MS }, { ...req, headers: many(MAX_HEADERS) },
  { ...req, headers: { [longName]: longValue, a: '' } },
];

/** Just outside one bound each: refused, and never by the hot path. */
const outsideControl: unknown[] = [
  { t: 'ping', id: -1 }, { t: 'ping', id: 1.5 }, { t: 'ping', id: 2 ** 53 }, { t: 'pong', id: -1 }, { t: 'pong', id: '1' },
  { t: 'end', sid: 0 }, { t: 'end', sid: MAX_STREAM_ID + 1 }, { t: 'end', sid: 1.5 }, { t: 'end', sid: '1' },
  { t: 'window', sid: 1, bytes: 0 }, { t: 'window', sid: 1, bytes: STREAM_WINDOW_BYTES + 1 }, { t: 'window', sid: 0, bytes: 1 },
  { t: 'window', sid: 1, bytes: 1.5 },
  { ...res, status: 99 }, { ...res, status: 600 }, { ...res, status: 200.5 }, { ...res, status: '200' }, { ...res, sid: 0 },
  { ...res, sid: MAX_STREAM_ID + 1 }, { ...res, body: 'yes' }, { ...res, body: undefined },
  { ...res, headers: many(MAX_HEADERS + 1) }, { ...res, headers: { ['n'.repeat(257)]: 'v' } }, { ...res, headers: { 'v': 'v'.repeat(16 * 1024 + 1) } },
  { ...res, headers: { ' ': 'v' } }, { ...res, headers: { '': 'v' } }, { ...res, headers: { 'a b': 'v' } }, { ...res, headers: { a: 1 } },
  { ...res, headers: null }, { ...res, headers: [] }, { ...res, headers: 'a' }, { ...res, headers: undefined },
  { ...req, method: '' }, { ...req, method: 'M'.repeat(17) }, { ...req, method: 1 }, { ...req, path: '' }, { ...req, path: '/'.repeat(MAX_PATH_CHARS + 1) },
  { ...req, path: 1 }, { ...req, timeoutMs: 0 }, { ...req, timeoutMs: MAX_REQUEST_TIMEOUT_MS + 1 }, { ...req, timeoutMs: 1.5 },
  { ...req, sid: 0 }, { ...req, sid: MAX_STREAM_ID + 1 }, { ...req, body: 1 }, { ...req, headers: null }, { ...req, headers: { 'a:b': 'v' } },
  { ...req, headers: many(MAX_HEADERS + 1) }, { ...req, headers: { a: 'v'.repeat(16 * 1024 + 1) } }, { ...req, headers: { ['n'.repeat(257)]: 'v' } },
  [], null, 'ping', 7, { t: 'nothing' },
];

const insideHead: Array<Record<string, unknown>> = [
  { status: 100, headers: {}, end: true }, { status: 599, headers: {}, end: false },
  { status: 200, headers: many(MAX_HEADERS), end: true }, { status: 200, headers: { [longName]: longValue }, end: false },
];
const outsideHead: unknown[] = [
  { status: 99, headers: {}, end: true }, { status: 600, headers: {}, end: true }, { status: 200.5, headers: {}, end: true },
  { status: '200', headers: {}, end: true }, { status: 200, headers: {}, end: 'true' }, { status: 200, headers: {} },
  { status: 200, headers: null, end: true }, { status: 200, headers: [], end: true }, { status: 200, headers: many(MAX_HEADERS + 1), end: true },
  { status: 200, headers: { ['n'.repeat(257)]: 'v' }, end: true }, { status: 200, headers: { a: 'v'.repeat(16 * 1024 + 1) }, end: true },
  { status: 200, headers: { ' ': 'v' }, end: true }, { status: 200, headers: { a: 2 }, end: true },
  [], null, 'head', 3,
];

describe('the hot path of frame validation', () => {
  let control: ReturnType<typeof vi.spyOn>;
  let headJson: ReturnType<typeof vi.spyOn>;
  beforeEach(() => {
    control = vi.spyOn(ControlFrame, 'safeParse');
    headJson = vi.spyOn(HeadJson, 'safeParse');
  });
  afterEach(() => vi.restoreAllMocks());

  it('accepts every control frame at the edge of each bound on its own, giving what the schema would', () => {
    for (const f of insideControl) {
      const expected = ControlFrame.safeParse(f);
      expect(expected.success, JSON.stringify(f).slice(0, 120)).toBe(true);
      control.mockClear();
      expect(decodeFrame(text(f), false), JSON.stringify(f).slice(0, 120)).toEqual(expected.data);
      expect(control, `schema consulted for ${JSON.stringify(f).slice(0, 120)}`).not.toHaveBeenCalled();
    }
  });

  it('refuses every control frame just outside a bound, leaving the refusal and its reason to the schema', () => {
    for (const f of outsideControl) {
      control.mockClear();
      const e = refusal(text(f), false);
      expect(e.closeCode, JSON.stringify(f).slice(0, 120)).toBe(CloseCode.protocolError);
      expect(e.message).toMatch(/^bad '.*' frame: /);
      expect(control, `hot path decided ${JSON.stringify(f).slice(0, 120)}`).toHaveBeenCalledOnce();
    }
  });

  it('names the field of a refused frame by its whole path', () => {
    expect(refusal(text({ ...res, headers: { 'a b': 'v' } }), false).message).toMatch(/^bad 'res' frame: headers\.a b: /);
    expect(refusal(text({ ...req, timeoutMs: 0 }), false).message).toMatch(/^bad 'req' frame: timeoutMs: /);
  });

  it('leaves a header named __proto__ to the schema, which drops it', () => {
    const f = decodeFrame(Buffer.from('{"t":"res","sid":1,"status":200,"headers":{"__proto__":"x","a":"b"},"body":false}'), false);
    expect(control).toHaveBeenCalledOnce();
    expect(f).toEqual({ t: 'res', sid: 1, status: 200, headers: { a: 'b' }, body: false });
    expect(Object.keys((f as { headers: object }).headers)).toEqual(['a']);
    const h = decodeFrame(head('{"status":204,"headers":{"__proto__":"x","a":"b"},"end":true}'), true);
    expect(headJson).toHaveBeenCalledOnce();
    expect(h).toMatchObject({ t: 'head', sid: 3, status: 204, end: true });
    expect(Object.keys((h as { headers: object }).headers)).toEqual(['a']);
  });

  it("accepts a head frame's JSON at the edge of each bound on its own", () => {
    for (const j of insideHead) {
      headJson.mockClear();
      const f = decodeFrame(head(JSON.stringify(j), Buffer.from('b')), true);
      expect(f).toEqual({ t: 'head', sid: 3, ...j, payload: Buffer.from('b') });
      expect(headJson, `schema consulted for ${JSON.stringify(j).slice(0, 120)}`).not.toHaveBeenCalled();
    }
  });

  it("refuses a head frame's JSON just outside a bound, through the schema", () => {
    for (const j of outsideHead) {
      headJson.mockClear();
      const e = refusal(head(JSON.stringify(j)), true);
      expect(e.closeCode, JSON.stringify(j).slice(0, 120)).toBe(CloseCode.protocolError);
      expect(e.message).toMatch(/^bad 'head' frame: /);
      expect(headJson).toHaveBeenCalledOnce();
    }
    expect(refusal(head('{"status":200,"headers":{"a b":"x"},"end":true}'), true).message).toMatch(/^bad 'head' frame: headers\.a b: /);
  });
});

describe('the head frame codec at its edges', () => {
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
    const ok = decodeFrame(head(json(MAX_CONTROL_FRAME_BYTES), Buffer.alloc(MAX_CHUNK_BYTES, 1)), true) as { payload: Buffer };
    expect(ok).toMatchObject({ t: 'head', sid: 3, status: 200, end: true });
    expect(ok.payload.length).toBe(MAX_CHUNK_BYTES);
    const bigJson = refusal(head(json(MAX_CONTROL_FRAME_BYTES + 1)), true);
    expect(bigJson.closeCode).toBe(CloseCode.frameTooLarge);
    expect(bigJson.message).toBe(`head of ${MAX_CONTROL_FRAME_BYTES + 1} bytes over ${MAX_CONTROL_FRAME_BYTES}`);
    const bigBody = refusal(head(json(40), Buffer.alloc(MAX_CHUNK_BYTES + 1)), true);
    expect(bigBody.closeCode).toBe(CloseCode.frameTooLarge);
    expect(bigBody.message).toBe('chunk larger than MAX_CHUNK_BYTES');
  });

  it('reads a header of exactly nine bytes (JSON length 0) and refuses eight', () => {
    const nine = head('');
    expect(nine.length).toBe(9);
    expect(refusal(nine, true).message).toBe('head frame JSON is not JSON');
    const eight = refusal(nine.subarray(0, 8), true);
    expect(eight.closeCode).toBe(CloseCode.protocolError);
    expect(eight.message).toBe('head frame shorter than its header');
  });

  it('takes a head frame of any size as a head frame, not as an oversized data frame', () => {
    // Larger than a data frame may be, yet valid: its JSON and payload are bounded apart.
    const big = head(JSON.stringify({ status: 200, headers: { a: 'x'.repeat(1000) }, end: false }), Buffer.alloc(MAX_CHUNK_BYTES));
    expect(decodeFrame(big, true)).toMatchObject({ t: 'head', sid: 3, end: false });
  });
});
