/**
 * A TCP forwarder between a client and a target on loopback, for link-failure
 * tests. `blackhole()` silently stops forwarding on every current connection
 * (nothing is closed, no RST, no FIN: the link just goes quiet, like a NAT
 * that forgot it or a laptop lid closing). New connections forward normally.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  url: string;
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  blackhole(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<{ a: Socket; b: Socket; dead: boolean }>();
  let accepted = 0;
  const server: Server = createServer((a) => {
    accepted++;
    const b = connect(targetPort, targetHost);
    const p = { a, b, dead: false };
    pairs.add(p);
    a.on('data', (d) => { if (!p.dead) b.write(d); });
    b.on('data', (d) => { if (!p.dead) a.write(d); });
    const end = () => {
      pairs.delete(p);
      a.destroy();
      b.destroy();
    };
    // A blackholed pair never passes on a close either: the peer must find out by itself.
    a.on('close', () => { if (!p.dead) end(); });
    b.on('close', () => { if (!p.dead) end(); });
    a.on('error', () => {});
    b.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections: () => accepted,
    blackhole() {
      for (const p of pairs) p.dead = true;
    },
    async close() {
      for (const p of pairs) { p.a.destroy(); p.b.destroy(); }
      pairs.clear();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
