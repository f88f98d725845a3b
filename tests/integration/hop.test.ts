/**
 * The hop over real loopback HTTP: a first node (forward) in front of an owner
 * (hopAuth), with real sockets, a real child process for the memory bound, and
 * real refused ports.
 */
import { spawn } from 'node:child_process';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HOP_COUNT_HEADER, HOP_HEADER, HOP_HOST_HEADER, HOP_MAX } from '../../protocol/cluster.ts';
import { TIMEOUT_HEADER } from '../../protocol/relay.ts';
import { createHopAgent, forward, hopAuth, refuseHop, signHop, type ForwardOptions, type HopCaller, type HopOutcome } from '../../relay/cluster/hop.ts';
import { ROOT, freePort } from '../helpers/proc.ts';

const SECRET = 'cluster-secret-0123456789abcdef-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

/** A first node that forwards everything to `ownerUrl`, recording each outcome. */
async function firstNode(ownerUrl: string, extra: Partial<ForwardOptions> = {}): Promise<{ url: string; outcomes: HopOutcome[] }> {
  const agent = createHopAgent();
  cleanups.push(() => agent.destroy());
  const outcomes: HopOutcome[] = [];
  const { url } = await listen((req, res) => forward(req, res, { nodeId: 'owner', url: ownerUrl }, {
    secret: SECRET, nodeId: 'node-a', timeoutMs: 5_000, originalHost: 'relay.evva.test', originalProto: 'https', client: '203.0.113.7',
    key: '0123456789ab', agent, onOutcome: (o) => outcomes.push(o), ...extra,
  }));
  return { url, outcomes };
}

interface Answer { status: number; headers: IncomingMessage['headers']; body: string }

function call(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(opts.body);
  });
}

/** An owner that checks the hop and echoes what it received. */
async function echoOwner(secret = SECRET): Promise<{ url: string; seen: Array<{ caller: HopCaller | null; headers: IncomingMessage['headers']; url: string; body: string }> }> {
  const seen: Array<{ caller: HopCaller | null; headers: IncomingMessage['headers']; url: string; body: string }> = [];
  const check = hopAuth(secret);
  const { url } = await listen((req, res) => {
    const c = check(req);
    if (c && 'denied' in c) return refuseHop(res, c);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => { body += d; });
    req.on('end', () => {
      seen.push({ caller: c, headers: req.headers, url: req.url ?? '', body });
      res.setHeader('x-owner', 'yes');
      res.end(JSON.stringify({ method: req.method, url: req.url, body }));
    });
  });
  return { url, seen };
}

describe('the hop between two relay nodes', () => {
  it('carries method, path, query and body to the owner, signed, with the caller credentials replaced', async () => {
    const owner = await echoOwner();
    const a = await firstNode(owner.url);
    const r = await call(`${a.url}/v1/venues/v1/front/api/orders?x=1&y=%20`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer the-caller-api-key-0123456789', cookie: 'sid=secret', 'content-type': 'application/json',
        connection: 'keep-alive, x-private', 'x-private': 'per-connection', [HOP_HOST_HEADER]: 'evil.example', [HOP_HEADER]: 'forged',
        [TIMEOUT_HEADER]: '99999',
      },
      body: '{"order":1}',
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-owner']).toBe('yes');
    expect(JSON.parse(r.body)).toEqual({ method: 'POST', url: '/v1/venues/v1/front/api/orders?x=1&y=%20', body: '{"order":1}' });
    const got = owner.seen[0]!;
    expect(got.caller).toEqual({ from: 'node-a', hops: 1, host: 'relay.evva.test', proto: 'https', client: '203.0.113.7', key: '0123456789ab' });
    expect(got.headers.authorization).toBeUndefined();
    expect(got.headers.cookie).toBeUndefined();
    expect(got.headers['x-private']).toBeUndefined();
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers[TIMEOUT_HEADER]).toBe('5000');
    expect(got.headers[HOP_COUNT_HEADER]).toBe('1');
    expect(a.outcomes).toEqual(['ok']);
  });

  it('is refused by an owner with another secret (403), and a malformed hop header is refused (401), never treated as no header', async () => {
    const owner = await echoOwner('another-cluster-secret-0123456789abcdef');
    const a = await firstNode(owner.url);
    const r = await call(`${a.url}/v1/venues/v1/front/x`);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'forbidden', message: 'hop refused: signature' });
    const bad = await call(`${owner.url}/v1/venues/v1/front/x`, { headers: { [HOP_HEADER]: 'v1 node-a 123', [HOP_COUNT_HEADER]: '1' } });
    expect(bad.status).toBe(401);
    expect(owner.seen).toEqual([]);
  });

  it('refuses a captured hop replayed after the allowed skew, and one sent to another path', async () => {
    const owner = await echoOwner();
    const old = signHop(SECRET, 'node-a', 'GET', '/v1/venues/v1/front/x', 1, Date.now() - 60_000);
    const late = await call(`${owner.url}/v1/venues/v1/front/x`, { headers: { [HOP_HEADER]: old, [HOP_COUNT_HEADER]: '1' } });
    expect(late.status).toBe(403);
    expect(JSON.parse(late.body).message).toBe('hop refused: skew');
    const fresh = signHop(SECRET, 'node-a', 'GET', '/v1/venues/v1/front/x', 1, Date.now());
    const moved = await call(`${owner.url}/v1/venues/v2/front/x`, { headers: { [HOP_HEADER]: fresh, [HOP_COUNT_HEADER]: '1' } });
    expect(moved.status).toBe(403);
    const ok = await call(`${owner.url}/v1/venues/v1/front/x`, { headers: { [HOP_HEADER]: fresh, [HOP_COUNT_HEADER]: '1' } });
    expect(ok.status).toBe(200);
  });

  it('answers 503 venue_offline when the owner refuses the connection', async () => {
    const port = await freePort();
    const a = await firstNode(`http://127.0.0.1:${port}`);
    const r = await call(`${a.url}/v1/venues/v1/front/x`);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'venue_offline' });
    expect(a.outcomes).toEqual(['offline']);
  });

  it('answers 503 venue_offline when the owner resets the connection before its head', async () => {
    const { url } = await listen((req) => req.socket.destroy());
    const a = await firstNode(url);
    const r = await call(`${a.url}/v1/venues/v1/front/x`, { method: 'POST', body: 'x' });
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).error).toBe('venue_offline');
  });

  it('cuts the answer (never completes it) when the owner dies after its head', async () => {
    const { url } = await listen((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const a = await firstNode(url);
    await expect(call(`${a.url}/v1/venues/v1/front/x`)).rejects.toThrow();
    await waitFor(() => a.outcomes.length === 1);
    expect(a.outcomes).toEqual(['broken']);
  });

  it('passes the remaining deadline on, enforces it itself, and aborts the silent owner', async () => {
    let ownerSaw: string | undefined;
    let ownerClosed = false;
    const { url } = await listen((req) => {
      ownerSaw = req.headers[TIMEOUT_HEADER] as string;
      req.socket.on('close', () => { ownerClosed = true; });
    });
    const a = await firstNode(url, { timeoutMs: 300 });
    const t0 = Date.now();
    const r = await call(`${a.url}/v1/venues/v1/front/slow`);
    const ms = Date.now() - t0;
    expect(r.status).toBe(504);
    expect(JSON.parse(r.body).error).toBe('timeout');
    expect(ownerSaw).toBe('300');
    expect(ms).toBeGreaterThanOrEqual(300);
    expect(ms).toBeLessThan(10_000);
    await waitFor(() => ownerClosed);
    expect(a.outcomes).toEqual(['timeout']);
  });

  it('aborts the upstream call when the caller goes away', async () => {
    let ownerClosed = false;
    const { url } = await listen((_req, res) => {
      res.writeHead(200);
      const t = setInterval(() => res.write('tick\n'), 20);
      res.on('close', () => { clearInterval(t); ownerClosed = true; });
    });
    const a = await firstNode(url);
    await new Promise<void>((resolve, reject) => {
      const r = request(`${a.url}/v1/venues/v1/front/stream`, { agent: false }, (res) => {
        res.once('data', () => { r.destroy(); resolve(); });
      });
      r.on('error', () => undefined);
      setTimeout(() => reject(new Error('no data')), 10_000);
      r.end();
    });
    await waitFor(() => ownerClosed);
    await waitFor(() => a.outcomes.length === 1);
    expect(a.outcomes).toEqual(['cancelled']);
  });

  it('delivers an owner answer sent before the upload ended (413), not a cut one', async () => {
    const { url } = await listen((_req, res) => {
      res.writeHead(413, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'too_large' }));
    });
    const a = await firstNode(url);
    const big = Buffer.alloc(8 * 1024 * 1024, 0x62);
    const r = await new Promise<Answer>((resolve, reject) => {
      const q = request(`${a.url}/v1/venues/v1/front/upload`, { method: 'POST', headers: { 'content-length': String(big.length) }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      });
      q.on('error', () => undefined);
      q.end(big);
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: 'too_large' });
    await waitFor(() => a.outcomes.length === 1);
    expect(a.outcomes).toEqual(['ok']);
  });

  it('sends a bodiless call again once when its pooled connection is reset before the head (the keep-alive race), never a call with a body', async () => {
    let calls = 0;
    const { url } = await listen((req, res) => {
      calls++;
      const perSocket = ((req.socket as unknown as { n?: number }).n = ((req.socket as unknown as { n?: number }).n ?? 0) + 1);
      // The second call on a connection finds it closed by the owner, as an idle timeout at the wrong moment would.
      if (perSocket === 2) return void req.socket.destroy();
      req.resume();
      req.on('end', () => res.end('fine'));
    });
    const a = await firstNode(url);
    expect((await call(`${a.url}/v1/venues/v1/front/one`)).body).toBe('fine');
    const again = await call(`${a.url}/v1/venues/v1/front/two`);
    expect(again).toMatchObject({ status: 200, body: 'fine' });
    expect(calls).toBe(3);
    expect((await call(`${a.url}/v1/venues/v1/front/three`)).body).toBe('fine');
    const post = await call(`${a.url}/v1/venues/v1/front/four`, { method: 'POST', body: 'once only' });
    expect(post.status).toBe(503);
    expect(a.outcomes).toEqual(['ok', 'ok', 'ok', 'offline']);
  });

  it(`refuses a call that already made ${HOP_MAX} hops (no loops)`, async () => {
    const owner = await echoOwner();
    const a = await firstNode(owner.url, { hops: HOP_MAX });
    const r = await call(`${a.url}/v1/venues/v1/front/x`);
    expect(r.status).toBe(503);
    expect(owner.seen).toEqual([]);
    expect(a.outcomes).toEqual(['loop']);
  });

  it('streams 64 MB each way through the first node while its resident memory stays far below that', async () => {
    const MB = 1024 * 1024;
    const SIZE = 64 * MB;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let received = 0;
    const check = hopAuth(SECRET);
    const { url: ownerUrl } = await listen((req, res) => {
      const c = check(req);
      if (!c || 'denied' in c) return void res.writeHead(401).end();
      req.on('data', (d: Buffer) => { received += d.length; });
      req.on('end', () => {
        const size = Number(req.headers['x-size']);
        res.writeHead(200, { 'content-length': String(size) });
        void pump(res, size, chunk).catch(() => undefined);
      });
    });
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'tests/helpers/hopnode.ts'), ownerUrl, SECRET], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => { child.kill('SIGKILL'); });
    const firstUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"listening":"([^"]+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`hop node exited: ${out}`)));
    });
    const through = (size: number) => new Promise<number>((resolve, reject) => {
      received = 0;
      const r = request(`${firstUrl}/v1/venues/v1/front/big`, { method: 'POST', headers: { 'content-length': String(size), 'x-size': String(size) }, agent: false }, (res) => {
        let n = 0;
        res.on('data', (d: Buffer) => { n += d.length; });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      });
      r.on('error', reject);
      void pump(r, size, chunk).catch(reject);
    });
    const mem = async () => JSON.parse((await call(`${firstUrl}/__mem`)).body) as { baseline: number; peak: number };
    // A warm-up pass settles the JIT and the collector's rhythm; then a pass four times larger must not raise the peak by anything like its size.
    expect(await through(SIZE / 4)).toBe(SIZE / 4);
    expect(received).toBe(SIZE / 4);
    const warm = await mem();
    expect(await through(SIZE)).toBe(SIZE);
    expect(received).toBe(SIZE);
    const after = await mem();
    const mb = (n: number) => (n / MB).toFixed(1);
    console.log(`hop node resident memory: start ${mb(warm.baseline)} MB, after 2 x 16 MB ${mb(warm.peak)} MB peak, after 2 x 64 MB more ${mb(after.peak)} MB peak`);
    expect(after.peak - warm.peak).toBeLessThan(24 * MB);
    expect(after.peak - after.baseline).toBeLessThan(48 * MB);
  }, 60_000);
});

/** Writes `size` bytes of `chunk` into `w`, waiting for drain whenever it is full, then ends it. */
async function pump(w: NodeJS.WritableStream, size: number, chunk: Buffer): Promise<void> {
  let left = size;
  while (left > 0) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
    left -= part.length;
    if (!w.write(part)) {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => { w.off('drain', done); w.off('error', done); if (err) reject(err); else resolve(); };
        w.on('drain', done);
        w.on('error', done);
      });
    }
  }
  w.end();
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
