/**
 * Frames on the wire, both ways: JSON control frames (text messages), and
 * binary frames (1 type byte, a u32 big-endian stream id, then the type's own
 * fields). Every decoder refuses what the peer must not send, with the close
 * code and a reason (FrameError); no decoded frame is ever unvalidated.
 *
 * Revision 3 puts the frames of every exchange in binary form (BinaryType in
 * frames.ts): a small fixed header, the strings as length-prefixed UTF-8, so
 * no JSON is built, parsed or checked field by field per request. The JSON
 * forms of those frames are still decoded (older peers, pings before welcome);
 * they are checked by their zod schemas only.
 *
 * Layouts after the type byte (integers unsigned, big-endian):
 *   data    sid u32, payload 1..MAX_CHUNK_BYTES
 *   head    sid u32, n u32, n bytes of JSON {status, headers, end}, payload 0..MAX_CHUNK_BYTES   (revision 2)
 *   req     sid u32, timeoutMs u32, flags u8 (1 = a body follows), method (u8 length + UTF-8),
 *           path (u16 length + UTF-8), headers                                                (revision 3)
 *   res     sid u32, status u16, flags u8 (1 = end: nothing follows), headers, payload 0..MAX_CHUNK_BYTES   (revision 3)
 *   end     sid u32                                                                          (revision 3)
 *   window  sid u32, bytes u32 (at most maxWindow(rev): 256 KiB, 1 MiB from revision 4)      (revision 3)
 *   cancel  sid u32, reason as UTF-8 to the end of the frame (may be empty)                  (revision 3)
 *   ping    id u32 (in place of the stream id)                                               (revision 3)
 *   pong    id u32                                                                           (revision 3)
 *   headers: count u8, then per header: name (u16 length + ASCII token), value (u16 length + UTF-8)
 */
import {
  CloseCode, DATA_HEADER_BYTES, MAX_CANCEL_REASON_CHARS, MAX_CHUNK_BYTES, MAX_CONTROL_FRAME_BYTES, MAX_FRAME_BYTES,
  MAX_FRAME_HEADER_VALUE_CHARS, MAX_HEADER_NAME_CHARS, MAX_HEADERS, MAX_METHOD_CHARS, MAX_PATH_CHARS,
  MAX_REQUEST_TIMEOUT_MS, MAX_STREAM_ID, MAX_STREAM_WINDOW_BYTES, STREAM_WINDOW_BYTES,
} from './limits.ts';
import { BinaryType, ControlFrame, FrameError, HeadJson, TUNNEL_REVISION, type Frame, type HeadFrame, type ReqFrame } from './frames.ts';

/** The frames revision 3 sends in binary form (the JSON forms of these are what revisions 1 and 2 send). */
export type ExchangeFrame =
  | ReqFrame
  | { t: 'end'; sid: number }
  | { t: 'window'; sid: number; bytes: number }
  | { t: 'cancel'; sid: number; reason?: string }
  | { t: 'ping' | 'pong'; id: number };

/** The first revision that has each binary frame type. */
const SINCE: Record<number, number> = {
  [BinaryType.data]: 1, [BinaryType.head]: 2, [BinaryType.req]: 3, [BinaryType.res]: 3, [BinaryType.end]: 3,
  [BinaryType.window]: 3, [BinaryType.cancel]: 3, [BinaryType.ping]: 3, [BinaryType.pong]: 3,
};
const NAMES: Record<number, string> = Object.fromEntries(Object.entries(BinaryType).map(([k, v]) => [v, k]));

// ---- encoding ---------------------------------------------------------------

/** Serialises a control frame as JSON; it never produces a frame the peer would refuse as too large. */
export function encodeControl(frame: ControlFrame): string {
  const text = JSON.stringify(frame);
  if (Buffer.byteLength(text) > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, `control frame '${frame.t}' too large`);
  return text;
}

/**
 * One frame of an exchange as the link's revision sends it: binary from
 * revision 3 on, JSON before.
 */
export function encodeFrame(frame: ExchangeFrame, rev: number): Buffer | string {
  if (rev < 3) return encodeControl(frame as ControlFrame);
  switch (frame.t) {
    case 'req': return encodeReq(frame);
    case 'end': return fixed(BinaryType.end, frame.sid);
    case 'window': {
      if (!isCount(frame.bytes, 1, maxWindow(rev))) throw new FrameError(CloseCode.protocolError, `window of ${frame.bytes} bytes`);
      const out = fixed(BinaryType.window, frame.sid, 4);
      out.writeUInt32BE(frame.bytes, DATA_HEADER_BYTES);
      return out;
    }
    case 'cancel': {
      const reason = (frame.reason ?? '').slice(0, MAX_CANCEL_REASON_CHARS);
      const n = Buffer.byteLength(reason);
      const out = fixed(BinaryType.cancel, frame.sid, n);
      out.write(reason, DATA_HEADER_BYTES, 'utf8');
      return out;
    }
    case 'ping': case 'pong': {
      // The heartbeat's ids count up from 1; a u32 lasts 400 years of pings every 3 s.
      const out = Buffer.allocUnsafe(DATA_HEADER_BYTES);
      out[0] = frame.t === 'ping' ? BinaryType.ping : BinaryType.pong;
      out.writeUInt32BE(frame.id >>> 0, 1);
      return out;
    }
  }
}

/** Builds one binary body-chunk frame; the payload must be at most MAX_CHUNK_BYTES. */
export function encodeData(streamId: number, payload: Uint8Array): Buffer {
  if (payload.byteLength > MAX_CHUNK_BYTES) throw new FrameError(CloseCode.frameTooLarge, 'chunk too large');
  const out = Buffer.allocUnsafe(DATA_HEADER_BYTES + payload.byteLength);
  out[0] = BinaryType.data;
  out.writeUInt32BE(streamId, 1);
  out.set(payload, DATA_HEADER_BYTES);
  return out;
}

/** Bytes of a revision-2 head frame before its JSON: type (1) + stream id (4) + JSON length (4). */
const HEAD_HEADER_BYTES = 9;

/**
 * Builds the response head of `streamId` with the first body bytes, as the
 * link's revision has it: binary (`res`) from revision 3, the JSON head frame
 * in revision 2. The payload counts against the stream's credit like a data chunk.
 */
export function encodeHead(streamId: number, head: { status: number; headers: Record<string, string>; end: boolean }, payload: Uint8Array, rev = 2): Buffer {
  if (payload.byteLength > MAX_CHUNK_BYTES) throw new FrameError(CloseCode.frameTooLarge, 'chunk too large');
  if (rev >= 3) return encodeRes(streamId, head, payload);
  const json = Buffer.from(JSON.stringify({ status: head.status, headers: head.headers, end: head.end }));
  if (json.length > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, "control frame 'head' too large");
  const out = Buffer.allocUnsafe(HEAD_HEADER_BYTES + json.length + payload.byteLength);
  out[0] = BinaryType.head;
  out.writeUInt32BE(streamId, 1);
  out.writeUInt32BE(json.length, 5);
  json.copy(out, HEAD_HEADER_BYTES);
  out.set(payload, HEAD_HEADER_BYTES + json.length);
  return out;
}

/** The most credit one stream may have on a link of revision `rev` (and so the largest window frame). */
export function maxWindow(rev: number): number {
  return rev >= 4 ? MAX_STREAM_WINDOW_BYTES : STREAM_WINDOW_BYTES;
}

/** A frame of `type` for stream `sid` with `extra` bytes after the stream id (filled by the caller). */
function fixed(type: number, sid: number, extra = 0): Buffer {
  if (!isCount(sid, 1, MAX_STREAM_ID)) throw new FrameError(CloseCode.protocolError, `stream id ${sid}`);
  const out = Buffer.allocUnsafe(DATA_HEADER_BYTES + extra);
  out[0] = type;
  out.writeUInt32BE(sid, 1);
  return out;
}

const isCount = (v: unknown, min: number, max: number): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;

/**
 * Bytes `s` takes as UTF-8. Heads are nearly all ASCII: that is counted here
 * without a call into C++ (Buffer.byteLength), which costs more than the loop
 * for strings this short.
 */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s);
  return s.length;
}

/** Writes `s` at `off` as UTF-8; `n` is its utf8Length. Short ASCII byte by byte, the rest natively. */
function put(out: Buffer, s: string, off: number, n: number): void {
  if (n !== s.length) out.write(s, off, 'utf8');
  else if (n > 64) out.write(s, off, 'latin1');
  else for (let i = 0; i < n; i++) out[off + i] = s.charCodeAt(i);
}

/** Bytes the headers take in binary form; throws on a header no peer would accept. */
function headersBytes(headers: Record<string, string>): number {
  let n = 1;
  let count = 0;
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name]!;
    if (++count > MAX_HEADERS) throw new FrameError(CloseCode.protocolError, 'too many headers');
    if (name.length > MAX_HEADER_NAME_CHARS || !isToken(name)) throw new FrameError(CloseCode.protocolError, `bad header name ${name.slice(0, 40)}`);
    if (value.length > MAX_FRAME_HEADER_VALUE_CHARS) throw new FrameError(CloseCode.protocolError, `header ${name.slice(0, 40)} too long`);
    n += 4 + name.length + utf8Length(value);
  }
  return n;
}

function writeHeaders(out: Buffer, off: number, headers: Record<string, string>): number {
  const countAt = off++;
  let count = 0;
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    count++;
    // Names are ASCII tokens (headersBytes checked): one byte per character.
    out.writeUInt16BE(name.length, off);
    put(out, name, off + 2, name.length);
    off += 2 + name.length;
    const value = headers[name]!;
    const n = utf8Length(value);
    out.writeUInt16BE(n, off);
    put(out, value, off + 2, n);
    off += 2 + n;
  }
  out[countAt] = count;
  return off;
}

/** Bytes of a req frame before its method: type, sid, timeoutMs, flags, method length. */
const REQ_FIXED_BYTES = 11;
/** Bytes of a res frame before its headers: type, sid, status, flags. */
const RES_FIXED_BYTES = 8;

function encodeReq(f: Omit<ReqFrame, 't'>): Buffer {
  if (!isCount(f.timeoutMs, 1, MAX_REQUEST_TIMEOUT_MS)) throw new FrameError(CloseCode.protocolError, `timeout ${f.timeoutMs}`);
  if (f.method.length < 1 || f.method.length > MAX_METHOD_CHARS) throw new FrameError(CloseCode.protocolError, 'bad method');
  if (f.path.length < 1 || f.path.length > MAX_PATH_CHARS) throw new FrameError(CloseCode.protocolError, 'bad path');
  const m = utf8Length(f.method);
  const p = utf8Length(f.path);
  const size = REQ_FIXED_BYTES + m + 2 + p + headersBytes(f.headers);
  if (size > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, "control frame 'req' too large");
  const out = fixed(BinaryType.req, f.sid, size - DATA_HEADER_BYTES);
  out.writeUInt32BE(f.timeoutMs, 5);
  out[9] = f.body ? 1 : 0;
  out[10] = m;
  put(out, f.method, REQ_FIXED_BYTES, m);
  out.writeUInt16BE(p, REQ_FIXED_BYTES + m);
  put(out, f.path, REQ_FIXED_BYTES + m + 2, p);
  writeHeaders(out, REQ_FIXED_BYTES + m + 2 + p, f.headers);
  return out;
}

function encodeRes(sid: number, head: { status: number; headers: Record<string, string>; end: boolean }, payload: Uint8Array): Buffer {
  if (!isCount(head.status, 100, 599)) throw new FrameError(CloseCode.protocolError, `status ${head.status}`);
  const h = RES_FIXED_BYTES + headersBytes(head.headers);
  if (h > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, "control frame 'res' too large");
  const out = fixed(BinaryType.res, sid, h - DATA_HEADER_BYTES + payload.byteLength);
  out.writeUInt16BE(head.status, 5);
  out[7] = head.end ? 1 : 0;
  writeHeaders(out, RES_FIXED_BYTES, head.headers);
  out.set(payload, h);
  return out;
}

// ---- decoding ---------------------------------------------------------------

/**
 * Parses and validates one WebSocket message of a link at revision `rev`
 * (binary frames of a later revision are refused). Never returns an
 * unvalidated frame: anything malformed, oversized or unknown throws a
 * FrameError that names the close code to use.
 */
export function decodeFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean, rev: number = TUNNEL_REVISION): Frame {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return isBinary ? decodeBinary(buf, rev) : decodeJson(buf);
}

function decodeJson(buf: Buffer): Frame {
  if (buf.length > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, `control frame of ${buf.length} bytes over ${MAX_CONTROL_FRAME_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new FrameError(CloseCode.protocolError, 'control frame is not JSON');
  }
  const parsed = ControlFrame.safeParse(json);
  if (!parsed.success) {
    const t = typeof json === 'object' && json !== null && 't' in json ? String((json as { t: unknown }).t).slice(0, 20) : '?';
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || 't'}: ${issue.message}` : 'invalid';
    throw new FrameError(CloseCode.protocolError, `bad '${t}' frame: ${where}`);
  }
  return parsed.data;
}

const short = (what: string) => new FrameError(CloseCode.protocolError, `${what} frame shorter than its fields`);

function decodeBinary(buf: Buffer, rev: number): Frame {
  if (buf.length < DATA_HEADER_BYTES) throw new FrameError(CloseCode.protocolError, 'binary frame shorter than its header');
  const type = buf[0]!;
  const since = SINCE[type];
  if (since === undefined) throw new FrameError(CloseCode.protocolError, `unknown binary frame type ${type}`);
  if (since > rev) throw new FrameError(CloseCode.protocolError, `'${NAMES[type]}' frame on a revision ${rev} link`);
  const id = buf.readUInt32BE(1);
  // Heartbeat ids may be 0; every other frame names a stream.
  if (id === 0 && type !== BinaryType.ping && type !== BinaryType.pong) throw new FrameError(CloseCode.protocolError, 'stream id 0');
  switch (type) {
    case BinaryType.data: {
      if (buf.length > MAX_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, `binary frame of ${buf.length} bytes over ${MAX_FRAME_BYTES}`);
      if (buf.length === DATA_HEADER_BYTES) throw new FrameError(CloseCode.protocolError, 'empty data frame');
      return { t: 'data', sid: id, payload: buf.subarray(DATA_HEADER_BYTES) };
    }
    case BinaryType.head: return decodeJsonHead(buf, id);
    case BinaryType.req: return decodeReq(buf, id);
    case BinaryType.res: return decodeRes(buf, id);
    case BinaryType.end:
      exact(buf, DATA_HEADER_BYTES, 'end');
      return { t: 'end', sid: id };
    case BinaryType.window: {
      exact(buf, DATA_HEADER_BYTES + 4, 'window');
      const bytes = buf.readUInt32BE(DATA_HEADER_BYTES);
      if (bytes < 1 || bytes > maxWindow(rev)) throw new FrameError(CloseCode.protocolError, `window of ${bytes} bytes`);
      return { t: 'window', sid: id, bytes };
    }
    case BinaryType.cancel: {
      if (buf.length > DATA_HEADER_BYTES + 3 * MAX_CANCEL_REASON_CHARS) throw new FrameError(CloseCode.protocolError, 'cancel reason too long');
      if (buf.length === DATA_HEADER_BYTES) return { t: 'cancel', sid: id };
      const reason = buf.toString('utf8', DATA_HEADER_BYTES);
      if (reason.length > MAX_CANCEL_REASON_CHARS) throw new FrameError(CloseCode.protocolError, 'cancel reason too long');
      return { t: 'cancel', sid: id, reason };
    }
    default: // ping, pong: the only types left
      exact(buf, DATA_HEADER_BYTES, NAMES[type]!);
      return { t: type === BinaryType.ping ? 'ping' : 'pong', id };
  }
}

function exact(buf: Buffer, n: number, what: string): void {
  if (buf.length !== n) throw new FrameError(CloseCode.protocolError, `'${what}' frame of ${buf.length} bytes, not ${n}`);
}

function decodeJsonHead(buf: Buffer, sid: number): HeadFrame {
  if (buf.length < HEAD_HEADER_BYTES) throw new FrameError(CloseCode.protocolError, 'head frame shorter than its header');
  const jsonLen = buf.readUInt32BE(5);
  if (jsonLen > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, `head of ${jsonLen} bytes over ${MAX_CONTROL_FRAME_BYTES}`);
  if (HEAD_HEADER_BYTES + jsonLen > buf.length) throw new FrameError(CloseCode.protocolError, 'head frame shorter than its JSON length');
  const payload = payloadAt(buf, HEAD_HEADER_BYTES + jsonLen);
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8', HEAD_HEADER_BYTES, HEAD_HEADER_BYTES + jsonLen));
  } catch {
    throw new FrameError(CloseCode.protocolError, 'head frame JSON is not JSON');
  }
  const parsed = HeadJson.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FrameError(CloseCode.protocolError, `bad 'head' frame: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`);
  }
  return { t: 'head', sid, ...parsed.data, payload };
}

function payloadAt(buf: Buffer, at: number): Buffer {
  const payload = buf.subarray(at);
  if (payload.length > MAX_CHUNK_BYTES) throw new FrameError(CloseCode.frameTooLarge, 'chunk larger than MAX_CHUNK_BYTES');
  return payload;
}

function decodeReq(buf: Buffer, sid: number): Frame {
  if (buf.length > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, `req frame of ${buf.length} bytes over ${MAX_CONTROL_FRAME_BYTES}`);
  if (buf.length < REQ_FIXED_BYTES) throw short('req');
  const timeoutMs = buf.readUInt32BE(5);
  if (timeoutMs < 1 || timeoutMs > MAX_REQUEST_TIMEOUT_MS) throw new FrameError(CloseCode.protocolError, `bad 'req' frame: timeoutMs ${timeoutMs}`);
  const flags = buf[9]!;
  if (flags > 1) throw new FrameError(CloseCode.protocolError, `bad 'req' frame: flags ${flags}`);
  const m = buf[10]!;
  let off = REQ_FIXED_BYTES + m;
  if (off + 2 > buf.length) throw short('req');
  const method = text(buf, REQ_FIXED_BYTES, off);
  if (method.length < 1 || method.length > MAX_METHOD_CHARS) throw new FrameError(CloseCode.protocolError, "bad 'req' frame: method");
  const p = buf.readUInt16BE(off);
  off += 2;
  if (off + p > buf.length) throw short('req');
  const path = text(buf, off, off + p);
  if (path.length < 1 || path.length > MAX_PATH_CHARS) throw new FrameError(CloseCode.protocolError, "bad 'req' frame: path");
  const [headers, end] = readHeaders(buf, off + p, 'req');
  if (end !== buf.length) throw new FrameError(CloseCode.protocolError, "bad 'req' frame: bytes after its headers");
  return { t: 'req', sid, method, path, headers, body: flags === 1, timeoutMs };
}

function decodeRes(buf: Buffer, sid: number): HeadFrame {
  if (buf.length < RES_FIXED_BYTES + 1) throw short('res');
  const status = buf.readUInt16BE(5);
  if (status < 100 || status > 599) throw new FrameError(CloseCode.protocolError, `bad 'res' frame: status ${status}`);
  const flags = buf[7]!;
  if (flags > 1) throw new FrameError(CloseCode.protocolError, `bad 'res' frame: flags ${flags}`);
  const [headers, at] = readHeaders(buf, RES_FIXED_BYTES, 'res');
  if (at > MAX_CONTROL_FRAME_BYTES) throw new FrameError(CloseCode.frameTooLarge, `res head of ${at} bytes over ${MAX_CONTROL_FRAME_BYTES}`);
  return { t: 'head', sid, status, headers, end: flags === 1, payload: payloadAt(buf, at) };
}

/** Buffer's own slicers (what toString calls after looking the encoding up): a head has a dozen strings. */
type Slicers = Buffer & { latin1Slice(a: number, b: number): string; utf8Slice(a: number, b: number): string };
const latin1 = (buf: Buffer, a: number, b: number): string => (buf as Slicers).latin1Slice(a, b);

/** Bytes [a, b) as UTF-8 text; ASCII (nearly all of a head) is checked in JS and sliced as Latin-1, the same characters. */
function text(buf: Buffer, a: number, b: number): string {
  for (let i = a; i < b; i++) if (buf[i]! >= 0x80) return (buf as Slicers).utf8Slice(a, b);
  return latin1(buf, a, b);
}

/** Printable ASCII bytes allowed in a header name (an HTTP token). */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** The headers block at `off`: the headers and the offset after them. */
function readHeaders(buf: Buffer, off: number, what: string): [Record<string, string>, number] {
  if (off >= buf.length) throw short(what);
  const count = buf[off++]!;
  if (count > MAX_HEADERS) throw new FrameError(CloseCode.protocolError, `bad '${what}' frame: ${count} headers`);
  const headers: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    if (off + 2 > buf.length) throw short(what);
    const n = buf.readUInt16BE(off);
    off += 2;
    if (n < 1 || n > MAX_HEADER_NAME_CHARS || off + n + 2 > buf.length) throw new FrameError(CloseCode.protocolError, `bad '${what}' frame: header name`);
    for (let j = off; j < off + n; j++) {
      const c = buf[j]!;
      if (c >= 128 || TOKEN[c] === 0) throw new FrameError(CloseCode.protocolError, `bad '${what}' frame: header name`);
    }
    const name = latin1(buf, off, off + n);
    off += n;
    const v = buf.readUInt16BE(off);
    off += 2;
    if (off + v > buf.length) throw short(what);
    const value = v === 0 ? '' : text(buf, off, off + v);
    if (value.length > MAX_FRAME_HEADER_VALUE_CHARS) throw new FrameError(CloseCode.protocolError, `bad '${what}' frame: header ${name.slice(0, 40)} too long`);
    off += v;
    headers[name] = value;
  }
  return [headers, off];
}
