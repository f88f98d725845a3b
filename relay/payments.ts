/**
 * Payments and venue actions: EVVA's payment notices go to the venue's
 * companion as `payment.notice` commands, or wait in the store (`queued`)
 * while the venue is offline and go out, in order, when its tunnel comes up.
 * The payment's later states arrive as PaymentUpdate events (relay/events.ts).
 */
import express, { type Response, type Router } from 'express';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { Commands, PaymentNotice, PaymentView, paidAtProblem } from '../protocol/events.ts';
import { FeedErrorCode, RelayErrorCode } from '../protocol/relay.ts';
import type { FeedMetrics } from './events.ts';
import type { FeedStore, PaymentRow } from './db/feed.ts';
import { CommandFailed } from './link.ts';
import { applied, updateProblem } from './moves.ts';
import type { RelayStore } from './db/store.ts';
import type { TunnelRegistry } from './tunnels.ts';

export interface PaymentOptions {
  /** How long one command waits for the companion's answer. */
  commandTimeoutMs?: number;
  /** How often queued notices of online venues are tried again (after a timeout or an error). */
  retryMs?: number;
}
const KNOWN_CODES = new Set(['timeout', 'link_lost', 'too_large', 'unsupported', 'bad_args', 'disabled', 'busy', 'failed']);

export const PAYMENT_DEFAULTS = { commandTimeoutMs: 10_000, retryMs: 15_000 } as const;

/** Same notice, field by field: a repeated POST must not change what the companion was told. */
function sameNotice(a: PaymentNotice, b: PaymentNotice): boolean {
  return a.orderId === b.orderId && a.amount === b.amount && (a.tips ?? null) === (b.tips ?? null) && a.paidAt === b.paidAt;
}

export class Payments {
  private readonly o: Required<PaymentOptions>;
  private readonly chains = new Map<string, Promise<void>>();
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly feed: FeedStore,
    private readonly tunnels: TunnelRegistry,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: FeedMetrics,
    opts: PaymentOptions = {},
  ) {
    this.o = { commandTimeoutMs: opts.commandTimeoutMs ?? PAYMENT_DEFAULTS.commandTimeoutMs, retryMs: opts.retryMs ?? PAYMENT_DEFAULTS.retryMs };
  }

  /** Starts retrying queued notices of online venues every retryMs. */
  start(): void {
    this.retry = this.clock.setInterval(() => void this.retryQueued(), this.o.retryMs);
    this.retry.unref?.();
  }

  /** No more retries; a round in progress ends on its own (its command times out at worst). */
  stop(): void {
    this.clock.clearInterval(this.retry);
  }

  /**
   * Sends the venue's queued notices, oldest first, one at a time; a failure
   * stops the round (the rest keep their order for the next one). Rounds of
   * one venue never overlap, so a notice is never sent by two at once.
   */
  drain(venueId: string): Promise<void> {
    const next = (this.chains.get(venueId) ?? Promise.resolve()).then(() => this.round(venueId)).catch((e: unknown) => {
      this.log.error('sending queued payment notices failed', { venueId, err: String(e) });
    });
    this.chains.set(venueId, next);
    void next.finally(() => {
      if (this.chains.get(venueId) === next) this.chains.delete(venueId);
    });
    return next;
  }

  private async round(venueId: string): Promise<void> {
    for (const row of await this.feed.queuedPayments(venueId)) {
      const link = this.tunnels.get(venueId);
      if (!link) return;
      let result: unknown;
      try {
        result = await link.command(Commands.paymentNotice, row.notice, this.o.commandTimeoutMs);
      } catch (e) {
        const code = e instanceof CommandFailed ? e.code : 'failed';
        // The code comes from the companion: only known ones become label values, so a bad peer cannot grow the metrics.
        this.metrics.payments.inc({ result: KNOWN_CODES.has(code) ? code : 'other' });
        this.log.warn('payment notice not taken; it stays queued', { venueId, paymentId: row.notice.paymentId, code, message: (e as Error).message });
        return;
      }
      // The answer may say how far the payment got, never change what EVVA posted (relay/moves.ts).
      const parsed = PaymentView.safeParse(result);
      const fine = parsed.success && parsed.data.paymentId === row.notice.paymentId && updateProblem(row, parsed.data) === null;
      const view: PaymentView = fine
        ? applied(row.notice, parsed.data)
        : { ...row.view, state: 'notified', updatedAt: new Date(this.clock.now()).toISOString() };
      if (parsed.success && !fine) this.log.warn('payment notice answer does not match the notice; recorded as notified only', { venueId, paymentId: row.notice.paymentId });
      await this.feed.paymentNotified(venueId, view);
      this.metrics.payments.inc({ result: 'ok' });
      this.log.info('payment notice delivered', { venueId, paymentId: row.notice.paymentId, state: view.state });
    }
  }

  private async retryQueued(): Promise<void> {
    try {
      for (const v of await this.feed.venuesWithQueuedPayments()) if (this.tunnels.get(v) && !this.chains.has(v)) void this.drain(v);
    } catch (e) {
      this.log.error('retrying queued payments failed', { err: String(e) });
    }
  }
}

export interface PaymentRouteDeps {
  store: RelayStore;
  feed: FeedStore;
  payments: Payments;
  tunnels: TunnelRegistry;
  clock: Clock;
  log: Logger;
  /** Clustered: tells the node holding the venue's tunnel (if any) that a notice waits. */
  paymentQueued?: (venueId: string) => void;
}

const json = express.json({ limit: '16kb' });

/** How a failed command reads to EVVA: [status, error code]. */
function commandError(code: string): [number, string] {
  switch (code) {
    case 'timeout': return [504, RelayErrorCode.timeout];
    case 'link_lost': return [503, RelayErrorCode.venueOffline];
    case 'busy': return [503, RelayErrorCode.overloaded];
    case 'unsupported': return [501, FeedErrorCode.unsupported];
    default: return [502, FeedErrorCode.commandFailed];
  }
}

function unknownVenue(res: Response): void {
  res.status(404).json({ error: RelayErrorCode.unknownVenue });
}

/** Payment notices, their state, and the menu-sync action (behind the API key). */
export function paymentRoutes(d: PaymentRouteDeps): Router {
  const r = express.Router();

  r.post('/v1/venues/:venueId/payments', json, async (req, res, next) => {
    try {
      const venueId = String(req.params.venueId);
      if (!(await d.store.getVenue(venueId))) return unknownVenue(res);
      const body = PaymentNotice.safeParse(req.body);
      if (!body.success) {
        const issue = body.error.issues[0];
        return void res.status(400).json({
          error: RelayErrorCode.badRequest,
          message: `expected { paymentId, orderId, amount > 0 in whole kopecks, tips?, paidAt (ISO) }${issue ? `; ${issue.path.join('.') || 'body'}: ${issue.message}` : ''}`,
        });
      }
      const late = paidAtProblem(body.data.paidAt, d.clock.now());
      if (late) return void res.status(400).json({ error: RelayErrorCode.badRequest, message: late });
      const { created, row } = await d.feed.addPayment(venueId, body.data, d.clock.now());
      if (!created && !sameNotice(row.notice, body.data)) {
        return void res.status(409).json({ error: FeedErrorCode.conflict, message: `payment ${body.data.paymentId} was already noticed with other details` });
      }
      if (created) d.log.info('payment notice received', { venueId, paymentId: body.data.paymentId, orderId: body.data.orderId });
      if (row.view.state === 'queued' && d.tunnels.get(venueId)) await d.payments.drain(venueId);
      else if (row.view.state === 'queued') d.paymentQueued?.(venueId);
      const now = (await d.feed.getPayment(venueId, body.data.paymentId)) as PaymentRow;
      res.status(created ? 201 : 200).json(now.view);
    } catch (e) { next(e); }
  });

  r.get('/v1/venues/:venueId/payments/:paymentId', async (req, res, next) => {
    try {
      const venueId = String(req.params.venueId);
      if (!(await d.store.getVenue(venueId))) return unknownVenue(res);
      const row = await d.feed.getPayment(venueId, String(req.params.paymentId));
      if (!row) return void res.status(404).json({ error: RelayErrorCode.notFound, message: 'no such payment for this venue' });
      res.json(row.view);
    } catch (e) { next(e); }
  });

  r.post('/v1/venues/:venueId/actions/menu-sync', async (req, res, next) => {
    try {
      const venueId = String(req.params.venueId);
      if (!(await d.store.getVenue(venueId))) return unknownVenue(res);
      const link = d.tunnels.get(venueId);
      if (!link) {
        return void res.status(503).json({
          error: RelayErrorCode.venueOffline,
          message: 'the venue\'s companion is not connected, so the menu cannot be requested now; retry when GET /v1/venues/:id shows online: true',
        });
      }
      try {
        const result = await link.command(Commands.menuSync, undefined);
        d.log.info('menu sync requested', { venueId });
        res.status(202).json(result ?? { queued: true });
      } catch (e) {
        const code = e instanceof CommandFailed ? e.code : 'failed';
        const [status, error] = commandError(code);
        res.status(status).json({ error, message: (e as Error).message });
      }
    } catch (e) { next(e); }
  });

  return r;
}
