/**
 * Reads a plugin's JSON answer as it streams in, keeping it record by record:
 * the elements of a top-level array (the plugin's lists), or the whole answer
 * when it is one value. A list element over `maxRecordBytes` is not kept: its
 * bytes are dropped as they arrive and the list comes back without it, so one
 * pathological record (an order of 300 000 items, 26 MB of JSON) never sits
 * in memory, is never parsed, and does not stop the other records. An answer
 * that is one value over the limit is refused.
 *
 * Nothing is parsed here: a byte scanner follows strings and nesting only to
 * find where each element starts and ends. What it keeps is joined back into
 * the same JSON text minus the dropped elements; malformed input stays
 * malformed (JSON.parse refuses the result as it would the answer).
 */
import { FrontError } from './errors.ts';

/**
 * Largest plugin record kept: far above any real one (an order of 1 000 items
 * is about 600 KB), far below what costs a POS PC memory to parse (JSON
 * becomes 10-15 times its size in objects).
 */
export const MAX_RECORD_BYTES = 1024 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

export interface Records {
  /** The answer's text without the dropped elements. */
  text: string;
  /** Elements left out for being over the limit. */
  dropped: number;
  /** The largest element left out, in bytes (0 when none). */
  largest: number;
}

export class RecordReader {
  /** Nesting depth: 0 outside the answer's top value, 1 directly inside a top-level array. */
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** 'start' before the top value, 'list' inside a top-level array, 'one' for any other answer, 'after' behind a closed list. */
  private mode: 'start' | 'list' | 'one' | 'after' = 'start';
  /** Bytes of the element being read (or of the whole answer in 'one' mode). */
  private parts: Buffer[] = [];
  private size = 0;
  /** An element is being read (between separators, from its first non-space byte). */
  private inRecord = false;
  private skipping = false;
  /** A comma or an element was seen since '[' (so an empty element between separators is kept as empty, and refused by JSON.parse). */
  private any = false;
  private readonly kept: Buffer[][] = [];
  private dropped = 0;
  private largest = 0;
  /** Bytes after the top value that are not white space: malformed. */
  private trailing: Buffer[] = [];

  constructor(private readonly maxRecordBytes: number = MAX_RECORD_BYTES) {}

  push(chunk: Uint8Array): void {
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.mode === 'one') return this.keep(c, 0, c.length);
    let from = -1; // where the current element starts in this chunk
    if (this.inRecord) from = 0;
    for (let i = 0; i < c.length; i++) {
      const b = c[i]!;
      if (this.mode === 'start') {
        if (isSpace(b)) continue;
        if (b !== OPEN_ARRAY) {
          this.mode = 'one';
          return this.keep(c, i, c.length);
        }
        this.mode = 'list';
        this.depth = 1;
        continue;
      }
      if (this.mode === 'after') {
        if (!isSpace(b)) this.trailing.push(c.subarray(i, i + 1));
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
        continue;
      }
      if (this.depth === 1 && (b === COMMA || b === CLOSE_ARRAY)) {
        if (this.inRecord) {
          this.keep(c, from, i);
          this.finishRecord();
          from = -1;
        } else if (b === COMMA || this.any) {
          // An empty element ('[1,,2]', '[1,]'): kept empty, so the result is as malformed as the answer.
          this.kept.push([]);
        }
        this.any = true;
        if (b === CLOSE_ARRAY) {
          this.depth = 0;
          this.mode = 'after';
        }
        continue;
      }
      if (!this.inRecord) {
        if (isSpace(b)) continue;
        this.inRecord = true;
        this.any = true;
        from = i;
      }
      if (b === QUOTE) this.inString = true;
      else if (b === OPEN_ARRAY || b === OPEN_OBJECT) this.depth++;
      else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) this.depth--;
    }
    if (this.inRecord && from >= 0) this.keep(c, from, c.length);
  }

  /** The kept text; throws FrontError bad_response when the answer ended inside a list. */
  end(): Records {
    let text: string;
    if (this.mode === 'list') {
      throw new FrontError('bad_response', 'испорченный JSON');
    } else if (this.mode === 'after') {
      const body = this.kept.map((r) => Buffer.concat(r)).join(',');
      text = `[${body}]${Buffer.concat(this.trailing).toString('latin1')}`;
    } else {
      text = Buffer.concat(this.parts, this.size).toString('utf8');
    }
    return { text, dropped: this.dropped, largest: this.largest };
  }

  private keep(c: Buffer, a: number, b: number): void {
    if (b <= a) return;
    this.size += b - a;
    if (this.mode === 'one') {
      if (this.size > this.maxRecordBytes) throw new FrontError('too_large', `the answer is one record over ${this.maxRecordBytes} bytes`);
      this.parts.push(c.subarray(a, b));
      return;
    }
    if (this.skipping) return;
    if (this.size > this.maxRecordBytes) {
      // Too large to keep: let go of what was kept of it, and of the rest as it comes.
      this.skipping = true;
      this.parts = [];
      return;
    }
    // A view: what is kept is the answer (minus dropped elements), which the old reader held too.
    this.parts.push(c.subarray(a, b));
  }

  private finishRecord(): void {
    if (this.skipping) {
      this.dropped++;
      this.largest = Math.max(this.largest, this.size);
    } else {
      this.kept.push(this.parts);
    }
    this.parts = [];
    this.size = 0;
    this.inRecord = false;
    this.skipping = false;
  }
}
