/**
 * The companion's frames, written as masked WebSocket messages straight on the
 * socket under `ws`: data frames (a chunk of an answer) from buffers that are
 * reused once the socket has taken them, every other message in one buffer
 * of its own (`writeMessage`). `ws` still makes the handshake, reads the
 * relay's frames and sends the close frame.
 *
 * Why: through `ws` each 64 KiB chunk took three fresh 64 KiB buffers (the
 * plugin socket's read, `encodeData`'s copy behind its 5-byte header, and
 * `ws`'s masked copy of that), freed only when V8 next collects. Between two
 * answers a collection frees them all and malloc hands the top of its heap
 * back to the kernel, so the next answer's buffers are new pages: the
 * companion took 245-290 page faults per MiB streamed (one per 4 KiB page
 * touched) and 7-11 ms of CPU per MiB, against 4-6 faults and ~5 ms with the
 * heap kept (docs/performance.md, round two, twelfth part). Here the header
 * and the masked chunk are built in one pass into a buffer from a small free
 * list, which takes it back when the socket's write has finished: one buffer
 * per chunk fewer to allocate, one copy fewer, and the same pages each time.
 *
 * The frame is what `ws` would send (FIN, binary, masked with a fresh random
 * key, RFC 6455 5.3); no extension is negotiated on the tunnel
 * (`perMessageDeflate: false`), so nothing else can be in the frame. Frames
 * written here and through `ws.send` go to one socket in the order they are
 * written, and count in `ws.bufferedAmount` alike (it reads the socket's queue).
 *
 * The other messages (heads, whole small answers, window, ping and pong
 * frames, JSON control frames) went through `ws.send` until round two's
 * sixteenth part: its Sender made a header buffer and a masked copy of each,
 * then corked the socket for two writes. Here a message is one buffer, its
 * header and masked payload written once. The header layout and the masking
 * are the relay's (common/wsframe.ts).
 */
import { randomFillSync } from 'node:crypto';
import { BinaryType } from '../../../protocol/tunnel/frames.ts';
import { DATA_HEADER_BYTES, MAX_CHUNK_BYTES } from '../../../protocol/tunnel/limits.ts';
import { HEADER_MAX_BYTES, Opcode, headerLength, mask, unmask, writeHeader } from '../../../common/wsframe.ts';

/** The part of a net.Socket (or tls.TLSSocket) a frame is written to. */
export interface FrameSocket {
  write(data: Uint8Array, cb?: (err?: Error | null) => void): boolean;
}

/** A whole data frame of the largest chunk. */
const FRAME_MAX_BYTES = HEADER_MAX_BYTES + DATA_HEADER_BYTES + MAX_CHUNK_BYTES;
/** A message up to this size (header included) is written from a buffer of its own size (Node's slab below 4 KiB); a larger one from the free list. */
const SMALL_FRAME_BYTES = 16 * 1024;
/**
 * Buffers kept for reuse (~1 MiB at most, and only after a big answer): a stream's window in flight is 4-16
 * frames; a frame written while none is free gets a new buffer, which is dropped if the list is full when it
 * comes back.
 */
export const FRAME_POOL_MAX = 16;
/** Random bytes drawn at once for mask keys (as `ws` does: one system call per 2 048 frames). */
const RANDOM_POOL_BYTES = 8192;

const free: Buffer[] = [];
const random = Buffer.alloc(RANDOM_POOL_BYTES);
let randomAt = RANDOM_POOL_BYTES;

/** The key for the payload: the frame's key turned by the data header's 5 bytes, so byte i of the payload takes key[(5 + i) & 3]. */
const turned = Buffer.alloc(4);

function giveBack(this: Buffer): void {
  if (free.length < FRAME_POOL_MAX) free.push(this);
}

/** Writes a fresh random mask key at `buf[at]` (RFC 6455 5.3: unpredictable, one per frame). */
function putKey(buf: Buffer, at: number): void {
  if (randomAt === RANDOM_POOL_BYTES) {
    randomFillSync(random);
    randomAt = 0;
  }
  random.copy(buf, at, randomAt, randomAt + 4);
  randomAt += 4;
}

/**
 * Writes the data frame of `streamId` carrying `payload` (≤ MAX_CHUNK_BYTES) to `socket` as one masked binary
 * WebSocket message, in one write. `payload` is read before this returns and never kept.
 */
export function writeDataFrame(socket: FrameSocket, streamId: number, payload: Uint8Array): void {
  if (payload.byteLength > MAX_CHUNK_BYTES) throw new RangeError('chunk too large');
  const len = DATA_HEADER_BYTES + payload.byteLength;
  const hl = headerLength(len, true);
  const buf = free.pop() ?? Buffer.allocUnsafe(FRAME_MAX_BYTES);
  writeHeader(buf, Opcode.binary, len, true);
  const k = hl - 4;
  putKey(buf, k);
  // The data header (type, stream id), masked by hand: five bytes.
  const sid = streamId >>> 0;
  buf[hl] = BinaryType.data ^ buf[k]!;
  buf[hl + 1] = (sid >>> 24) ^ buf[k + 1]!;
  buf[hl + 2] = ((sid >>> 16) & 0xff) ^ buf[k + 2]!;
  buf[hl + 3] = ((sid >>> 8) & 0xff) ^ buf[k + 3]!;
  buf[hl + 4] = (sid & 0xff) ^ buf[k]!;
  for (let i = 0; i < 4; i++) turned[i] = buf[k + ((i + DATA_HEADER_BYTES) & 3)]!;
  mask(payload, turned, buf, hl + DATA_HEADER_BYTES, payload.byteLength);
  socket.write(buf.subarray(0, hl + len), giveBack.bind(buf));
}

/**
 * Writes `data` to `socket` as one masked WebSocket message, text for a string and binary for bytes, in one
 * write: what `ws.send` sends, without its Sender (a header buffer, a masked copy, a cork and two writes per
 * message). `data` is read before this returns and never kept.
 */
export function writeMessage(socket: FrameSocket, data: Uint8Array | string): void {
  const text = typeof data === 'string';
  const len = text ? Buffer.byteLength(data) : data.byteLength;
  const hl = headerLength(len, true);
  const size = hl + len;
  const pooled = size > SMALL_FRAME_BYTES && size <= FRAME_MAX_BYTES;
  const buf = pooled ? free.pop() ?? Buffer.allocUnsafe(FRAME_MAX_BYTES) : Buffer.allocUnsafe(size);
  writeHeader(buf, text ? Opcode.text : Opcode.binary, len, true);
  putKey(buf, hl - 4);
  if (text) {
    buf.write(data, hl, len, 'utf8');
    // XOR both ways: masking the text where it was written.
    unmask(buf.subarray(hl, size), buf, hl - 4);
  } else {
    mask(data, buf.subarray(hl - 4, hl), buf, hl, len);
  }
  if (pooled) socket.write(buf.subarray(0, size), giveBack.bind(buf));
  else socket.write(buf);
}

/** Buffers waiting for reuse (tests). */
export function pooledFrames(): number {
  return free.length;
}
