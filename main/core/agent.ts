/**
 * The companion's one composition root, wiring only: it builds each part from
 * the settings, the injected clock and logger, and tells each whom to call when
 * something changes. Electron's shell and the headless CLI both start it.
 * The plugin: plugin.ts; the link to EVVA: uplink.ts; the venue's feed: venue.ts;
 * diagnostics and support: support.ts; the Журнал: history.ts; the status they
 * add up to: state.ts; the local API: serve.ts.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type { Report } from '../../protocol/diagnostics.ts';
import type { LoginLink, Status } from '../../protocol/local.ts';
import { realClock, type Clock } from '../../common/clock.ts';
import { keepHeapSmall } from '../../common/heap.ts';
import type { Logger } from '../../common/logger.ts';
import { VERSION } from '../../common/version.ts';
import type { Api } from './api/server.ts';
import { createCommands } from './commands.ts';
import type { Sealer } from './device.ts';
import type { Feed } from './feed/feed.ts';
import { openHistory } from './history.ts';
import { lockDataDir } from './lock.ts';
import { createPlugin, type ProbeOverrides } from './plugin.ts';
import { serveApi } from './serve.ts';
import type { Settings } from './settings.ts';
import { createState, type LogHealth } from './state.ts';
import { createSupport, type DiagnosticsOverrides } from './support.ts';
import { createUplink, type TunnelOverrides } from './uplink.ts';
import { openVenue } from './venue.ts';

export interface AgentOptions {
  settings: Settings;
  logger: Logger;
  clock?: Clock;
  /** Overrides for tests (discovery candidates, a fake client). */
  probe?: ProbeOverrides;
  /** Seals the device token in device.json (the desktop app: Electron safeStorage). */
  sealer?: Sealer;
  /** Every live message the local API sends (status, activity), for a host such as the desktop shell. */
  onLive?(message: { type: string; [field: string]: unknown }): void;
  /** The log sink's health, shown in the status (the CLI passes its Log). */
  logs?: LogHealth;
  /** Overrides for tests (shorter heartbeats, backoff). */
  tunnel?: TunnelOverrides;
  /** Overrides for tests (a full disk, the feed's outbox). */
  diagnostics?: DiagnosticsOverrides;
}

export interface Agent {
  /** The whole state as the local API serves it. */
  status(): Status;
  /** Where the local API listens and the token it wants. */
  readonly api: { url: string; token: string };
  /** A new one-time link that opens the UI in a browser (GET /login?once=…). */
  loginLink(): LoginLink;
  /** Pairs with a venue by code and (re)starts the tunnel; throws TunnelError with a Russian Problem. */
  pair(code: string, relayUrl?: string): Promise<{ venueId: string; relayUrl: string; venueName?: string }>;
  /** Runs every diagnostic check; resolves within about 5 s whatever the parts do. */
  diagnose(): Promise<Report>;
  /** Drops the link to EVVA and connects again now (the tray's «Переподключить»); false when not paired. */
  reconnect(): Promise<boolean>;
  /** Stops every part, logs the plugin session out, removes local-api.json, frees the data dir. */
  stop(): Promise<void>;
  /** The feed of the paired venue (tests, bench); null when unpaired or off. */
  feed(): Feed | null;
}

/**
 * Starts the agent; rejects (with a Russian message) if another companion holds
 * the data dir (DataDirLocked) or the local API cannot listen.
 */
export async function startAgent(opts: AgentOptions): Promise<Agent> {
  // The CLI did it before loading the agent; the desktop's core process gets it here (heap.ts).
  keepHeapSmall();
  // Before anything else: a second companion must not touch the first one's files or slots.
  const lock = await lockDataDir(opts.settings.dataDir);
  try {
    return await start(opts, lock.release);
  } catch (e) {
    lock.release();
    throw e;
  }
}

async function start(opts: AgentOptions, unlock: () => void): Promise<Agent> {
  const { settings, logger } = opts;
  const clock = opts.clock ?? realClock;
  const startedAt = new Date(clock.now()).toISOString();
  const token = crypto.randomBytes(32).toString('base64url');
  let api: Api | null = null;
  const broadcast = (message: { type: string; [field: string]: unknown }) => api?.broadcast(message);
  // The one place commands from the relay are wired: the venue's feed and support register here.
  const commands = createCommands(logger.child({ part: 'commands' }));

  // Each part hears of the others only through the calls wired here; they run once all exist.
  const venue = openVenue({
    settings, clock, logger, commands, client: () => plugin.client(),
    onEvents: (events) => { for (const event of events) broadcast({ type: 'event', event }); history.record((j) => j.events(events)); },
    onPayment: (payment, reminder) => { broadcast({ type: 'payment', payment, reminder }); history.record((j) => j.payment(payment)); },
    onChange: () => state.publishSoon(),
  });
  const history = openHistory({
    dataDir: settings.dataDir, days: settings.journalDays, clock, logger, onRows: (rows) => { for (const row of rows) broadcast({ type: 'journal', row }); },
  });
  const plugin = createPlugin({
    settings, clock, logger, overrides: opts.probe,
    // A new plugin state goes to the relay and into the feed (CompanionHealth); every check to the status.
    onState: (front) => { uplink.reportFront(front); venue.health('front', plugin.status(), uplink.status().reconnects); },
    onCheck: () => state.publish(),
  });
  const uplink = createUplink({
    settings, clock, logger, startedAt, sealer: opts.sealer, overrides: opts.tunnel, upstream: plugin.upstream, commands,
    front: () => plugin.status(), feed: (venueId) => venue.start(venueId),
    onUp: (tunnel) => venue.health('link', plugin.status(), tunnel.reconnects),
    onChange: () => state.publish(),
  });
  const support = createSupport({
    settings, clock, logger, commands, plugin, uplink, overrides: opts.diagnostics,
    status: () => state.status(), apiPort: () => (api ? Number(new URL(api.url).port) : settings.apiPort),
    backlog: () => venue.backlog(), onReport: () => state.publish(),
  });
  const state = createState({
    clock, startedAt, logs: opts.logs,
    front: () => plugin.status(), tunnel: () => uplink.status(), feed: () => venue.status(), payments: () => venue.payments(), port: () => support.port(),
    onActivity: (items) => {
      for (const item of items) { broadcast({ type: 'activity', item }); opts.onLive?.({ type: 'activity', item }); }
      history.record((j) => j.activity(items));
    },
    onStatus: (s) => {
      api?.publish(s);
      // EVVA's support console states the venue's verdict from this same status (throttled by the tunnel client).
      uplink.reportStatus(s);
      opts.onLive?.({ type: 'status', status: s });
    },
  });

  // The API before the tunnel and the plugin: if its port is taken, neither has been started.
  const served = await serveApi({ settings, token, clock, logger, state, plugin, uplink, venue, support, history });
  api = served.api;
  await uplink.resume();
  plugin.start();
  logger.info('companion started', { version: VERSION, dataDir: settings.dataDir, hostname: os.hostname(), api: api.url });

  let stopping: Promise<void> | null = null;
  return {
    status: state.status,
    api: { url: api.url, token },
    loginLink: () => served.api.loginLink(),
    reconnect: uplink.reconnect,
    pair: uplink.pair,
    diagnose: support.diagnose,
    feed: venue.feed,
    stop() {
      stopping ??= (async () => {
        support.close();
        state.stop();
        await uplink.stop();
        await venue.stop();
        history.close();
        await plugin.stop();
        await served.close();
        unlock();
        logger.info('companion stopped');
      })();
      return stopping;
    },
  };
}
