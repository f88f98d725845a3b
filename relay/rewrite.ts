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
  const t = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return t.startsWith('text/') || t === 'application/json' || t.endsWith('+json')
    || t === 'application/xml' || t.endsWith('+xml') || t === 'application/javascript';
}

/** The replacements for one venue: the plain origin and its JSON-escaped (`http:\/\/`) form. */
export function linkReplacements(frontOrigin: string, venueBase: string): Array<[string, string]> {
  const esc = (s: string) => s.replace(/\//g, '\\/');
  const pairs: Array<[string, string]> = [[frontOrigin, venueBase]];
  if (esc(frontOrigin) !== frontOrigin) pairs.push([esc(frontOrigin), esc(venueBase)]);
  return pairs;
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

  /** Rewrites what can be decided now; the returned bytes are final. */
  push(chunk: Uint8Array): Buffer {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: Buffer[] = [];
    let pos = 0;
    for (;;) {
      let best = -1;
      let hit: { from: Buffer; to: Buffer } | undefined;
      for (const n of this.needles) {
        const i = buf.indexOf(n.from, pos);
        if (i >= 0 && (best < 0 || i < best || (i === best && hit && n.from.length > hit.from.length))) {
          best = i;
          hit = n;
        }
      }
      if (best < 0 || !hit) break;
      out.push(buf.subarray(pos, best), hit.to);
      pos = best + hit.from.length;
      this.count++;
    }
    // Bytes that could still be the start of a needle wait for the next chunk.
    const safeEnd = Math.max(pos, buf.length - this.keep);
    out.push(buf.subarray(pos, safeEnd));
    this.carry = Buffer.from(buf.subarray(safeEnd));
    return Buffer.concat(out);
  }

  /** The held-back tail, at the end of the body. */
  flush(): Buffer {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    return rest;
  }
}
