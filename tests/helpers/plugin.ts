/**
 * A minimal stand-in for the Front Web API plugin on a real loopback socket,
 * for fault tests the sim cannot stage: endless answers, slow answers, slow
 * logins. It records what happened to each answer and each token.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePlugin {
  url: string;
  /** Answers to /api/big: when each started and when its socket let go (null while held). */
  big: Array<{ startedAt: number; closedAt: number | null }>;
  /** Tokens issued and logged out, in order. */
  issued: string[];
  loggedOut: string[];
  /** Added delay for /api/login answers. */
  loginDelayMs: number;
  close(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024, 120);

/**
 * Starts it on 127.0.0.1; `/api/big` streams `bigBytes` (default: without end), `/api/slow` answers `{}` after `slowMs`,
 * `/api/orders` lists two small orders, and with `hugeOrderItems` a third between them with that many items
 * (86 bytes each: 300 000 make 26 MB, under the default answer cap), streamed as a plugin would.
 */
export async function startFakePlugin(opts: { bigBytes?: number; slowMs?: number; sectionsBytes?: number; hugeOrderItems?: number } = {}): Promise<FakePlugin> {
  const state: FakePlugin = { url: '', big: [], issued: [], loggedOut: [], loginDelayMs: 0, close: async () => undefined };
  let n = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname.toLowerCase();
    const json = (body: unknown) => { res.setHeader('content-type', 'application/json; charset=utf-8'); res.end(JSON.stringify(body)); };
    if (p === '/') { res.setHeader('content-type', 'text/html'); res.end('<html><body>iiko Front Web API</body></html>'); return; }
    if (p.startsWith('/api/login/')) {
      const token = `tok-${++n}-${Math.random().toString(16).slice(2)}`;
      state.issued.push(token);
      setTimeout(() => { if (!res.destroyed) json(token); }, state.loginDelayMs);
      return;
    }
    if (p.startsWith('/api/logout/')) { state.loggedOut.push(decodeURIComponent(url.pathname.slice('/api/logout/'.length))); json(true); return; }
    if (!url.searchParams.get('key')) { res.statusCode = 401; json({ Message: 'Authorization has been denied for this request.' }); return; }
    if (p === '/api/sections') {
      if (opts.sectionsBytes) {
        // An answer far bigger than any real section list: `[` + padding that never closes.
        res.setHeader('content-type', 'application/json');
        let sent = 0;
        const pump = () => {
          while (sent < opts.sectionsBytes!) {
            sent += CHUNK.length;
            if (!res.write(CHUNK)) { res.once('drain', pump); return; }
          }
          res.end();
        };
        res.write('[');
        pump();
        return;
      }
      json([]);
      return;
    }
    if (p === '/api/orders') {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      const order = (id: string) => JSON.stringify({ Id: id, Number: 1, Status: 'New', Items: [{ Id: `${id}-1`, Amount: 1, Price: 160, Status: 'Added' }] });
      const items = opts.hugeOrderItems ?? 0;
      const parts: Array<string | (() => string)> = [`[${order('a')},`];
      if (items) {
        parts.push('{"Id":"huge","Number":2,"Status":"New","Items":[');
        for (let i = 0; i < items; i += 10_000) {
          const from = i;
          parts.push(() => Array.from({ length: Math.min(10_000, items - from) }, (_, j) => `{"Id":"00000000-0000-4000-8000-${String(from + j).padStart(12, '0')}","Amount":1,"Price":160,"Status":"Added"}`).join(',') + (from + 10_000 < items ? ',' : ''));
        }
        parts.push(']},');
      }
      parts.push(`${order('b')}]`);
      const pump = () => {
        while (parts.length && !res.destroyed) {
          const next = parts.shift()!;
          if (!res.write(typeof next === 'string' ? next : next())) { res.once('drain', pump); return; }
        }
        if (!res.destroyed) res.end();
      };
      pump();
      return;
    }
    if (p === '/api/slow') { setTimeout(() => { if (!res.destroyed) json({}); }, opts.slowMs ?? 600); return; }
    if (p === '/api/big') {
      const rec = { startedAt: performance.now(), closedAt: null as number | null };
      state.big.push(rec);
      res.on('close', () => { rec.closedAt = performance.now(); });
      res.setHeader('content-type', 'application/octet-stream');
      let sent = 0;
      const limit = opts.bigBytes ?? Infinity;
      const pump = () => {
        while (!res.destroyed && sent < limit) {
          sent += CHUNK.length;
          if (!res.write(CHUNK)) { res.once('drain', pump); return; }
        }
        if (!res.destroyed) res.end();
      };
      pump();
      return;
    }
    res.statusCode = 404;
    json({ Message: 'No HTTP resource was found.' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  return state;
}
