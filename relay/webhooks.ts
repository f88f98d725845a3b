/**
 * Webhooks: each venue's stored events are POSTed, in storage order, as a JSON
 * array of WebhookEvents signed with HMAC-SHA256, and retried with backoff
 * until the receiver answers 2xx. The cursor, the batch being tried, its
 * delivery id, the retry time and a lease live in the store, so a restarted
 * relay (or another node) continues exactly where this one stopped.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import express, { type Router } from 'express';
import type { Dispatcher } from 'undici';
import type { Clock } from '../common/clock.ts';
import { isLoopbackHost } from '../common/loopback.ts';
import type { Logger } from '../common/logger.ts';
import { FeedErrorCode, MIN_WEBHOOK_SECRET_CHARS, RelayErrorCode, WebhookSettings, WebhookUrl, type WebhookFormat, type WebhookView } from '../protocol/relay.ts';
import { DELIVERY_HEADER, signWebhook } from '../protocol/signature.ts';
import { cloudBody } from './cloudformat.ts';
import { toWebhookEvent, type FeedMetrics } from './events.ts';
import type { FeedStore, WebhookBatch, WebhookTarget } from './db/feed.ts';
import { deliver } from './hooks/deliver.ts';
import { destinationProblem, guardedAgent, hostProblem, type DestinationPolicy } from './hooks/destination.ts';
import { failureLabel, failureText } from './hooks/failure.ts';
import { maskUrl, originOf as origin } from './hooks/mask.ts';
import type { RelayStore } from './db/store.ts';

export interface WebhookOptions {
  /** Relay-wide receiver for every venue without its own (--webhook-url). */
  url?: string;
  /** Its HMAC secret (--webhook-secret-file / EVVA_RELAY_WEBHOOK_SECRET). */
  secret?: string;
  /** Its format (--webhook-format); evva by default. */
  format?: WebhookFormat;
  /** Its iiko-cloud authToken (--webhook-auth-token-file / EVVA_RELAY_WEBHOOK_AUTH_TOKEN). */
  authToken?: string;
  /** A receiver that has not answered in this long has failed this attempt. */
  timeoutMs?: number;
  /** First retry after about this long, doubling up to maxBackoffMs (each with jitter down to half). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often pending venues and due retries are looked for (also catches events stored by another node). */
  pollMs?: number;
  /** Most events in one POST. */
  batchMax?: number;
  /** Names this relay in delivery leases; stable across restarts so a restarted relay resumes its own lease at once. */
  nodeId?: string;
  /**
   * TEST MODE ONLY (`--allow-loopback-webhooks`): receivers on this machine's
   * loopback may be used (the demo's and the tests'). Private, link-local and
   * metadata addresses stay refused even then.
   */
  allowLoopback?: boolean;
}

/**
 * On stop, attempts in flight get this long to be answered and recorded before they are cut: a receiver that
 * takes the batch while the relay drains is then not sent it again by the next node (a duplicate it would have
 * to drop by eventId). A receiver slower than this gets the batch again, same delivery id, after the restart.
 */
export const STOP_GRACE_MS = 3_000;

export const WEBHOOK_DEFAULTS = { timeoutMs: 10_000, baseBackoffMs: 1_000, maxBackoffMs: 60_000, pollMs: 1_000, batchMax: 100, allowLoopback: false } as const;

/** True when events would cross a network in clear text (plain http to anything but this machine). */
export function cleartext(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && !isLoopbackHost(u.hostname);
  } catch {
    return false;
  }
}

/** Why an iiko-cloud receiver gets nothing: Cloud's body names the iiko organization, and no id is set. */
export const NO_ORGANIZATION = 'the iiko-cloud format needs the venue\'s iiko organization id: PUT /v1/venues/:id {"iikoOrganizationId": "<UUID>"} or evva-relay venue add --iiko-organization-id';

export class Webhooks {
  private readonly o: Required<Omit<WebhookOptions, 'url' | 'secret' | 'format' | 'authToken'>>;
  /** The delivery running for each venue (one at a time; stop waits for them a moment). */
  private readonly busy = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** Aborts every attempt in flight when the relay stops. */
  private readonly stopper = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Every webhook socket goes through the destination policy, checked on the address it connects to; made by the first delivery. */
  private dispatcher: Promise<Dispatcher> | null = null;
  private poller: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly feed: FeedStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: FeedMetrics,
    private readonly relayWide: WebhookTarget | null,
    opts: WebhookOptions = {},
  ) {
    const { url: _u, secret: _s, format: _f, authToken: _a, ...timing } = opts;
    this.o = { ...WEBHOOK_DEFAULTS, nodeId: hostname(), ...stripUndefined(timing) } as Required<Omit<WebhookOptions, 'url' | 'secret' | 'format' | 'authToken'>>;
  }

  private agent(): Promise<Dispatcher> {
    return this.dispatcher ??= guardedAgent(this.policy, { connections: 4, keepAliveTimeout: 4_000, connectTimeoutMs: this.o.timeoutMs });
  }

  /** Where receivers may be (the routes check a new URL against it too). */
  get policy(): DestinationPolicy {
    return { allowLoopback: this.o.allowLoopback };
  }

  /** True when every venue has a receiver (a relay-wide URL is set). */
  get everyVenue(): boolean {
    return this.relayWide !== null;
  }

  /** Starts looking for pending events and due retries every pollMs. */
  start(): void {
    this.poller = this.clock.setInterval(() => void this.poll(), this.o.pollMs);
    this.poller.unref?.();
    void this.poll();
  }

  /**
   * Stops: no new attempts; an attempt in flight has STOP_GRACE_MS to be answered and recorded, then it is
   * aborted (its batch is resent, same delivery id, after a restart or by another node).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearInterval(this.poller);
    for (const t of this.timers) this.clock.clearTimeout(t);
    const settled = Promise.allSettled([...this.busy.values()]);
    if (this.busy.size > 0) {
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([settled, new Promise<void>((resolve) => { grace = this.clock.setTimeout(resolve, STOP_GRACE_MS); })]);
      this.clock.clearTimeout(grace);
    }
    this.stopper.abort();
    await settled;
    await this.dispatcher?.then((d) => d.close()).catch(() => undefined);
  }

  /** New events were stored for the venue: deliver now unless a delivery for it is already running. */
  kick(venueId: string): void {
    if (this.stopped) return;
    if (this.busy.has(venueId)) {
      // Events stored just as the running delivery found nothing left: it looks again instead of leaving them to the poll.
      this.again.add(venueId);
      return;
    }
    this.busy.set(venueId, this.run(venueId).catch((e: unknown) => this.log.error('webhook delivery broke', { venueId, err: String(e) })).finally(() => {
      this.busy.delete(venueId);
      if (this.again.delete(venueId)) this.kick(venueId);
    }));
  }

  /** The receiver for the venue's events: its own, else the relay-wide one, else none. */
  async target(venueId: string): Promise<(WebhookTarget & { source: 'venue' | 'relay' }) | null> {
    const own = await this.feed.getWebhook(venueId);
    if (own) return { ...own, source: 'venue' };
    return this.relayWide ? { ...this.relayWide, source: 'relay' } : null;
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    try {
      for (const v of await this.feed.pendingWebhookVenues(this.everyVenue)) this.kick(v);
    } catch (e) {
      this.log.error('webhook poll failed', { err: String(e) });
    }
  }

  /** Delivers batch after batch until the venue is caught up, a batch fails (retry scheduled) or the relay stops. */
  private async run(venueId: string): Promise<void> {
    while (!this.stopped) {
      const target = await this.target(venueId);
      if (!target) return;
      const now = this.clock.now();
      const batch = await this.feed.claimBatch(venueId, this.o.nodeId, now, now + this.o.timeoutMs + 5_000, this.o.batchMax,
        () => `dlv_${randomBytes(12).toString('base64url')}`);
      if (!batch) return;
      const body = await this.bodyOf(venueId, target, batch);
      // The iiko-cloud format without an organization id is refused, not sent half-right: kept, retried, shown on the webhook view.
      const failure = body.ok ? await this.post(target, body.body, batch) : body.error;
      // A 2xx is recorded even while stopping: the receiver has the batch, and must not get it again.
      if (failure === null) {
        await this.feed.finishBatch(venueId, this.o.nodeId, batch.deliveryId, this.clock.now());
        const done = this.clock.now();
        for (const e of batch.events) this.metrics.deliveryLatency.observe(Math.max(0, done - e.storedAt) / 1000);
        continue;
      }
      if (this.stopped) return; // cut by the stop: resent as it is, same delivery id
      const exp = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** Math.min(batch.attempts, 30));
      const delay = Math.round(exp * (0.5 + Math.random() * 0.5));
      await this.feed.failBatch(venueId, this.o.nodeId, batch.deliveryId, failure, this.clock.now() + delay);
      this.log.warn('webhook delivery failed; will retry', {
        venueId, deliveryId: batch.deliveryId, receiver: origin(target.url), attempt: batch.attempts + 1, retryInMs: delay, error: failure,
      });
      const t = this.clock.setTimeout(() => {
        this.timers.delete(t);
        this.kick(venueId);
      }, delay);
      this.timers.add(t);
      return;
    }
  }

  /** The batch's body in the receiver's format, or why it cannot be made. */
  private async bodyOf(venueId: string, target: WebhookTarget, batch: WebhookBatch): Promise<{ ok: true; body: string } | { ok: false; error: string }> {
    if (target.format !== 'iiko-cloud') return { ok: true, body: JSON.stringify(batch.events.map((e) => toWebhookEvent(e.envelope))) };
    const ids = await this.feed.getIikoIds(venueId);
    if (!ids.organizationId) return { ok: false, error: NO_ORGANIZATION };
    return { ok: true, body: cloudBody(batch.events.map((e) => e.envelope), { organizationId: ids.organizationId, terminalGroupId: ids.terminalGroupId }) };
  }

  /**
   * One POST of a batch, signed (when the receiver has a secret) with a fresh timestamp; null on a 2xx,
   * else why it failed (a category: hooks/failure.ts).
   */
  private async post(target: WebhookTarget, body: string, batch: WebhookBatch): Promise<string | null> {
    const headers: Record<string, string> = target.secret
      ? signWebhook(target.secret, batch.deliveryId, body, this.clock.now())
      : { [DELIVERY_HEADER]: batch.deliveryId };
    // An iiko Cloud handler authenticates with the authToken it registered, as Cloud sends it: the Authorization header
    // (it takes the place of Basic credentials from the URL).
    if (target.authToken) headers.authorization = target.authToken;
    const failure = await deliver({ url: target.url, body, headers }, { dispatcher: await this.agent(), timeoutMs: this.o.timeoutMs, clock: this.clock, stop: this.stopper.signal });
    this.metrics.deliveries.inc({ result: failure ? failureLabel(failure) : 'ok' });
    return failure ? failureText(failure) : null;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface WebhookRouteDeps {
  store: RelayStore;
  feed: FeedStore;
  webhooks: Webhooks;
  clock: Clock;
  log: Logger;
  /** Clustered: tells the other nodes the venue's receiver changed. */
  settingsChanged?: (venueId: string) => void;
}

const json = express.json({ limit: '16kb' });
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** `PUT|GET|DELETE /v1/venues/:venueId/webhook` (behind the API key): a venue's own receiver, and how delivery stands. */
export function webhookRoutes(d: WebhookRouteDeps): Router {
  const r = express.Router();
  const view = async (venueId: string): Promise<WebhookView> => {
    const t = await d.webhooks.target(venueId);
    const s = await d.feed.deliveryState(venueId);
    const noOrg = t?.format === 'iiko-cloud' && !(await d.feed.getIikoIds(venueId)).organizationId;
    return {
      // Credentials a receiver put into its URL are never echoed back.
      url: t ? maskUrl(t.url) : null, source: t?.source ?? null, format: t?.format ?? null, problem: noOrg ? NO_ORGANIZATION : null,
      backlog: t ? s.backlog : 0, attempts: s.attempts,
      nextAttemptAt: iso(s.nextAt), lastError: s.lastError, lastDeliveredAt: iso(s.deliveredAt),
    };
  };
  r.put('/v1/venues/:venueId/webhook', json, async (req, res, next) => {
    try {
      const venueId = String(req.params.venueId);
      if (!(await d.store.getVenue(venueId))) return void res.status(404).json({ error: RelayErrorCode.unknownVenue });
      const body = WebhookSettings.safeParse(req.body);
      if (!body.success) {
        return void res.status(400).json({
          error: RelayErrorCode.badRequest,
          message: `expected { "url": "http(s)://…", "secret"?: string of 16..200 characters, "format"?: "evva" | "iiko-cloud", "authToken"?: string }: ${body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
        });
      }
      const refused = await destinationProblem(body.data.url, d.webhooks.policy);
      if (refused) {
        d.log.warn('venue webhook refused: not a public destination', { venueId, receiver: origin(body.data.url) });
        return void res.status(400).json({ error: FeedErrorCode.destination, message: `webhooks go to public addresses only: ${refused}` });
      }
      const { url, secret, format, authToken } = body.data;
      await d.feed.setWebhook(venueId, { url, secret: secret ?? null, format, authToken: authToken ?? null }, d.clock.now());
      d.log.info('venue webhook set', { venueId, receiver: origin(body.data.url), format });
      if (cleartext(body.data.url)) d.log.warn('venue webhook uses plain http: orders and payments cross the network unencrypted', { venueId, receiver: origin(body.data.url) });
      d.webhooks.kick(venueId);
      d.settingsChanged?.(venueId);
      res.json(await view(venueId));
    } catch (e) { next(e); }
  });
  r.get('/v1/venues/:venueId/webhook', async (req, res, next) => {
    try {
      const venueId = String(req.params.venueId);
      if (!(await d.store.getVenue(venueId))) return void res.status(404).json({ error: RelayErrorCode.unknownVenue });
      res.json(await view(venueId));
    } catch (e) { next(e); }
  });
  r.delete('/v1/venues/:venueId/webhook', async (req, res, next) => {
    try {
      const venueId = String(req.params.venueId);
      if (!(await d.store.getVenue(venueId))) return void res.status(404).json({ error: RelayErrorCode.unknownVenue });
      await d.feed.setWebhook(venueId, null, d.clock.now());
      d.log.info('venue webhook removed', { venueId });
      d.settingsChanged?.(venueId);
      res.json(await view(venueId));
    } catch (e) { next(e); }
  });
  return r;
}

/**
 * The relay-wide webhook, checked: in the evva format a URL needs a secret of at
 * least MIN_WEBHOOK_SECRET_CHARS; in the iiko-cloud format it needs the
 * handler's authToken (a secret, when given, also signs). Throws in English, for operators.
 */
export function webhookTarget(o: WebhookOptions | undefined): WebhookTarget | null {
  if (!o?.url) {
    if (o?.secret || o?.authToken) throw new Error('a webhook secret or auth token without --webhook-url');
    return null;
  }
  if (!WebhookUrl.safeParse(o.url).success) throw new Error(`--webhook-url must be an http(s) URL, got ${maskUrl(o.url)}`);
  // Names are resolved (and checked again) at every connect; what can be judged now is judged now.
  const refused = hostProblem(new URL(o.url).hostname, { allowLoopback: o.allowLoopback ?? false });
  if (refused) {
    throw new Error(`--webhook-url must point to a public address: ${refused}${isLoopbackHost(new URL(o.url).hostname) ? ' (a receiver on this machine is for tests and the demo only: --allow-loopback-webhooks)' : ''}`);
  }
  const format = o.format ?? 'evva';
  if (o.secret !== undefined && o.secret.length < MIN_WEBHOOK_SECRET_CHARS) {
    throw new Error(`the webhook secret must have at least ${MIN_WEBHOOK_SECRET_CHARS} characters (EVVA_RELAY_WEBHOOK_SECRET or --webhook-secret-file)`);
  }
  if (format === 'evva' && !o.secret) {
    throw new Error(`--webhook-url needs a secret of at least ${MIN_WEBHOOK_SECRET_CHARS} characters (EVVA_RELAY_WEBHOOK_SECRET or --webhook-secret-file)`);
  }
  if (format === 'iiko-cloud' && !o.authToken) {
    throw new Error('--webhook-format iiko-cloud needs the authToken the iiko Cloud handler expects (EVVA_RELAY_WEBHOOK_AUTH_TOKEN or --webhook-auth-token-file)');
  }
  return { url: o.url, secret: o.secret ?? null, format, authToken: o.authToken ?? null };
}
