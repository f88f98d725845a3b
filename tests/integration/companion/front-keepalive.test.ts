import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { drain, exchange, pool, type Answer, type Pool } from '../../../main/core/front/wire.ts';

/**
 * The plugin client's connections (wire.ts's pool) against a plugin
 * stand-in that writes raw bytes: connections kept and reused last-in
 * first-out, never more than the maximum, idle ones closed, a reused one
 * the plugin closed while idle retried once for an idempotent call, aborts,
 * drains, backpressure, and the request as the plugin receives it.
 */

interface Served {
  socket: net.Socket;
  /** 1 for the stand-in's first connection, and so on. */
  conn: number;
  /** 1 for the first request on this connection. */
  nth: number;
  head: string;
}

interface Raw {
  origin: string;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections open now, and the most open at once. */
  open(): number;
  peak(): number;
  requests: Served[];
  /** Resolves when connection `conn` has closed. */
  closed(conn: number): Promise<void>;
}

const servers: Array<net.Server | HttpServer> = [];
const pools: Pool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) p.destroy();
  for (const s of servers.splice(0)) {
    (s as HttpServer).closeAllConnections?.();
    await new Promise((r) => s.close(r));
  }
});

/** A stand-in plugin that calls `answer` for every request head (bodyless requests only). */
async function raw(answer: (s: Served) => void): Promise<Raw> {
  let accepted = 0;
  let open = 0;
  let peak = 0;
  const requests: Served[] = [];
  const closes = new Map<number, Promise<void>>();
  const server = net.createServer((socket) => {
    const conn = ++accepted;
    peak = Math.max(peak, ++open);
    closes.set(conn, new Promise((r) => socket.once('close', () => { open--; r(); })));
    let buf = '';
    let nth = 0;
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (let at = buf.indexOf('\r\n\r\n'); at >= 0; at = buf.indexOf('\r\n\r\n')) {
        const s: Served = { socket, conn, nth: ++nth, head: buf.slice(0, at) };
        buf = buf.slice(at + 4);
        requests.push(s);
        answer(s);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted: () => accepted, open: () => open, peak: () => peak, requests,
    closed: (conn) => closes.get(conn) ?? Promise.reject(new Error(`no connection ${conn}`)),
  };
}

const ok = (s: Served, body = String(s.conn), extra = '') => s.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`);

// Idle connections are kept for a minute unless a test says otherwise: no idle close can hide a connection kept wrongly.
function poolOf(origin: string, connections = 6, idleMs = 60_000): Pool {
  const p = pool(origin, connections, idleMs);
  pools.push(p);
  return p;
}

async function text(a: Answer): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of a.body) parts.push(c);
  return Buffer.concat(parts).toString();
}

const get = async (p: Pool, origin: string, path = '/api/x', o: Parameters<typeof exchange>[3] = {}) => text(await exchange(p, origin, path, { signal: AbortSignal.timeout(10_000), ...o }));

describe('the plugin client keeps its connections', () => {
  it('carries calls one after another on one connection, and never opens more than its maximum', async () => {
    const plugin = await raw((s) => setTimeout(() => ok(s), 15));
    const p = poolOf(plugin.origin, 3);
    for (let i = 0; i < 5; i++) expect(await get(p, plugin.origin)).toBe('1');
    expect(plugin.accepted()).toBe(1);
    const all = await Promise.all(Array.from({ length: 12 }, () => get(p, plugin.origin)));
    expect(all).toHaveLength(12);
    expect(plugin.peak()).toBe(3);
    expect(p.busy()).toBe(0);
  });

  it('reuses the connection freed last (LIFO), so the others can idle out', async () => {
    // The first connection's answer comes last: it is the one freed last.
    const plugin = await raw((s) => setTimeout(() => ok(s), s.conn === 1 && s.nth === 1 ? 80 : 5));
    const p = poolOf(plugin.origin, 2);
    expect((await Promise.all([get(p, plugin.origin), get(p, plugin.origin)])).sort()).toEqual(['1', '2']);
    expect(await get(p, plugin.origin)).toBe('1');
  });

  it('closes a connection idle for its idle time, and opens a new one for the next call', async () => {
    const plugin = await raw((s) => ok(s));
    const p = poolOf(plugin.origin, 2, 150);
    expect(await get(p, plugin.origin)).toBe('1');
    await plugin.closed(1);
    expect(await get(p, plugin.origin)).toBe('2');
  });

  it('opens a new connection after an answer that says Connection: close', async () => {
    const plugin = await raw((s) => ok(s, String(s.conn), 'Connection: close\r\n'));
    const p = poolOf(plugin.origin);
    expect(await get(p, plugin.origin)).toBe('1');
    expect(await get(p, plugin.origin)).toBe('2');
    await plugin.closed(1);
  });

  it('drops a connection on which the plugin sends bytes when no answer is due', async () => {
    const plugin = await raw((s) => { ok(s); if (s.conn === 1) setTimeout(() => s.socket.write('HTTP/1.1 200 OK\r\n'), 20); });
    const p = poolOf(plugin.origin);
    expect(await get(p, plugin.origin)).toBe('1');
    await plugin.closed(1);
    expect(await get(p, plugin.origin)).toBe('2');
  });
});

describe('a reused connection the plugin closed while idle', () => {
  /** The plugin answers a connection's first request, then drops the connection at its second, before any byte. */
  const dropsSecond = () => raw((s) => (s.nth === 2 ? s.socket.destroy() : ok(s)));

  it('is retried once on a new connection for an idempotent call without a body', async () => {
    const plugin = await dropsSecond();
    const p = poolOf(plugin.origin);
    expect(await get(p, plugin.origin)).toBe('1');
    expect(await get(p, plugin.origin)).toBe('2');
    expect(plugin.requests.map((r) => `${r.conn}.${r.nth}`)).toEqual(['1.1', '1.2', '2.1']);
  });

  it('fails a call that is not idempotent (it may have been done), and a first call on a fresh connection', async () => {
    const plugin = await dropsSecond();
    const p = poolOf(plugin.origin);
    expect(await get(p, plugin.origin)).toBe('1');
    await expect(get(p, plugin.origin, '/api/x', { method: 'POST' })).rejects.toMatchObject({ code: 'ECONNRESET' });
    const never = await raw((s) => s.socket.destroy());
    await expect(get(poolOf(never.origin), never.origin)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(never.requests).toHaveLength(1);
  });

  it('is not retried once some of the answer came', async () => {
    const plugin = await raw((s) => (s.nth === 2 ? s.socket.end('HTTP/1.1 200 OK\r\nContent-Le') : ok(s)));
    const p = poolOf(plugin.origin);
    expect(await get(p, plugin.origin)).toBe('1');
    await expect(get(p, plugin.origin)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(plugin.accepted()).toBe(1);
  });
});

describe('the plugin client ends calls as their callers say', () => {
  it('rejects with the signal\'s reason before the answer, and closes that connection', async () => {
    const plugin = await raw(() => undefined);
    const p = poolOf(plugin.origin);
    const stop = new AbortController();
    const call = exchange(p, plugin.origin, '/api/slow', { signal: stop.signal });
    const reason = new Error('deadline');
    setTimeout(() => stop.abort(reason), 50);
    await expect(call).rejects.toBe(reason);
    expect(p.busy()).toBe(0);
    await plugin.closed(1);
  });

  it('rejects a waiting read with the signal\'s reason while the body is read', async () => {
    const plugin = await raw((s) => s.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst'));
    const p = poolOf(plugin.origin);
    const stop = new AbortController();
    const a = await exchange(p, plugin.origin, '/api/x', { signal: stop.signal });
    const it = a.body[Symbol.asyncIterator]();
    expect((await it.next()).value?.toString()).toBe('first');
    const reason = new Error('deadline');
    setTimeout(() => stop.abort(reason), 30);
    await expect(it.next()).rejects.toBe(reason);
    expect(p.busy()).toBe(0);
    await plugin.closed(1);
  });

  it('never follows a redirect', async () => {
    const plugin = await raw((s) => s.socket.write('HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n'));
    const a = await exchange(poolOf(plugin.origin), plugin.origin, '/', {});
    expect([a.status, a.headers.location]).toEqual([302, 'http://127.0.0.1:1/']);
    expect(await text(a)).toBe('');
  });

  it('counts a call busy until its body is read, and close() waits for it', async () => {
    const plugin = await raw((s) => s.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhalf'));
    const p = poolOf(plugin.origin);
    const a = await exchange(p, plugin.origin, '/api/x', {});
    expect(p.busy()).toBe(1);
    let closed = false;
    const closing = p.close().then(() => { closed = true; });
    await new Promise((r) => setTimeout(r, 30));
    expect(closed).toBe(false);
    plugin.requests[0]!.socket.write('!!');
    expect(await text(a)).toBe('half!!');
    await closing;
    expect(p.busy()).toBe(0);
    await plugin.closed(1);
  });

  it('drains a small unwanted rest and keeps the connection; drops it for a large one', async () => {
    const plugin = await raw((s) => {
      const size = s.head.includes('/big') ? 4 * 1024 * 1024 : 3_000;
      s.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
      s.socket.write(Buffer.alloc(size, 97));
    });
    const p = poolOf(plugin.origin);
    await drain((await exchange(p, plugin.origin, '/small', {})).body);
    expect(await get(p, plugin.origin, '/small')).toHaveLength(3_000);
    expect(plugin.accepted()).toBe(1);
    const big = await exchange(p, plugin.origin, '/big', {});
    // Drained twice at once (the tunnel's give-up and a cleanup): both end.
    await Promise.all([drain(big.body), drain(big.body)]);
    expect(p.busy()).toBe(0);
    expect(await get(p, plugin.origin, '/small')).toHaveLength(3_000);
    expect(plugin.accepted()).toBe(2);
    await plugin.closed(1);
  });

  it('stops reading while the caller does not, so a huge answer is never held whole', async () => {
    const total = 48 * 1024 * 1024;
    let pushed = 0;
    const plugin = await raw((s) => {
      s.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`);
      const piece = Buffer.alloc(256 * 1024, 120);
      const more = () => {
        while (pushed < total) {
          pushed += piece.length;
          if (!s.socket.write(piece)) return void s.socket.once('drain', more);
        }
      };
      more();
    });
    const p = poolOf(plugin.origin);
    const a = await exchange(p, plugin.origin, '/huge', {});
    const it = a.body[Symbol.asyncIterator]();
    let read = (await it.next()).value!.length;
    // Wait until the stand-in stops getting bytes out (or 10 s pass): then it has filled
    // the socket buffers on both ends and the client's bounded queue, and no more.
    let last = -1;
    for (let still = 0, t0 = Date.now(); still < 4 && pushed < total && Date.now() - t0 < 10_000;) {
      await new Promise((r) => setTimeout(r, 50));
      still = pushed === last ? still + 1 : 0;
      last = pushed;
    }
    expect(pushed).toBeLessThan(16 * 1024 * 1024);
    for (let r = await it.next(); !r.done; r = await it.next()) read += r.value.length;
    expect(read).toBe(total);
  });
});

describe('the request as the plugin receives it', () => {
  async function echo(): Promise<string> {
    const server = createHttpServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(parts).toString() })));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
    for (const p of parts) { await new Promise((r) => setImmediate(r)); yield Buffer.from(p); }
  }
  type Echo = { method: string; url: string; headers: Record<string, string>; body: string };
  const call = async (origin: string, o: Parameters<typeof exchange>[3]) => JSON.parse(await get(poolOf(origin), origin, '/api/x?y=1', o)) as Echo;

  it('streams a body chunked unless its length is declared, and sends the caller\'s headers but not framing of theirs', async () => {
    const origin = await echo();
    const chunked = await call(origin, { method: 'POST', headers: { 'content-type': 'application/json', 'x-a': 'b' }, body: chunks('{"a":', '1}') });
    expect(chunked).toMatchObject({ method: 'POST', url: '/api/x?y=1', body: '{"a":1}' });
    expect(chunked.headers).toMatchObject({ 'content-type': 'application/json', 'x-a': 'b', 'transfer-encoding': 'chunked', connection: 'keep-alive', host: new URL(origin).host });
    const sized = await call(origin, { method: 'PUT', headers: { 'content-length': '7', 'transfer-encoding': 'gzip', connection: 'close' }, body: chunks('{"a":', '1}') });
    expect(sized.body).toBe('{"a":1}');
    expect(sized.headers['content-length']).toBe('7');
    expect(sized.headers['transfer-encoding']).toBeUndefined();
    expect(sized.headers.connection).toBe('keep-alive');
    const empty = await call(origin, { method: 'POST' });
    expect([empty.headers['content-length'], empty.body]).toEqual(['0', '']);
  });

  it('refuses a body that does not match its declared length, and drops that connection', async () => {
    // Not one byte past the declared length reaches the plugin (it would read it as the next request).
    let received = '';
    const sink = net.createServer((s) => s.on('data', (d) => { received += d.toString('latin1'); }));
    servers.push(sink);
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const to = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    await expect(get(poolOf(to), to, '/x', { method: 'POST', headers: { 'content-length': '3' }, body: chunks('ab', 'cd') })).rejects.toMatchObject({ code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH' });
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toMatch(/\r\n\r\nab$/);
    const origin = await echo();
    await expect(call(origin, { method: 'POST', headers: { 'content-length': '3' }, body: chunks('four') })).rejects.toMatchObject({ code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH' });
    await expect(call(origin, { method: 'POST', headers: { 'content-length': '9' }, body: chunks('four') })).rejects.toMatchObject({ code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH' });
  });

  it('refuses header injection, a bad method or target before connecting', async () => {
    const plugin = await raw((s) => ok(s));
    const p = poolOf(plugin.origin);
    await expect(exchange(p, plugin.origin, '/x', { headers: { 'x-a': 'a\r\nX-B: b' } })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    await expect(exchange(p, plugin.origin, '/x', { headers: { 'x a': 'b' } })).rejects.toMatchObject({ code: 'ERR_INVALID_HTTP_TOKEN' });
    await expect(exchange(p, plugin.origin, '/x', { method: 'GET /y HTTP/1.1\r\n' })).rejects.toMatchObject({ code: 'ERR_INVALID_HTTP_TOKEN' });
    await expect(exchange(p, plugin.origin, '/x HTTP/1.1\r\nX: y', {})).rejects.toMatchObject({ code: 'ERR_UNESCAPED_CHARACTERS' });
    await expect(exchange(p, plugin.origin, '/x', { headers: { 'content-length': '5' } })).rejects.toMatchObject({ code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH' });
    expect(plugin.accepted()).toBe(0);
    expect(p.busy()).toBe(0);
  });
});
