/**
 * The feed's intake on the relay: `event` frames from a tunnel are validated,
 * stored in batches, and acknowledged only once the store has committed them;
 * plus `GET /v1/venues/:venueId/events` for EVVA to pull.
 */
import express, { type Router } from 'express';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { EVENTS_IN_FLIGHT, Envelope, PaymentView, type WebhookEvent } from '../protocol/events.ts';
import { EventsQuery, RelayErrorCode, type EventPage } from '../protocol/relay.ts';
import { CloseCode } from '../protocol/tunnel.ts';
import type { FeedStore, PaymentUpdate } from './feedstore.ts';
import type { EventFrame, RelayLink } from './link.ts';
import type { RelayStore } from './store.ts';

/** Most event ids in one ack frame (AckFrame allows 1000). */
const ACK_MAX_IDS = 1000;

export interface FeedMetrics {
  events: Counter<'result'>;
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
      name: 'evva_relay_events_total', help: 'Feed events received: stored, duplicate (already stored, acked again) or refused (not stored, not acked).',
      labelNames: ['result'], registers: [registry],
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
  waiting: Envelope[];
  ids: string[];
  busy: boolean;
}

/** Takes event frames from tunnels, stores them in batches and acks them after the commit. */
export class EventIntake {
  private readonly queues = new WeakMap<RelayLink, LinkQueue>();
  private readonly refusalLogged = new WeakMap<RelayLink, number>();

  constructor(
    private readonly store: FeedStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: FeedMetrics,
    /** Told after each commit that added events (webhooks start delivering). */
    private readonly onStored: (venueId: string) => void,
  ) {}

  /**
   * Accepts one frame. A valid event of the link's own venue is acked once it
   * is durably stored (or was already); any other is refused: not stored, not
   * acked, logged, and the link stays up so the venue API keeps working.
   */
  take(link: RelayLink, f: EventFrame): void {
    const env = Envelope.safeParse(f.event);
    let why: string | null = null;
    if (!env.success) why = `bad envelope: ${env.error.issues[0]?.path.join('.')} ${env.error.issues[0]?.message}`;
    else if (env.data.venueId !== link.venueId) why = 'envelope venueId is not the venue of this tunnel';
    else if (env.data.eventId !== f.eventId || env.data.seq !== f.seq) why = 'frame eventId/seq differ from the envelope';
    if (why !== null || !env.success) {
      this.metrics.events.inc({ result: 'refused' });
      // One line a minute per link at most: a companion resending a bad event must not fill the disk through the log.
      const now = this.clock.mono();
      const last = this.refusalLogged.get(link);
      if (last === undefined || now - last >= 60_000) {
        this.refusalLogged.set(link, now);
        this.log.warn('feed event refused (further refusals on this link within a minute are only counted)', { eventId: f.eventId, seq: f.seq, reason: why });
      }
      return;
    }
    let q = this.queues.get(link);
    if (!q) {
      q = { waiting: [], ids: [], busy: false };
      this.queues.set(link, q);
    }
    // The companion keeps at most EVENTS_IN_FLIGHT unacked; more waiting here means it ignores the credit.
    if (q.waiting.length >= EVENTS_IN_FLIGHT) {
      link.close(CloseCode.flowControl, `more than ${EVENTS_IN_FLIGHT} events in flight`);
      return;
    }
    q.waiting.push(env.data);
    q.ids.push(f.eventId);
    if (!q.busy) {
      q.busy = true;
      // Frames that arrive in the same tick share one transaction and one ack.
      setImmediate(() => void this.flush(link, q));
    }
  }

  private async flush(link: RelayLink, q: LinkQueue): Promise<void> {
    while (q.waiting.length > 0 && !link.closed) {
      const batch = q.waiting.splice(0);
      const ids = q.ids.splice(0);
      const payments: PaymentUpdate[] = [];
      for (const e of batch) {
        if (e.eventType !== 'PaymentUpdate') continue;
        const view = PaymentView.safeParse(e.eventInfo);
        if (view.success) payments.push({ view: view.data, seq: e.seq });
        else this.log.warn('PaymentUpdate without a payment view; stored, not applied', { eventId: e.eventId });
      }
      try {
        const r = await this.store.appendEvents(link.venueId, batch, payments, this.clock.now());
        this.metrics.events.inc({ result: 'stored' }, r.inserted);
        if (r.duplicates) this.metrics.events.inc({ result: 'duplicate' }, r.duplicates);
        if (r.inserted) this.onStored(link.venueId);
      } catch (e) {
        // Not stored, so not acked: a new link makes the companion resend everything unacked.
        this.log.error('could not store feed events; closing the tunnel so the companion resends', { err: String(e), n: batch.length });
        link.close(CloseCode.goingAway, 'relay could not store events');
        break;
      }
      for (let i = 0; i < ids.length; i += ACK_MAX_IDS) link.sendControl({ t: 'ack', eventIds: ids.slice(i, i + ACK_MAX_IDS) });
    }
    q.busy = false;
  }
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
  return r;
}
