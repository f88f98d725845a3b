/**
 * The wire contract of evva-tunnel.1 at its edges: every limit a frame field
 * has, just inside (accepted) and just outside (refused with a protocol error
 * naming the frame and the field), and the protocol's numbers as
 * docs/protocol.md states them. A peer built to the document must agree with
 * this codec byte for byte, so these values are pinned, not read back.
 */
import { describe, expect, it } from 'vitest';
import {
  CloseCode, DATA_HEADER_BYTES, DEAD_AFTER_MS, DEFAULT_REQUEST_TIMEOUT_MS, FrameError, GOAWAY_DRAIN_MS, HEARTBEAT_CHECK_MS,
  HELLO_TIMEOUT_MS, HOP_BY_HOP, MAX_CHUNK_BYTES, MAX_CONTROL_FRAME_BYTES, MAX_FRAME_BYTES, MAX_HEADER_BYTES, MAX_HEADER_VALUE_CHARS,
  MAX_HEADERS, MAX_PATH_CHARS, MAX_REQUEST_TIMEOUT_MS, MAX_STREAM_ID, MAX_STREAMS_PER_LINK, PING_INTERVAL_MS, STREAM_WINDOW_BYTES,
  TUNNEL_PATH, TUNNEL_PROTOCOL, WS_MAX_PAYLOAD_BYTES, decodeFrame, encodeControl, encodeData, forwardableHeaders,
} from '../../../protocol/tunnel.ts';
import { Heartbeat, SendCredit } from '../../../common/mux.ts';

const decode = (f: unknown) => decodeFrame(Buffer.from(JSON.stringify(f)), false);
function refusal(f: unknown): FrameError {
  try {
    decode(f);
  } catch (e) {
    if (e instanceof FrameError) return e;
    throw e;
  }
  throw new Error(`accepted: ${JSON.stringify(f).slice(0, 120)}`);
}

const front = { state: 'up', url: 'http://127.0.0.1:9042', latencyMs: 3, checkedAt: null, since: null, source: 'settings' };
const base = {
  hello: { t: 'hello', v: TUNNEL_PROTOCOL, companion: { version: '1', hostname: 'pos' }, frontOrigin: 'http://127.0.0.1:9042' },
  welcome: { t: 'welcome', v: TUNNEL_PROTOCOL, venueId: 'ven_x', linkId: 'l1' },
  ping: { t: 'ping', id: 0 },
  pong: { t: 'pong', id: 0 },
  req: { t: 'req', sid: 1, method: 'GET', path: '/', headers: {}, body: false, timeoutMs: 1000 },
  res: { t: 'res', sid: 1, status: 200, headers: {}, body: false },
  end: { t: 'end', sid: 1 },
  window: { t: 'window', sid: 1, bytes: 1 },
  cancel: { t: 'cancel', sid: 1, reason: 'x' },
  error: { t: 'error', sid: 1, code: 'timeout', message: 'x' },
  goaway: { t: 'goaway', reason: 'drain', drainMs: 0 },
  status: { t: 'status', front, frontOrigin: null },
  cmd: { t: 'cmd', id: 'c', name: 'n' },
  cmd_result: { t: 'cmd_result', id: 'c', ok: true },
  event: { t: 'event', eventId: 'e', seq: 0, event: null },
  ack: { t: 'ack', eventIds: [] },
} as const;
type Kind = keyof typeof base;
const headers = (n: number, size = 1) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, 'v'.repeat(size)]));

/** [frame kind, field (as the refusal names it), a value just inside, a value just outside]. */
const EDGES: Array<[Kind, string, unknown, unknown]> = [
  ['hello', 'v', 'v'.repeat(32), 'v'.repeat(33)],
  ['hello', 'companion.version', 'v'.repeat(64), 'v'.repeat(65)],
  ['hello', 'companion.version', 'v', ''],
  ['hello', 'companion.hostname', 'h'.repeat(255), 'h'.repeat(256)],
  ['hello', 'companion.hostname', 'h', ''],
  ['hello', 'frontOrigin', `http://${'a'.repeat(249)}`, `http://${'a'.repeat(250)}`],
  ['hello', 'frontOrigin', 'https://plugin.local:9042', 'http://127.0.0.1:9042/api'],
  ['hello', 'frontOrigin', null, 'http://127.0.0.1:9042?x'],
  ['hello', 'frontOrigin', 'http://[::1]:9042', 'ws://127.0.0.1:9042'],
  ['hello', 'frontOrigin', 'http://h', 'http://'],
  ['hello', 'frontOrigin', 'http://h', 'http://a b'],
  ['hello', 'frontOrigin', 'http://h', ' http://h'],
  ['welcome', 'v', 'v'.repeat(32), 'v'.repeat(33)],
  ['welcome', 'venueId', 'v'.repeat(64), 'v'.repeat(65)],
  ['welcome', 'linkId', 'l'.repeat(64), 'l'.repeat(65)],
  ['ping', 'id', 0, -1],
  ['ping', 'id', 7, 1.5],
  ['pong', 'id', 0, -1],
  ['pong', 'id', 7, 0.5],
  ['req', 'sid', 1, 0],
  ['req', 'sid', MAX_STREAM_ID, MAX_STREAM_ID + 1],
  ['req', 'sid', 3, 2.5],
  ['req', 'method', 'M'.repeat(16), 'M'.repeat(17)],
  ['req', 'method', 'M', ''],
  ['req', 'path', '/'.repeat(MAX_PATH_CHARS), '/'.repeat(MAX_PATH_CHARS + 1)],
  ['req', 'path', '/', ''],
  ['req', 'headers', headers(MAX_HEADERS), headers(MAX_HEADERS + 1)],
  ['req', 'headers', { [`x${'n'.repeat(255)}`]: 'v' }, { [`x${'n'.repeat(256)}`]: 'v' }],
  ['req', 'headers', { 'x-ok': 'v'.repeat(16 * 1024) }, { 'x-ok': 'v'.repeat(16 * 1024 + 1) }],
  ['req', 'headers', { "!#$%&'*+.^_`|~09AZaz-": 'v' }, { 'a:b': 'v' }],
  ['req', 'headers', { a: '' }, { '': 'v' }],
  ['req', 'headers', { a: 'v' }, { 'a b': 'v' }],
  ['req', 'headers', { a: 'v' }, { 'a\u00e9': 'v' }],
  ['req', 'body', true, 'yes'],
  ['req', 'timeoutMs', 1, 0],
  ['req', 'timeoutMs', MAX_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS + 1],
  ['req', 'timeoutMs', 2, 1.5],
  ['res', 'status', 100, 99],
  ['res', 'status', 599, 600],
  ['res', 'status', 204, 200.5],
  ['res', 'headers', headers(MAX_HEADERS), headers(MAX_HEADERS + 1)],
  ['res', 'body', true, 1],
  ['end', 'sid', MAX_STREAM_ID, MAX_STREAM_ID + 1],
  ['window', 'bytes', 1, 0],
  ['window', 'bytes', STREAM_WINDOW_BYTES, STREAM_WINDOW_BYTES + 1],
  ['window', 'bytes', 2, 1.5],
  ['cancel', 'reason', 'r'.repeat(200), 'r'.repeat(201)],
  ['cancel', 'reason', undefined, 5],
  ['error', 'message', 'm'.repeat(500), 'm'.repeat(501)],
  ['error', 'code', 'overloaded', 'link_lost'],
  ['goaway', 'reason', 'shutdown', 'restart'],
  ['goaway', 'drainMs', GOAWAY_DRAIN_MS, GOAWAY_DRAIN_MS + 1],
  ['goaway', 'drainMs', 0, -1],
  ['goaway', 'drainMs', 1, 0.5],
  ['status', 'frontOrigin', undefined, 'file:///x'],
  ['status', 'front', front, { ...front, state: 'sideways' }],
  ['cmd', 'id', 'i'.repeat(64), 'i'.repeat(65)],
  ['cmd', 'id', 'i', ''],
  ['cmd', 'name', 'n'.repeat(64), 'n'.repeat(65)],
  ['cmd', 'name', 'n', ''],
  ['cmd_result', 'id', 'i'.repeat(64), 'i'.repeat(65)],
  ['cmd_result', 'id', 'i', ''],
  ['cmd_result', 'ok', false, 'no'],
  ['cmd_result', 'error', { code: 'c'.repeat(64), message: 'm'.repeat(500) }, { code: 'c'.repeat(65), message: 'm' }],
  ['cmd_result', 'error', { code: 'c', message: 'm'.repeat(500) }, { code: 'c', message: 'm'.repeat(501) }],
  ['event', 'eventId', 'e'.repeat(64), 'e'.repeat(65)],
  ['event', 'eventId', 'e', ''],
  ['event', 'seq', 0, -1],
  ['event', 'seq', 3, 0.5],
  ['ack', 'eventIds', Array(1000).fill('e'), Array(1001).fill('e')],
  ['ack', 'eventIds', ['e'.repeat(64)], ['e'.repeat(65)]],
  ['ack', 'eventIds', ['e'], ['']],
];

describe('frame fields at their limits', () => {
  it.each(EDGES)('%s.%s: accepts %#, refuses just past it', (kind, field, inside, outside) => {
    const set = (v: unknown) => {
      const f = structuredClone(base[kind]) as Record<string, unknown>;
      const [head, tail] = field.split('.') as [string, string | undefined];
      if (tail) f[head] = { ...(f[head] as object), [tail]: v };
      else if (v === undefined) delete f[head];
      else f[head] = v;
      return f;
    };
    expect(decode(set(inside))).toMatchObject({ t: kind });
    const e = refusal(set(outside));
    expect(e.closeCode).toBe(CloseCode.protocolError);
    expect(e.message).toMatch(new RegExp(`^bad '${kind}' frame: ${field.split('.')[0]}`));
  });

  it('names the frame type a refused frame claimed, and "t" when the type itself is wrong', () => {
    expect(refusal({ t: 'launch' }).message).toMatch(/^bad 'launch' frame: t: /);
    expect(refusal({ sid: 1 }).message).toMatch(/^bad '\?' frame: t: /);
    expect(refusal([1]).message).toMatch(/^bad '\?' frame: /);
    expect(refusal({ t: 'x'.repeat(40) }).message).toContain(`bad '${'x'.repeat(20)}' frame`);
  });

  it('refuses JSON that is not an object and text that is not JSON, each with its own reason', () => {
    expect(refusal('just a string').closeCode).toBe(CloseCode.protocolError);
    expect(() => decodeFrame(Buffer.from('{"t":'), false)).toThrow(/control frame is not JSON/);
  });

  it('accepts a control frame of exactly the largest size, and refuses one byte more as too large', () => {
    const pad = (n: number) => {
      const shell = JSON.stringify({ t: 'cancel', sid: 1, reason: '' });
      return Buffer.from(shell.replace('"reason":""', `"reason":"","x":"${'p'.repeat(n - shell.length - 7)}"`));
    };
    expect(pad(MAX_CONTROL_FRAME_BYTES).length).toBe(MAX_CONTROL_FRAME_BYTES);
    expect(decodeFrame(pad(MAX_CONTROL_FRAME_BYTES), false)).toMatchObject({ t: 'cancel' });
    const e = (() => { try { decodeFrame(pad(MAX_CONTROL_FRAME_BYTES + 1), false); } catch (x) { return x as FrameError; } return null; })();
    expect(e?.closeCode).toBe(CloseCode.frameTooLarge);
    expect(e?.message).toBe(`control frame of ${MAX_CONTROL_FRAME_BYTES + 1} bytes over ${MAX_CONTROL_FRAME_BYTES}`);
  });

  it('binary frames: the largest chunk passes, one byte more is too large; header, type, stream 0 and empty are protocol errors', () => {
    const frame = (type: number, sid: number, n: number) => { const b = Buffer.alloc(DATA_HEADER_BYTES + n, 7); b[0] = type; b.writeUInt32BE(sid, 1); return b; };
    expect(decodeFrame(frame(1, MAX_STREAM_ID, MAX_CHUNK_BYTES), true)).toMatchObject({ t: 'data', sid: MAX_STREAM_ID });
    expect(decodeFrame(frame(1, 1, 1), true)).toEqual({ t: 'data', sid: 1, payload: Buffer.from([7]) });
    const cases: Array<[Buffer, number, RegExp]> = [
      [frame(1, 1, MAX_CHUNK_BYTES + 1), CloseCode.frameTooLarge, new RegExp(`^binary frame of ${MAX_FRAME_BYTES + 1} bytes over ${MAX_FRAME_BYTES}$`)],
      [Buffer.from([1, 0, 0, 1]), CloseCode.protocolError, /^binary frame shorter than its header$/],
      [frame(10, 1, 1), CloseCode.protocolError, /^unknown binary frame type 10$/],
      [frame(255, 1, 1), CloseCode.protocolError, /^unknown binary frame type 255$/],
      [frame(0, 1, 1), CloseCode.protocolError, /^unknown binary frame type 0$/],
      [frame(1, 0, 1), CloseCode.protocolError, /^stream id 0$/],
      [frame(1, 1, 0), CloseCode.protocolError, /^empty data frame$/],
    ];
    for (const [buf, code, reason] of cases) {
      const e = (() => { try { decodeFrame(buf, true); } catch (x) { return x as FrameError; } return null; })();
      expect(e?.closeCode, String(reason)).toBe(code);
      expect(e?.message).toMatch(reason);
    }
    // A frame split over several buffers (ws fragments) and an ArrayBuffer decode the same.
    const whole = encodeData(5, Buffer.from('abc'));
    expect(decodeFrame([whole.subarray(0, 2), whole.subarray(2)], true)).toEqual({ t: 'data', sid: 5, payload: Buffer.from('abc') });
    const ab = whole.buffer.slice(whole.byteOffset, whole.byteOffset + whole.length);
    expect(decodeFrame(ab as ArrayBuffer, true)).toEqual({ t: 'data', sid: 5, payload: Buffer.from('abc') });
  });

  it('encodes the stream id big-endian after a type byte of 1', () => {
    expect([...encodeData(0x01020304, Buffer.from([9]))]).toEqual([1, 1, 2, 3, 4, 9]);
    expect(encodeData(1, Buffer.alloc(MAX_CHUNK_BYTES)).length).toBe(MAX_FRAME_BYTES);
  });
});

describe('the protocol numbers docs/protocol.md states', () => {
  it('sizes, counts and timings', () => {
    expect({
      TUNNEL_PROTOCOL, TUNNEL_PATH, MAX_CHUNK_BYTES, DATA_HEADER_BYTES, MAX_CONTROL_FRAME_BYTES, MAX_FRAME_BYTES, WS_MAX_PAYLOAD_BYTES,
      STREAM_WINDOW_BYTES, MAX_STREAMS_PER_LINK, MAX_STREAM_ID, MAX_PATH_CHARS, MAX_HEADERS, PING_INTERVAL_MS, DEAD_AFTER_MS,
      HEARTBEAT_CHECK_MS, HELLO_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS, GOAWAY_DRAIN_MS, MAX_HEADER_BYTES, MAX_HEADER_VALUE_CHARS,
    }).toEqual({
      TUNNEL_PROTOCOL: 'evva-tunnel.1', TUNNEL_PATH: '/v1/tunnel', MAX_CHUNK_BYTES: 65_536, DATA_HEADER_BYTES: 5, MAX_CONTROL_FRAME_BYTES: 65_536,
      MAX_FRAME_BYTES: 65_541, WS_MAX_PAYLOAD_BYTES: 131_082, STREAM_WINDOW_BYTES: 262_144, MAX_STREAMS_PER_LINK: 256, MAX_STREAM_ID: 4_294_967_295,
      MAX_PATH_CHARS: 8_192, MAX_HEADERS: 100, PING_INTERVAL_MS: 3_000, DEAD_AFTER_MS: 8_000, HEARTBEAT_CHECK_MS: 1_000, HELLO_TIMEOUT_MS: 5_000,
      DEFAULT_REQUEST_TIMEOUT_MS: 15_000, MAX_REQUEST_TIMEOUT_MS: 120_000, GOAWAY_DRAIN_MS: 30_000, MAX_HEADER_BYTES: 16_384, MAX_HEADER_VALUE_CHARS: 8_192,
    });
  });

  it('close codes', () => {
    expect(CloseCode).toEqual({
      normal: 1000, goingAway: 1001, tooBig: 1009, protocolError: 4000, frameTooLarge: 4001, unsupportedVersion: 4002, revoked: 4003,
      replaced: 4004, heartbeatTimeout: 4005, flowControl: 4006, tooManyStreams: 4007, helloTimeout: 4008,
    });
  });

  it('hop-by-hop headers', () => {
    expect([...HOP_BY_HOP].sort()).toEqual(['connection', 'host', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
    for (const h of HOP_BY_HOP) expect(forwardableHeaders({ [h]: 'x', keep: 'y' }), h).toEqual({ keep: 'y' });
  });
});

describe('frame enums and refusal wording', () => {
  it('accepts every stream error code and every go-away reason the protocol names', () => {
    for (const code of ['forbidden', 'unreachable', 'bad_gateway', 'unlicensed', 'timeout', 'too_large', 'bad_request', 'overloaded', 'internal']) {
      expect(decode({ ...base.error, code }), code).toMatchObject({ code });
    }
    for (const reason of ['drain', 'replaced', 'shutdown']) expect(decode({ ...base.goaway, reason }), reason).toMatchObject({ reason });
  });

  it('says which nested field and which rule failed', () => {
    expect(refusal({ ...base.hello, companion: { version: '', hostname: 'pos' } }).message).toMatch(/^bad 'hello' frame: companion\.version: /);
    expect(refusal({ ...base.req, headers: headers(MAX_HEADERS + 1) }).message).toMatch(/too many headers/);
    expect(refusal([1]).message).toMatch(/^bad '\?' frame: t: /);
    expect(refusal(42).name).toBe('FrameError');
  });

  it('encodes a control frame of exactly the largest size and names the frame it will not encode', () => {
    const shell = JSON.stringify({ t: 'cancel', sid: 1, reason: '' });
    const exact = { t: 'cancel' as const, sid: 1, reason: '' };
    // Pad through an unknown-to-the-encoder field so the text is exactly the limit.
    const padded = { ...exact, x: 'p'.repeat(MAX_CONTROL_FRAME_BYTES - shell.length - 7) } as unknown as Parameters<typeof encodeControl>[0];
    expect(Buffer.byteLength(encodeControl(padded))).toBe(MAX_CONTROL_FRAME_BYTES);
    const over = { ...exact, x: 'p'.repeat(MAX_CONTROL_FRAME_BYTES - shell.length - 6) } as unknown as Parameters<typeof encodeControl>[0];
    expect(() => encodeControl(over)).toThrow(/^control frame 'cancel' too large$/);
    expect(() => encodeData(1, Buffer.alloc(MAX_CHUNK_BYTES + 1))).toThrow(/^chunk too large$/);
  });
});

describe('forwardable headers at their limits', () => {
  it('skips absent values and the headers a lower-case Connection names', () => {
    expect(forwardableHeaders({ a: undefined, b: '1', connection: 'close, X-Trace', 'x-trace': 't' })).toEqual({ b: '1' });
  });

  it('keeps a value of exactly the longest length and drops a longer one', () => {
    const h = forwardableHeaders({ keep: 'k'.repeat(MAX_HEADER_VALUE_CHARS), drop: 'd'.repeat(MAX_HEADER_VALUE_CHARS + 1), after: 'a' });
    expect(Object.keys(h)).toEqual(['keep', 'after']);
  });

  it('keeps exactly the most headers allowed, in order', () => {
    const many = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`h${i}`, 'v']));
    expect(Object.keys(forwardableHeaders(many))).toEqual(Array.from({ length: MAX_HEADERS }, (_, i) => `h${i}`));
  });

  it('keeps headers up to exactly the byte budget and stops at the first that would pass it', () => {
    // Two headers of 8 KiB each (name 4 bytes + value) fill the budget exactly; the next byte does not fit.
    const v = (n: number) => 'v'.repeat(n);
    const exact = forwardableHeaders({ aaaa: v(MAX_HEADER_BYTES / 2 - 4), bbbb: v(MAX_HEADER_BYTES / 2 - 4), c: '' });
    expect(Object.keys(exact)).toEqual(['aaaa', 'bbbb']);
    const fits = forwardableHeaders({ aaaa: v(MAX_HEADER_BYTES / 2 - 4), bbbb: v(MAX_HEADER_BYTES / 2 - 5), c: '' });
    expect(Object.keys(fits)).toEqual(['aaaa', 'bbbb', 'c']);
  });
});

describe('heartbeat schedule', () => {
  // Starts far from zero, so a sum and a difference of two times cannot coincide.
  function clock() {
    let t = 50_000;
    let timer: { fn: () => void; every: number; next: number } | null = null;
    return {
      mono: () => t,
      setInterval(fn: () => void, ms: number) { timer = { fn, every: ms, next: t + ms }; return timer as unknown as NodeJS.Timeout; },
      clearInterval() { timer = null; },
      advance(ms: number) {
        const end = t + ms;
        while (timer && timer.next <= end) { t = timer.next; timer.next += timer.every; timer.fn(); }
        t = end;
      },
    };
  }

  it('pings when an interval less half a check has passed, with ids 1, 2, 3…', () => {
    const c = clock();
    const pings: Array<[number, number]> = [];
    new Heartbeat(c, { heartbeatPing: (id) => pings.push([id, c.mono()]), heartbeatDead: () => {} }, { pingIntervalMs: 2_500, deadAfterMs: 100_000, checkMs: 1_000 });
    c.advance(7_000);
    expect(pings).toEqual([[1, 51_000], [2, 53_000], [3, 55_000], [4, 57_000]]);
  });

  it('reports the silence it died of, once, and how long it has been silent', () => {
    const c = clock();
    const deaths: number[] = [];
    const hb = new Heartbeat(c, { heartbeatPing: () => {}, heartbeatDead: (silent) => deaths.push(silent) }, { pingIntervalMs: 3_000, deadAfterMs: 8_000, checkMs: 1_000 });
    c.advance(2_500);
    expect(hb.silentMs()).toBe(2_500);
    c.advance(20_000);
    expect(deaths).toEqual([9_000]);
  });

  it('ignores a pong it did not ask for, and remembers only the last eight pings', () => {
    const c = clock();
    const hb = new Heartbeat(c, { heartbeatPing: () => {}, heartbeatDead: () => {} }, { pingIntervalMs: 1_000, deadAfterMs: 100_000, checkMs: 1_000 });
    hb.pong(99);
    expect(hb.rttMs).toBeNull();
    c.advance(9_000); // nine pings, ids 1..9
    hb.pong(1);
    expect(hb.rttMs).toBeNull(); // forgotten
    hb.pong(2);
    expect(hb.rttMs).toBe(7_000);
  });
});

describe('send credit edges', () => {
  it('refuses every take once failed, even with credit left', async () => {
    const c = new SendCredit(10);
    c.fail(new Error('stream gone'));
    await expect(c.take(1)).rejects.toThrow('stream gone');
  });

  it('allows one waiting sender only', async () => {
    const c = new SendCredit(1);
    await c.take(1);
    const first = c.take(1);
    await expect(c.take(1)).rejects.toThrow(/one sender at a time/);
    c.grant(1);
    await expect(first).resolves.toBe(1);
  });

  it('takes grants back up to exactly the window, with or without a waiting sender', async () => {
    const c = new SendCredit(100);
    expect(await c.take(100)).toBe(100);
    expect(c.grant(60)).toBe(true);
    expect(c.grant(40)).toBe(true);
    expect(c.grant(1)).toBe(false);
    expect(await c.take(1_000)).toBe(100);
  });

  it('hands credit over at once when there is some, and nothing when there is none or the stream failed', async () => {
    const c = new SendCredit(100);
    expect(c.tryTake(60)).toBe(60);
    expect(c.tryTake(60)).toBe(40);
    expect(c.tryTake(1)).toBe(0);
    expect(c.maxOutstanding).toBe(100);
    const waiting = c.take(10);
    expect(c.grant(30)).toBe(true);
    await expect(waiting).resolves.toBe(10);
    expect(c.tryTake(100)).toBe(20);
    c.grant(5);
    c.fail(new Error('stream gone'));
    expect(c.tryTake(5)).toBe(0);
  });
});
