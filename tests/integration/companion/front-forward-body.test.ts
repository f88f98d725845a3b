import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createFrontClient, type FrontClient } from '../../../main/core/front/client.ts';
import { FrontError } from '../../../main/core/front/errors.ts';
import { realClock } from '../../../common/clock.ts';
import { silentLogger } from '../../../common/logger.ts';

/**
 * How the tunnel reads a plugin answer (forward's body): every chunk in order,
 * and an answer that is cut short or given up ends the read with a FrontError,
 * never a hang and never a silent short answer.
 */
let server: Server | null = null;
let client: FrontClient | null = null;
afterEach(async () => {
  await client?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = null;
  client = null;
});

/** A stand-in plugin: logins answer a token; every other call is `answer`. */
async function plugin(answer: (res: ServerResponse) => void): Promise<FrontClient> {
  server = createServer((req, res) => {
    if (req.url?.startsWith('/api/login/')) {
      res.setHeader('content-type', 'application/json');
      return void res.end(JSON.stringify('token-0123456789'));
    }
    answer(res);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  client = createFrontClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, moduleId: '2050', clock: realClock, logger: silentLogger });
  return client;
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

const get = (c: FrontClient, signal: AbortSignal) => c.forward({ method: 'GET', path: '/api/orders', headers: {}, body: null, signal });

describe('forward reads the plugin answer', () => {
  it('hands over a streamed answer whole and in order, however it is chunked, also when read slowly', async () => {
    const parts = Array.from({ length: 40 }, (_, i) => Buffer.alloc(16 * 1024, 65 + (i % 26)));
    const c = await plugin((res) => {
      res.setHeader('content-type', 'application/octet-stream');
      let i = 0;
      const next = () => (i < parts.length ? res.write(parts[i++], () => setImmediate(next)) : res.end());
      next();
    });
    const res = await get(c, AbortSignal.timeout(10_000));
    const chunks: Buffer[] = [];
    for await (const chunk of res.body!) {
      chunks.push(Buffer.from(chunk));
      // A slow reader: the stream waits for it (paused), nothing is lost or reordered.
      if (chunks.length % 5 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(Buffer.concat(chunks).equals(Buffer.concat(parts))).toBe(true);
  });

  it('fails the read with a FrontError when the plugin cuts the answer short', async () => {
    const c = await plugin((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' });
      res.write('x'.repeat(1000), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const res = await get(c, AbortSignal.timeout(10_000));
    const e = await readAll(res.body!).then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(FrontError);
    expect((e as FrontError).code).toBe('unreachable');
  });

  it('fails the read with a timeout FrontError when the caller\'s deadline passes mid-answer', async () => {
    const c = await plugin((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' });
      res.write('x'.repeat(1000)); // and never the rest
    });
    const ctl = new AbortController();
    const res = await get(c, ctl.signal);
    const it = res.body![Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    setTimeout(() => ctl.abort(new DOMException('the relay\'s deadline passed', 'TimeoutError')), 20);
    const e = await it.next().then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(FrontError);
    expect((e as FrontError).code).toBe('timeout');
  });

  it('lets go of an answer given up before its first chunk, and the next call still works', async () => {
    let calls = 0;
    const c = await plugin((res) => {
      calls++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ call: calls }));
    });
    const first = await get(c, AbortSignal.timeout(5_000));
    await first.body![Symbol.asyncIterator]().return?.();
    const second = await get(c, AbortSignal.timeout(5_000));
    expect(JSON.parse((await readAll(second.body!)).toString())).toEqual({ call: 2 });
  });
});
