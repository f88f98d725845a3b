/**
 * The companion's data frames written straight on the socket under ws
 * (main/core/tunnel/dataframe.ts): each is the masked binary WebSocket message
 * ws would have sent for `encodeData`'s bytes, and a buffer is reused only once
 * the socket has finished writing it.
 */
import { describe, expect, it } from 'vitest';
import { encodeData } from '../../../protocol/tunnel/codec.ts';
import { MAX_CHUNK_BYTES } from '../../../protocol/tunnel/limits.ts';
import { FRAME_POOL_MAX, pooledFrames, writeDataFrame, writeMessage, type FrameSocket } from '../../../main/core/tunnel/dataframe.ts';

/** Records each write, the bytes as they are now (not a copy), and holds its callback until `finish`. */
class HeldSocket implements FrameSocket {
  writes: Array<{ data: Uint8Array; done: (err?: Error | null) => void }> = [];
  write(data: Uint8Array, cb?: (err?: Error | null) => void): boolean {
    this.writes.push({ data, done: cb ?? (() => {}) });
    return true;
  }
  finish(): void {
    for (const w of this.writes.splice(0)) w.done();
  }
}

/** Reads one client frame as a server does (RFC 6455 5.2): FIN, opcode, masked payload. */
function readFrame(b: Uint8Array): { fin: boolean; opcode: number; masked: boolean; payload: Buffer } {
  const buf = Buffer.from(b);
  let len = buf[1]! & 0x7f;
  let at = 2;
  if (len === 126) {
    len = buf.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    len = buf.readUInt32BE(2) * 0x1_0000_0000 + buf.readUInt32BE(6);
    at = 10;
  }
  const key = buf.subarray(at, at + 4);
  const payload = Buffer.from(buf.subarray(at + 4));
  expect(payload.length).toBe(len);
  for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
  return { fin: (buf[0]! & 0x80) !== 0, opcode: buf[0]! & 0x0f, masked: (buf[1]! & 0x80) !== 0, payload };
}

function payloadOf(n: number, seed: number): Buffer {
  const p = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) p[i] = (i * 31 + seed) & 0xff;
  return p;
}

describe('data frames on the socket', () => {
  it('writes what ws would send for encodeData, at every length form (7-bit, 16-bit, 64-bit)', () => {
    const s = new HeldSocket();
    // 5 + 120 = 125 (7-bit), 5 + 121 = 126 (16-bit), 5 + 65530 = 65535, 5 + 65531 = 65536 (64-bit), the largest chunk.
    const sizes = [0, 1, 3, 4, 5, 31, 32, 33, 120, 121, 1000, 65530, 65531, MAX_CHUNK_BYTES];
    sizes.forEach((n, i) => writeDataFrame(s, 0x0102_0304 + i, payloadOf(n, i)));
    expect(s.writes).toHaveLength(sizes.length);
    sizes.forEach((n, i) => {
      const f = readFrame(s.writes[i]!.data);
      expect({ fin: f.fin, opcode: f.opcode, masked: f.masked }).toEqual({ fin: true, opcode: 2, masked: true });
      expect(f.payload.equals(encodeData(0x0102_0304 + i, payloadOf(n, i))), `payload of ${n} bytes`).toBe(true);
    });
    s.finish();
  });

  it('masks each frame with its own key', () => {
    const s = new HeldSocket();
    const keys = new Set<string>();
    for (let i = 0; i < 50; i++) {
      writeDataFrame(s, 1, payloadOf(200, 0));
      keys.add(Buffer.from(s.writes[i]!.data.subarray(4, 8)).toString('hex'));
    }
    expect(keys.size).toBeGreaterThan(45);
    s.finish();
  });

  it('never reuses a buffer the socket is still writing, and reuses it once the write is done', () => {
    const s = new HeldSocket();
    s.finish();
    const before = pooledFrames();
    const a = payloadOf(MAX_CHUNK_BYTES, 1);
    const b = payloadOf(MAX_CHUNK_BYTES, 2);
    for (let i = 0; i < before + 2; i++) writeDataFrame(s, 7, i % 2 ? b : a);
    // Every frame is still intact as written: none was built in a buffer another write still held.
    s.writes.forEach((w, i) => expect(readFrame(w.data).payload.equals(encodeData(7, i % 2 ? b : a)), `frame ${i}`).toBe(true));
    expect(pooledFrames()).toBe(0);
    const held = s.writes.map((w) => w.data.buffer);
    s.finish();
    expect(pooledFrames()).toBe(Math.min(before + 2, FRAME_POOL_MAX));
    writeDataFrame(s, 8, a);
    expect(held).toContain(s.writes[0]!.data.buffer);
    s.finish();
  });

  it('keeps at most FRAME_POOL_MAX buffers after a burst', () => {
    const s = new HeldSocket();
    for (let i = 0; i < FRAME_POOL_MAX + 10; i++) writeDataFrame(s, 3, payloadOf(100, i));
    s.finish();
    expect(pooledFrames()).toBe(FRAME_POOL_MAX);
  });

  it('refuses a chunk over MAX_CHUNK_BYTES', () => {
    expect(() => writeDataFrame(new HeldSocket(), 1, Buffer.alloc(MAX_CHUNK_BYTES + 1))).toThrow(/chunk too large/);
  });
});

describe('other messages on the socket (writeMessage)', () => {
  it('writes a string as a masked text message and bytes as a masked binary one, each with its own key', () => {
    const s = new HeldSocket();
    const text = '{"t":"status","note":"ёжик 𝄞"}';
    writeMessage(s, text);
    writeMessage(s, payloadOf(300, 4));
    const t = readFrame(s.writes[0]!.data);
    const b = readFrame(s.writes[1]!.data);
    expect({ fin: t.fin, opcode: t.opcode, masked: t.masked, text: t.payload.toString() }).toEqual({ fin: true, opcode: 1, masked: true, text });
    expect({ fin: b.fin, opcode: b.opcode, masked: b.masked }).toEqual({ fin: true, opcode: 2, masked: true });
    expect(b.payload.equals(payloadOf(300, 4))).toBe(true);
    expect(Buffer.from(s.writes[0]!.data.subarray(2, 6)).equals(Buffer.from(s.writes[1]!.data.subarray(4, 8)))).toBe(false);
    s.finish();
  });

  it('a large message is built in a pooled buffer the socket must give back first; a small one never takes one', () => {
    const s = new HeldSocket();
    s.finish();
    const big = [payloadOf(40_000, 1), payloadOf(40_000, 2), payloadOf(40_000, 3)];
    for (const p of big) writeMessage(s, p);
    writeMessage(s, payloadOf(100, 5));
    // Each large one intact as written: none was built in a buffer another write still held.
    big.forEach((p, i) => expect(readFrame(s.writes[i]!.data).payload.equals(p), `message ${i}`).toBe(true));
    expect(new Set(s.writes.slice(0, 3).map((w) => w.data.buffer)).size).toBe(3);
    const pooled = pooledFrames();
    s.finish();
    expect(pooledFrames()).toBe(Math.min(FRAME_POOL_MAX, pooled + 3));
  });
});
