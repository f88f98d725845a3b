/**
 * The bytes of a WebSocket frame's header (RFC 6455 5.2) and the masking of
 * its payload (5.3), for both ends of the tunnel: the relay writes server
 * frames (never masked, relay/socket.ts), the companion client frames (always
 * masked, main/core/tunnel/dataframe.ts). One home for the layout, so the two
 * ends cannot drift apart.
 */
import { createRequire } from 'node:module';

/** RFC 6455 opcodes. */
export const Opcode = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** The longest header: 2 bytes, a 64-bit length, a 4-byte mask key. */
export const HEADER_MAX_BYTES = 14;

/**
 * bufferutil (an optional dependency, the one `ws` uses) masks and unmasks in native code; without it the loops
 * below do. Loaded with require so the bundler leaves the native module alone.
 */
const native = ((): {
  mask(source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number): void;
  unmask(data: Buffer, mask: Buffer): void;
} | null => {
  try {
    return createRequire(import.meta.url)('bufferutil') as never;
  } catch {
    return null;
  }
})();

/** Below this many bytes (every heartbeat, most control frames) the call into native code costs more than the loop. */
const NATIVE_FROM_BYTES = 32;

/** Unmasks `data` in place with the 4-byte key at `key[at]`. */
export function unmask(data: Buffer, key: Buffer, at: number): void {
  // bufferutil checks no bounds: a key shorter than 4 bytes would be read past its end in native code.
  if (at < 0 || at + 4 > key.length) throw new RangeError('mask key out of bounds');
  if (native && data.length >= NATIVE_FROM_BYTES) return native.unmask(data, at === 0 && key.length === 4 ? key : key.subarray(at, at + 4));
  for (let i = 0; i < data.length; i++) data[i]! ^= key[at + (i & 3)]!;
}

/** Writes `output[offset + i] = source[i] ^ key[i & 3]` for `length` bytes (`source` may be `output` at `offset`). */
export function mask(source: Uint8Array, key: Uint8Array, output: Buffer, offset: number, length: number): void {
  // bufferutil checks no bounds: a wrong offset or length would read or write past a buffer in native code.
  if (length < 0 || offset < 0 || length > source.length || offset + length > output.length || key.length < 4) throw new RangeError('mask out of bounds');
  if (native && length >= NATIVE_FROM_BYTES) return native.mask(source, key, output, offset, length);
  for (let i = 0; i < length; i++) output[offset + i] = source[i]! ^ key[i & 3]!;
}

/** The header's size for a payload of `len` bytes, its mask key included when `masked`. */
export function headerLength(len: number, masked = false): number {
  return (len < 126 ? 2 : len < 0x1_0000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a final frame's header (FIN, `op`, the length in its shortest form, the mask bit when `masked`) at the
 * start of `b`; a masked frame's 4-byte key is the caller's to write after it (at `headerLength(len, true) - 4`).
 */
export function writeHeader(b: Buffer, op: number, len: number, masked = false): void {
  const m = masked ? 0x80 : 0;
  b[0] = 0x80 | op;
  if (len < 126) {
    b[1] = m | len;
  } else if (len < 0x1_0000) {
    b[1] = m | 126;
    b.writeUInt16BE(len, 2);
  } else {
    b[1] = m | 127;
    b.writeUInt32BE(Math.floor(len / 0x1_0000_0000), 2);
    b.writeUInt32BE(len >>> 0, 6);
  }
}
