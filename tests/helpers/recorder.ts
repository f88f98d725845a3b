/**
 * A stand-in plugin that records every request exactly as it arrived (method,
 * target, headers), so a test can assert what reached the plugin end, not
 * what the sender meant to send. It logs any module in with one token and
 * answers everything else with `[]`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export const RECORDER_TOKEN = 'plugin-session-token';

export async function startRecorder(): Promise<{ url: string; requests: Recorded[]; calls(): Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
    req.resume();
    if ((req.url ?? '').startsWith('/api/login/')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(RECORDER_TOKEN));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** The requests other than login and logout: what callers' calls became. */
    calls: () => requests.filter((r) => !/^\/api\/log(in|out)\//.test(r.url)),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
