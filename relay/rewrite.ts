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

/**
 * Buffers LinkRewriter writes its rewritten chunks into, lent to the caller until its socket has
 * taken them (whenWritten): a fresh buffer per chunk was new memory for every 64 KiB of a big
 * answer, and building each chunk as a string first cost a copy into the JS heap, its
 * flattening and a copy out (a tenth of the relay's CPU per MiB; docs/performance.md, round
 * two, fourteenth part). A chunk that needs more than LENT_BYTES gets a buffer of its own.
 */
export const LENT_BYTES = 128 * 1024;
/** Lent buffers kept for reuse once given back (2 MiB at most; a big answer has a window's worth in flight). */
export const LENT_KEPT = 16;
const lentFree: Buffer[] = [];
/** The whole buffers of the pool, by their memory, so a view of one is known when it comes back. */
const lentOwned = new WeakMap<ArrayBufferLike, Buffer>();

function borrow(size: number): Buffer {
  if (size > LENT_BYTES) return Buffer.allocUnsafe(size);
  let b = lentFree.pop();
  if (!b) {
    b = Buffer.allocUnsafe(LENT_BYTES);
    lentOwned.set(b.buffer, b);
  }
  return b;
}

function giveBack(this: Buffer): void {
  if (lentFree.length < LENT_KEPT && !lentFree.includes(this)) lentFree.push(this);
}

/**
 * The write callback for a chunk LinkRewriter.push returned: it gives the chunk's buffer back for
 * reuse, so pass it to the write that sends the chunk and call it only once that write is done
 * (never earlier: the next chunk may be written into the same memory). Undefined for a chunk
 * that is not lent (a view of the caller's own bytes, or too big for the pool).
 */
export function whenWritten(chunk: Buffer): (() => void) | undefined {
  const whole = lentOwned.get(chunk.buffer);
  return whole && giveBack.bind(whole);
}

/** Lent buffers waiting for reuse (tests). */
export function lentWaiting(): number {
  return lentFree.length;
}

export class LinkRewriter {
  /** The needles and their replacements as Latin-1 strings of their UTF-8 bytes (one character per byte). */
  private readonly pairs: ReadonlyArray<readonly [string, string]>;
  /** Each replacement's bytes, by the index of its pair. */
  private readonly toBytes: Buffer[];
  private readonly keep: number;
  /** The held-back bytes (at most keep), as a Latin-1 string. */
  private carry = '';
  /** Replacements made so far (for tests and logs). */
  count = 0;
  /** Where each match of the chunk being pushed starts and whose it is (pairs of numbers), reused by every push. */
  private hits = new Int32Array(64);

  constructor(pairs: Array<[string, string]>) {
    this.pairs = pairs.filter(([f]) => f.length > 0).map(([f, t]) => [latin1Of(f), latin1Of(t)] as const);
    this.toBytes = this.pairs.map(([, to]) => Buffer.from(to, 'latin1'));
    this.keep = Math.max(0, ...this.pairs.map(([from]) => from.length - 1));
  }

  /**
   * Rewrites what can be decided now; the returned bytes are final. The chunk
   * is searched as a Latin-1 string (byte-exact for any encoding) with the
   * engine's own substring search (a buffer search per link, a call into C++
   * each, thousands per MiB of a list of orders, cost twice as much:
   * docs/performance.md, "one big stream"); the answer is copied from the chunk
   * and the replacements' bytes into a lent buffer (whenWritten gives it back).
   * Linear in the chunk: each needle's next match is remembered, not searched
   * again per match. A chunk with nothing to replace (and nothing held back)
   * comes back as a view of itself.
   */
  push(chunk: Uint8Array): Buffer {
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const carry = this.carry;
    const cl = carry.length;
    const body = c.toString('latin1');
    // Positions are in the virtual string carry ++ body, never built: joining the two would
    // copy the chunk once more. A match that starts in the carry ends within `head`
    // (needles are at most keep + 1 long), so only head is joined.
    const head = cl ? carry + body.slice(0, this.keep) : '';
    const find = (from: string, pos: number): number => {
      if (pos < cl) {
        const i = head.indexOf(from, pos);
        if (i >= 0 && i < cl) return i;
        pos = cl;
      }
      const j = body.indexOf(from, pos - cl);
      return j < 0 ? -1 : j + cl;
    };
    const pairs = this.pairs;
    const next = pairs.map(([from]) => find(from, 0));
    let hits = this.hits;
    let count = 0;
    let grow = 0;
    let pos = 0;
    for (;;) {
      let k = -1;
      for (let i = 0; i < pairs.length; i++) {
        const from = pairs[i]![0];
        if (next[i]! >= 0 && next[i]! < pos) next[i] = find(from, pos);
        const at = next[i]!;
        if (at >= 0 && (k < 0 || at < next[k]! || (at === next[k]! && from.length > pairs[k]![0].length))) k = i;
      }
      if (k < 0) break;
      const at = next[k]!;
      const from = pairs[k]![0];
      if (count + 2 > hits.length) {
        const more = new Int32Array(hits.length * 2);
        more.set(hits);
        this.hits = hits = more;
      }
      hits[count++] = at;
      hits[count++] = k;
      grow += this.toBytes[k]!.length - from.length;
      pos = at + from.length;
      next[k] = find(from, pos);
    }
    this.count += count / 2;
    // Bytes that could still be the start of a needle wait for the next chunk.
    const total = cl + body.length;
    const safeEnd = Math.max(pos, total - this.keep);
    this.carry = safeEnd >= cl ? body.slice(safeEnd - cl) : carry.slice(safeEnd) + body;
    if (count === 0 && cl === 0) return c.subarray(0, safeEnd);
    const size = safeEnd + grow;
    if (size === 0) return EMPTY;
    const out = borrow(size);
    // The stretches between matches, from the held-back bytes (made into bytes again here) and the chunk.
    const carryBytes = cl ? Buffer.from(carry, 'latin1') : EMPTY;
    let o = 0;
    const copy = (a: number, b: number): void => {
      if (a < cl) o += carryBytes.copy(out, o, a, Math.min(b, cl));
      if (b > cl) o += c.copy(out, o, Math.max(a - cl, 0), b - cl);
    };
    let p = 0;
    for (let h = 0; h < count; h += 2) {
      const at = hits[h]!;
      const k = hits[h + 1]!;
      copy(p, at);
      o += this.toBytes[k]!.copy(out, o);
      p = at + pairs[k]![0].length;
    }
    copy(p, safeEnd);
    return out.subarray(0, o);
  }

  /** The held-back tail, at the end of the body. */
  flush(): Buffer {
    const rest = Buffer.from(this.carry, 'latin1');
    this.carry = '';
    return rest;
  }
}

const EMPTY = Buffer.alloc(0);
