/**
 * A recording stand-in on the network between relay nodes: an HTTP server
 * that passes every request on to `target` unchanged (method, path, headers,
 * body) and the answer back, and keeps a copy of each request as it went by,
 * as someone watching the nodes' private network would see it.
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Tapped { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }

export interface Tap {
  url: string;
  seen: Tapped[];
  close(): Promise<void>;
}

export async function startTap(target: string, port = 0): Promise<Tap> {
  const seen: Tapped[] = [];
  const t = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const up = request({ hostname: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
