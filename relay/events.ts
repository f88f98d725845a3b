/**
 * The feed's intake on the relay: `event` frames from a tunnel are validated,
 * stored in batches, and acknowledged only once the store has committed them;
 * plus `GET /v1/venues/:venueId/events` for EVVA to pull.
 */
import express, { type Router } from 'express';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { EVENTS_IN_FLIGHT, Envelope, MAX_EVENT_BYTES, type PaymentView, type WebhookEvent } from '../protocol/events.ts';
import { EVENT_INFO, MAX_EVENT_DEPTH, jsonDepth } from '../protocol/feed.ts';
import { EventsQuery, RelayErrorCode, type EventPage, type RefusedList } from '../protocol/relay.ts';
import { CloseCode } from '../protocol/tunnel.ts';
import type { Arrival, FeedStore } from './db/feed.ts';
import type { Quota } from './quota.ts';
import type { EventFrame, RelayLink } from './link.ts';
import type { RelayStore } from './db/store.ts';

/** Most event ids in one ack frame (AckFrame allows 1000). */
const ACK_MAX_IDS = 1000;

export interface FeedMetrics {
  events: Counter<'result'>;
  /** Event batches held back by a venue's limits (relay/quota.ts). */
  throttled: Counter;
  deliveries: Counter<'result'>;
  deliveryLatency: Histogram;
  payments: Counter<'result'>;
}

/** The feed's metrics on the relay's registry; the webhook backlog is read from the store at scrape time. */
export function createFeedMetrics(registry: Registry, backlog: () => Promise<number>): FeedMetrics {
  new Gauge({
    name: 'evva_relay_webhook_backlog', help: 'Stored events not yet accepted by a webhook receiver.', registers: [registry],
    async collect() { this.set(await backlog()); },
  });
  return {
    events: new Counter({
      name: 'evva_relay_events_total', help: 'Feed events received: stored, duplicate (already stored, acked again) or refused (recorded as refused, acked, never delivered).',
      labelNames: ['result'], registers: [registry],
    }),
    throttled: new Counter({
      name: 'evva_relay_feed_throttled_total', help: 'Times a venue\'s event batch had to wait for its limits (events a second, bytes a second, bytes a day).',
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'evva_relay_webhook_deliveries_total', help: 'Webhook POSTs by result: ok, http_error, timeout, network.',
      labelNames: ['result'], registers: [registry],
    }),
    deliveryLatency: new Histogram({
      name: 'evva_relay_webhook_latency_seconds', help: 'From an event being stored to a receiver accepting it (2xx).',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600], registers: [registry],
    }),
    payments: new Counter({
      name: 'evva_relay_payment_notices_total', help: 'Payment notices sent down a tunnel: ok, queued (offline or failed; retried), or the companion\'s error code.',
      labelNames: ['result'], registers: [registry],
    }),
  };
}

/** What a webhook or the events API shows EVVA: the envelope with iiko Cloud's names for venue and event id. */
export function toWebhookEvent(e: Envelope): WebhookEvent {
  return { ...e, organizationId: e.venueId, correlationId: e.eventId };
}

interface LinkQueue {
  waiting: Arrival[];
  busy: boolean;
}

/** Takes event frames from tunnels, judges them, stores them in batches (within the venue's limits) and acks them after the commit. */
export class EventIntake {
  private readonly queues = new WeakMap<RelayLink, LinkQueue>();
  private readonly refusalLogged = new WeakMap<RelayLink, number>();
  private readonly throttleLogged = new Map<string, number>();

  constructor(
    private readonly store: FeedStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: FeedMetrics,
    /** Told after each commit that added events (webhooks start delivering). */
    private readonly onStored: (venueId: string) => void,
    /** The per-venue limits (relay/quota.ts). */
    private readonly quota: Quota,
  ) {}

  /**
   * Accepts one frame. Every event is acked once the store has it: stored, a
   * duplicate, or recorded as refused (an event that can never be valid must
   * not hold back the ones behind it, for ever). Only a store failure leaves
   * events unacked (the link closes and the companion resends them).
   */
  take(link: RelayLink, f: EventFrame): void {
    // Refusals are recorded by the store (with the venue's numbering) and counted from its answer.
    const a = judge(link.venueId, f);
    let q = this.queues.get(link);
    if (!q) {
      q = { waiting: [], busy: false };
      this.queues.set(link, q);
    }
    // The companion keeps at most EVENTS_IN_FLIGHT unacked; more waiting here means it ignores the credit.
    if (q.waiting.length >= EVENTS_IN_FLIGHT) {
      link.close(CloseCode.flowControl, `more than ${EVENTS_IN_FLIGHT} events in flight`);
      return;
    }
    q.waiting.push(a);
    if (!q.busy) {
      q.busy = true;
      // Frames that arrive in the same tick share one transaction and one ack.
      setImmediate(() => void this.flush(link, q));
    }
  }

  /** Counts a refusal and logs it, one line a minute per link at most: a companion resending a bad event must not fill the disk through the log. */
  private refused(link: RelayLink, eventId: string, seq: number, reason: string): void {
    this.metrics.events.inc({ result: 'refused' });
    const now = this.clock.mono();
    const last = this.refusalLogged.get(link);
    if (last === undefined || now - last >= 60_000) {
      this.refusalLogged.set(link, now);
      this.log.warn('feed event refused (further refusals on this link within a minute are only counted)', { venueId: link.venueId, eventId, seq, reason });
    }
  }

  /**
   * How many of `batch`, from its start, the venue's limits let in: at least
   * one, after waiting as long as it takes; 0 when the link went meanwhile
   * (nothing stored, nothing acked: the companion sends them again).
   */
  private async admit(link: RelayLink, batch: Arrival[]): Promise<number> {
    for (;;) {
      let n = 0;
      let wait = 0;
      for (const a of batch) {
        wait = this.quota.take(link.venueId, 1, a.bytes ?? 0);
        if (wait > 0) break;
        n++;
      }
      if (n > 0) return n;
      this.metrics.throttled.inc();
      const now = this.clock.mono();
      if (now - (this.throttleLogged.get(link.venueId) ?? -Infinity) >= 60_000) {
        this.throttleLogged.set(link.venueId, now);
        if (this.throttleLogged.size > 10_000) this.throttleLogged.clear();
        this.log.warn('venue over its feed limits: its events wait on the link until the limits allow them (the companion keeps them)', {
          venueId: link.venueId, waitMs: wait, limits: this.quota.limits,
        });
      }
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, Math.min(wait, 1_000)));
      if (link.closed) return 0;
    }
  }

  private async flush(link: RelayLink, q: LinkQueue): Promise<void> {
    while (q.waiting.length > 0 && !link.closed) {
      const admitted = await this.admit(link, q.waiting);
      if (admitted === 0) break;
      const batch = q.waiting.splice(0, admitted);
      try {
        const r = await this.store.appendEvents(link.venueId, batch, this.clock.now());
        this.metrics.events.inc({ result: 'stored' }, r.inserted);
        if (r.duplicates) this.metrics.events.inc({ result: 'duplicate' }, r.duplicates);
        for (const x of r.refused) this.refused(link, x.eventId, x.seq, x.reason);
        if (r.inserted) this.onStored(link.venueId);
      } catch (e) {
        // Not stored, so not acked: a new link makes the companion resend everything unacked.
        this.log.error('could not store feed events; closing the tunnel so the companion resends', { err: String(e), n: batch.length });
        link.close(CloseCode.goingAway, 'relay could not store events');
        break;
      }
      const ids = batch.map((a) => a.eventId);
      for (let i = 0; i < ids.length; i += ACK_MAX_IDS) link.sendControl({ t: 'ack', eventIds: ids.slice(i, i + ACK_MAX_IDS) });
    }
    q.busy = false;
  }
}

/**
 * What the intake can tell of one event on its own: nesting (checked first,
 * without recursion, so nothing after it can overflow the stack), size, the
 * envelope, that it is this tunnel's venue and the frame's own id and seq,
 * and that its eventInfo has its type's shape (protocol/feed.ts EVENT_INFO).
 */
export function judge(venueId: string, f: EventFrame): Arrival & { bytes: number } {
  const base = { eventId: f.eventId, seq: f.seq, envelope: null };
  const typeOf = (v: unknown) => {
    const t = typeof v === 'object' && v !== null ? (v as { eventType?: unknown }).eventType : undefined;
    return typeof t === 'string' ? t.slice(0, 40) : undefined;
  };
  if (jsonDepth(f.event) > MAX_EVENT_DEPTH) {
    return { ...base, eventType: typeOf(f.event), bytes: 0, refused: `nested deeper than ${MAX_EVENT_DEPTH} levels` };
  }
  const raw = JSON.stringify(f.event) ?? 'null';
  const bytes = Buffer.byteLength(raw);
  const refuse = (why: string) => ({ ...base, eventType: typeOf(f.event), raw, bytes, refused: why });
  if (bytes > MAX_EVENT_BYTES) return refuse(`larger than ${MAX_EVENT_BYTES} bytes`);
  const env = Envelope.safeParse(f.event);
  if (!env.success) return refuse(`bad envelope: ${env.error.issues[0]?.path.join('.')} ${env.error.issues[0]?.message}`);
  if (env.data.venueId !== venueId) return refuse('envelope venueId is not the venue of this tunnel');
  if (env.data.eventId !== f.eventId || env.data.seq !== f.seq) return refuse('frame eventId/seq differ from the envelope');
  const info = EVENT_INFO[env.data.eventType].safeParse(env.data.eventInfo);
  if (!info.success) {
    const issue = info.error.issues[0];
    return refuse(`eventInfo is not a ${env.data.eventType}: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? 'invalid'}`);
  }
  return {
    ...base, envelope: env.data, bytes,
    ...(env.data.eventType === 'PaymentUpdate' ? { payment: info.data as PaymentView } : {}),
  };
}

export interface EventRouteDeps {
  store: RelayStore;
  feed: FeedStore;
}

/** `GET /v1/venues/:venueId/events?after=SEQ&limit=N` (behind the API key). */
export function eventRoutes(d: EventRouteDeps): Router {
  const r = express.Router();
  r.get('/v1/venues/:venueId/events', async (req, res, next) => {
    try {
      const venueId = String(req.params.venueId);
      if (!(await d.store.getVenue(venueId))) return void res.status(404).json({ error: RelayErrorCode.unknownVenue });
      const q = EventsQuery.safeParse(req.query);
      if (!q.success) return void res.status(400).json({ error: RelayErrorCode.badRequest, message: 'after must be an integer ≥ 0, limit 1..1000' });
      const events = await d.feed.listEvents(venueId, q.data.after, q.data.limit);
      const page: EventPage = {
        events: events.map(toWebhookEvent),
        nextAfter: events.length ? (events[events.length - 1] as Envelope).seq : q.data.after,
        more: events.length === q.data.limit,
      };
      res.json(page);
    } catch (e) {
      next(e);
    }
  });
  // What the relay refused of the venue's events, newest first: for support, never delivered to a receiver.
  r.get('/v1/venues/:venueId/events/refused', async (req, res, next) => {
    try {
      const venueId = String(req.params.venueId);
      if (!(await d.store.getVenue(venueId))) return void res.status(404).json({ error: RelayErrorCode.unknownVenue });
      const raw = req.query.limit ?? '100';
      const limit = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
      if (!(limit >= 1 && limit <= 1000)) return void res.status(400).json({ error: RelayErrorCode.badRequest, message: 'limit must be 1..1000' });
      const refused = await d.feed.listRefused(venueId, limit);
      const list: RefusedList = { refused: refused.map((x) => ({ ...x, at: new Date(x.at).toISOString() })) };
      res.json(list);
    } catch (e) {
      next(e);
    }
  });
  return r;
}
