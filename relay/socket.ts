/**
 * The relay's end of a tunnel's WebSocket (RFC 6455), read and written
 * straight on the TCP (or TLS) socket after the upgrade.
 *
 * Why not `ws`: an idle tunnel costs the relay one small frame each way every
 * 3 s, and profiles put that cost in the socket path through `ws` (its
 * Receiver, a Writable stream fed by the socket's Readable; its Sender's cork,
 * two writes and uncork; the GC and write barrier their state costs) and ~1 KB
 * of its objects per link (docs/performance.md, round two, third and tenth
 * parts). Here a socket's `data` goes straight into a small parser, and the
 * frames of one turn of the event loop leave in at most two socket writes
 * (the first at once, the rest together; common/coalesce.ts).
 *
 * The contract (what relay/link.ts uses):
 * - `handshake(req)` checks an upgrade request as `ws` did (GET, `Upgrade:
 *   websocket`, a valid `Sec-WebSocket-Key`, version 13 or 8, well-formed
 *   subprotocols); the server authenticates, then `accept` writes the 101 with
 *   its `Sec-WebSocket-Accept` and the chosen subprotocol.
 * - `bind(handler)` starts reading; the handler hears each whole data message
 *   (text or binary, as sent), the socket's end (once, with the peer's close
 *   code and reason, 1005 for a close without one, 1006 without a close
 *   frame) and its errors (a refused frame is reported as one, with the reason).
 * - `send` writes a text (string) or binary (Buffer) frame, nothing once the
 *   socket is closing; `bufferedAmount` is what the socket has not yet taken.
 *   The first frame of a turn of the event loop is written at once, the rest
 *   of that turn's frames leave together in one write when it ends
 *   (common/coalesce.ts).
 * - `close(code, reason)` sends a close frame and ends the socket when the
 *   peer answers, or drops it after CLOSE_WAIT_MS; `terminate()` drops it at
 *   once. The handler hears the peer's close code and reason; when this side
 *   refused a frame, its own code and reason.
 *
 * No extension is negotiated (no permessage-deflate: the relay never offered
 * it), so every RSV bit is refused. Client frames must be masked; control
 * frames are at most 125 bytes and never fragmented; a message (all its
 * fragments) is at most `maxPayload` bytes, refused with 1009 from the frame
 * header before any of it is buffered; text must be UTF-8 (1007); every other
 * breach closes with 1002 and says why.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Coalescer } from '../common/coalesce.ts';
import { Opcode, headerLength, unmask, writeHeader } from '../common/wsframe.ts';

export { Opcode } from '../common/wsframe.ts';
/** RFC 6455 close codes the transport itself uses. */
export const WsCode = { normal: 1000, protocolError: 1002, noStatus: 1005, abnormal: 1006, invalidData: 1007, tooBig: 1009 } as const;
/** How long a close frame waits for the peer's before the socket is dropped. */
export const CLOSE_WAIT_MS = 2_000;
/** Most fragments one message may come in (the companion's `ws` never fragments; a peer sending 1-byte fragments is refused early). */
export const MAX_FRAGMENTS = 64;
/**
 * A ping is answered only while less than this waits in the socket's send queue: a peer that pings and never
 * reads would otherwise grow the relay's memory without bound (RFC 6455 5.5.3 lets a pong answer only the latest ping).
 */
export const PONG_BACKLOG_BYTES = 1024 * 1024;
/** Payloads up to this size are copied behind their header and leave in one write; larger ones go as two writes in one `writev`. */
const COPY_MAX_BYTES = 16 * 1024;
/** The longest close reason: a control frame's 125 bytes less the code. */
const MAX_REASON_BYTES = 123;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const KEY = /^[+/0-9A-Za-z]{22}==$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A close code a peer may send (RFC 6455 7.4; 1004-1006 and 1015 are never on the wire). */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** What a FrameReader finds in the bytes. */
export interface FrameSink {
  /** A whole data message, unmasked, its fragments joined. */
  message(data: Buffer, isBinary: boolean): void;
  ping(payload: Buffer): void;
  pong(payload: Buffer): void;
  /** The peer's close frame: its code (1005 when it gave none) and reason. */
  closeFrame(code: number, reason: string): void;
  /** The peer broke the protocol: this code and reason go back in a close frame; the reader reads nothing more. */
  refuse(code: number, reason: string): void;
}

/**
 * Parses a client's frames from bytes in whatever pieces they arrive. A frame
 * whole within one piece is unmasked in place and handed on as a view of it;
 * one that spans pieces is gathered into a buffer of its exact size, made once
 * its header says the size is allowed.
 */
export class FrameReader {
  /** The first bytes of a header split across pieces (≤ 14), made the first time one is. */
  private head: Buffer | null = null;
  private headLen = 0;
  /** The frame being gathered across pieces, and how much of it has come. */
  private body: Buffer | null = null;
  private got = 0;
  /** Its opcode and FIN bit, and its masking key (a copy: the piece it came in is gone by then). */
  private op = 0;
  private fin = false;
  private key: Buffer | null = null;
  /** The fragments of a data message still open (the empty ones not kept), its opcode, bytes and fragments so far. */
  private frags: Buffer[] | null = null;
  private fragOp = 0;
  private fragBytes = 0;
  private fragCount = 0;
  stopped = false;

  constructor(private readonly sink: FrameSink, private readonly maxPayload: number) {}

  /** Reads what `chunk` holds; the sink hears each frame as it completes. `chunk` is unmasked in place: it must be the reader's to change. */
  push(chunk: Buffer): void {
    let off = 0;
    const end = chunk.length;
    while (off < end && !this.stopped) {
      const body = this.body;
      if (body) {
        const n = Math.min(end - off, body.length - this.got);
        chunk.copy(body, this.got, off, off + n);
        this.got += n;
        off += n;
        if (this.got === body.length) {
          this.body = null;
          unmask(body, this.key!, 0);
          this.frame(body);
        }
        continue;
      }
      // A header: from this piece, or from what an earlier piece left plus this one.
      let src = chunk;
      let at = off;
      let avail = end - off;
      const carried = this.headLen;
      if (carried > 0) {
        const n = Math.min(14 - carried, avail);
        chunk.copy(this.head!, carried, off, off + n);
        src = this.head!;
        at = 0;
        avail = carried + n;
      }
      const size = this.header(src, at, avail);
      if (size <= 0) {
        if (size < 0) return; // refused
        // Not all of it yet: keep what there is (at most 13 bytes) for the next piece.
        const h = (this.head ??= Buffer.alloc(14));
        if (carried === 0) chunk.copy(h, 0, off, end);
        this.headLen = avail;
        return;
      }
      off += size - carried;
      this.headLen = 0;
      const len = this.len;
      const keyAt = at + size - 4;
      if (end - off >= len) {
        // The whole payload is in this piece: unmask it where it lies.
        const payload = chunk.subarray(off, off + len);
        off += len;
        unmask(payload, src, keyAt);
        this.frame(payload);
      } else {
        this.key = Buffer.from(src.subarray(keyAt, keyAt + 4));
        this.body = Buffer.allocUnsafe(len);
        this.got = 0;
      }
    }
  }

  /** The payload length of the header last read. */
  private len = 0;

  /**
   * Reads a header from `avail` bytes of `b` at `at`: its size when whole and
   * allowed, 0 when more bytes are needed, -1 when refused. Each check is made
   * as soon as the bytes it needs are here, so a bad frame is refused before
   * anything is buffered for it.
   */
  private header(b: Buffer, at: number, avail: number): number {
    if (avail < 2) return 0;
    const b0 = b[at]!;
    const b1 = b[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const op = b0 & 0x0f;
    const len7 = b1 & 0x7f;
    if ((b0 & 0x70) !== 0) return this.fail(WsCode.protocolError, 'RSV bits set: no extension was negotiated');
    if (op >= Opcode.close && op <= Opcode.pong) {
      if (!fin) return this.fail(WsCode.protocolError, 'fragmented control frame');
      if (len7 > 125) return this.fail(WsCode.protocolError, 'control frame over 125 bytes');
    } else if (op === Opcode.continuation) {
      if (!this.frags) return this.fail(WsCode.protocolError, 'continuation frame without a message to continue');
    } else if (op === Opcode.text || op === Opcode.binary) {
      if (this.frags) return this.fail(WsCode.protocolError, 'new message inside an unfinished fragmented one');
    } else {
      return this.fail(WsCode.protocolError, `unknown opcode ${op}`);
    }
    if ((b1 & 0x80) === 0) return this.fail(WsCode.protocolError, 'client frame not masked');
    const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
    if (avail < size) return 0;
    let len = len7;
    if (len7 === 126) {
      len = b.readUInt16BE(at + 2);
    } else if (len7 === 127) {
      const hi = b.readUInt32BE(at + 2);
      if (hi & 0x8000_0000) return this.fail(WsCode.protocolError, '64-bit length with the top bit set');
      // Anything of 4 GiB or more is over any limit this relay sets; the low word alone says the rest.
      len = hi > 0 ? Number.MAX_SAFE_INTEGER : b.readUInt32BE(at + 6);
    }
    if (op < Opcode.close) {
      if ((this.frags ? this.fragBytes : 0) + len > this.maxPayload) return this.fail(WsCode.tooBig, `message over ${this.maxPayload} bytes`);
      if (op === Opcode.continuation && this.fragCount >= MAX_FRAGMENTS) return this.fail(WsCode.tooBig, `message in over ${MAX_FRAGMENTS} fragments`);
    }
    this.op = op;
    this.fin = fin;
    this.len = len;
    return size;
  }

  /** A whole, unmasked frame. */
  private frame(payload: Buffer): void {
    const op = this.op;
    if (op >= Opcode.close) return this.control(op, payload);
    if (op !== Opcode.continuation) {
      if (this.fin) return this.deliver(payload, op);
      this.frags = [payload];
      this.fragOp = op;
      this.fragBytes = payload.length;
      this.fragCount = 1;
      return;
    }
    const frags = this.frags!;
    if (payload.length > 0) frags.push(payload);
    this.fragBytes += payload.length;
    // Counted whether kept or not: empty fragments must not make a message endless.
    this.fragCount++;
    if (!this.fin) return;
    this.frags = null;
    this.deliver(frags.length === 1 ? frags[0]! : Buffer.concat(frags, this.fragBytes), this.fragOp);
  }

  private deliver(data: Buffer, op: number): void {
    if (op === Opcode.text && !isUtf8(data)) return void this.fail(WsCode.invalidData, 'text message not UTF-8');
    this.sink.message(data, op === Opcode.binary);
  }

  private control(op: number, payload: Buffer): void {
    if (op === Opcode.ping) return this.sink.ping(payload);
    if (op === Opcode.pong) return this.sink.pong(payload);
    if (payload.length === 0) return this.stop(() => this.sink.closeFrame(WsCode.noStatus, ''));
    if (payload.length === 1) return void this.fail(WsCode.protocolError, 'close frame of 1 byte');
    const code = payload.readUInt16BE(0);
    if (!validCloseCode(code)) return void this.fail(WsCode.protocolError, `invalid close code ${code}`);
    const reason = payload.subarray(2);
    if (!isUtf8(reason)) return void this.fail(WsCode.invalidData, 'close reason not UTF-8');
    this.stop(() => this.sink.closeFrame(code, reason.toString()));
  }

  /** Nothing after a close frame is read (RFC 6455 5.5.1). */
  private stop(then: () => void): void {
    this.stopped = true;
    this.drop();
    then();
  }

  private fail(code: number, reason: string): -1 {
    this.stop(() => this.sink.refuse(code, reason));
    return -1;
  }

  private drop(): void {
    this.body = null;
    this.frags = null;
    this.head = null;
    this.key = null;
  }
}

/** A checked upgrade request: the key to answer. */
export type Handshake = { ok: true; key: string } | { ok: false; status: 400 | 405; message: string };

/** The checks `ws` made of an upgrade request before answering it (the server checks path, subprotocol and token itself). */
export function handshake(req: IncomingMessage): Handshake {
  if (req.method !== 'GET') return { ok: false, status: 405, message: 'a WebSocket upgrade is a GET' };
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return { ok: false, status: 400, message: 'invalid Upgrade header' };
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !KEY.test(key)) return { ok: false, status: 400, message: 'missing or invalid Sec-WebSocket-Key header' };
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return { ok: false, status: 400, message: 'missing or invalid Sec-WebSocket-Version header (13)' };
  const offered = req.headers['sec-websocket-protocol'];
  if (offered !== undefined) {
    const seen = new Set<string>();
    for (const p of offered.split(',')) {
      const t = p.trim();
      if (!TOKEN.test(t) || seen.has(t)) return { ok: false, status: 400, message: 'invalid Sec-WebSocket-Protocol header' };
      seen.add(t);
    }
  }
  return { ok: true, key };
}

/** RFC 6455 4.2.2: the answer to a Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** What hears a TunnelSocket: a link (relay/link.ts). */
export interface SocketHandler {
  onMessage(data: Buffer, isBinary: boolean): void;
  /** Once, when the socket has closed: the peer's close code and reason (1005: none given; 1006: no close frame). */
  onSocketClose(code: number, reason: string): void;
  onSocketError(err: Error): void;
}

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;
/** The TunnelSocket of a raw socket, so one set of event handlers serves every link (no closures per link). */
const OWNER = Symbol('evva.tunnelSocket');
type Owned = Duplex & { [OWNER]?: TunnelSocket };

/**
 * Answers a checked, authenticated upgrade with 101 and takes the socket over;
 * null when the socket went away meanwhile. `head` is what the client sent
 * after its request; `live` (the server's) holds every socket until it closes.
 */
export function accept(socket: Duplex, head: Buffer, key: string, protocol: string, maxPayload: number, live?: Set<TunnelSocket>): TunnelSocket | null {
  if (!socket.readable || !socket.writable) {
    socket.destroy();
    return null;
  }
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`);
  // Frames the client sent with its request are read as the socket's first data, once a handler is bound and the
  // link fully made (as ws did), never inside the link's constructor.
  if (head.length > 0) socket.unshift(head);
  return new TunnelSocket(socket, maxPayload, live);
}

/** One tunnel's WebSocket on its socket (the contract is at the top of this file). */
export class TunnelSocket implements FrameSink {
  private state = OPEN;
  private handler: SocketHandler | null = null;
  private readonly reader: FrameReader;
  private closeCode: number = WsCode.abnormal;
  private closeReason = '';
  private sentClose = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private readonly batch: Coalescer;

  constructor(private readonly socket: Duplex, maxPayload: number, private readonly live?: Set<TunnelSocket>) {
    this.reader = new FrameReader(this, maxPayload);
    this.batch = new Coalescer(socket);
    live?.add(this);
  }

  /** Starts reading; `handler` hears everything from now on. */
  bind(handler: SocketHandler): void {
    this.handler = handler;
    const s = this.socket as Owned & { setNoDelay?(on: boolean): void; setTimeout?(ms: number): void };
    s[OWNER] = this;
    s.setTimeout?.(0);
    s.setNoDelay?.(true);
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('close', onClose);
    s.on('error', onError);
  }

  get open(): boolean {
    return this.state === OPEN;
  }

  /** Bytes written and not yet taken by the kernel (what `ws` called bufferedAmount). */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** A text frame for a string, a binary frame for bytes; nothing once closing. */
  send(data: Buffer | string): void {
    if (this.state !== OPEN) return;
    if (typeof data === 'string') this.writeText(data);
    else this.write(Opcode.binary, data);
  }

  /** Sends a close frame (a reason over 123 bytes is cut at a character); the socket ends when the peer answers, or after CLOSE_WAIT_MS. */
  close(code: number, reason = ''): void {
    if (!validCloseCode(code)) throw new RangeError(`invalid close code ${code}`);
    if (this.state !== OPEN) return;
    this.state = CLOSING;
    this.sendClose(code, reason);
  }

  /** Drops the socket at once. */
  terminate(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSING;
    // Frames held for the end of this turn go first, as they would have without the coalescing.
    this.batch.flush();
    this.socket.destroy();
  }

  // ---- FrameSink: what the reader finds -------------------------------------

  /** @internal */
  message(data: Buffer, isBinary: boolean): void {
    if (this.state === OPEN) this.handler?.onMessage(data, isBinary);
  }

  /** @internal */
  ping(payload: Buffer): void {
    if (this.state === OPEN && this.socket.writableLength < PONG_BACKLOG_BYTES) this.write(Opcode.pong, payload);
  }

  /** @internal a pong answers no ping of ours: the tunnel's heartbeat is its own frames. */
  pong(): void { /* nothing to do */ }

  /** @internal the peer's close: answered with the same code and reason, then the socket ends. */
  closeFrame(code: number, reason: string): void {
    this.finish(code, reason, code === WsCode.noStatus ? 0 : code);
  }

  /** @internal the peer broke the protocol: it hears why, the handler hears it as an error (and as the close's code and reason), and the socket ends. */
  refuse(code: number, reason: string): void {
    this.finish(code, reason, code);
    this.handler?.onSocketError(new Error(`WebSocket frame refused: ${reason}`));
  }

  /** Keeps why the socket ends (for onSocketClose), sends `answer` in a close frame unless one went (0: no code), and ends the socket. */
  private finish(code: number, reason: string, answer: number): void {
    this.closeCode = code;
    this.closeReason = reason;
    if (this.state === OPEN) {
      this.state = CLOSING;
      this.sendClose(answer, reason);
    }
    this.socket.end();
  }

  // ---- the socket's events (shared handlers below) ---------------------------

  /** @internal */
  onData(chunk: Buffer): void {
    this.reader.push(chunk);
  }

  /** @internal the peer ended its side without a close handshake (or after it): this side ends too. */
  onEnd(): void {
    if (this.state === OPEN) this.state = CLOSING;
    this.socket.end();
  }

  /** @internal */
  onClose(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    clearTimeout(this.closeTimer);
    this.live?.delete(this);
    this.handler?.onSocketClose(this.closeCode, this.closeReason);
  }

  /** @internal */
  onError(err: Error): void {
    this.handler?.onSocketError(err);
    this.socket.destroy();
  }

  // ---- writing --------------------------------------------------------------

  private sendClose(code: number, reason: string): void {
    if (this.sentClose) return;
    this.sentClose = true;
    let payload: Buffer;
    if (code === 0) {
      payload = Buffer.alloc(0);
    } else {
      const r = Buffer.from(reason);
      let n = Math.min(r.length, MAX_REASON_BYTES);
      // Cut on a character boundary: never a UTF-8 continuation byte first after the cut.
      while (n < r.length && n > 0 && (r[n]! & 0xc0) === 0x80) n--;
      payload = Buffer.allocUnsafe(2 + n);
      payload.writeUInt16BE(code, 0);
      r.copy(payload, 2, 0, n);
    }
    this.write(Opcode.close, payload);
    // A peer that never answers must not keep the socket (one timer, only while closing).
    this.closeTimer = setTimeout(destroyLate, CLOSE_WAIT_MS, this.socket);
    this.closeTimer.unref?.();
  }

  private writeText(text: string): void {
    const len = Buffer.byteLength(text);
    if (len > COPY_MAX_BYTES) return this.write(Opcode.text, Buffer.from(text));
    const hl = headerLength(len);
    const frame = Buffer.allocUnsafe(hl + len);
    writeHeader(frame, Opcode.text, len);
    frame.write(text, hl);
    this.batch.before();
    this.socket.write(frame);
  }

  /** One frame (server frames are never masked): one write, or two in one writev for a large payload; held with the turn's others after its first. */
  private write(op: number, payload: Buffer): void {
    const len = payload.length;
    const hl = headerLength(len);
    if (len <= COPY_MAX_BYTES) {
      const frame = Buffer.allocUnsafe(hl + len);
      writeHeader(frame, op, len);
      payload.copy(frame, hl);
      this.batch.before();
      this.socket.write(frame);
      return;
    }
    const header = Buffer.allocUnsafe(hl);
    writeHeader(header, op, len);
    this.batch.before();
    this.socket.cork();
    this.socket.write(header);
    this.socket.write(payload);
    this.socket.uncork();
  }
}

function onData(this: Owned, chunk: Buffer): void {
  this[OWNER]?.onData(chunk);
}
function onEnd(this: Owned): void {
  this[OWNER]?.onEnd();
}
function onClose(this: Owned): void {
  this[OWNER]?.onClose();
}
function onError(this: Owned, err: Error): void {
  this[OWNER]?.onError(err);
}
function destroyLate(socket: Duplex): void {
  socket.destroy();
}
