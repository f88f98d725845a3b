/**
 * The relay's edge to the network: who the caller is behind a proxy, whether it
 * came over https, how many connections one address may hold, and how an
 * upgrade is refused. Kept apart from the composition root (server.ts) so the
 * policy reads in one place and is tested without a relay.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../common/logger.ts';
import { isLoopbackHost } from '../common/loopback.ts';
import { sourceKey } from './pairing.ts';

/** How long a connection may take to say what it wants, and how many may be open. */
export interface ServerLimits {
  /** The request line and headers must arrive within this (slowloris). */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this; an upgraded tunnel is not a request any more. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** How often the server looks for connections past those deadlines. */
  checkIntervalMs: number;
  /** Open connections in all, tunnels included (keep `ulimit -n` above it). */
  maxConnections: number;
  /** Open connections from one address. Not applied to loopback (a local proxy, tests) unless `capLoopback`, nor with trustProxy (every client is then a proxy). */
  maxConnectionsPerSource: number;
  capLoopback: boolean;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000, checkIntervalMs: 1_000,
  maxConnections: 20_000, maxConnectionsPerSource: 256, capLoopback: false,
};

export function destroySocket(this: Duplex): void {
  this.destroy();
}

/**
 * The tunnel's source address, found the way Express finds `req.ip` (walking
 * X-Forwarded-For from the right while the hop is trusted), so a client can
 * never name the address the port probe-back will target.
 */
export function peerOf(req: IncomingMessage, trusted: (addr: string, i: number) => boolean): string | null {
  const hops = [req.socket.remoteAddress ?? '', ...String(req.headers['x-forwarded-for'] ?? '').split(',').map((x) => x.trim()).filter(Boolean).reverse()];
  let i = 0;
  while (i < hops.length - 1 && trusted(hops[i] as string, i)) i++;
  const raw = hops[i] || null;
  return raw ? raw.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1') : null;
}

/** Whether the caller reached the relay over https: its own TLS, an https public URL, or a trusted proxy that says so. */
export function secureReq(req: IncomingMessage, opts: { tls?: unknown; publicUrl?: string }, trusted: (addr: string, i: number) => boolean): boolean {
  if (opts.tls || /^https:/i.test(opts.publicUrl ?? '')) return true;
  return trusted(req.socket.remoteAddress ?? '', 0) && String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() === 'https';
}

/** Drops a new connection when its address already holds maxConnectionsPerSource open ones. */
export function capPerSource(server: Server, lim: ServerLimits, behindProxy: boolean, log: Logger): void {
  if (behindProxy) return;
  const open = new Map<string, number>();
  let warned = 0;
  server.on('connection', (socket: Socket) => {
    const raw = (socket.remoteAddress ?? '?').replace(/^::ffff:(?=\d+\.)/i, '');
    if (!lim.capLoopback && isLoopbackHost(raw)) return;
    const ip = sourceKey(raw);
    const n = (open.get(ip) ?? 0) + 1;
    if (n > lim.maxConnectionsPerSource) {
      // One line a minute at most: the flood must not fill the disk through the log.
      if (Date.now() - warned > 60_000) {
        warned = Date.now();
        log.warn('connection refused: too many open from one address', { ip, max: lim.maxConnectionsPerSource });
      }
      socket.destroy();
      return;
    }
    open.set(ip, n);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left <= 0) open.delete(ip); else open.set(ip, left);
    });
  });
}

/** Express's `trust proxy` value for a hop count or an address list; refuses anything that would trust every hop. */
export function trustSetting(t: number | string[] | undefined): number | string[] | false {
  if (t === undefined) return false;
  if (typeof t === 'number') {
    if (!Number.isInteger(t) || t < 0 || t > 10) throw new Error(`trustProxy: a hop count from 0 to 10, got ${t}`);
    return t === 0 ? false : t;
  }
  if (t.length === 0 || t.some((a) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(a))) throw new Error(`trustProxy: proxy addresses or subnets (10.0.0.5, 10.1.0.0/16), got ${t.join(',')}`);
  return t;
}

export function refuseUpgrade(socket: Duplex, status: number, error: string, message?: string): void {
  const body = JSON.stringify(message ? { error, message } : { error });
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed', 426: 'Upgrade Required', 503: 'Service Unavailable' }[status] ?? 'Error';
  const retry = status === 503 ? 'Retry-After: 10\r\n' : '';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n${retry}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
