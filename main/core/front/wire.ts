/**
 * HTTP/1.1 to the plugin on bare sockets (node:net, node:tls for an https
 * origin): a keep-alive pool, a request writer and a response parser of our
 * own, neither undici nor node:http's client.
 *
 * Why neither: the companion runs all day beside iikoFront on a POS PC.
 * undici's package (and, through its use of the Headers global, Node's
 * internal copy of it) cost the idle companion about 17 MB of RSS
 * (docs/performance.md, round two); node:http's Agent, ClientRequest and
 * IncomingMessage cost about 110 µs of CPU per call measured alone, most of
 * the companion's share of a tunnelled call. The plugin is one origin on
 * loopback speaking plain HTTP/1.1: what it needs is small enough to own.
 * Measured alone (`npm run bench -- wire`), this takes about half
 * node:http's CPU per small call (59–76 against 122–130 µs at load 17–21,
 * docs/performance.md, round two, sixth part), without loading undici.
 * undici stays for the rare calls that go through an HTTP proxy (pairing,
 * the reach check), loaded only when they run.
 *
 * A reused connection the plugin closed while it idled, found dead before
 * any byte of the answer, is retried once on a new connection for an
 * idempotent request without a body, as node and undici do. An https origin
 * goes through node:tls with its default certificate checks; no test
 * exercises it (the plugin serves plain HTTP on loopback).
 *
 * `exchange` behaves as fetch did where the client relies on it: it never
 * follows a redirect, rejects with the signal's reason when the signal aborts
 * (before the answer or while its body is read), and hands back the body as
 * an async iterator the caller must read to its end, `drain` or `destroy`
 * (leaving a `for await` early destroys it, as a Readable's iterator does).
 *
 * The parser is a security surface even on loopback (the plugin is a third
 * party's program and the port may be held by something else): the head is
 * bounded as node's is (16 KiB, and at most MAX_HEADERS fields), framing
 * that could be read two ways is refused (Content-Length with
 * Transfer-Encoding, a repeated or non-numeric length, a coding other than
 * chunked last, a bad chunk size or a chunk not ended by CRLF, obs-fold,
 * bare CR or LF, control characters), and any byte the plugin sends when no
 * answer is due closes the connection. 1xx heads are skipped (101 is an
 * error: nothing here asks for an upgrade); HEAD, 204 and 304 have no body;
 * an answer with neither length nor chunking is read to the close.
 *
 * Per call it allocates one Call (which is also the answer, its body and
 * the signal's listener), the head string and the header record: socket
 * listeners are attached once per connection, the idle sweep is one timer
 * per pool armed only while a connection idles, and a request without a
 * body goes out in one write.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Cutoff } from './deadline.ts';

/** Answer headers: lower-case names; a repeated header's values joined with ", ". */
export type Headers = Record<string, string>;

/** An answer's body: read it to its end (`for await`), `drain` it or `destroy` it. */
export interface Body extends AsyncIterable<Buffer> {
  /** Drops the answer; its connection too unless the answer had fully arrived. `err` is what a pending read rejects with. */
  destroy(err?: Error): void;
  /** Read to its end, failed or destroyed: nothing more will come. */
  readonly over: boolean;
}

/** An answer: status, lower-case headers, and the body still to be read. */
export interface Answer {
  status: number;
  headers: Headers;
  body: Body;
}

export interface Exchange {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as it streams (chunked unless the headers declare its length). */
  body?: AsyncIterable<Uint8Array> | null;
  /** An AbortSignal, or the tunnel's Backstop (deadline.ts). */
  signal?: Cutoff;
}

/** Keep-alive connections to one origin, and the exchanges under way on them. */
export interface Pool {
  /** Exchanges started and not yet over (failed, or their answer's body ended or was dropped). */
  busy(): number;
  /** Waits for the exchanges under way to end (as undici's close did), then closes every connection. */
  close(): Promise<void>;
  /** Closes every connection now; exchanges under way fail. */
  destroy(): void;
}

/** The most bytes a status line and its header fields may take (node's default --max-http-header-size). */
export const MAX_HEAD_BYTES = 16 * 1024;
/** The most header fields in one head (or trailer section). */
export const MAX_HEADERS = 100;
/** The longest chunk-size line (size and extensions). */
const MAX_CHUNK_LINE = 1024;
/** Body bytes held for a reader who has not asked for them before the socket stops reading. */
const BODY_HIGH_WATER = 64 * 1024;

/** How much of an unwanted body is read on so that its keep-alive connection can be reused (as undici's dump). */
export const DRAIN_BYTES = 128 * 1024;
/** How long an unwanted body may take to end before its connection is dropped instead. */
export const DRAIN_MS = 5_000;

/** A pool for `origin` (http or https): at most `connections` at once, idle ones closed after `idleMs`. */
export function pool(origin: string, connections: number, idleMs: number): Pool {
  return new Origin(origin, connections, idleMs);
}

/** One request to the pool's origin + `path`; resolves when the answer's head has arrived. */
export function exchange(on: Pool, _origin: string, path: string, o: Exchange = {}): Promise<Answer> {
  const { signal } = o;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const p = on as Origin;
  let call: Call;
  try {
    call = new Call(p, o.method ?? 'GET', path, o.headers, o.body ?? null, signal ?? null);
  } catch (e) {
    // Invalid method, path, header names or values (the caller's, through the tunnel) fail here, before any byte is sent.
    return Promise.reject(e as Error);
  }
  return new Promise<Answer>((resolve, reject) => {
    call.resolveHead = resolve;
    call.rejectHead = reject;
    p.start(call);
  });
}

/** A header's value as one string (a repeated header's values joined with ", ", as fetch's Headers.get did). */
export function header(h: Headers, name: string): string | undefined {
  return Object.hasOwn(h, name) ? h[name] : undefined;
}

/**
 * Reads and discards what is left of `body`, keeping its connection for the
 * next request when the rest is small and prompt; drops the connection when it
 * is over DRAIN_BYTES or DRAIN_MS. Never throws.
 */
export function drain(body: Body): Promise<void> {
  return (body as Call).drain();
}

// ---- errors ---------------------------------------------------------------

/** A wire error with a code, as node's own (`HPE_*` for the parser, ECONNRESET for a dropped connection). */
export class WireError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'WireError';
  }
}

const hangUp = () => new WireError('ECONNRESET', 'socket hang up');
const cutShort = () => new WireError('ECONNRESET', 'aborted');

// ---- the response parser ----------------------------------------------------

/** What the parser reports to; `fail` is final. */
export interface Sink {
  head(status: number, headers: Headers): void;
  data(chunk: Buffer): void;
  /** The answer is whole; `clean`: nothing followed it in the same read (else the connection cannot carry another). */
  end(clean: boolean): void;
  fail(e: WireError): void;
}

const S_HEAD = 0, S_LENGTH = 1, S_SIZE = 2, S_DATA = 3, S_DATA_CR = 4, S_DATA_LF = 5, S_TRAILER = 6, S_TO_CLOSE = 7, S_DONE = 8, S_DEAD = 9;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value's forbidden bytes: controls other than HTAB (which covers CR, LF and NUL). */
// eslint-disable-next-line no-control-regex -- control bytes are what these refuse
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const DIGITS = /^[0-9]{1,15}$/;
// eslint-disable-next-line no-control-regex
const CHUNK_LINE = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');

/**
 * An incremental HTTP/1.1 response parser: `start` before each answer, `feed`
 * the bytes as they come in any split, `eof` when the peer closes.
 */
export class Parser {
  state = S_DONE;
  /** The answer's connection may carry another request. */
  keepAlive = true;
  /** Some byte of this answer has arrived (a reused connection that died before any may be retried). */
  seen = false;
  private noBody = false;
  private pending: Buffer | null = null;
  private left = 0;
  private line = '';
  private trailerBytes = 0;
  private finished = false;

  constructor(private readonly sink: Sink) {}

  /** Expects the answer to a request (`head`: a HEAD request, so no body whatever the head says). */
  start(head: boolean): void {
    this.state = S_HEAD;
    this.noBody = head;
    this.keepAlive = true;
    this.seen = false;
    this.pending = null;
    this.line = '';
    this.trailerBytes = 0;
    this.finished = false;
  }

  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.state !== S_DEAD) this.seen = true;
    let buf = chunk;
    let pos = 0;
    let extra = false;
    // The answer's end is reported after the loop, never inside it: the connection may then
    // start the next request at once, and no byte of this read may be taken for its answer.
    loop: while (pos < buf.length) {
      switch (this.state) {
        case S_HEAD: {
          let from = 0;
          if (this.pending) {
            from = Math.max(0, this.pending.length - 3);
            buf = Buffer.concat([this.pending, pos === 0 ? buf : buf.subarray(pos)]);
            this.pending = null;
          } else if (pos > 0) {
            buf = buf.subarray(pos);
          }
          // pos is 0 in `buf` from here.
          const at = buf.indexOf(CRLF2, from);
          if (at < 0 || at + 4 > MAX_HEAD_BYTES) {
            if (at >= 0 || buf.length > MAX_HEAD_BYTES) return this.fail('HPE_HEADER_OVERFLOW', 'answer head over 16 KiB');
            this.pending = buf;
            return;
          }
          pos = at + 4;
          if (!this.head(buf.toString('latin1', 0, at))) return;
          break;
        }
        case S_LENGTH:
        case S_DATA: {
          // Body bytes: up to the declared length, or to the end of the current chunk.
          const n = Math.min(this.left, buf.length - pos);
          this.left -= n;
          this.sink.data(buf.subarray(pos, pos + n));
          pos += n;
          if (this.left === 0) {
            if (this.state === S_LENGTH) this.done();
            else this.state = S_DATA_CR;
          }
          break;
        }
        case S_SIZE:
        case S_TRAILER: {
          const lf = buf.indexOf(10, pos);
          const max = this.state === S_SIZE ? MAX_CHUNK_LINE : MAX_HEAD_BYTES - this.trailerBytes;
          if (lf < 0) {
            this.line += buf.toString('latin1', pos, buf.length);
            if (this.line.length > max) return this.fail('HPE_HEADER_OVERFLOW', 'chunk size or trailer line too long');
            return;
          }
          const line = this.line + buf.toString('latin1', pos, lf);
          this.line = '';
          pos = lf + 1;
          if (line.length > max) return this.fail('HPE_HEADER_OVERFLOW', 'chunk size or trailer line too long');
          if (line.charCodeAt(line.length - 1) !== 13) return this.fail('HPE_LF_EXPECTED', 'bare LF in chunked framing');
          const text = line.slice(0, -1);
          if (this.state === S_SIZE) {
            const m = CHUNK_LINE.exec(text);
            if (!m) return this.fail('HPE_INVALID_CHUNK_SIZE', 'bad chunk size');
            const size = parseInt(m[1]!, 16);
            if (size === 0) this.state = S_TRAILER;
            else { this.left = size; this.state = S_DATA; }
          } else {
            if (text === '') { this.done(); break; }
            this.trailerBytes += line.length + 1;
            const colon = text.indexOf(':');
            if (colon <= 0 || !TOKEN.test(text.slice(0, colon)) || BAD_VALUE.test(text)) return this.fail('HPE_INVALID_HEADER_TOKEN', 'bad trailer field');
          }
          break;
        }
        case S_DATA_CR:
          if (buf[pos++] !== 13) return this.fail('HPE_STRICT', 'chunk not ended by CRLF');
          this.state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (buf[pos++] !== 10) return this.fail('HPE_STRICT', 'chunk not ended by CRLF');
          this.state = S_SIZE;
          break;
        case S_TO_CLOSE:
          this.sink.data(pos === 0 ? buf : buf.subarray(pos));
          return;
        case S_DONE:
          // Bytes after this read's answer end it uncleanly; bytes when no answer is due are an error.
          if (!this.finished) return this.fail('HPE_INVALID_CONSTANT', 'bytes when no answer is due');
          extra = true;
          break loop;
        default:
          return;
      }
    }
    if (this.finished) {
      this.finished = false;
      this.sink.end(!extra);
    }
  }

  /** The peer closed its side. */
  eof(): void {
    if (this.state === S_TO_CLOSE) {
      this.state = S_DONE;
      return this.sink.end(false);
    }
    // Before the answer's head the connection's close says it: a retry if nothing came, else a hang-up.
    if (this.state === S_HEAD || this.state === S_DONE || this.state === S_DEAD) return;
    this.state = S_DEAD;
    this.sink.fail(cutShort());
  }

  /** Gives up: nothing more is reported. */
  kill(): void {
    this.state = S_DEAD;
    this.pending = null;
  }

  private done(): void {
    this.state = S_DONE;
    this.finished = true;
  }

  private fail(code: string, message: string): void {
    this.state = S_DEAD;
    this.pending = null;
    this.sink.fail(new WireError(code, message));
  }

  /** One head (without its blank line); false if it failed the answer. */
  private head(text: string): boolean {
    const lines = text.split('\r\n');
    const m = STATUS_LINE.exec(lines[0]!);
    if (!m) { this.fail('HPE_INVALID_CONSTANT', 'bad status line'); return false; }
    const status = Number(m[2]);
    if (lines.length - 1 > MAX_HEADERS) { this.fail('HPE_HEADER_OVERFLOW', `over ${MAX_HEADERS} header fields`); return false; }
    const headers: Headers = {};
    let length = -1;
    let chunked = false;
    let coded = false;
    let close = m[1] === '0';
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      const colon = l.indexOf(':');
      // A line that starts with space or tab is obs-fold (its name check fails): refused, as a smuggling vector.
      if (colon <= 0) { this.fail('HPE_INVALID_HEADER_TOKEN', 'bad header line'); return false; }
      const rawName = l.slice(0, colon);
      if (!TOKEN.test(rawName)) { this.fail('HPE_INVALID_HEADER_TOKEN', 'bad header name'); return false; }
      const value = trimOws(l, colon + 1);
      if (BAD_VALUE.test(value)) { this.fail('HPE_INVALID_HEADER_TOKEN', 'bad header value'); return false; }
      const name = rawName.toLowerCase();
      if (name === 'content-length') {
        if (length >= 0 || !DIGITS.test(value)) { this.fail('HPE_INVALID_CONTENT_LENGTH', 'bad or repeated Content-Length'); return false; }
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        coded = true;
        const codings = value.split(',');
        chunked = codings[codings.length - 1]!.trim().toLowerCase() === 'chunked';
        for (let c = 0; c < codings.length - 1; c++) if (codings[c]!.trim().toLowerCase() === 'chunked') chunked = false;
      } else if (name === 'connection') {
        const v = value.toLowerCase();
        if (/(?:^|,)[ \t]*close[ \t]*(?:,|$)/.test(v)) close = true;
        else if (m[1] === '0' && /(?:^|,)[ \t]*keep-alive[ \t]*(?:,|$)/.test(v)) close = false;
      }
      if (name === '__proto__') {
        // A field named __proto__ is a plain key here, never the prototype.
        Object.defineProperty(headers, name, { value: Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value, enumerable: true, configurable: true, writable: true });
      } else {
        const had = headers[name];
        headers[name] = had === undefined ? value : `${had}, ${value}`;
      }
    }
    if (status < 200) {
      // 100 Continue and other interim heads: the real one follows. 101 would switch protocols, never asked for.
      if (status === 101) { this.fail('HPE_INVALID_CONSTANT', 'unexpected 101 Switching Protocols'); return false; }
      return true;
    }
    this.keepAlive = !close;
    if (this.noBody || status === 204 || status === 304) {
      this.done();
      this.sink.head(status, headers);
      return true;
    }
    if (coded && length >= 0) { this.fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'both Content-Length and Transfer-Encoding'); return false; }
    if (coded && !chunked) { this.fail('HPE_INVALID_TRANSFER_ENCODING', 'a Transfer-Encoding not ending in chunked'); return false; }
    if (chunked) this.state = S_SIZE;
    else if (length >= 0) { this.state = S_LENGTH; this.left = length; }
    else { this.state = S_TO_CLOSE; this.keepAlive = false; }
    if (this.state === S_LENGTH && this.left === 0) this.done();
    this.sink.head(status, headers);
    return true;
  }
}

function trimOws(s: string, from: number): string {
  let a = from;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return s.slice(a, b);
}

// ---- the pool ---------------------------------------------------------------

/** Request header names the wire sets itself (framing and the connection), never the caller. */
const OURS = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'content-length']);
/** Request header value bytes node's own client refuses (it writes Latin-1). */
const BAD_REQUEST_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Request target bytes node's own client refuses. */
const BAD_PATH = /[^\u0021-\u00ff]/;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const BODYLESS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

class Origin implements Pool {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly hostHeader: string;
  private readonly idle: Conn[] = [];
  private readonly queue: Call[] = [];
  private open = 0;
  private running = 0;
  private closing: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(origin: string, private readonly max: number, private readonly idleMs: number) {
    const u = new URL(origin);
    this.secure = u.protocol === 'https:';
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port) || (this.secure ? 443 : 80);
    this.hostHeader = u.host;
  }

  busy(): number {
    return this.running;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.closing = () => { this.closing = null; this.destroy(); resolve(); };
      if (this.running === 0) this.closing();
    });
  }

  destroy(): void {
    for (const c of [...this.all]) c.kill(hangUp());
  }

  private readonly all = new Set<Conn>();

  start(call: Call): void {
    this.running++;
    const c = this.idle.pop();
    if (c) c.run(call);
    else if (this.open < this.max) this.connect().run(call);
    else this.queue.push(call);
  }

  /** The call has ended (answer read, dropped or failed). */
  ended(): void {
    if (--this.running === 0) this.closing?.();
  }

  /** A call still waiting for a connection gives up. */
  unqueue(call: Call): boolean {
    const i = this.queue.indexOf(call);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    return true;
  }

  /** The connection carried its answer and may carry another. */
  release(c: Conn): void {
    const next = this.queue.shift();
    if (next) return c.run(next);
    c.idleAt = Date.now();
    this.idle.push(c);
    if (!this.timer) { this.timer = setTimeout(this.sweep, this.idleMs); this.timer.unref(); }
  }

  /** The connection is closed; `retry` is a call that died unanswered on it and may go again once on a new one. */
  gone(c: Conn, retry: Call | null): void {
    this.all.delete(c);
    this.open--;
    this.unidle(c);
    const next = retry ?? this.queue.shift();
    if (next) this.connect().run(next);
  }

  unidle(c: Conn): void {
    const i = this.idle.lastIndexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private connect(): Conn {
    this.open++;
    const c = new Conn(this);
    this.all.add(c);
    return c;
  }

  private readonly sweep = (): void => {
    this.timer = null;
    const now = Date.now();
    let soonest = Infinity;
    for (const c of [...this.idle]) {
      const left = c.idleAt + this.idleMs - now;
      if (left <= 0) c.kill(hangUp());
      else soonest = Math.min(soonest, left);
    }
    if (soonest !== Infinity) { this.timer = setTimeout(this.sweep, soonest); this.timer.unref(); }
  };
}

/** One connection: its socket's listeners, attached once, and its parser. */
class Conn implements Sink {
  readonly socket: net.Socket;
  readonly parser = new Parser(this);
  call: Call | null = null;
  idleAt = 0;
  uses = 0;
  dead = false;
  paused = false;
  private error: Error | null = null;
  private drained: (() => void) | null = null;

  constructor(private readonly pool: Origin) {
    const s = pool.secure
      ? tls.connect({ host: pool.host, port: pool.port, servername: net.isIP(pool.host) ? undefined : pool.host, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host: pool.host, port: pool.port });
    s.setNoDelay(true);
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('error', this.onError);
    s.on('close', this.onClose);
    s.on('drain', this.onDrain);
    this.socket = s;
  }

  run(call: Call): void {
    this.pool.unidle(this);
    this.call = call;
    call.conn = this;
    this.uses++;
    this.parser.start(call.method === 'HEAD');
    call.send(this);
  }

  /** Waits until the socket takes more (or dies). */
  writable(): Promise<void> {
    return new Promise((r) => { this.drained = r; });
  }

  /** Closes the connection; its call (if any) fails with `e`. */
  kill(e: Error): void {
    if (this.dead) return;
    this.dead = true;
    this.parser.kill();
    this.pool.unidle(this);
    const call = this.call;
    this.call = null;
    if (call) { call.conn = null; call.fail(e); }
    this.socket.destroy();
    this.onDrain();
  }

  resume(): void {
    if (this.paused) { this.paused = false; this.socket.resume(); }
  }

  pause(): void {
    if (!this.paused) { this.paused = true; this.socket.pause(); }
  }

  // ---- the parser's reports, for the current call --------------------------

  head(status: number, headers: Headers): void {
    this.call?.gotHead(status, headers);
  }

  data(chunk: Buffer): void {
    this.call?.gotData(chunk);
  }

  end(clean: boolean): void {
    const call = this.call;
    if (!call) return;
    this.call = null;
    call.conn = null;
    this.resume();
    // A request still being sent when its answer ended leaves the connection mid-message: not reusable.
    const reusable = clean && this.parser.keepAlive && !call.sending && !this.dead;
    call.gotEnd();
    if (reusable) this.pool.release(this);
    else this.kill(hangUp());
  }

  fail(e: WireError): void {
    this.kill(e);
  }

  // ---- the socket's events ------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    // With no call the parser is idle and refuses the bytes (the connection is then closed).
    this.parser.feed(chunk);
  };

  private readonly onEnd = (): void => {
    if (this.call) this.parser.eof();
    else this.kill(hangUp());
  };

  private readonly onError = (e: Error): void => {
    this.error ??= e;
  };

  private readonly onClose = (): void => {
    this.dead = true;
    this.parser.kill();
    const call = this.call;
    this.call = null;
    let retry: Call | null = null;
    if (call) {
      call.conn = null;
      // A reused connection the plugin closed while idle, found dead before any byte of the answer:
      // an idempotent request without a body goes again once on a new connection (as node and undici do).
      if (this.uses > 1 && !this.parser.seen && call.canRetry()) retry = call;
      else call.fail(this.error ?? hangUp());
    }
    this.onDrain();
    this.pool.gone(this, retry);
  };

  private readonly onDrain = (): void => {
    const d = this.drained;
    this.drained = null;
    d?.();
  };
}

// ---- one call -----------------------------------------------------------------

const DONE: IteratorResult<Buffer> = { done: true, value: undefined };

/** One exchange: the request, its answer, the answer's body and the signal's listener, in one object. */
class Call implements Answer, Body, AsyncIterator<Buffer> {
  conn: Conn | null = null;
  resolveHead: ((a: Answer) => void) | null = null;
  rejectHead: ((e: Error) => void) | null = null;
  status = 0;
  headers: Headers = {};
  readonly body: Body = this;
  /** The request body is still being written. */
  sending = false;
  over = false;
  private readonly head: string;
  private readonly declared: number;
  private retried = false;
  private headed = false;
  private complete = false;
  private failure: Error | null = null;
  private chunks: Buffer[] = [];
  private queued = 0;
  private waitResolve: ((r: IteratorResult<Buffer>) => void) | null = null;
  private waitReject: ((e: Error) => void) | null = null;
  private draining: { bytes: number; done: () => void; timer: NodeJS.Timeout } | null = null;

  constructor(
    private readonly pool: Origin,
    readonly method: string,
    path: string,
    headers: Record<string, string> | undefined,
    private readonly source: AsyncIterable<Uint8Array> | null,
    private readonly signal: Cutoff | null,
  ) {
    if (!TOKEN.test(method)) throw new WireError('ERR_INVALID_HTTP_TOKEN', 'Method must be a valid HTTP token');
    if (path === '' || BAD_PATH.test(path)) throw new WireError('ERR_UNESCAPED_CHARACTERS', 'Request path contains unescaped characters');
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${pool.hostHeader}\r\nConnection: keep-alive\r\n`;
    let declared = -1;
    if (headers) {
      for (const name in headers) {
        if (!Object.hasOwn(headers, name)) continue;
        const value = String(headers[name]);
        if (!TOKEN.test(name)) throw new WireError('ERR_INVALID_HTTP_TOKEN', `Header name must be a valid HTTP token ["${name.slice(0, 64)}"]`);
        if (BAD_REQUEST_VALUE.test(value)) throw new WireError('ERR_INVALID_CHAR', `Invalid character in header content ["${name}"]`);
        const lower = name.toLowerCase();
        if (lower === 'content-length') {
          if (!DIGITS.test(value.trim())) throw new WireError('ERR_INVALID_CHAR', 'Content-Length is not a number');
          declared = Number(value.trim());
        }
        if (OURS.has(lower)) continue;
        head += `${name}: ${value}\r\n`;
      }
    }
    if (source) head += declared >= 0 ? `Content-Length: ${declared}\r\n` : 'Transfer-Encoding: chunked\r\n';
    else if (declared > 0) throw new WireError('ERR_HTTP_CONTENT_LENGTH_MISMATCH', `Content-Length ${declared} declared without a body`);
    else if (declared === 0 || !BODYLESS.has(method)) head += 'Content-Length: 0\r\n';
    this.head = `${head}\r\n`;
    this.declared = declared;
    signal?.addEventListener('abort', this);
  }

  canRetry(): boolean {
    if (this.retried || this.source || this.over || !IDEMPOTENT.has(this.method)) return false;
    this.retried = true;
    return true;
  }

  /** Writes the request on `conn`: the head alone in one write, or the body after it as it streams. */
  send(conn: Conn): void {
    if (!this.source) {
      conn.socket.write(this.head, 'latin1');
      return;
    }
    this.sending = true;
    void this.pump(conn, this.source);
  }

  private async pump(conn: Conn, source: AsyncIterable<Uint8Array>): Promise<void> {
    const chunked = this.declared < 0;
    const it = source[Symbol.asyncIterator]();
    let head: string | null = this.head;
    let sent = 0;
    try {
      for (;;) {
        const r = await it.next();
        if (conn.dead || this.over) { void it.return?.(); return; }
        if (r.done) break;
        const c = r.value;
        if (c.length === 0) continue;
        sent += c.length;
        if (!chunked && sent > this.declared) throw new WireError('ERR_HTTP_CONTENT_LENGTH_MISMATCH', `request body over its Content-Length ${this.declared}`);
        const s = conn.socket;
        s.cork();
        if (chunked) {
          s.write(`${head ?? ''}${c.length.toString(16)}\r\n`, 'latin1');
          s.write(c);
          s.write('\r\n', 'latin1');
        } else {
          if (head) s.write(head, 'latin1');
          s.write(c);
        }
        head = null;
        s.uncork();
        if (s.writableNeedDrain) await conn.writable();
      }
      if (!chunked && sent !== this.declared) throw new WireError('ERR_HTTP_CONTENT_LENGTH_MISMATCH', `request body of ${sent} bytes, ${this.declared} declared`);
      if (!conn.dead && !this.over) conn.socket.write(chunked ? `${head ?? ''}0\r\n\r\n` : (head ?? ''), 'latin1');
      this.sending = false;
    } catch (e) {
      this.sending = false;
      // The caller's body failed: the request cannot be finished, so neither can its connection.
      if (conn.call === this) conn.kill(e as Error);
      else this.fail(e as Error);
    }
  }

  // ---- from the connection --------------------------------------------------

  gotHead(status: number, headers: Headers): void {
    this.status = status;
    this.headers = headers;
    this.headed = true;
    const r = this.resolveHead;
    this.resolveHead = this.rejectHead = null;
    r?.(this);
  }

  gotData(chunk: Buffer): void {
    const d = this.draining;
    if (d) {
      d.bytes += chunk.length;
      if (d.bytes > DRAIN_BYTES) this.destroy();
      return;
    }
    const w = this.waitResolve;
    if (w) {
      this.waitResolve = this.waitReject = null;
      w({ done: false, value: chunk });
      return;
    }
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (this.queued > BODY_HIGH_WATER) this.conn?.pause();
  }

  gotEnd(): void {
    this.complete = true;
    if (this.draining) return this.finish();
    const w = this.waitResolve;
    if (w) {
      this.waitResolve = this.waitReject = null;
      this.finish();
      w(DONE);
    }
  }

  /** The exchange failed: before the head the promise rejects, after it the next read does. */
  fail(e: Error): void {
    if (this.over) return;
    this.sending = false;
    if (!this.headed) {
      const r = this.rejectHead;
      this.resolveHead = this.rejectHead = null;
      this.finish();
      r?.(e);
      return;
    }
    if (this.complete && !this.draining) {
      // Fully arrived: only a read still to come can fail, and only on an abort (the connection is long gone).
      if (e !== this.signal?.reason) return;
    }
    this.failure = e;
    this.chunks = [];
    this.queued = 0;
    const w = this.waitReject;
    this.waitResolve = this.waitReject = null;
    this.finish();
    w?.(e);
  }

  /** The signal's listener (an object with handleEvent: no closure per call). */
  handleEvent(): void {
    if (this.over) return;
    const reason = this.signal!.reason as Error;
    if (!this.conn && !this.headed && this.pool.unqueue(this)) return this.fail(reason);
    if (this.conn) this.conn.kill(reason);
    else this.fail(reason);
  }

  /** Over: nothing more will be read; the pool stops counting it. */
  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.signal?.removeEventListener('abort', this);
    const d = this.draining;
    if (d) { clearTimeout(d.timer); this.draining = null; d.done(); }
    this.pool.ended();
  }

  // ---- the body, for the caller -------------------------------------------

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    const c = this.chunks.shift();
    if (c) {
      this.queued -= c.length;
      if (this.queued === 0) this.conn?.resume();
      return Promise.resolve({ done: false, value: c });
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.complete || this.over) {
      this.finish();
      return Promise.resolve(DONE);
    }
    this.conn?.resume();
    return new Promise((resolve, reject) => { this.waitResolve = resolve; this.waitReject = reject; });
  }

  /** Leaving a `for await` early drops the answer (as a Readable's iterator destroys its stream). */
  return(): Promise<IteratorResult<Buffer>> {
    this.destroy();
    return Promise.resolve(DONE);
  }

  destroy(err?: Error): void {
    if (this.over) return;
    this.chunks = [];
    this.queued = 0;
    const conn = this.conn;
    if (conn && !this.complete) {
      this.conn = null;
      conn.call = null;
      conn.kill(hangUp());
    }
    const resolve = this.waitResolve;
    const reject = this.waitReject;
    this.waitResolve = this.waitReject = null;
    if (err) this.failure = err;
    this.finish();
    if (err) reject?.(err);
    else resolve?.(DONE);
  }

  drain(): Promise<void> {
    if (this.over) return Promise.resolve();
    this.chunks = [];
    this.queued = 0;
    if (this.complete || !this.headed) {
      if (!this.headed) this.destroy();
      else this.finish();
      return Promise.resolve();
    }
    const d = this.draining;
    // Drained twice (the tunnel's give-up and a caller's cleanup): both wait for the one drain.
    if (d) return new Promise<void>((done) => { const first = d.done; d.done = () => { first(); done(); }; });
    return new Promise<void>((done) => {
      const timer = setTimeout(() => this.destroy(), DRAIN_MS);
      timer.unref();
      this.draining = { bytes: 0, done, timer };
      this.conn?.resume();
    });
  }
}
