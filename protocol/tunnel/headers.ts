/**
 * Which HTTP headers cross the tunnel: hop-by-hop headers never do, and what
 * does is bounded so that any caller's or plugin's headers fit a frame's
 * limits (limits.ts) and can never get a link closed.
 */
import { MAX_HEADERS } from './limits.ts';

/** Headers that describe one hop, never forwarded through the tunnel in either direction (RFC 9110 §7.6.1), plus Host. */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
]);

/** Largest total of header names and values one req/res frame carries (JSON escaping may double it; the frame still fits). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Longest single header value forwarded. */
export const MAX_HEADER_VALUE_CHARS = 8 * 1024;
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_BAD_RE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/**
 * The headers of `h` that may cross the tunnel: lower-cased, without hop-by-hop
 * headers (and any the Connection header names), without invalid names or
 * values, at most MAX_HEADERS of them and MAX_HEADER_BYTES in total. Whatever
 * the input, the result always passes the req/res frame validators, so odd
 * headers from a caller or the plugin can never get a link closed.
 *
 * `drop` names (lower-case) more headers the caller keeps to itself: they are
 * left out here rather than deleted afterwards, because `delete` turns the
 * result into a slow dictionary object that every later reader pays for, and
 * so a dropped header does not count against the limits.
 */
export function forwardableHeaders(h: Record<string, string | string[] | undefined>, drop?: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  const named = connectionNames(h['connection'] ?? h['Connection']);
  let count = 0;
  let bytes = 0;
  for (const k in h) {
    const v = h[k];
    if (v === undefined || !Object.hasOwn(h, k)) continue;
    const name = k.toLowerCase();
    if (HOP_BY_HOP.has(name) || drop?.has(name) || named?.has(name) || !HEADER_NAME_RE.test(name)) continue;
    const value = Array.isArray(v) ? v.join(', ') : String(v);
    if (value.length > MAX_HEADER_VALUE_CHARS || HEADER_VALUE_BAD_RE.test(value)) continue;
    const size = name.length + utf8Length(value);
    if (count >= MAX_HEADERS || bytes + size > MAX_HEADER_BYTES) break;
    out[name] = value;
    count++;
    bytes += size;
  }
  return out;
}

/** The header names a Connection header lists; none for the usual `keep-alive` or `close` (no header of those names crosses anyway). */
function connectionNames(v: string | string[] | undefined): Set<string> | null {
  if (v === undefined || (typeof v === 'string' && USUAL_CONNECTION.test(v))) return null;
  return new Set(String(v).toLowerCase().split(',').map((x) => x.trim()).filter(Boolean));
}
const USUAL_CONNECTION = /^\s*(?:keep-alive|close)\s*$/i;

/** UTF-8 bytes of `s`, counted in JS for ASCII (a header value nearly always is). */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s);
  return s.length;
}
