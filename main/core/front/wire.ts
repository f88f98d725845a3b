/**
 * HTTP to the plugin on Node's own client (node:http), not undici.
 *
 * The companion runs all day beside iikoFront on a POS PC. undici's package
 * (and, through its use of the Headers global, Node's internal copy of it)
 * cost the idle companion about 17 MB of its RSS (docs/performance.md, round
 * two), for a plugin on loopback that needs plain HTTP/1.1 with keep-alive:
 * what node:http, already loaded for the local API, does. undici stays for
 * the rare calls that go through an HTTP proxy (pairing, the reach check),
 * loaded only when they run.
 *
 * `exchange` behaves as fetch did where the client relied on it: it never
 * follows a redirect, rejects with the signal's reason when the signal aborts
 * (before the answer or while its body is read), and hands back the body as a
 * stream the caller must read, drain or destroy.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** An answer: status, lower-case headers, and the body still to be read (an IncomingMessage). */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

export interface Exchange {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as it streams (chunked unless the headers declare its length). */
  body?: AsyncIterable<Uint8Array> | null;
  signal?: AbortSignal;
}

/** Keep-alive connections to one origin, and the exchanges under way on them. */
export interface Pool {
  readonly agent: http.Agent;
  /** Exchanges started and not yet over (failed, or their answer's body ended or was dropped). */
  busy(): number;
  /** Waits for the exchanges under way to end (as undici's close did), then closes every connection. */
  close(): Promise<void>;
  /** Counts one exchange as under way (exchange() calls it); the function returned ends it, once. */
  started(): () => void;
}

/** A pool for `origin` (http or https): at most `connections` at once, idle ones closed after `idleMs`. */
export function pool(origin: string, connections: number, idleMs: number): Pool {
  const o = { keepAlive: true, maxSockets: connections, maxFreeSockets: connections, timeout: idleMs, scheduling: 'lifo' } as const;
  const agent = new URL(origin).protocol === 'https:' ? new https.Agent(o) : new http.Agent(o);
  let busy = 0;
  let idle: (() => void) | null = null;
  const p: Pool = {
    agent,
    busy: () => busy,
    close() {
      return new Promise<void>((resolve) => {
        idle = () => { agent.destroy(); resolve(); };
        if (busy === 0) idle();
      });
    },
    started() {
      busy++;
      let over = false;
      return () => {
        if (over) return;
        over = true;
        if (--busy === 0) idle?.();
      };
    },
  };
  return p;
}

/** One request on `agent` to `origin` + `path`; resolves when the answer's head has arrived. */
export function exchange(on: Pool, origin: string, path: string, o: Exchange = {}): Promise<Answer> {
  const { signal } = o;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const url = new URL(origin);
  const lib = url.protocol === 'https:' ? https : http;
  const over = on.started();
  return new Promise<Answer>((resolve, reject) => {
    let res: IncomingMessage | null = null;
    let req: http.ClientRequest;
    const done = () => { signal?.removeEventListener('abort', onAbort); over(); };
    const fail = (e: Error) => { done(); reject(e); };
    const onAbort = () => {
      const reason = signal?.reason as Error;
      // Before the head: the request fails with the reason; after it: reading the body does.
      if (res) res.destroy(reason);
      req.destroy(reason);
      fail(reason);
    };
    try {
      req = lib.request({
        agent: on.agent, protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || undefined,
        method: o.method ?? 'GET', path, headers: o.headers,
      });
    } catch (e) {
      // Invalid header names or values (the caller's, through the tunnel) fail here, before any byte is sent.
      fail(e as Error);
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('error', fail);
    req.once('response', (r) => {
      res = r;
      r.once('close', done);
      resolve({ status: r.statusCode ?? 0, headers: r.headers, body: r });
    });
    if (o.body) {
      pipeline(Readable.from(o.body, { objectMode: false }), req).catch((e: Error) => req.destroy(e));
    } else {
      req.end();
    }
  });
}

/** A header's value as one string (a repeated header's values joined with ", ", as fetch's Headers.get did). */
export function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** How much of an unwanted body is read on so that its keep-alive connection can be reused (as undici's dump). */
export const DRAIN_BYTES = 128 * 1024;
/** How long an unwanted body may take to end before its connection is dropped instead. */
export const DRAIN_MS = 5_000;

/**
 * Reads and discards what is left of `body`, keeping its connection for the
 * next request when the rest is small and prompt; drops the connection when it
 * is over DRAIN_BYTES or DRAIN_MS. Never throws.
 */
export function drain(body: IncomingMessage): Promise<void> {
  // A body fully arrived but unread (`complete`) still needs reading: only then does it end and free its connection.
  if (body.destroyed || body.readableEnded) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let read = 0;
    const stop = () => { clearTimeout(timer); body.off('data', count); resolve(); };
    const timer = setTimeout(() => body.destroy(), DRAIN_MS);
    timer.unref();
    const count = (c: Buffer) => { read += c.length; if (read > DRAIN_BYTES) body.destroy(); };
    body.on('data', count);
    body.once('end', stop);
    body.once('close', stop);
    body.once('error', () => undefined);
    body.resume();
  });
}
