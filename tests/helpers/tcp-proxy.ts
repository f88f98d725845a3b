/**
 * A TCP forwarder between a client and a target on loopback, for link-failure
 * tests and the chaos soak (scripts/chaos.ts). Faults it can put on the link:
 *
 * - `blackhole()` silently stops forwarding on every current connection
 *   (nothing is closed, no RST, no FIN: the link just goes quiet, like a NAT
 *   that forgot it or a laptop lid closing). New connections forward normally.
 * - `blackhole({ newToo: true })` also swallows new connections (accepted, then
 *   silent) until `heal()`: the whole path is down, as when the uplink drops.
 * - `throttle(bytesPerSec, latencyMs)` slows both directions of every current
 *   and new connection (a congested 3G modem) until `heal()`.
 * - `reset()` destroys every current connection with an RST (ECONNRESET at
 *   both ends), as a restarted router or a middlebox timing out does.
 *
 * Toxiproxy does this as a separate Go server, which cannot be installed here
 * (no Docker, no Debian package); this is the small part of it we need.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  url: string;
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Connections open right now (blackholed ones included). */
  open(): number;
  blackhole(opts?: { newToo?: boolean }): void;
  throttle(bytesPerSec: number, latencyMs?: number): void;
  reset(): void;
  /** Ends blackholing of new connections and throttling. Connections already blackholed stay silent (their peers must notice). */
  heal(): void;
  close(): Promise<void>;
}

interface Pair { a: Socket; b: Socket; dead: boolean }
/** Bytes a throttled direction may hold before it stops reading from its source. */
const THROTTLE_QUEUE = 256 * 1024;

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let accepted = 0;
  let holeForNew = false;
  let rate = 0;
  let latency = 0;
  const server: Server = createServer((a) => {
    accepted++;
    const b = connect(targetPort, targetHost);
    const p: Pair = { a, b, dead: holeForNew };
    pairs.add(p);
    pipe(p, a, b);
    pipe(p, b, a);
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

  /**
   * Forwards from → to, through the throttle when one is set. One FIFO queue
   * per direction drained by one timer at a time, so bytes never overtake each
   * other (a timer per chunk can fire out of order: Node schedules timers on
   * the event loop's cached time, not on Date.now()).
   */
  function pipe(p: Pair, from: Socket, to: Socket): void {
    const queue: Array<{ at: number; d: Buffer }> = [];
    let freeAt = 0;
    let queued = 0;
    let timer: NodeJS.Timeout | null = null;
    const drain = () => {
      timer = null;
      const now = Date.now();
      while (queue.length > 0 && (queue[0] as { at: number }).at <= now) {
        const { d } = queue.shift() as { d: Buffer };
        queued -= d.length;
        if (!p.dead && !to.destroyed) to.write(d);
      }
      if (queued <= THROTTLE_QUEUE && from.isPaused()) from.resume();
      if (queue.length > 0) timer = setTimeout(drain, Math.max(1, (queue[0] as { at: number }).at - Date.now()));
      timer?.unref();
    };
    from.on('data', (d: Buffer) => {
      if (p.dead) return;
      if (rate <= 0 && queue.length === 0) { to.write(d); return; }
      const now = Date.now();
      const cost = rate > 0 ? (d.length / rate) * 1000 : 0;
      freeAt = Math.max(now + latency, freeAt) + cost;
      queue.push({ at: freeAt, d });
      queued += d.length;
      if (queued > THROTTLE_QUEUE) from.pause();
      if (!timer) { timer = setTimeout(drain, Math.max(0, freeAt - now)); timer.unref(); }
    });
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections: () => accepted,
    open: () => pairs.size,
    blackhole(opts = {}) {
      for (const p of pairs) p.dead = true;
      if (opts.newToo) holeForNew = true;
    },
    throttle(bytesPerSec, latencyMs = 0) {
      rate = Math.max(1, bytesPerSec);
      latency = Math.max(0, latencyMs);
    },
    reset() {
      for (const p of [...pairs]) {
        pairs.delete(p);
        p.dead = true;
        p.a.resetAndDestroy();
        p.b.resetAndDestroy();
      }
    },
    heal() {
      holeForNew = false;
      rate = 0;
      latency = 0;
    },
    async close() {
      for (const p of pairs) { p.a.destroy(); p.b.destroy(); }
      pairs.clear();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
