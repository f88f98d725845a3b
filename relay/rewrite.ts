/**
 * Streaming link rewriting: the plugin writes absolute links with the origin
 * the companion called it on (e.g. `http://127.0.0.1:9042/api/users/Anna`);
 * the EVVA backend must get links back into the relay instead. Works chunk by
 * chunk, holding back at most (longest needle - 1) bytes across a chunk
 * boundary, so memory stays bounded whatever the body size.
 */

/** Content types whose bodies are rewritten; anything else passes through byte for byte. */
export function isTextual(contentType: string | undefined): boolean {
  if (!contentType) return false;
  // A plugin answers with a handful of distinct types: each is judged once (split, trim and lower-case per
  // call were ~1% of the relay's CPU per small call). Bounded: the plugin writes this header, not us.
  let known = textual.get(contentType);
  if (known === undefined) {
    const t = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    known = t.startsWith('text/') || t === 'application/json' || t.endsWith('+json')
      || t === 'application/xml' || t.endsWith('+xml') || t === 'application/javascript';
    if (contentType.length <= 128) {
      if (textual.size >= TYPES_KEPT) textual.clear();
      textual.set(contentType, known);
    }
  }
  return known;
}
/** Content types judged so far (isTextual), at most TYPES_KEPT of at most 128 characters each. */
const textual = new Map<string, boolean>();
const TYPES_KEPT = 64;

/** The replacements for one venue: the plain origin and its JSON-escaped (`http:\/\/`) form. */
export function linkReplacements(frontOrigin: string, venueBase: string): Array<[string, string]> {
  const esc = (s: string) => s.replace(/\//g, '\\/');
  const pairs: Array<[string, string]> = [[frontOrigin, venueBase]];
  if (esc(frontOrigin) !== frontOrigin) pairs.push([esc(frontOrigin), esc(venueBase)]);
  return pairs;
}

/**
 * The whole of a body rewritten at once (an answer that came in one frame):
 * the same leftmost, longest, non-overlapping matches as LinkRewriter. Returns
 * `body` itself when nothing matched.
 *
 * When no replacement is shorter than what it replaces (a venue's links: the
 * relay's venue base is longer than the plugin's origin), it works on the
 * bytes alone: the needles are found with Buffer#indexOf, the body is copied
 * once into the answer and each stretch between links is moved right within
 * it (last first, so nothing is overwritten before it moves). No string is
 * made: the Latin-1 string of the body and the answer built as a string were
 * ~7 KB of JS heap per 2.4 KB answer, over a third of everything the relay
 * allocated per call, and the scavenges that paid for it were a tenth of its
 * CPU. Any other list takes the string path below.
 */
export function rewriteWhole(body: Buffer, replacements: Array<[string, string]>): Buffer {
  let prep = prepared.get(replacements);
  if (!prep) {
    const kept = replacements.filter(([from]) => from.length > 0);
    const bytes = kept.map(([from, to]) => ({ from: Buffer.from(from), to: Buffer.from(to) }));
    prep = {
      latin1: kept.map(([from, to]) => [latin1Of(from), latin1Of(to)] as const),
      bytes: bytes.every((n) => n.to.length >= n.from.length) ? bytes : null,
    };
    prepared.set(replacements, prep);
  }
  return prep.bytes ? rewriteBytes(body, prep.bytes) : rewriteLatin1(body, prep.latin1);
}

/** A replacements list in the forms rewriteWhole works with; `bytes` only when no replacement shrinks. */
interface Prepared {
  latin1: ReadonlyArray<readonly [string, string]>;
  bytes: ReadonlyArray<{ from: Buffer; to: Buffer }> | null;
}
/** Per replacements list (the relay reuses one list per venue and origin). */
const prepared = new WeakMap<Array<[string, string]>, Prepared>();

/** Where each match is and whose (pairs of numbers), reused by every call: rewriteBytes is synchronous. */
let hits = new Int32Array(64);

function rewriteBytes(body: Buffer, needles: ReadonlyArray<{ from: Buffer; to: Buffer }>): Buffer {
  const n = needles.length;
  const next: number[] = [];
  let any = false;
  for (let i = 0; i < n; i++) {
    const at = body.indexOf(needles[i]!.from);
    next.push(at);
    if (at >= 0) any = true;
  }
  if (!any) return body;
  let count = 0;
  let size = body.length;
  let pos = 0;
  for (;;) {
    let k = -1;
    for (let i = 0; i < n; i++) {
      let at = next[i]!;
      if (at >= 0 && at < pos) next[i] = at = body.indexOf(needles[i]!.from, pos);
      if (at >= 0 && (k < 0 || at < next[k]! || (at === next[k]! && needles[i]!.from.length > needles[k]!.from.length))) k = i;
    }
    if (k < 0) break;
    const at = next[k]!;
    const { from, to } = needles[k]!;
    if (count + 2 > hits.length) {
      const more = new Int32Array(hits.length * 2);
      more.set(hits);
      hits = more;
    }
    hits[count++] = at;
    hits[count++] = k;
    size += to.length - from.length;
    pos = at + from.length;
    next[k] = body.indexOf(from, pos);
  }
  // The body lands at the start of the answer; walking the matches from the last, the stretch after each
  // moves right by what the replacements before it add, and the replacement goes in front of it.
  const out = Buffer.allocUnsafe(size);
  out.set(body, 0);
  let end = body.length;
  let shift = size - body.length;
  for (let h = count - 2; h >= 0; h -= 2) {
    const at = hits[h]!;
    const { from, to } = needles[hits[h + 1]!]!;
    const after = at + from.length;
    if (shift > 0 && end > after) out.copyWithin(after + shift, after, end);
    shift -= to.length - from.length;
    out.set(to, at + shift);
    end = at;
  }
  return out;
}

/**
 * The string path: the matches found on a Latin-1 string of the bytes (one byte per character, so
 * byte-exact for any encoding) with the engine's own substring search, the answer built as a string.
 */
function rewriteLatin1(body: Buffer, pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  const s = body.toString('latin1');
  const next = pairs.map(([from]) => s.indexOf(from));
  let out = '';
  let pos = 0;
  for (;;) {
    let k = -1;
    for (let i = 0; i < pairs.length; i++) {
      const from = pairs[i]![0];
      if (next[i]! >= 0 && next[i]! < pos) next[i] = s.indexOf(from, pos);
      const at = next[i]!;
      if (at >= 0 && (k < 0 || at < next[k]! || (at === next[k]! && from.length > pairs[k]![0].length))) k = i;
    }
    if (k < 0) break;
    const [from, to] = pairs[k]!;
    out += s.slice(pos, next[k]) + to;
    pos = next[k]! + from.length;
    next[k] = s.indexOf(from, pos);
  }
  if (pos === 0) return body;
  return Buffer.from(out + s.slice(pos), 'latin1');
}

/** `text`'s UTF-8 bytes as a Latin-1 string (ASCII, every URL here, is itself). */
function latin1Of(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text).toString('latin1');
}

/** A fresh copy of bytes [a, b) of carry ++ c (small: at most the carry kept between chunks). */
function copyRange(carry: Buffer, c: Buffer, a: number, b: number): Buffer {
  const cl = carry.length;
  if (b <= a) return Buffer.alloc(0);
  if (a >= cl) return Buffer.from(c.subarray(a - cl, b - cl));
  return Buffer.concat([carry.subarray(a, Math.min(b, cl)), c.subarray(Math.max(a, cl) - cl, b - cl)]);
}

export class LinkRewriter {
  private readonly needles: Array<{ from: Buffer; to: Buffer }>;
  private readonly keep: number;
  private carry: Buffer = Buffer.alloc(0);
  /** Replacements made so far (for tests and logs). */
  count = 0;

  constructor(pairs: Array<[string, string]>) {
    this.needles = pairs.filter(([f]) => f.length > 0).map(([f, t]) => ({ from: Buffer.from(f), to: Buffer.from(t) }));
    this.keep = Math.max(0, ...this.needles.map((n) => n.from.length - 1));
  }

  /**
   * Rewrites what can be decided now; the returned bytes are final. Linear in
   * the chunk (each needle's next match is remembered, not searched again per
   * match), and the chunk is copied at most once, into the answer: a chunk
   * with nothing to replace comes back as a view of itself.
   */
  push(chunk: Uint8Array): Buffer {
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const carry = this.carry;
    const cl = carry.length;
    const total = cl + c.length;
    // Positions are in the virtual buffer carry ++ c. A match that starts in the carry
    // ends within `head` (needles are at most keep + 1 long), so only head is joined.
    const head = cl ? Buffer.concat([carry, c.subarray(0, this.keep)]) : carry;
    const find = (needle: Buffer, from: number): number => {
      if (from < cl) {
        const i = head.indexOf(needle, from);
        if (i >= 0 && i < cl) return i;
        from = cl;
      }
      const j = c.indexOf(needle, from - cl);
      return j < 0 ? -1 : j + cl;
    };
    const next = this.needles.map((n) => find(n.from, 0));
    const pieces: Array<[number, number] | Buffer> = [];
    let pos = 0;
    for (;;) {
      let k = -1;
      for (let i = 0; i < next.length; i++) {
        let at = next[i] as number;
        if (at >= 0 && at < pos) next[i] = at = find((this.needles[i] as { from: Buffer }).from, pos);
        const best = k < 0 ? -1 : (next[k] as number);
        if (at >= 0 && (best < 0 || at < best || (at === best && this.needles[i]!.from.length > this.needles[k]!.from.length))) k = i;
      }
      if (k < 0) break;
      const at = next[k] as number;
      const n = this.needles[k]!;
      if (at > pos) pieces.push([pos, at]);
      pieces.push(n.to);
      pos = at + n.from.length;
      next[k] = find(n.from, pos);
      this.count++;
    }
    // Bytes that could still be the start of a needle wait for the next chunk.
    const safeEnd = Math.max(pos, total - this.keep);
    if (safeEnd > pos) pieces.push([pos, safeEnd]);
    this.carry = copyRange(carry, c, safeEnd, total);
    if (pieces.length === 1 && Array.isArray(pieces[0]) && pieces[0][0] >= cl) return c.subarray(pieces[0][0] - cl, pieces[0][1] - cl);
    let size = 0;
    for (const p of pieces) size += Array.isArray(p) ? p[1] - p[0] : p.length;
    const out = Buffer.allocUnsafe(size);
    let o = 0;
    for (const p of pieces) {
      if (!Array.isArray(p)) { o += p.copy(out, o); continue; }
      const [a, b] = p;
      if (a < cl) o += carry.copy(out, o, a, Math.min(b, cl));
      if (b > cl) o += c.copy(out, o, Math.max(a, cl) - cl, b - cl);
    }
    return out;
  }

  /** The held-back tail, at the end of the body. */
  flush(): Buffer {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    return rest;
  }
}
