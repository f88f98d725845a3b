/**
 * A minimal relay-side tunnel peer for feed tests: it accepts the companion's
 * link (bearer token checked, hello → welcome, pings answered), keeps every
 * `event` it receives (deduplicated by eventId, as the relay does), and acks
 * them only after keeping them, or never (a relay without the feed). It can
 * send `cmd` frames and drop links. Real WebSocket on loopback.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { Envelope } from '../../protocol/events.ts';
import { TUNNEL_PROTOCOL, decodeFrame, encodeControl, type ControlFrame } from '../../protocol/tunnel.ts';

export interface Peer {
  url: string;
  /** Every distinct event received, by eventId. */
  events: Map<string, Envelope>;
  /** eventIds seen for each seq (more than one would mean a seq was reused). */
  bySeq: Map<number, Set<string>>;
  /** Event frames received, duplicates included. */
  frames(): number;
  links(): number;
  setAck(on: boolean): void;
  /** Closes every open link (the companion reconnects). */
  drop(): void;
  /** Sends a command on the newest link and resolves with its result frame. */
  command(name: string, args: unknown, ms?: number): Promise<{ ok: boolean; result?: unknown; error?: { code: string; message: string } }>;
  /** Events in seq order. */
  ordered(): Envelope[];
  close(): Promise<void>;
}

export async function startPeer(opts: { token: string; venueId: string; ack?: boolean; onEvent?: (e: Envelope) => void }): Promise<Peer> {
  let ack = opts.ack ?? true;
  const events = new Map<string, Envelope>();
  const bySeq = new Map<number, Set<string>>();
  let frames = 0;
  const sockets = new Set<WebSocket>();
  let newest: WebSocket | null = null;
  let cmdId = 0;
  const waiting = new Map<string, (f: { ok: boolean; result?: unknown; error?: { code: string; message: string } }) => void>();

  const server = http.createServer((_req, res) => { res.writeHead(404).end(); });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has(TUNNEL_PROTOCOL) ? TUNNEL_PROTOCOL : false) });
  server.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').split('?')[0] !== '/v1/tunnel' || req.headers.authorization !== `Bearer ${opts.token}`) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => { sockets.delete(ws); if (newest === ws) newest = null; });
      ws.on('error', () => ws.terminate());
      let pendingAcks: string[] = [];
      const send = (f: ControlFrame) => { if (ws.readyState === ws.OPEN) ws.send(encodeControl(f)); };
      ws.on('message', (data, isBinary) => {
        const f = decodeFrame(data as Buffer, isBinary);
        switch (f.t) {
          case 'hello':
            newest = ws;
            send({ t: 'welcome', v: TUNNEL_PROTOCOL, venueId: opts.venueId, linkId: `peer-${sockets.size}` });
            return;
          case 'ping':
            send({ t: 'pong', id: f.id });
            return;
          case 'event': {
            frames++;
            const env = Envelope.parse(f.event);
            if (env.eventId !== f.eventId || env.seq !== f.seq) throw new Error('event frame and envelope disagree');
            if (!events.has(env.eventId)) {
              events.set(env.eventId, env);
              opts.onEvent?.(env);
            }
            const ids = bySeq.get(env.seq) ?? new Set<string>();
            ids.add(env.eventId);
            bySeq.set(env.seq, ids);
            if (!ack) return;
            // Kept first, acknowledged after: like the relay, which acks only stored events. Batched per tick.
            if (pendingAcks.length === 0) setImmediate(() => { send({ t: 'ack', eventIds: pendingAcks }); pendingAcks = []; });
            pendingAcks.push(env.eventId);
            return;
          }
          case 'cmd_result':
            waiting.get(f.id)?.({ ok: f.ok, result: f.result, ...(f.error ? { error: f.error } : {}) });
            waiting.delete(f.id);
            return;
          default:
            return;
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    events,
    bySeq,
    frames: () => frames,
    links: () => sockets.size,
    setAck(on) { ack = on; },
    drop() { for (const ws of sockets) ws.terminate(); },
    command(name, args, ms = 10_000) {
      const ws = newest;
      if (!ws) return Promise.reject(new Error('no link'));
      const id = `c${++cmdId}`;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => { waiting.delete(id); reject(new Error(`command ${name} timed out`)); }, ms);
        waiting.set(id, (r) => { clearTimeout(t); resolve(r); });
        ws.send(encodeControl({ t: 'cmd', id, name, args }));
      });
    },
    ordered: () => [...events.values()].sort((a, b) => a.seq - b.seq),
    async close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
