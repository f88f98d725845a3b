/**
 * Helper process of bench/memory.ts: the simulator seen through a proxy that
 * can make the plugin hostile on demand. Everything is passed to the
 * simulator and back unchanged, except that once armed, the next order-list
 * answers (`GET /api/orders`, any query) carry one more order, a copy of the
 * first one with `items` small items in its first `Items` list: the
 * 300 000-item answer of issue 18 (item 17), about 26 MB of JSON, within the
 * companion's default 32 MiB answer limit.
 *
 *   node --import tsx bench/_hostile.ts SIM_URL
 *
 * Prints `{"listening":"http://127.0.0.1:PORT"}`. Control (loopback only):
 * `POST /_bench/huge?items=N&times=K` arms it for K answers;
 * `GET /_bench/huge` says how many huge answers were served so far.
 */
import { createServer, request, type IncomingMessage } from 'node:http';

/** One small item, 86 bytes of JSON: enough of an item to be one, few enough bytes for 300 000 (26 MB) to fit 32 MiB. */
function item(i: number): string {
  return `{"Id":"00000000-0000-4000-8000-${String(i).padStart(12, '0')}","Amount":1,"Price":160,"Status":"Added"}`;
}

/** The path of the first `Items` array inside `v` (depth first), or null. */
function itemsPath(v: unknown, path: Array<string | number> = []): Array<string | number> | null {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = itemsPath(v[i], [...path, i]);
      if (p) return p;
    }
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  for (const [k, x] of Object.entries(v)) {
    if (k === 'Items' && Array.isArray(x)) return [...path, k];
    const p = itemsPath(x, [...path, k]);
    if (p) return p;
  }
  return null;
}

/** The list with one more order whose items are `n` small items, as JSON text pieces (the huge part built once per answer). */
function withHugeOrder(list: unknown[], n: number): string[] {
  const order = structuredClone(list[0] ?? {}) as Record<string, unknown>;
  order.Id = '0badc0de-0000-4000-8000-000000000000';
  if (typeof order.Number === 'number') order.Number = 999_999;
  const marker = '"__ITEMS__"';
  const path = itemsPath(order);
  if (path) {
    let at: Record<string | number, unknown> = order;
    for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
    at[path[path.length - 1]!] = '__ITEMS__';
  } else {
    order.Items = '__ITEMS__';
  }
  const [head, tail] = JSON.stringify([...list, order]).split(marker) as [string, string];
  const parts = [head, '['];
  for (let i = 0; i < n; i += 10_000) parts.push(Array.from({ length: Math.min(10_000, n - i) }, (_, j) => item(i + j)).join(',') + (i + 10_000 < n ? ',' : ''));
  parts.push(']', tail);
  return parts;
}

const isMain = process.argv[1]?.endsWith('_hostile.ts');
if (isMain) {
  const sim = new URL(process.argv[2]!);
  let armed = { items: 0, times: 0 };
  let served = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/_bench/huge') {
      if (req.method === 'POST') armed = { items: Number(url.searchParams.get('items') ?? 300_000), times: Number(url.searchParams.get('times') ?? 1) };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ armed, served }));
      return;
    }
    const hostile = armed.times > 0 && req.method === 'GET' && url.pathname.toLowerCase() === '/api/orders';
    const up = request({ host: sim.hostname, port: sim.port, method: req.method, path: req.url, headers: req.headers }, (answer: IncomingMessage) => {
      if (!hostile || answer.statusCode !== 200) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const list = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[];
        armed.times--;
        served++;
        const parts = withHugeOrder(list, armed.items);
        const headers = { ...answer.headers, 'content-length': String(parts.reduce((a, p) => a + Buffer.byteLength(p), 0)) };
        delete headers['transfer-encoding'];
        res.writeHead(200, headers);
        for (const p of parts) res.write(p);
        res.end();
      });
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ listening: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
  process.on('SIGTERM', () => process.exit(0));
}
