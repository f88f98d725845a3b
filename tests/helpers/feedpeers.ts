/**
 * Test peers for the feed on the relay: a raw companion that speaks the tunnel
 * protocol (hello, event frames, cmd answers) over a real WebSocket, and a
 * webhook receiver on a loopback port that records every request's raw body.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { Envelope, EventType, PaymentView } from '../../protocol/events.ts';
import type { FeedOrder } from '../../protocol/feed.ts';
import type { Arrival } from '../../relay/db/feed.ts';
import { verifyWebhook } from '../../protocol/signature.ts';
import { TUNNEL_PROTOCOL } from '../../protocol/tunnel.ts';
import { COMPANION, waitFor } from './relay.ts';

export interface RawCompanion {
  ws: WebSocket;
  /** Every event id the relay acked, in ack order. */
  acked: string[];
  /** Every cmd frame the relay sent. */
  cmds: Array<{ id: string; name: string; args: unknown }>;
  send(frame: unknown): void;
  /** Sends `{t:'event', eventId, seq, event}` for an envelope. */
  event(e: Envelope): void;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** Connects, says hello and waits for welcome. `onCmd` answers commands (default: unsupported). */
export async function rawCompanion(relayUrl: string, token: string,
  onCmd: (name: string, args: unknown) => { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } } | null = () => ({ ok: false, error: { code: 'unsupported', message: 'no' } }),
): Promise<RawCompanion> {
  const ws = new WebSocket(`${relayUrl.replace(/^http/, 'ws')}/v1/tunnel`, TUNNEL_PROTOCOL, { headers: { authorization: `Bearer ${token}` } });
  const peer: RawCompanion = {
    ws, acked: [], cmds: [],
    send: (f) => ws.send(JSON.stringify(f)),
    event: (e) => ws.send(JSON.stringify({ t: 'event', eventId: e.eventId, seq: e.seq, event: e })),
    closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    async close() {
      if (ws.readyState === ws.OPEN) ws.close();
      await peer.closed;
    },
  };
  let welcomed = false;
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const f = JSON.parse(String(data)) as { t: string; id?: unknown; name?: string; args?: unknown; eventIds?: string[] };
    if (f.t === 'welcome') welcomed = true;
    if (f.t === 'ping') peer.send({ t: 'pong', id: f.id });
    if (f.t === 'ack') peer.acked.push(...(f.eventIds ?? []));
    if (f.t === 'cmd') {
      peer.cmds.push({ id: String(f.id), name: String(f.name), args: f.args });
      const answer = onCmd(String(f.name), f.args);
      if (answer) peer.send({ t: 'cmd_result', id: f.id, ...answer });
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      peer.send({ t: 'hello', v: TUNNEL_PROTOCOL, companion: COMPANION, frontOrigin: null });
      resolve();
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  await waitFor(() => welcomed, 'welcome');
  return peer;
}

/** A table order in the feed's shape (protocol/feed.ts FeedOrder), as the companion would send it. */
export function feedOrder(id: string, more: Partial<FeedOrder> = {}): FeedOrder {
  return {
    id, number: null, kind: 'table', iikoStatus: 'New', status: 'new', final: false, gone: false, revision: null, tableNumbers: [], tableIds: [],
    waiter: null, waiterId: null, orderType: null, cashier: null, items: [], sums: { full: 0, result: 0, discount: 0, surcharge: 0, paid: null, source: 'derived' },
    discounts: [], payments: [], openTime: null, billTime: null, closeTime: null, delivery: null, degraded: [], ...more,
  };
}

/** A well-formed envelope of `venueId` with the given seq (eventId random unless given; by default a new table order). */
export function envelope(venueId: string, seq: number, more: { eventId?: string; eventType?: EventType; eventInfo?: Record<string, unknown> } = {}): Envelope {
  return {
    eventId: more.eventId ?? `evt_${randomUUID()}`, venueId, seq, eventType: more.eventType ?? 'TableOrderUpdate',
    eventTime: new Date().toISOString(), eventInfo: more.eventInfo ?? { order: feedOrder(`order-${seq}`) },
  };
}

/** Envelopes as the intake hands them to the store (relay/db/feed.ts Arrival), PaymentUpdates with their view. */
export function arrivals(envs: Envelope[]): Arrival[] {
  return envs.map((e) => ({
    eventId: e.eventId, seq: e.seq, envelope: e,
    ...(e.eventType === 'PaymentUpdate' ? { payment: e.eventInfo as unknown as PaymentView } : {}),
  }));
}

export interface Delivery {
  body: string;
  /** The signature headers as they arrived (x-evva-signature, x-evva-timestamp, x-evva-delivery), and authorization. */
  headers: Record<string, string>;
  deliveryId: string;
  /** The Authorization header ('' without one): an iiko Cloud handler's authToken. */
  authorization: string;
  /** When it arrived (ms), to check the signed timestamp against. */
  at: number;
  /** The status the receiver answered (0 when it hung). */
  status: number;
}

/**
 * A webhook receiver on 127.0.0.1: `answer(n)` (n = 0-based request number)
 * says the status to reply with, or 'hang' to never answer; `delayMs` slows every answer.
 */
export async function startReceiver(answer: (n: number) => number | 'hang' = () => 200, port = 0, delayMs = 0) {
  const requests: Delivery[] = [];
  const hung: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = requests.length;
      const a = answer(n);
      const pick = (k: string) => String(req.headers[k] ?? '');
      const d: Delivery = {
        body: Buffer.concat(chunks).toString('utf8'),
        headers: {
          'x-evva-signature': pick('x-evva-signature'), 'x-evva-timestamp': pick('x-evva-timestamp'), 'x-evva-delivery': pick('x-evva-delivery'),
          authorization: pick('authorization'),
        },
        deliveryId: pick('x-evva-delivery'), authorization: pick('authorization'), at: Date.now(), status: a === 'hang' ? 0 : a,
      };
      requests.push(d);
      if (a === 'hang') return void hung.push(res);
      res.statusCode = a;
      if (delayMs) setTimeout(() => res.end('ok'), delayMs);
      else res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url, requests,
    /** Events of the requests answered 2xx, in arrival order. */
    accepted(): Array<{ eventId: string; seq: number; venueId: string; organizationId: string; correlationId: string }> {
      return requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => JSON.parse(r.body) as []);
    },
    async close() {
      for (const r of hung) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** True when a delivery carries a valid signature under `secret`, checked as a receiver checks it on arrival (protocol/signature.ts). */
export function signatureValid(secret: string, d: Delivery): boolean {
  return verifyWebhook(secret, d.headers, d.body, d.at).ok;
}
