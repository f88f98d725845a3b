/**
 * The companion's data frames (a chunk of an answer), written as masked
 * binary WebSocket messages straight on the socket under `ws`, from buffers
 * that are reused once the socket has taken them.
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
 */
import { createRequire } from 'node:module';
import { randomFillSync } from 'node:crypto';
import { BinaryType } from '../../../protocol/tunnel/frames.ts';
import { DATA_HEADER_BYTES, MAX_CHUNK_BYTES } from '../../../protocol/tunnel/limits.ts';

/** The part of a net.Socket (or tls.TLSSocket) a data frame is written to. */
export interface FrameSocket {
  write(data: Uint8Array, cb: (err?: Error | null) => void): boolean;
}

/** The longest WebSocket header a data frame needs: 2 bytes, a 64-bit length, a 4-byte mask key. */
const WS_HEADER_MAX_BYTES = 14;
/** A whole data frame of the largest chunk. */
const FRAME_MAX_BYTES = WS_HEADER_MAX_BYTES + DATA_HEADER_BYTES + MAX_CHUNK_BYTES;
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

/** bufferutil (the optional dependency `ws` uses) masks in native code; loaded with require so the bundler leaves it alone. */
const native = ((): { mask(source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number): void } | null => {
  try {
    return createRequire(import.meta.url)('bufferutil') as never;
  } catch {
    return null;
  }
})();

/** The key for the payload: the frame's key turned by the data header's 5 bytes, so byte i of the payload takes key[(5 + i) & 3]. */
const turned = Buffer.alloc(4);

/** Writes `output[offset + i] = source[i] ^ key[i & 3]`. */
function mask(source: Uint8Array, key: Uint8Array, output: Buffer, offset: number, length: number): void {
  if (native && length >= 32) return native.mask(source, key, output, offset, length);
  for (let i = 0; i < length; i++) output[offset + i] = source[i]! ^ key[i & 3]!;
}

function giveBack(this: Buffer): void {
  if (free.length < FRAME_POOL_MAX) free.push(this);
}

/**
 * Writes the data frame of `streamId` carrying `payload` (≤ MAX_CHUNK_BYTES) to `socket` as one masked binary
 * WebSocket message, in one write. `payload` is read before this returns and never kept.
 */
export function writeDataFrame(socket: FrameSocket, streamId: number, payload: Uint8Array): void {
  if (payload.byteLength > MAX_CHUNK_BYTES) throw new RangeError('chunk too large');
  const len = DATA_HEADER_BYTES + payload.byteLength;
  const hl = (len < 126 ? 2 : len < 0x1_0000 ? 4 : 10) + 4;
  const buf = free.pop() ?? Buffer.allocUnsafe(FRAME_MAX_BYTES);
  buf[0] = 0x82; // FIN, binary
  if (len < 126) {
    buf[1] = 0x80 | len;
  } else if (len < 0x1_0000) {
    buf[1] = 0x80 | 126;
    buf.writeUInt16BE(len, 2);
  } else {
    buf[1] = 0x80 | 127;
    buf.writeUInt32BE(0, 2);
    buf.writeUInt32BE(len, 6);
  }
  if (randomAt === RANDOM_POOL_BYTES) {
    randomFillSync(random);
    randomAt = 0;
  }
  const k = hl - 4;
  random.copy(buf, k, randomAt, randomAt + 4);
  randomAt += 4;
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

/** Buffers waiting for reuse (tests). */
export function pooledFrames(): number {
  return free.length;
}
