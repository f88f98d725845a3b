/**
 * EVVA's side of the chaos soak: a webhook receiver on 127.0.0.1 that checks
 * every delivery's signature over the raw body, records each request with its
 * arrival time, and answers 200, 500 or nothing at all (hang) as commanded.
 * It does not dedupe: the checker does, from the record.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../protocol/signature.ts';

export type ReceiverMode = 'ok' | 'fail' | 'hang';

/** One POST as it arrived. `events` is empty when the body was not a JSON array. */
export interface Delivery {
  at: number;
  deliveryId: string;
  /** What the receiver answered: 200, 500, or 0 when it hung. */
  status: number;
  signatureOk: boolean;
  bytes: number;
  events: Array<Record<string, unknown>>;
}

export interface Receiver {
  url: string;
  deliveries: Delivery[];
  mode(m: ReceiverMode): void;
  close(): Promise<void>;
}

/** Bodies above this are refused with 413 (the relay sends at most 100 events per POST). */
const MAX_BODY = 16 * 1024 * 1024;

/** True when the delivery's signature (protocol/signature.ts, timestamp window included) is valid under `secret`. */
export function signed(secret: string, body: Buffer, headers: IncomingMessage['headers'], now = Date.now()): boolean {
  return verifyWebhook(secret, headers, body, now).ok;
}

/** Starts the receiver; `secret` is the relay's webhook secret. */
export async function startReceiver(secret: string): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const hung = new Set<ServerResponse>();
  let mode: ReceiverMode = 'ok';
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { res.statusCode = 413; res.end(); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let events: Array<Record<string, unknown>> = [];
      try {
        const parsed: unknown = JSON.parse(body.toString('utf8'));
        if (Array.isArray(parsed)) events = parsed as Array<Record<string, unknown>>;
      } catch {
        // Recorded with no events; the checker counts it as malformed.
      }
      const status = mode === 'ok' ? 200 : mode === 'fail' ? 500 : 0;
      deliveries.push({
        at: Date.now(), deliveryId: String(req.headers['x-evva-delivery'] ?? ''), status,
        signatureOk: signed(secret, body, req.headers), bytes: body.length, events,
      });
      if (status === 0) {
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return;
      }
      res.statusCode = status;
      res.end(status === 200 ? 'ok' : 'fail');
    });
    req.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    deliveries,
    mode(m) {
      mode = m;
      // Hung requests stay hung until the relay gives up on them (its own timeout); a new mode applies to new requests.
    },
    async close() {
      for (const r of hung) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
