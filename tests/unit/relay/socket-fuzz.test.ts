/**
 * The relay's frame reader (relay/socket.ts) faces the internet: here it is
 * fed random and damaged client frames and compared, event for event, with a
 * plain reference reader written from RFC 6455 and the limits the relay sets
 * (whole-buffer, no state across pieces, slow and obvious). Whatever the bytes
 * and however they are cut, the relay's reader must hear what the reference
 * hears, at the latest when the reference can decide it (a refusal from a
 * frame's header before any of its payload), and nothing after a close or a
 * refusal. The generator is seeded, so a failure names the case that made it.
 * The last block turns the reference on the companion's own writer (the
 * client role): what it writes must read back as exactly what it was given.
 */
import { describe, expect, it } from 'vitest';
import { WS_MAX_PAYLOAD_BYTES } from '../../../protocol/tunnel.ts';
import { FrameReader, MAX_FRAGMENTS, Opcode, WsCode, type FrameSink } from '../../../relay/socket.ts';
import { writeDataFrame, writeMessage } from '../../../main/core/tunnel/dataframe.ts';
import { encodeData } from '../../../protocol/tunnel/codec.ts';
import { MAX_CHUNK_BYTES } from '../../../protocol/tunnel/limits.ts';

/** mulberry32: a small seeded generator, so each case can be made again from its seed. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  };
}
type Rnd = ReturnType<typeof rng>;

type Event = [string, ...unknown[]];
/** What the reference expects: the event, the stream offset by which it is decided, and for a refusal a word its reason holds. */
interface Expected { event: Event; at: number; word?: string }

const utf8 = new TextDecoder('utf-8', { fatal: true });
function isText(b: Buffer): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** RFC 6455 7.4: the close codes a peer may send. */
function closeCodeAllowed(c: number): boolean {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/**
 * The reference: what a client stream must make the relay hear. The checks on one header come in the relay's
 * order (RSV, then what the opcode allows, then the mask, then the length), so that a frame breaking two rules is
 * refused for the same one.
 */
function reference(b: Buffer, max: number): Expected[] {
  const out: Expected[] = [];
  const refuse = (code: number, word: string, at: number) => void out.push({ event: ['refuse', code], word, at });
  let pos = 0;
  let open: { op: number; parts: Buffer[]; bytes: number; count: number } | null = null;
  while (b.length - pos >= 2) {
    const fin = (b[pos]! & 0x80) !== 0;
    const op = b[pos]! & 0x0f;
    const masked = (b[pos + 1]! & 0x80) !== 0;
    const len7 = b[pos + 1]! & 0x7f;
    const control = op === Opcode.close || op === Opcode.ping || op === Opcode.pong;
    const two = pos + 2;
    if ((b[pos]! & 0x70) !== 0) return refuse(WsCode.protocolError, 'RSV', two), out;
    if (control && !fin) return refuse(WsCode.protocolError, 'fragmented control', two), out;
    if (control && len7 > 125) return refuse(WsCode.protocolError, '125', two), out;
    if (op === Opcode.continuation && !open) return refuse(WsCode.protocolError, 'continuation', two), out;
    if ((op === Opcode.text || op === Opcode.binary) && open) return refuse(WsCode.protocolError, 'unfinished', two), out;
    if (!control && op > Opcode.binary) return refuse(WsCode.protocolError, `unknown opcode ${op}`, two), out;
    if (!masked) return refuse(WsCode.protocolError, 'not masked', two), out;
    const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const headEnd = two + ext + 4;
    if (b.length < headEnd) break;
    let len = len7;
    if (ext === 2) len = b.readUInt16BE(two);
    if (ext === 8) {
      const big = b.readBigUInt64BE(two);
      if (big >= 2n ** 63n) return refuse(WsCode.protocolError, 'top bit', headEnd), out;
      len = big > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(big);
    }
    if (!control && (open?.bytes ?? 0) + len > max) return refuse(WsCode.tooBig, `over ${max} bytes`, headEnd), out;
    if (op === Opcode.continuation && open!.count >= MAX_FRAGMENTS) return refuse(WsCode.tooBig, 'fragments', headEnd), out;
    const end = headEnd + len;
    if (b.length < end) break;
    const payload = Buffer.from(b.subarray(headEnd, end));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= b[headEnd - 4 + (i & 3)]!;
    pos = end;
    if (op === Opcode.ping || op === Opcode.pong) {
      out.push({ event: [op === Opcode.ping ? 'ping' : 'pong', payload.toString('hex')], at: end });
      continue;
    }
    if (op === Opcode.close) {
      if (len === 0) return out.push({ event: ['close', WsCode.noStatus, ''], at: end }), out;
      if (len === 1) return refuse(WsCode.protocolError, '1 byte', end), out;
      const code = payload.readUInt16BE(0);
      if (!closeCodeAllowed(code)) return refuse(WsCode.protocolError, `invalid close code ${code}`, end), out;
      if (!isText(payload.subarray(2))) return refuse(WsCode.invalidData, 'UTF-8', end), out;
      return out.push({ event: ['close', code, payload.subarray(2).toString()], at: end }), out;
    }
    if (op !== Opcode.continuation) open = { op, parts: [], bytes: 0, count: 0 };
    open!.parts.push(payload);
    open!.bytes += len;
    open!.count++;
    if (!fin) continue;
    const data = Buffer.concat(open!.parts);
    const binary = open!.op === Opcode.binary;
    open = null;
    if (!binary && !isText(data)) return refuse(WsCode.invalidData, 'UTF-8', end), out;
    out.push({ event: ['message', data.toString('hex'), binary], at: end });
  }
  return out;
}

/** Feeds `bytes` to the relay's reader in the given pieces (each a copy: the reader unmasks in place) and returns what it heard. */
function relayHears(bytes: Buffer, cuts: number[], max: number): Event[] {
  const events: Event[] = [];
  const sink: FrameSink = {
    message: (data, isBinary) => void events.push(['message', data.toString('hex'), isBinary]),
    ping: (p) => void events.push(['ping', p.toString('hex')]),
    pong: (p) => void events.push(['pong', p.toString('hex')]),
    closeFrame: (code, reason) => void events.push(['close', code, reason]),
    refuse: (code, reason) => void events.push(['refuse', code, reason]),
  };
  const reader = new FrameReader(sink, max);
  let from = 0;
  for (const at of [...cuts, bytes.length]) {
    if (at > from) reader.push(Buffer.from(bytes.subarray(from, at)));
    from = Math.max(from, at);
  }
  return events;
}

/** Random cut points in `n` bytes: one piece, byte by byte, a few big pieces, or many small ones (the last two only where `n` is small: a piece costs a copy). */
function cutsFor(rnd: Rnd, n: number): number[] {
  const kind = rnd(4);
  if (kind === 0 || n < 2) return [];
  if (kind === 1 && n <= 512) return Array.from({ length: n - 1 }, (_, i) => i + 1);
  const step = kind === 2 || n > 8192 ? 1 + rnd(Math.max(1, n >> 1)) : 1 + rnd(16);
  const at: number[] = [];
  for (let p = 1 + rnd(step); p < n; p += 1 + rnd(step)) at.push(p);
  return at;
}

/** `n` random bytes. */
function bytesOf(rnd: Rnd, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rnd(256);
  return b;
}

/** One client frame: masked unless told, with the length encoding asked for (the shortest when not). */
function frame(rnd: Rnd, op: number, payload: Buffer, o: { fin?: boolean; masked?: boolean; rsv?: number } = {}): Buffer {
  const len = payload.length;
  const shortest = len < 126 ? 0 : len < 0x1_0000 ? 1 : 2;
  // A peer may use a longer length form than needed (RFC 6455 asks for the shortest; `ws` reads any): one in eight does.
  const enc = rnd(8) === 0 ? Math.max(shortest, 1 + rnd(2)) : shortest;
  const masked = o.masked ?? true;
  const head = Buffer.alloc(2 + (enc === 1 ? 2 : enc === 2 ? 8 : 0) + (masked ? 4 : 0));
  head[0] = ((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | op;
  if (enc === 0) head[1] = len;
  else if (enc === 1) { head[1] = 126; head.writeUInt16BE(len, 2); } else { head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2); }
  if (!masked) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  const k = head.length - 4;
  bytesOf(rnd, 4).copy(head, k);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= head[k + (i & 3)]!;
  return Buffer.concat([head, body]);
}

/** A payload size, mostly small, often at the edges of the length forms and of `max`; at most `cap`. */
function size(rnd: Rnd, max: number, cap: number): number {
  const edges = [0, 1, 2, 3, 4, 5, 31, 32, 33, 125, 126, 127, 65_535, 65_536, max - 1, max, max + 1];
  const pick = rnd(10);
  if (pick < 6) return rnd(200);
  if (pick < 9) return Math.min(cap, edges[rnd(edges.length)]!);
  return rnd(Math.min(max + 2, cap));
}

const words = ['a', 'ok', 'é', 'я', '€', '𝄞', '{"t":"ping"}', ' '];
/** Text of `n` bytes or a little more, in characters of one to four bytes. */
function text(rnd: Rnd, n: number): Buffer {
  const parts: string[] = [];
  let bytes = 0;
  while (bytes < n) {
    const w = words[rnd(words.length)]!;
    parts.push(w);
    bytes += Buffer.byteLength(w);
  }
  return Buffer.from(parts.join(''));
}

/** `whole` cut into `k` fragments at random byte offsets (a character may be cut between two). */
function fragments(rnd: Rnd, whole: Buffer, k: number): Buffer[] {
  const at = Array.from({ length: k - 1 }, () => rnd(whole.length + 1)).sort((x, y) => x - y);
  return [0, ...at].map((s, i) => whole.subarray(s, at[i] ?? whole.length));
}

/**
 * A stream of frames a well-behaved client might send (now and then one breaking a limit), up to about `budget`
 * bytes, and where each frame starts.
 */
function stream(rnd: Rnd, max: number, budget: number, cap = 140_000): { bytes: Buffer; starts: number[] } {
  const out: Buffer[] = [];
  const starts: number[] = [];
  let bytes = 0;
  const control = () => {
    const op = [Opcode.ping, Opcode.pong, Opcode.ping][rnd(3)]!;
    return frame(rnd, op, bytesOf(rnd, rnd(4) === 0 ? 125 : rnd(12)));
  };
  while (bytes < budget) {
    const what = rnd(10);
    let frames: Buffer[];
    if (what < 3) {
      frames = [control()];
    } else {
      const binary = rnd(2) === 0;
      const n = size(rnd, max, cap);
      const whole = binary ? bytesOf(rnd, n) : text(rnd, n);
      // Mostly whole; a third in a few fragments; now and then in about as many as a message may have.
      const k = rnd(3) !== 0 ? 1 : rnd(6) === 0 ? MAX_FRAGMENTS - 1 + rnd(4) : 1 + rnd(5);
      const parts = fragments(rnd, whole, k);
      frames = [];
      parts.forEach((p, i) => {
        frames.push(frame(rnd, i === 0 ? (binary ? Opcode.binary : Opcode.text) : Opcode.continuation, p, { fin: i === parts.length - 1 }));
        // Control frames may come between the fragments of a message.
        if (i < parts.length - 1 && rnd(4) === 0) frames.push(control());
      });
    }
    for (const f of frames) {
      starts.push(bytes);
      out.push(f);
      bytes += f.length;
    }
  }
  if (rnd(4) === 0) {
    const codes = [1000, 1001, 1005, 1006, 1015, 2999, 3000, 4004, 4999, 5000, 999];
    const code = codes[rnd(codes.length)]!;
    const body = rnd(6) === 0 ? Buffer.from([rnd(256)]) : Buffer.concat([Buffer.from([code >> 8, code & 0xff]), rnd(5) === 0 ? Buffer.from([0xc3]) : text(rnd, rnd(40))]);
    starts.push(bytes);
    out.push(frame(rnd, Opcode.close, rnd(5) === 0 ? Buffer.alloc(0) : body.subarray(0, 125)));
  }
  return { bytes: Buffer.concat(out), starts };
}

/** A stream damaged: bits flipped, bytes replaced, dropped or inserted. */
function damage(rnd: Rnd, { bytes, starts }: { bytes: Buffer; starts: number[] }): Buffer {
  const out = Buffer.from(bytes);
  const hits = 1 + rnd(3);
  for (let h = 0; h < hits && out.length > 0; h++) {
    // Headers are where the checks are: half the hits land in a frame's first two bytes.
    const at = rnd(2) === 0 ? Math.min(out.length - 1, starts[rnd(starts.length)]! + rnd(2)) : rnd(out.length);
    const how = rnd(4);
    if (how === 0) out[at]! ^= 1 << rnd(8);
    else if (how === 1) out[at] = rnd(256);
    else if (how === 2) return Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + rnd(8))]);
    else return Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: 1 + rnd(8) }, () => rnd(256))), out.subarray(at)]);
  }
  return out;
}

/** Bytes with no frame in mind (the mask bit mostly set, so that more than the first check is reached). */
function noise(rnd: Rnd): Buffer {
  const b = bytesOf(rnd, 1 + rnd(300));
  if (b.length > 1 && rnd(4) !== 0) b[1]! |= 0x80;
  if (rnd(2) === 0) b[0]! &= 0x8f;
  return b;
}

/** What the relay heard, in the reference's terms: a refusal's reason replaced by the reference's word when it holds it. */
function asExpected(heard: Event[], want: Expected[]): Event[] {
  return heard.map((h, i) => {
    const word = want[i]?.word;
    return h[0] === 'refuse' && word !== undefined && String(h[2]).includes(word) ? [h[0], h[1], word] : h;
  });
}
const asEvents = (want: Expected[]): Event[] => want.map((w) => (w.word === undefined ? w.event : [...w.event, w.word]));

/** The relay's reader against the reference on one stream: the whole stream in random pieces, and random prefixes of it. */
function check(rnd: Rnd, bytes: Buffer, max: number, name: string): Expected[] {
  const want = reference(bytes, max);
  const label = `${name}: ${bytes.length} bytes, max ${max}`;
  const wanted = asEvents(want);
  const heard = asExpected(relayHears(bytes, cutsFor(rnd, bytes.length), max), want);
  // One comparison of plain values per case (expect's diff only when they differ: it is slow on thousands of cases).
  if (JSON.stringify(heard) !== JSON.stringify(wanted)) expect(heard, label).toEqual(wanted);
  // Each event is heard as soon as the bytes that decide it are in: a refusal from its header, before any payload.
  for (let t = 0; t < 2; t++) {
    const p = rnd(bytes.length + 1);
    const due = wanted.slice(0, want.filter((w) => w.at <= p).length);
    const early = asExpected(relayHears(bytes.subarray(0, p), cutsFor(rnd, p), max), want);
    if (JSON.stringify(early) !== JSON.stringify(due)) expect(early, `${label}, the first ${p} bytes`).toEqual(due);
  }
  return want;
}

describe('the relay reads any client bytes as a plain RFC 6455 reader would', () => {
  const limits = [WS_MAX_PAYLOAD_BYTES, 300, 4_096, 70_000];

  it('well-formed streams, whole or cut anywhere', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 120; seed++) {
      const rnd = rng(seed);
      const max = limits[rnd(limits.length)]!;
      const want = check(rnd, stream(rnd, max, 200 + rnd(8_000)).bytes, max, `seed ${seed}`);
      for (const w of want) seen.add(w.event[0] === 'refuse' ? `refuse ${w.word}` : String(w.event[0]));
    }
    // The cases reached what they are for: every kind of frame, and the limits on size and fragments.
    for (const kind of ['message', 'ping', 'pong', 'close', 'refuse fragments']) expect([...seen]).toContain(kind);
    expect([...seen].some((k) => k.startsWith('refuse over'))).toBe(true);
  });

  it('damaged streams: refused for the same reason at the same frame, never throwing', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 1_200; seed++) {
      const rnd = rng(1_000_000 + seed);
      // Small limits and payloads: the damage is aimed at headers, and big payloads would only cost time.
      const max = limits[1 + rnd(2)]!;
      const want = check(rnd, damage(rnd, stream(rnd, max, 50 + rnd(3_000), 5_000)), max, `damaged, seed ${seed}`);
      const last = want.at(-1);
      if (last?.word) seen.add(last.word);
    }
    // The damage reached every refusal the header and the payload can earn.
    for (const word of ['RSV', 'fragmented control', '125', 'continuation', 'unfinished', 'unknown opcode', 'not masked', 'UTF-8', 'invalid close code']) {
      expect([...seen].some((s) => s.startsWith(word)), word).toBe(true);
    }
  });

  it('noise, in any pieces, never throws and is read as the reference reads it', () => {
    for (let seed = 1; seed <= 2_000; seed++) {
      const rnd = rng(2_000_000 + seed);
      check(rnd, noise(rnd), limits[rnd(limits.length)]!, `noise, seed ${seed}`);
    }
  });

  it('a 64-bit length is refused from its header whatever its high bytes', () => {
    // Not reachable by the generators above within a few KB: lengths of 2^32 and more, the top bit, just over the limit.
    const rnd = rng(7);
    for (const len of [2n ** 63n, 2n ** 64n - 1n, 2n ** 32n, 2n ** 32n + 5n, 2n ** 53n, BigInt(WS_MAX_PAYLOAD_BYTES + 1)]) {
      const h = Buffer.alloc(14);
      h[0] = 0x80 | Opcode.binary;
      h[1] = 0x80 | 127;
      h.writeBigUInt64BE(len, 2);
      const want = check(rnd, h, WS_MAX_PAYLOAD_BYTES, `length ${len}`);
      expect(want).toHaveLength(1);
      expect(want[0]!.event[0]).toBe('refuse');
    }
  });
});

/**
 * The client's side: the companion writes its frames itself (main/core/tunnel/dataframe.ts), masked as RFC 6455
 * 5.3 asks, and `ws` only reads. Whatever messages it is given, in whatever order, the bytes it writes must be read
 * back by the reference above (and by the relay's reader, cut anywhere) as exactly those messages, each one frame
 * (FIN, the shortest length form, masked), each with its own key.
 */
describe('the companion writes frames that the reference reads back as exactly its messages', () => {
  it('random text, binary and data messages at every length form, written in any order', () => {
    const keys = new Set<string>();
    let frames = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = rng(3_000_000 + seed);
      const writes: Buffer[] = [];
      // A socket that copies what it is given and is done with it at once (so pooled buffers are reused at once too).
      const socket = { write: (d: Uint8Array, cb?: () => void) => { writes.push(Buffer.from(d)); cb?.(); return true; } };
      const want: Event[] = [];
      for (let m = 0, n = 1 + rnd(12); m < n; m++) {
        const kind = rnd(3);
        // Up to what the link may send (text comes out up to 11 bytes longer than asked: its longest word is 12).
        const len = size(rnd, WS_MAX_PAYLOAD_BYTES, kind === 2 ? MAX_CHUNK_BYTES : WS_MAX_PAYLOAD_BYTES - 11);
        if (kind === 0) {
          const t = text(rnd, len).toString();
          writeMessage(socket, t);
          want.push(['message', Buffer.from(t).toString('hex'), false]);
        } else if (kind === 1) {
          const b = bytesOf(rnd, len);
          writeMessage(socket, b);
          want.push(['message', b.toString('hex'), true]);
        } else {
          const sid = rnd(2 ** 31) * 2 + 1;
          const b = bytesOf(rnd, len);
          writeDataFrame(socket, sid, b);
          want.push(['message', encodeData(sid, b).toString('hex'), true]);
        }
      }
      expect(writes).toHaveLength(want.length);
      for (const w of writes) {
        const len7 = w[1]! & 0x7f;
        const hl = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
        const len = w.length - hl;
        // One frame a write: FIN, masked, the length in its shortest form.
        expect([w[0]! & 0xf0, w[1]! & 0x80, len7]).toEqual([0x80, 0x80, len < 126 ? len : len < 0x1_0000 ? 126 : 127]);
        keys.add(w.subarray(hl - 4, hl).toString('hex'));
        frames++;
      }
      const bytes = Buffer.concat(writes);
      const label = `client seed ${seed}: ${bytes.length} bytes`;
      const heard = reference(bytes, WS_MAX_PAYLOAD_BYTES);
      if (JSON.stringify(asEvents(heard)) !== JSON.stringify(want)) expect(asEvents(heard), label).toEqual(want);
      check(rnd, bytes, WS_MAX_PAYLOAD_BYTES, label);
    }
    // Keys are random per frame (a repeat among a few hundred 32-bit keys would be a broken generator, not chance).
    expect(keys.size).toBe(frames);
  });
});
