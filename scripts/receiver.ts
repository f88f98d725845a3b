/**
 * A small webhook receiver, as EVVA's backend would run one: it checks each
 * POST's signature (`X-Evva-Signature`: HMAC-SHA256 of the delivery id, the
 * signed timestamp and the raw body, keyed with the shared secret) before it
 * parses anything, refuses a delivery signed more than 5 minutes from its own
 * clock (a replayed capture), answers 401 to either, drops events it has seen
 * (by eventId) and prints the rest as they arrive. `npm run demo` starts it; on its own:
 *
 *   EVVA_RELAY_WEBHOOK_SECRET=… node --import tsx scripts/receiver.ts [--port 8788]
 *
 * In the iiko-cloud format (`--format iiko-cloud`, `npm run demo -- --iiko-cloud`)
 * it stands for EVVA's iiko Cloud webhook handler instead: it checks the
 * `Authorization` header against the authToken (as such handlers do: the token,
 * or `Bearer` and the token), drops events it has seen by correlationId and
 * prints Cloud's order fields:
 *
 *   EVVA_RELAY_WEBHOOK_AUTH_TOKEN=… node --import tsx scripts/receiver.ts --format iiko-cloud
 *
 * `save` (demo: webhooks.jsonl in the demo's folder) gets every new event as
 * received, one JSON per line.
 *
 * It depends on nothing of the relay but the signature check in
 * protocol/signature.ts (twenty lines of node:crypto): a newcomer can copy both
 * as a starting point.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SIGNATURE_TOLERANCE_S, verifyWebhook, type SignatureRefusal } from '../protocol/signature.ts';

/** The fields of a WebhookEvent (protocol/events.ts) the receiver reads. */
export interface ReceivedEvent {
  eventId: string;
  venueId: string;
  seq: number;
  eventType: string;
  eventTime: string;
  eventInfo: Record<string, unknown>;
}

/** Largest body accepted: a batch of 100 events of a busy venue fits easily. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

const REFUSAL: Record<SignatureRefusal, string> = {
  missing: 'без подписи X-Evva-Signature',
  malformed: 'с испорченной подписью X-Evva-Signature',
  stale: `с подписью старше ${SIGNATURE_TOLERANCE_S / 60} минут (повтор перехваченного запроса?)`,
  signature: 'с неверной подписью X-Evva-Signature',
};

/** One line about an event, for people watching the demo; a field it does not find shows as «?». */
export function describe(e: ReceivedEvent): string {
  const info = e.eventInfo;
  const count = (v: unknown) => (Array.isArray(v) ? v.length : '?');
  let what: string;
  switch (e.eventType) {
    case 'TableOrderUpdate':
    case 'DeliveryOrderUpdate': {
      const order = (info.order ?? {}) as { number?: unknown; status?: unknown; sums?: { result?: unknown } };
      const sum = typeof order.sums?.result === 'number' ? `, ${order.sums.result} ₽` : '';
      what = `заказ ${String(order.number ?? '?')}: ${String(order.status ?? '?')}${sum}`;
      break;
    }
    case 'PaymentUpdate':
      what = `платёж ${String(info.paymentId)} (заказ ${String(info.orderId)}): ${String(info.state)}${info.detail ? `, ${String(info.detail)}` : ''}`;
      break;
    case 'StaffUpdate':
      what = `персонал: ${count(info.staff)} чел.`;
      break;
    case 'TablesUpdate':
      what = `столы: ${count(info.tables)}, залы: ${count(info.sections)}`;
      break;
    case 'MenuSnapshot':
      what = `меню: разделов ${count(info.sections)}${info.parts && info.parts !== 1 ? ` (часть ${String(info.part)} из ${String(info.parts)})` : ''}`;
      break;
    case 'CompanionHealth':
      what = `компаньон: плагин ${String(info.front ?? '?')}, в очереди ${String(info.backlog ?? '?')}${info.reason ? ` (${String(info.reason)})` : ''}`;
      break;
    default:
      what = Object.keys(info).slice(0, 4).join(', ');
  }
  return `#${e.seq} ${e.eventType.padEnd(19)} ${what}`;
}

/** The fields of an iiko Cloud webhook event (docs/relay.md "iiko Cloud format") the receiver reads. */
export interface CloudEvent {
  eventType: string;
  eventTime: string;
  organizationId: string;
  correlationId: string;
  eventInfo: Record<string, unknown>;
}

/** One line about an iiko Cloud event: an order by Cloud's fields (number, status, sum), anything else as in the evva format. */
export function describeCloud(e: CloudEvent): string {
  const order = e.eventInfo.order as { number?: unknown; status?: unknown; sum?: unknown; orderType?: { orderServiceType?: unknown } | null } | undefined;
  if ((e.eventType === 'TableOrderUpdate' || e.eventType === 'DeliveryOrderUpdate') && order) {
    const how = order.orderType?.orderServiceType === 'DeliveryByClient' ? ' (самовывоз)' : '';
    const sum = typeof order.sum === 'number' ? `, ${order.sum} ₽` : '';
    return `${e.eventTime} ${e.eventType.padEnd(19)} заказ ${String(order.number ?? '?')}${how}: ${String(order.status ?? '?')}${sum}`;
  }
  return describe({ ...e, eventId: e.correlationId, venueId: '', seq: 0 }).replace(/^#0 /, `${e.eventTime} `);
}

/** True when `header` carries `token` as an iiko Cloud handler expects it: the token itself or `Bearer <token>`; constant time. */
export function tokenValid(token: string, header: string | undefined): boolean {
  const got = Buffer.from((header ?? '').replace(/^Bearer /i, ''));
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

export interface Receiver {
  url: string;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** `evva` (default): signed with `secret`; `iiko-cloud`: authenticated with `authToken`. */
  format?: 'evva' | 'iiko-cloud';
  secret?: string;
  authToken?: string;
  port?: number;
  print?: (line: string) => void;
  /** Every new event as received. */
  save?: (event: unknown) => void;
  /** The receiver's clock (ms), which the signed timestamp is checked against. */
  now?: () => number;
}

/** Starts the receiver on 127.0.0.1; `print` gets one line per new event (and per refused request). */
export function startReceiver(opts: ReceiverOptions): Promise<Receiver> {
  const now = opts.now ?? Date.now;
  const print = opts.print ?? ((l: string) => console.log(l));
  const cloud = opts.format === 'iiko-cloud';
  if (cloud ? !opts.authToken : !opts.secret) throw new Error(cloud ? 'the iiko-cloud format needs an authToken' : 'the evva format needs a secret');
  // Bounded: enough to recognise a redelivery after a relay restart, never growing without end.
  const seen = new Set<string>();
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) return void req.destroy();
      chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // evva: over the raw bytes, before parsing; the signed timestamp must be within 5 minutes of this clock.
      const check = cloud ? null : verifyWebhook(opts.secret!, req.headers, body, now());
      if (cloud ? !tokenValid(opts.authToken!, req.headers.authorization) : !check!.ok) {
        print(cloud ? 'отклонён запрос с неверным токеном в заголовке Authorization' : `отклонён запрос ${REFUSAL[(check as { ok: false; reason: keyof typeof REFUSAL }).reason]}`);
        return void res.writeHead(401).end();
      }
      let events: Array<ReceivedEvent | CloudEvent>;
      try {
        events = JSON.parse(body.toString('utf8')) as Array<ReceivedEvent | CloudEvent>;
        if (!Array.isArray(events)) throw new Error('not an array');
      } catch {
        return void res.writeHead(400).end();
      }
      for (const e of events) {
        const id = cloud ? (e as CloudEvent).correlationId : (e as ReceivedEvent).eventId;
        if (seen.has(id)) continue;
        seen.add(id);
        if (seen.size > 100_000) seen.delete(seen.values().next().value as string);
        opts.save?.(e);
        print(cloud ? describeCloud(e as CloudEvent) : describe(e as ReceivedEvent));
      }
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/${cloud ? 'iiko' : 'evva'}/webhook`,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, format: { type: 'string' } } });
  const format = values.format === 'iiko-cloud' ? 'iiko-cloud' : 'evva';
  if (values.format !== undefined && values.format !== format) {
    console.error('receiver: --format evva или --format iiko-cloud');
    process.exit(2);
  }
  const secret = process.env.EVVA_RELAY_WEBHOOK_SECRET;
  const authToken = process.env.EVVA_RELAY_WEBHOOK_AUTH_TOKEN;
  if (format === 'evva' && !secret) {
    console.error('receiver: задайте общий секрет в EVVA_RELAY_WEBHOOK_SECRET (тот же, что у evva-relay)');
    process.exit(2);
  }
  if (format === 'iiko-cloud' && !authToken) {
    console.error('receiver: задайте токен в EVVA_RELAY_WEBHOOK_AUTH_TOKEN (тот же, что у evva-relay)');
    process.exit(2);
  }
  const r = await startReceiver({ format, secret, authToken, port: Number(values.port ?? 8788) });
  console.log(`receiver: жду события на ${r.url}`);
}
