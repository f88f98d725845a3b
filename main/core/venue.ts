/**
 * The paired venue's feed lifecycle: the feed's disk (one SQLite file for the
 * outbox and the payment ledger), the feed, its sender and the payments watch
 * for the venue the tunnel is paired with, and the commands that reach them.
 * A disk that fails at start leaves the feed off and says why in the status;
 * it never stops the agent.
 */
import { Commands, type Envelope, type PaymentView } from '../../protocol/events.ts';
import type { HealthInfo } from '../../protocol/feed.ts';
import type { FeedStatus, FrontStatus, PaymentsSummary, Problem } from '../../protocol/local.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { CommandError, type Commands as CommandTable } from './commands.ts';
import { createFeed, diskProblem, type Feed } from './feed/feed.ts';
import type { FrontClient } from './front/client.ts';
import { openOutbox, type Outbox } from './outbox/store.ts';
import { createSender, type Sender } from './outbox/sender.ts';
import { openLedger, type Ledger } from './payments/ledger.ts';
import { createPayments, type Payments } from './payments/watch.ts';
import type { Settings } from './settings.ts';

/** The feed's parts for the paired venue. */
interface VenueFeed { venueId: string; sender: Sender; feed: Feed; payments: Payments }

export interface VenueDeps {
  settings: Settings;
  clock: Clock;
  logger: Logger;
  /** Where `payment.notice` and `menu.sync` are registered. */
  commands: CommandTable;
  /** The plugin's client in use (it changes when the plugin's settings do). */
  client(): FrontClient | null;
  /** New events were stored (the sender has been kicked already; onChange follows). */
  onEvents(events: Envelope[]): void;
  /** A payment changed state, or is still waiting for its order to close (`reminder`); onChange follows. */
  onPayment(payment: PaymentView, reminder: boolean): void;
  /** Something the status shows changed (events stored, an ack, a payment). */
  onChange(): void;
}

export interface Venue {
  /** Starts the feed for `venueId` (stopping another venue's), or keeps the running one; the sender the tunnel hands acks to, or null when the feed is off. */
  start(venueId: string): Sender | null;
  /** The feed's card in the status: off, failing (with the problem) or running. */
  status(): FeedStatus;
  /** The payments' counts for the status; undefined while no venue runs. */
  payments(): PaymentsSummary | undefined;
  /** The payments the UI lists. */
  list(): PaymentView[];
  /** Writes a CompanionHealth event; best effort (a disk problem already shows in the status). */
  health(reason: HealthInfo['reason'], front: FrontStatus, reconnects: number): void;
  /** The outbox's backlog for diagnostics; throws when the feed's storage is unusable or the feed is off. */
  backlog(): { backlog: number; oldestAt: string | null };
  /** The running feed (tests, bench); null when unpaired or off. */
  feed(): Feed | null;
  /** Stops the feed and closes its disk. */
  stop(): Promise<void>;
}

/** Opens the feed's disk (when the feed is on) and registers the venue's commands; no feed runs until start(). */
export function openVenue(d: VenueDeps): Venue {
  const { settings, clock, logger } = d;
  let outbox: Outbox | null = null;
  let ledger: Ledger | null = null;
  let diskFailure: Problem | null = null;
  if (settings.feed.enabled) {
    try {
      outbox = openOutbox({ dataDir: settings.dataDir, now: () => clock.now(), coalesceAbove: settings.feed.coalesceAbove });
      ledger = openLedger(outbox.db);
    } catch (e) {
      diskFailure = diskProblem(e, settings.dataDir);
      logger.error('feed storage unusable; the feed is off', { err: e instanceof Error ? e.message : String(e) });
      outbox?.close();
      outbox = null;
    }
  }
  let venue: VenueFeed | null = null;

  async function stopFeed(v: VenueFeed): Promise<void> {
    v.payments.stop();
    await v.feed.stop();
    if (venue === v) venue = null;
  }

  function start(venueId: string): VenueFeed | null {
    if (!outbox || !ledger) return null;
    if (venue?.venueId === venueId) return venue;
    if (venue) void stopFeed(venue);
    const store = outbox;
    try {
      const dropped = store.dropOthers(venueId);
      if (dropped) logger.warn('dropped feed events of a previous pairing', { dropped, venueId });
    } catch (e) {
      logger.warn('could not drop events of a previous pairing', { err: e instanceof Error ? e.message : String(e) });
    }
    const sender = createSender({ outbox: store, venueId, logger, onAck: () => d.onChange() });
    let payments: Payments | null = null;
    const feed = createFeed({
      venueId, dataDir: settings.dataDir, outbox: store, client: () => d.client(), clock, logger,
      settings: settings.feed,
      onWritten: (events) => {
        sender.kick();
        d.onEvents(events);
        d.onChange();
      },
      alongOrders: (orders) => payments?.settleWith(orders) ?? null,
    });
    payments = createPayments({
      ledger, venueId, feed, clock, logger, paymentCloseAfterMin: settings.feed.paymentCloseAfterMin,
      onChange: (payment, reminder) => { d.onPayment(payment, reminder); d.onChange(); },
    });
    venue = { venueId, sender, feed, payments };
    feed.start();
    payments.start();
    return venue;
  }

  const current = (): VenueFeed => {
    if (!venue) throw new CommandError('disabled', diskFailure ? 'the feed is off: its storage is unusable' : 'the feed is off on this companion');
    return venue;
  };
  d.commands.register(Commands.paymentNotice, (args) => current().payments.notice(args));
  d.commands.register(Commands.menuSync, async () => {
    current().feed.syncMenu('request');
    return { queued: true };
  });

  return {
    start: (venueId) => start(venueId)?.sender ?? null,
    status() {
      if (!venue || !outbox) {
        return {
          state: diskFailure ? 'failing' : 'off', venueId: null, backlog: 0, inFlight: 0, oldestUnsentAt: null, lastEvent: null,
          acked: 0, ackedToday: 0, coalesced: 0, pollers: [], ...(diskFailure ? { error: diskFailure } : {}),
        };
      }
      const st = outbox.stats(venue.venueId);
      const problem = venue.feed.problem();
      return {
        state: problem ? 'failing' : 'running', venueId: venue.venueId, backlog: st.backlog, inFlight: venue.sender.inFlight(),
        oldestUnsentAt: st.oldestUnsentAt, lastEvent: st.lastEvent, acked: venue.sender.acked(), ackedToday: st.ackedToday,
        ordersToday: st.ordersToday, lastOrderAt: st.lastOrderAt, coalesced: st.coalesced,
        pollers: venue.feed.pollers(), ...(problem ? { error: problem } : {}),
      };
    },
    payments: () => venue?.payments.summary(),
    list: () => venue?.payments.list() ?? [],
    health(reason, front, reconnects) {
      if (!venue || !outbox) return;
      const st = outbox.stats(venue.venueId);
      const info: HealthInfo = {
        reason, front: front.state, frontError: front.error?.code ?? null, backlog: st.backlog, oldestUnsentAt: st.oldestUnsentAt, reconnects,
      };
      try {
        venue.feed.write({ events: [{ type: 'CompanionHealth', info }] });
      } catch {
        // Shown as the feed's problem; the next change writes a fresh one.
      }
    },
    backlog() {
      // A feed whose storage failed at start is a failing check (the runner reports the throw), not a skip.
      if (!outbox) throw new Error(diskFailure?.message ?? 'лента событий выключена');
      const st = outbox.stats(venue?.venueId ?? null);
      return { backlog: st.backlog, oldestAt: st.oldestUnsentAt };
    },
    feed: () => venue?.feed ?? null,
    async stop() {
      if (venue) await stopFeed(venue);
      outbox?.close();
    },
  };
}
