/**
 * The bench's stand-in plugin, run as its own process so its CPU is its own:
 * the root page, login/logout, /api/sections for the companion's probe, and
 * `/api/bench/<size>` (2k, 64k, 5m) answering a fixed JSON body with the
 * plugin's own links in it (as the real plugin's `Url` fields), so the relay's
 * link rewriting does the work it does for a venue. Answers 401 without a key.
 *
 * Prints `{"listening":"http://127.0.0.1:PORT"}` once ready.
 */
import { createServer } from 'node:http';

/** Sizes served, in bytes (approximately: whole JSON records). */
export const BODY_SIZES = { '2k': 2_400, '64k': 64 * 1024, '5m': 5 * 1024 * 1024 } as const;
export type BodySize = keyof typeof BODY_SIZES;

/** A JSON array of order-like records, about `bytes` long, whose `Url` fields start with `origin`. */
export function benchBody(origin: string, bytes: number): Buffer {
  const parts: string[] = [];
  let len = 2;
  for (let i = 1; len < bytes; i++) {
    const rec = JSON.stringify({ Id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, Number: i, Sum: 1250.5 + i, Status: 'Closed', Url: `${origin}/api/orders/${i}`, Items: 'Капучино 0.3, круассан' });
    parts.push(rec);
    len += Buffer.byteLength(rec) + 1;
  }
  return Buffer.from(`[${parts.join(',')}]`);
}

const isMain = process.argv[1]?.endsWith('_plugin.ts');
if (isMain) {
  const bodies = new Map<string, Buffer>();
  let token = 0;
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const send = (status: number, type: string, body: Buffer | string) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (path === '/') return send(200, 'text/html; charset=utf-8', '<html><head><meta name="generator" content="iiko Front Web API 7.4.6012.0"></head><body>bench stand-in</body></html>');
    if (path.startsWith('/api/login/')) return send(200, 'application/json', JSON.stringify(`bench-token-${++token}`));
    if (path.startsWith('/api/logout/')) return send(200, 'application/json', 'true');
    if (!/[?&]key=/.test(url)) return send(401, 'application/json', '{"error":"no key"}');
    if (path === '/api/sections') return send(200, 'application/json', '[]');
    const body = bodies.get(path.slice('/api/bench/'.length));
    if (body) return send(200, 'application/json; charset=utf-8', body);
    send(404, 'application/json', '{"error":"not found"}');
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    for (const [name, bytes] of Object.entries(BODY_SIZES)) bodies.set(name, benchBody(origin, bytes));
    console.log(JSON.stringify({ listening: origin }));
  });
  process.on('SIGTERM', () => process.exit(0));
}
