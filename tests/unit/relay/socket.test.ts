import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WS_MAX_PAYLOAD_BYTES } from '../../../protocol/tunnel.ts';
import {
  FrameReader, MAX_FRAGMENTS, Opcode, PONG_BACKLOG_BYTES, TunnelSocket, WsCode, acceptKey, handshake, type FrameSink, type SocketHandler,
} from '../../../relay/socket.ts';
import { mask, unmask } from '../../../common/wsframe.ts';

/** A frame as a client sends it: masked (unless told), FIN set (unless told), with the shortest length encoding (unless told). */
function frame(op: number, payload: Buffer | string, o: { fin?: boolean; masked?: boolean; rsv?: number; len?: 'short' | '16' | '64'; key?: Buffer } = {}): Buffer {
  const data = Buffer.from(payload);
  const len = data.length;
  const enc = o.len ?? (len < 126 ? 'short' : len < 0x1_0000 ? '16' : '64');
  const masked = o.masked ?? true;
  const head = Buffer.alloc(2 + (enc === '16' ? 2 : enc === '64' ? 8 : 0));
  head[0] = ((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | op;
  if (enc === 'short') head[1] = len;
  else if (enc === '16') { head[1] = 126; head.writeUInt16BE(len, 2); } else { head[1] = 127; head.writeUInt32BE(Math.floor(len / 2 ** 32), 2); head.writeUInt32BE(len >>> 0, 6); }
  if (!masked) return Buffer.concat([head, data]);
  head[1]! |= 0x80;
  const key = o.key ?? randomBytes(4);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([head, key, body]);
}

/** A header alone (no payload follows), for lengths a test never sends in full. */
function header64(op: number, hi: number, lo: number): Buffer {
  const b = Buffer.alloc(14);
  b[0] = 0x80 | op;
  b[1] = 0x80 | 127;
  b.writeUInt32BE(hi, 2);
  b.writeUInt32BE(lo, 6);
  return b;
}

type Event = [string, ...unknown[]];

/** Feeds `pieces` to a reader and returns what its sink heard, in order (payloads as hex or text, so they compare by value). */
function read(pieces: Buffer[], max = WS_MAX_PAYLOAD_BYTES): Event[] {
  const events: Event[] = [];
  const sink: FrameSink = {
    message: (data, isBinary) => void events.push(['message', isBinary ? data.toString('hex') : data.toString(), isBinary]),
    ping: (p) => void events.push(['ping', p.toString()]),
    pong: (p) => void events.push(['pong', p.toString()]),
    closeFrame: (code, reason) => void events.push(['close', code, reason]),
    refuse: (code, reason) => void events.push(['refuse', code, reason]),
  };
  const reader = new FrameReader(sink, max);
  // Each piece is a copy: the reader unmasks in place, and a test reuses its bytes.
  for (const p of pieces) reader.push(Buffer.from(p));
  return events;
}

/** `bytes` cut at the given offsets. */
function cut(bytes: Buffer, at: number[]): Buffer[] {
  const starts = [0, ...at];
  return starts.map((s, i) => bytes.subarray(s, starts[i + 1] ?? bytes.length));
}

const big = randomBytes(70_000);
/** Every kind of frame a peer may send, the big one in a 64-bit length, a fragmented message with a ping inside it. */
const stream = Buffer.concat([
  frame(Opcode.text, '{"t":"hello"}'),
  frame(Opcode.binary, Buffer.from([1, 2, 3])),
  frame(Opcode.binary, Buffer.alloc(0)),
  frame(Opcode.text, 'привет, мир: '.repeat(20)), // 16-bit length, UTF-8 of several bytes a character
  frame(Opcode.ping, 'are you there'),
  frame(Opcode.binary, Buffer.from('ab'), { fin: false }),
  frame(Opcode.ping, 'mid-message'),
  frame(Opcode.continuation, Buffer.alloc(0), { fin: false }),
  frame(Opcode.continuation, Buffer.from('cd')),
  frame(Opcode.text, 'при', { fin: false }), // a character cut between fragments is whole in the message
  frame(Opcode.continuation, Buffer.from('вет').subarray(0, 1), { fin: false }),
  frame(Opcode.continuation, Buffer.from('вет').subarray(1)),
  frame(Opcode.pong, ''),
  frame(Opcode.close, Buffer.concat([Buffer.from([0x0f, 0xa4]), Buffer.from('drained')])), // 4004
]);
const expected: Event[] = [
  ['message', '{"t":"hello"}', false],
  ['message', '010203', true],
  ['message', '', true],
  ['message', 'привет, мир: '.repeat(20), false],
  ['ping', 'are you there'],
  ['ping', 'mid-message'],
  ['message', Buffer.from('abcd').toString('hex'), true],
  ['message', 'привет', false],
  ['pong', ''],
  ['close', 4004, 'drained'],
];

describe('the relay reads client WebSocket frames', () => {
  it('the same, whole or cut anywhere', () => {
    expect(read([stream])).toEqual(expected);
    for (let at = 1; at < stream.length; at++) expect(read(cut(stream, [at])), `cut at ${at}`).toEqual(expected);
    expect(read([...stream].map((b) => Buffer.from([b])))).toEqual(expected);
  });

  it('a message at the limit in pieces of any size, and its bytes unmasked', () => {
    const whole = Buffer.concat([frame(Opcode.binary, big), frame(Opcode.text, 'after')]);
    const want: Event[] = [['message', big.toString('hex'), true], ['message', 'after', false]];
    expect(read([whole])).toEqual(want);
    for (let round = 0; round < 20; round++) {
      const at: number[] = [];
      for (let p = 1 + Math.floor(Math.random() * 3000); p < whole.length; p += 1 + Math.floor(Math.random() * 3000)) at.push(p);
      expect(read(cut(whole, at))).toEqual(want);
    }
    const atLimit = randomBytes(WS_MAX_PAYLOAD_BYTES);
    expect(read([frame(Opcode.binary, atLimit)])).toEqual([['message', atLimit.toString('hex'), true]]);
  });

  it('reads nothing after a close frame', () => {
    expect(read([frame(Opcode.close, ''), frame(Opcode.text, 'late')])).toEqual([['close', WsCode.noStatus, '']]);
  });

  // Each frame is refused, with the code and the reason the peer hears, and nothing after it is read.
  const refusals: Array<[string, Buffer, number, RegExp]> = [
    ['an unmasked frame', frame(Opcode.text, 'hi', { masked: false }), WsCode.protocolError, /not masked/],
    ['RSV1 (no permessage-deflate)', frame(Opcode.text, 'hi', { rsv: 4 }), WsCode.protocolError, /RSV/],
    ['RSV3', frame(Opcode.binary, 'hi', { rsv: 1 }), WsCode.protocolError, /RSV/],
    ['an unknown data opcode', frame(0x3, 'hi'), WsCode.protocolError, /unknown opcode 3/],
    ['an unknown control opcode', frame(0xb, 'hi'), WsCode.protocolError, /unknown opcode 11/],
    ['a control frame over 125 bytes', frame(Opcode.ping, 'x'.repeat(126)), WsCode.protocolError, /125/],
    ['a fragmented control frame', frame(Opcode.ping, 'x', { fin: false }), WsCode.protocolError, /fragmented control/],
    ['a continuation without a start', frame(Opcode.continuation, 'x'), WsCode.protocolError, /continuation/],
    ['a new message inside a fragmented one', Buffer.concat([frame(Opcode.binary, 'a', { fin: false }), frame(Opcode.binary, 'b')]), WsCode.protocolError, /unfinished/],
    ['a message over the limit', frame(Opcode.binary, Buffer.alloc(WS_MAX_PAYLOAD_BYTES + 1)), WsCode.tooBig, new RegExp(`over ${WS_MAX_PAYLOAD_BYTES} bytes`)],
    ['fragments over the limit together', Buffer.concat([
      frame(Opcode.binary, Buffer.alloc(WS_MAX_PAYLOAD_BYTES - 10), { fin: false }), frame(Opcode.continuation, Buffer.alloc(11)),
    ]), WsCode.tooBig, /over/],
    [`a message in over ${MAX_FRAGMENTS} fragments`, Buffer.concat([
      frame(Opcode.text, 'a', { fin: false }), ...Array.from({ length: MAX_FRAGMENTS }, () => frame(Opcode.continuation, 'a', { fin: false })),
    ]), WsCode.tooBig, /fragments/],
    [`a message in over ${MAX_FRAGMENTS} fragments, empty ones too`, Buffer.concat([
      frame(Opcode.binary, 'a', { fin: false }), ...Array.from({ length: MAX_FRAGMENTS }, () => frame(Opcode.continuation, '', { fin: false })),
    ]), WsCode.tooBig, /fragments/],
    ['a 64-bit length with the top bit set', header64(Opcode.binary, 0x8000_0000, 5), WsCode.protocolError, /top bit/],
    ['a 64-bit length of 4 GiB or more', header64(Opcode.binary, 1, 0), WsCode.tooBig, /over/],
    ['text that is not UTF-8', frame(Opcode.text, Buffer.from([0x7b, 0xff, 0x7d])), WsCode.invalidData, /UTF-8/],
    ['text fragments that are not UTF-8 together', Buffer.concat([
      frame(Opcode.text, Buffer.from([0xd0]), { fin: false }), frame(Opcode.continuation, Buffer.from([0x41])),
    ]), WsCode.invalidData, /UTF-8/],
    ['a close frame of 1 byte', frame(Opcode.close, Buffer.from([3])), WsCode.protocolError, /1 byte/],
    ['a close code never sent on the wire', frame(Opcode.close, Buffer.from([0x03, 0xee])), WsCode.protocolError, /invalid close code 1006/],
    ['a close code out of range', frame(Opcode.close, Buffer.from([0x13, 0x88])), WsCode.protocolError, /invalid close code 5000/],
    ['a close reason not UTF-8', frame(Opcode.close, Buffer.from([0x03, 0xe8, 0xff])), WsCode.invalidData, /UTF-8/],
  ];
  for (const [what, bytes, code, reason] of refusals) {
    it(`refuses ${what}`, () => {
      const events = read([bytes, frame(Opcode.text, 'after')]);
      expect(events.at(-1)).toEqual(['refuse', code, expect.stringMatching(reason)]);
      expect(events.filter((e) => e[0] === 'refuse')).toHaveLength(1);
      expect(events.some((e) => e[1] === 'after')).toBe(false);
      // Cut anywhere, the same refusal.
      for (let at = 1; at < Math.min(bytes.length, 40); at++) expect(read(cut(bytes, [at])).at(-1)).toEqual(['refuse', code, expect.stringMatching(reason)]);
    });
  }

  it('refuses an oversized message from its header, before any of its payload arrives', () => {
    const head = frame(Opcode.binary, Buffer.alloc(WS_MAX_PAYLOAD_BYTES + 1)).subarray(0, 14);
    expect(read([head])).toEqual([['refuse', WsCode.tooBig, expect.stringMatching(/over/)]]);
    // The limit is the reader's own: a larger one (a negotiated frame size) lets the same message through.
    expect(read([frame(Opcode.binary, Buffer.alloc(WS_MAX_PAYLOAD_BYTES + 1))], WS_MAX_PAYLOAD_BYTES + 1)).toHaveLength(1);
  });

  it('unmasks with the native module and without it alike', () => {
    const key = randomBytes(4);
    for (const n of [0, 1, 3, 31, 32, 33, 1000]) {
      const data = randomBytes(n);
      const masked = Buffer.from(data.map((b, i) => b ^ key[i & 3]!));
      const inPlace = Buffer.from(masked);
      unmask(inPlace, Buffer.concat([Buffer.from('xx'), key]), 2);
      expect(inPlace.equals(data), `${n} bytes`).toBe(true);
      // The client's side (the companion): masking into another buffer at an offset, and in place.
      const out = Buffer.alloc(n + 3);
      mask(data, key, out, 3, n);
      expect(out.subarray(3).equals(masked), `${n} bytes masked`).toBe(true);
      const again = Buffer.from(data);
      mask(again, key, again, 0, n);
      expect(again.equals(masked), `${n} bytes masked in place`).toBe(true);
    }
  });

  it('refuses to mask or unmask past a buffer (bufferutil itself checks no bounds)', () => {
    const key = randomBytes(4);
    const data = randomBytes(64);
    expect(() => mask(data, key, Buffer.alloc(64), 1, 64)).toThrow(/mask out of bounds/);
    expect(() => mask(data, key, Buffer.alloc(100), 0, 65)).toThrow(/mask out of bounds/);
    expect(() => mask(data, key, Buffer.alloc(100), -1, 40)).toThrow(/mask out of bounds/);
    expect(() => mask(data, key, Buffer.alloc(100), 0, -1)).toThrow(/mask out of bounds/);
    expect(() => mask(data, key.subarray(0, 3), Buffer.alloc(64), 0, 64)).toThrow(/mask out of bounds/);
    expect(() => unmask(Buffer.from(data), Buffer.concat([Buffer.from('xx'), key]), 3)).toThrow(/mask key out of bounds/);
    expect(() => unmask(Buffer.from(data), key, -1)).toThrow(/mask key out of bounds/);
    expect(() => mask(data, key, Buffer.alloc(64), 0, 64)).not.toThrow();
  });
});

describe('the relay checks a WebSocket upgrade', () => {
  const req = (h: Record<string, string>, method = 'GET') => ({ method, headers: { upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', ...h } }) as unknown as IncomingMessage;

  it('answers the key as RFC 6455 says (its own example)', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(handshake(req({ 'sec-websocket-protocol': 'evva-tunnel.v1, other' }))).toEqual({ ok: true, key: 'dGhlIHNhbXBsZSBub25jZQ==' });
    expect(handshake(req({ 'sec-websocket-version': '8' })).ok).toBe(true);
  });

  it('refuses what ws refused', () => {
    expect(handshake(req({}, 'POST'))).toMatchObject({ ok: false, status: 405 });
    expect(handshake(req({ upgrade: 'h2c' }))).toMatchObject({ ok: false, status: 400, message: expect.stringMatching(/Upgrade/) });
    for (const key of ['', 'short==', 'dGhlIHNhbXBsZSBub25jZQ=', '%GhlIHNhbXBsZSBub25jZQ==']) {
      expect(handshake(req({ 'sec-websocket-key': key })), key).toMatchObject({ ok: false, status: 400, message: expect.stringMatching(/Key/) });
    }
    for (const v of ['', '12', 'x']) expect(handshake(req({ 'sec-websocket-version': v })), v).toMatchObject({ ok: false, status: 400, message: expect.stringMatching(/Version/) });
    for (const p of ['a, a', 'a b', 'a,,b', 'ok, bad"']) expect(handshake(req({ 'sec-websocket-protocol': p })), p).toMatchObject({ ok: false, status: 400, message: expect.stringMatching(/Protocol/) });
  });
});

describe("the relay's tunnel socket", () => {
  /** Just enough of a socket: what is written, and how much waits in its send queue; `arrive` is the peer's bytes. */
  function fakeSocket(queued: number) {
    const written: Buffer[] = [];
    const s = Object.assign(new EventEmitter(), {
      readable: true, writable: true, writableLength: queued,
      write(b: Buffer) { written.push(Buffer.from(b)); return true; },
      cork() {}, uncork() {}, end() {}, destroy() {},
    });
    return { socket: s as unknown as Duplex, written, arrive: (b: Buffer) => void s.emit('data', b) };
  }
  const handler: SocketHandler = { onMessage() {}, onSocketClose() {}, onSocketError() {} };

  it('answers pings while its send queue is short, and not a peer that pings and never reads', () => {
    const reading = fakeSocket(0);
    new TunnelSocket(reading.socket, WS_MAX_PAYLOAD_BYTES).bind(handler);
    reading.arrive(frame(Opcode.ping, 'hi'));
    expect(reading.written).toEqual([Buffer.from([0x8a, 2, 0x68, 0x69])]);
    const stuck = fakeSocket(PONG_BACKLOG_BYTES);
    new TunnelSocket(stuck.socket, WS_MAX_PAYLOAD_BYTES).bind(handler);
    stuck.arrive(frame(Opcode.ping, 'hi'));
    expect(stuck.written).toEqual([]);
  });

  it('writes each frame in one write, its length in the shortest form', () => {
    const { socket, written } = fakeSocket(0);
    const ts = new TunnelSocket(socket, WS_MAX_PAYLOAD_BYTES);
    ts.bind(handler);
    ts.send('{"t":"welcome"}');
    ts.send(Buffer.alloc(200, 7));
    ts.send('я'.repeat(100)); // 200 bytes of UTF-8: the length is in bytes
    expect(written.map((b) => [...b.subarray(0, 4)])).toEqual([[0x81, 15, 0x7b, 0x22], [0x82, 126, 0, 200], [0x81, 126, 0, 200]]);
    expect(written.map((b) => b.length)).toEqual([17, 204, 204]);
    expect(written[2]!.subarray(4).toString()).toBe('я'.repeat(100));
  });
});
