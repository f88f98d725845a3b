import { describe, expect, it } from 'vitest';
import {
  CloseCode, FrameError, MAX_CHUNK_BYTES, MAX_CONTROL_FRAME_BYTES, STREAM_WINDOW_BYTES,
  MAX_PATH_CHARS, ControlFrame, decodeFrame, encodeControl, encodeData, encodeHead, forwardableHeaders,
} from '../../../protocol/tunnel.ts';
import { Heartbeat, RecvCredit, SendCredit, type HeartbeatClock } from '../../../common/mux.ts';

const text = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
function refusal(data: Buffer, binary: boolean): FrameError {
  try {
    decodeFrame(data, binary);
  } catch (e) {
    if (e instanceof FrameError) return e;
    throw e;
  }
  throw new Error('frame was accepted');
}

describe('frame validation', () => {
  it('accepts every well-formed control frame it defines', () => {
    const frames = [
      { t: 'hello', v: 'evva-tunnel.1', companion: { version: '1', hostname: 'pos' }, frontOrigin: 'http://127.0.0.1:9042' },
      { t: 'welcome', v: 'evva-tunnel.1', venueId: 'ven_x', linkId: 'l1' },
      { t: 'ping', id: 1 }, { t: 'pong', id: 1 },
      { t: 'req', sid: 1, method: 'GET', path: '/api/orders?$top=1', headers: { accept: 'application/json' }, body: false, timeoutMs: 15000 },
      { t: 'res', sid: 1, status: 200, headers: {}, body: true },
      { t: 'end', sid: 1 }, { t: 'window', sid: 1, bytes: 65536 }, { t: 'cancel', sid: 1 },
      { t: 'error', sid: 1, code: 'forbidden', message: 'no' },
      { t: 'goaway', reason: 'drain', drainMs: 1000 },
      { t: 'cmd', id: 'c1', name: 'diag' }, { t: 'cmd_result', id: 'c1', ok: false, error: { code: 'x', message: 'y' } },
      { t: 'event', eventId: 'e1', seq: 1, event: {} }, { t: 'ack', eventIds: ['e1'] },
    ];
    for (const f of frames) expect(decodeFrame(text(f), false)).toMatchObject({ t: f.t });
  });

  it('round-trips a data frame', () => {
    const payload = Buffer.from('hello body');
    const f = decodeFrame(encodeData(7, payload), true);
    expect(f).toEqual({ t: 'data', sid: 7, payload });
  });

  it('refuses text that is not JSON', () => {
    expect(refusal(text('{not json'), false).closeCode).toBe(CloseCode.protocolError);
  });

  it('refuses an unknown frame type, naming it', () => {
    const e = refusal(text({ t: 'teleport', sid: 1 }), false);
    expect(e.closeCode).toBe(CloseCode.protocolError);
    expect(e.message).toContain('teleport');
  });

  it('refuses wrong shapes: bad sid, bad status, unknown error code, missing fields', () => {
    for (const bad of [
      { t: 'end', sid: 0 }, { t: 'end', sid: -1 }, { t: 'end', sid: 1.5 }, { t: 'end' },
      { t: 'res', sid: 1, status: 999, headers: {}, body: false },
      { t: 'error', sid: 1, code: 'exploded' },
      { t: 'req', sid: 1, method: 'GET', path: '/', headers: { 'bad header': 'x' }, body: false, timeoutMs: 1000 },
      { t: 'req', sid: 1, method: 'GET', path: '/', headers: {}, body: false, timeoutMs: 10_000_000 },
      { t: 'window', sid: 1, bytes: STREAM_WINDOW_BYTES + 1 },
      { t: 'hello', v: 'evva-tunnel.1', companion: { version: '1', hostname: 'pos' }, frontOrigin: 'file:///etc/passwd' },
      [1, 2, 3], null, 42,
    ]) {
      expect(refusal(text(bad), false).closeCode).toBe(CloseCode.protocolError);
    }
  });

  it('refuses an oversized control frame with frameTooLarge', () => {
    const big = text({ t: 'cancel', sid: 1, reason: 'x'.repeat(MAX_CONTROL_FRAME_BYTES) });
    expect(refusal(big, false).closeCode).toBe(CloseCode.frameTooLarge);
  });

  it('refuses malformed binary frames: short, unknown type, stream 0, empty, oversized', () => {
    expect(refusal(Buffer.from([1, 0, 0]), true).closeCode).toBe(CloseCode.protocolError);
    expect(refusal(Buffer.from([10, 0, 0, 0, 1, 65]), true).message).toContain('unknown binary frame type');
    expect(refusal(Buffer.from([1, 0, 0, 0, 0, 65]), true).closeCode).toBe(CloseCode.protocolError);
    expect(refusal(Buffer.from([1, 0, 0, 0, 1]), true).closeCode).toBe(CloseCode.protocolError);
    const huge = Buffer.alloc(5 + MAX_CHUNK_BYTES + 1);
    huge[0] = 1;
    huge.writeUInt32BE(3, 1);
    expect(refusal(huge, true).closeCode).toBe(CloseCode.frameTooLarge);
  });

  it('round-trips a head frame (revision 2) and refuses broken ones', () => {
    const f = decodeFrame(encodeHead(7, { status: 201, headers: { 'content-type': 'text/plain' }, end: true }, Buffer.from('hi')), true);
    expect(f).toMatchObject({ t: 'head', sid: 7, status: 201, headers: { 'content-type': 'text/plain' }, end: true });
    expect((f as { payload: Buffer }).payload.toString()).toBe('hi');
    const head = (json: string, tail = '') => {
      const j = Buffer.from(json);
      const b = Buffer.alloc(9 + j.length + tail.length);
      b[0] = 2;
      b.writeUInt32BE(3, 1);
      b.writeUInt32BE(j.length, 5);
      j.copy(b, 9);
      b.write(tail, 9 + j.length);
      return b;
    };
    expect(refusal(head('{"status":200,"headers":{},"end":true}').subarray(0, 8), true).closeCode).toBe(CloseCode.protocolError);
    expect(refusal(head('{oops'), true).message).toMatch(/not JSON/);
    expect(refusal(head('{"status":99,"headers":{},"end":true}'), true).message).toMatch(/bad 'head'.*status/);
    expect(refusal(head('{"status":200,"headers":{"bad name":"x"},"end":true}'), true).closeCode).toBe(CloseCode.protocolError);
    const lying = head('{"status":200,"headers":{},"end":true}');
    lying.writeUInt32BE(10_000, 5);
    expect(refusal(lying, true).message).toMatch(/shorter than its JSON length/);
    lying.writeUInt32BE(MAX_CONTROL_FRAME_BYTES + 1, 5);
    expect(refusal(lying, true).closeCode).toBe(CloseCode.frameTooLarge);
    expect(refusal(head('{"status":200,"headers":{},"end":false}', 'x'.repeat(MAX_CHUNK_BYTES + 1)), true).closeCode).toBe(CloseCode.frameTooLarge);
    const zero = head('{"status":200,"headers":{},"end":true}');
    zero.writeUInt32BE(0, 1);
    expect(refusal(zero, true).message).toMatch(/stream id 0/);
  });

  it('the hand-written hot-path checks accept and refuse exactly what the schemas do', () => {
    const valid: Array<Record<string, unknown>> = [
      { t: 'req', sid: 1, method: 'GET', path: '/api/orders?$top=5', headers: { accept: 'application/json' }, body: false, timeoutMs: 15_000 },
      { t: 'res', sid: 3, status: 200, headers: { 'content-type': 'text/plain' }, body: true },
      { t: 'end', sid: 5 }, { t: 'window', sid: 5, bytes: 1024 }, { t: 'ping', id: 0 }, { t: 'pong', id: 9 },
    ];
    const odd: unknown[] = [
      undefined, null, 0, -1, 1.5, 2 ** 53, 0xffff_ffff, 0xffff_ffff + 1, '', 'x', 'GET'.repeat(6), '/'.repeat(MAX_PATH_CHARS + 1), true, [], {},
      { a: 'b' }, { '': 'x' }, { 'bad name': 'x' }, { ['x'.repeat(257)]: 'y' }, { a: 'v'.repeat(16 * 1024 + 1) }, { a: 1 },
      Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`h${i}`, 'v'])), STREAM_WINDOW_BYTES, STREAM_WINDOW_BYTES + 1, 99, 600, 120_000, 120_001,
    ];
    let seed = 11;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    const seen = { accepted: 0, refused: 0 };
    for (let i = 0; i < 5_000; i++) {
      const base = { ...valid[rnd(valid.length)]! };
      const keys = [...Object.keys(base), 'extra'];
      for (let m = 0; m < 1 + rnd(2); m++) base[keys[rnd(keys.length)]!] = odd[rnd(odd.length)];
      const json = JSON.stringify(base);
      const schema = ControlFrame.safeParse(JSON.parse(json));
      let decoded: unknown;
      try { decoded = decodeFrame(Buffer.from(json), false); } catch { decoded = 'refused'; }
      expect(decoded, json).toEqual(schema.success ? schema.data : 'refused');
      seen[schema.success ? 'accepted' : 'refused']++;
    }
    // Both outcomes are well represented, so the comparison means something either way.
    expect(seen.accepted).toBeGreaterThan(500);
    expect(seen.refused).toBeGreaterThan(500);
  });

  it('close reasons fit a WebSocket close frame', () => {
    const e = refusal(text({ t: 'x'.repeat(500) }), false);
    expect(Buffer.byteLength(e.message)).toBeLessThanOrEqual(123);
  });

  it('will not encode a chunk larger than the limit', () => {
    expect(() => encodeData(1, Buffer.alloc(MAX_CHUNK_BYTES + 1))).toThrow(FrameError);
    expect(() => encodeControl({ t: 'cancel', sid: 1, reason: 'x'.repeat(MAX_CONTROL_FRAME_BYTES) })).toThrow(FrameError);
  });
});

describe('flow-control credit', () => {
  it('never lets a sender have more than the window outstanding', async () => {
    const c = new SendCredit(100);
    expect(await c.take(60)).toBe(60);
    expect(await c.take(60)).toBe(40);
    let got = 0;
    const waiting = c.take(50).then((n) => { got = n; });
    await Promise.resolve();
    expect(got).toBe(0);
    expect(c.grant(30)).toBe(true);
    await waiting;
    expect(got).toBe(30);
    expect(c.maxOutstanding).toBe(100);
  });

  it('treats a grant beyond the window as a violation', () => {
    const c = new SendCredit(100);
    expect(c.grant(1)).toBe(false);
  });

  it('fails a waiting sender when the stream ends', async () => {
    const c = new SendCredit(10);
    await c.take(10);
    const p = c.take(1);
    c.fail(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
  });

  it('receiver refuses bytes beyond its credit', () => {
    const r = new RecvCredit(100);
    expect(r.receive(100)).toBe(true);
    expect(r.receive(1)).toBe(false);
    const r2 = new RecvCredit(100);
    r2.receive(100);
    r2.grant(50);
    expect(r2.receive(50)).toBe(true);
  });
});

describe('heartbeat', () => {
  function fakeClock() {
    let t = 0;
    const timers: Array<{ fn: () => void; every: number; next: number; live: boolean }> = [];
    const clock: HeartbeatClock & { advance(ms: number): void } = {
      mono: () => t,
      setInterval(fn, ms) {
        const h = { fn, every: ms, next: t + ms, live: true };
        timers.push(h);
        return h as unknown as NodeJS.Timeout;
      },
      clearInterval(h) { if (h) (h as unknown as { live: boolean }).live = false; },
      advance(ms) {
        const end = t + ms;
        for (let guard = 0; guard < 100_000; guard++) {
          const due = timers.filter((x) => x.live && x.next <= end).sort((a, b) => a.next - b.next)[0];
          if (!due) break;
          t = due.next;
          due.next += due.every;
          due.fn();
        }
        t = end;
      },
    };
    return clock;
  }

  it('pings every interval and declares the link dead only after the silence bound', () => {
    const clock = fakeClock();
    const pings: number[] = [];
    let deadAt = -1;
    const hb = new Heartbeat(clock, { heartbeatPing: (id) => pings.push(id), heartbeatDead: () => { deadAt = clock.mono(); } },
      { pingIntervalMs: 3000, deadAfterMs: 8000, checkMs: 1000 });
    clock.advance(7000);
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(deadAt).toBe(-1);
    hb.seen();
    clock.advance(7000);
    expect(deadAt).toBe(-1);
    clock.advance(3000);
    // Dead after more than 8 s of silence, noticed by the next 1 s check: within 10 s.
    expect(deadAt).toBeGreaterThan(7000 + 8000);
    expect(deadAt).toBeLessThanOrEqual(7000 + 9000);
  });

  it('leading, declares a peer that stopped answering dead within the same bound', () => {
    const clock = fakeClock();
    let last = 0;
    let deadAt = -1;
    const hb = new Heartbeat(clock, { heartbeatPing: (id) => { last = id; }, heartbeatDead: () => { deadAt = clock.mono(); } },
      { pingIntervalMs: 30_000, deadAfterMs: 8000, checkMs: 1000 });
    hb.pingEvery(3000, true);
    // The peer answers every ping for 10 s, then nothing.
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      hb.seen();
      hb.pong(last);
    }
    expect(deadAt).toBe(-1);
    clock.advance(12_000);
    expect(deadAt).toBeGreaterThan(10_000 + 8000);
    expect(deadAt).toBeLessThanOrEqual(10_000 + 9000);
  });

  it('leading, does not blame the peer for its own late ping, and still drops a peer that does not answer it', () => {
    let t = 0;
    const clock: HeartbeatClock = { mono: () => t, setInterval: () => { throw new Error('shared: ticked by its owner'); }, clearInterval: () => {} };
    const pings: number[] = [];
    let deadAt = -1;
    const hb = new Heartbeat(clock, { heartbeatPing: (id) => pings.push(id), heartbeatDead: () => { deadAt = t; } },
      { pingIntervalMs: 3000, deadAfterMs: 8000, checkMs: 1000 }, true);
    hb.pingEvery(3000, true);
    hb.tick(); // the first ping, at 0; answered at once
    hb.seen();
    // The owner is behind (an event loop busy for 7.5 s): its next check, and ping, come late.
    t = 7500;
    hb.tick();
    expect(pings.length).toBe(2);
    t = 8500;
    hb.tick();
    // 8.5 s without a frame, but the peer was asked only 1 s ago.
    expect(deadAt).toBe(-1);
    // It never answers: dead once the late ping has waited the bound less one interval.
    for (t = 9000; t <= 14_000 && deadAt < 0; t += 1000) hb.tick();
    expect(deadAt).toBeGreaterThanOrEqual(7500 + 8000 - 3000);
    expect(deadAt).toBeLessThanOrEqual(7500 + 8000 - 3000 + 1000);
  });

  it('measures RTT from ping to pong', () => {
    const clock = fakeClock();
    let last = 0;
    let sentAt = 0;
    const hb = new Heartbeat(clock, { heartbeatPing: (id) => { last = id; sentAt = clock.mono(); }, heartbeatDead: () => {} }, { pingIntervalMs: 3000, deadAfterMs: 8000, checkMs: 1000 });
    clock.advance(1000);
    expect(last).toBeGreaterThan(0);
    clock.advance(120);
    expect(hb.rttMs).toBeNull();
    hb.pong(last);
    expect(hb.rttMs).toBe(clock.mono() - sentAt);
    expect(hb.rttMs).toBe(120);
    hb.stop();
  });
});

describe('forwardable headers', () => {
  it('drop hop-by-hop headers, those Connection names, and keep the rest lower-cased', () => {
    expect(forwardableHeaders({
      Host: 'x', Connection: 'keep-alive, X-Secret', 'Keep-Alive': '5', 'Transfer-Encoding': 'chunked', TE: 'trailers',
      Upgrade: 'websocket', 'Proxy-Authorization': 'Basic x', 'X-Secret': 's', Accept: 'application/json', 'Set-Cookie': ['a=1', 'b=2'],
    })).toEqual({ accept: 'application/json', 'set-cookie': 'a=1, b=2' });
  });

  it('always produce headers a req/res frame accepts, whatever comes in', () => {
    const nasty: Record<string, string> = { 'bad name': 'x', 'x-nul': 'a\u0000b', 'x-crlf': 'a\r\nb', 'x-long': 'v'.repeat(20_000), 'x-quotes': '"'.repeat(8000) };
    for (let i = 0; i < 300; i++) nasty[`x-h${i}`] = '\\'.repeat(200);
    const h = forwardableHeaders(nasty);
    expect(Object.keys(h)).not.toContain('bad name');
    expect(Object.keys(h)).not.toContain('x-nul');
    expect(Object.keys(h)).not.toContain('x-crlf');
    expect(Object.keys(h)).not.toContain('x-long');
    const res = { t: 'res' as const, sid: 1, status: 200, headers: h, body: true };
    expect(decodeFrame(Buffer.from(encodeControl(res)), false)).toMatchObject({ t: 'res' });
    const req = { t: 'req' as const, sid: 1, method: 'GET', path: `/api/${'é'.repeat(MAX_PATH_CHARS - 5)}`, headers: h, body: false, timeoutMs: 1000 };
    expect(decodeFrame(Buffer.from(encodeControl(req)), false)).toMatchObject({ t: 'req' });
  });
});
