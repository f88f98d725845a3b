/** The chaos soak's link faults, on real loopback sockets: an echo server behind the fault proxy. */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function echo(): Promise<number> {
  const server: Server = createServer((s) => { s.on('error', () => {}); s.pipe(s); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => { server.close(() => r()); }));
  return (server.address() as { port: number }).port;
}

async function through(): Promise<TcpProxy> {
  const proxy = await startTcpProxy(await echo());
  cleanups.push(() => proxy.close());
  return proxy;
}

function dial(port: number): Promise<Socket & { got: () => string; error: () => string | null }> {
  return new Promise((resolve, reject) => {
    let got = '';
    let err: string | null = null;
    const s = connect(port, '127.0.0.1', () => resolve(Object.assign(s, { got: () => got, error: () => err })));
    s.on('data', (d) => { got += d.toString(); });
    s.on('error', (e: NodeJS.ErrnoException) => { err = e.code ?? e.message; reject(e); });
    cleanups.push(() => { s.destroy(); });
  });
}

const until = async (cond: () => boolean, ms: number) => {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 10));
  return cond();
};

describe('the TCP fault proxy', () => {
  it('forwards both ways until told otherwise', async () => {
    const proxy = await through();
    const s = await dial(proxy.port);
    s.write('hello');
    expect(await until(() => s.got() === 'hello', 5_000)).toBe(true);
  });

  it('blackholes current and, when asked, new connections until healed', async () => {
    const proxy = await through();
    const old = await dial(proxy.port);
    proxy.blackhole({ newToo: true });
    const fresh = await dial(proxy.port);
    old.write('a');
    fresh.write('b');
    expect(await until(() => old.got() !== '' || fresh.got() !== '', 400)).toBe(false);
    proxy.heal();
    const healed = await dial(proxy.port);
    healed.write('c');
    expect(await until(() => healed.got() === 'c', 5_000)).toBe(true);
    // The connections that were blackholed stay silent: their ends must notice by themselves.
    expect(old.got() + fresh.got()).toBe('');
  });

  it('throttles to the given rate, in order, and heals', async () => {
    const proxy = await through();
    const s = await dial(proxy.port);
    proxy.throttle(20_000, 50);
    const body = Array.from({ length: 2_000 }, (_, i) => `${i % 10}`).join('').repeat(10); // 20 kB
    const t0 = Date.now();
    s.write(body);
    expect(await until(() => s.got().length === body.length, 20_000)).toBe(true);
    // 20 kB at 20 kB/s one way and again on the way back: at least ~1 s (generous floor).
    expect(Date.now() - t0).toBeGreaterThan(900);
    expect(s.got()).toBe(body);
    proxy.heal();
    const t1 = Date.now();
    s.write('x');
    expect(await until(() => s.got().endsWith('x'), 5_000)).toBe(true);
    expect(Date.now() - t1).toBeLessThan(900);
  });

  it('never lets bytes overtake each other, across many small writes and a heal in the middle', async () => {
    const proxy = await through();
    const s = await dial(proxy.port);
    proxy.throttle(50_000, 20);
    let sent = '';
    for (let i = 0; i < 300; i++) {
      const chunk = `<${i}>`;
      s.write(chunk);
      sent += chunk;
      if (i === 150) proxy.heal();
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    expect(await until(() => s.got().length === sent.length, 10_000)).toBe(true);
    expect(s.got()).toBe(sent);
  });

  it('resets every current connection with ECONNRESET', async () => {
    const proxy = await through();
    const s = await dial(proxy.port);
    s.on('error', () => {});
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    proxy.reset();
    await closed;
    expect(s.error()).toBe('ECONNRESET');
    expect(proxy.open()).toBe(0);
  });
});
