/**
 * The companion's one composition root. It builds every part from the
 * settings and the injected clock and logger, wires them together, and
 * serves the local API. Electron's shell and the headless CLI both start it.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import type { Report } from '../../protocol/diagnostics.ts';
import { Commands } from '../../protocol/events.ts';
import type { HealthInfo } from '../../protocol/feed.ts';
import type { FeedStatus, FrontCheck, JournalRow, LoginLink, PortStatus, Problem, Status, TunnelStatus } from '../../protocol/local.ts';
import { createActivity } from './activity.ts';
import { openJournal, type Journal } from './journal.ts';
import { configure } from './configure.ts';
import { readDevice, type Sealer } from './device.ts';
import { LOCAL_API_FILE } from '../../protocol/local.ts';
import { startApi, type Api } from './api/server.ts';
import { createUiSessions } from './api/sessions.ts';
import { CommandError, createCommands } from './commands.ts';
import { createFeed, diskProblem, type Feed } from './feed/feed.ts';
import { openOutbox, type Outbox } from './outbox/store.ts';
import { createSender, type Sender } from './outbox/sender.ts';
import { openLedger, type Ledger } from './payments/ledger.ts';
import { createPayments, type Payments } from './payments/watch.ts';
import { realClock, type Clock } from '../../common/clock.ts';
import { writePrivateFile } from './files.ts';
import { createAudit } from './diagnostics/audit.ts';
import { buildBundle } from './diagnostics/bundle.ts';
import { createDiagnostics, type DiagnosticsDeps } from './diagnostics/checks.ts';
import { askRelay, portOfReport, reconnectLog, reusedProbe, type TunnelView } from './diagnostics/reach.ts';
import { registerRemote } from './diagnostics/remote.ts';
import { explain, FrontError } from './front/errors.ts';
import { identify } from './front/discovery.ts';
import { createProbe, type Probe, type ProbeOptions } from './front/probe.ts';
import { sessionFile } from './front/session-file.ts';
import { lockDataDir } from './lock.ts';
import type { Logger } from '../../common/logger.ts';
import { keepHeapSmall } from '../../common/heap.ts';
import { createMetrics } from './metrics.ts';
import { effectiveSettings, readSettingsFile, type Settings } from './settings.ts';
import { MS_PER } from './table.ts';
import { overallLevel } from './status.ts';
import { startTunnel, type TunnelHandle, type TunnelOptions } from './tunnel/client.ts';
import { pair, type DeviceFile } from './tunnel/pair.ts';
import { relayEndpoints, TunnelError } from './tunnel/problems.ts';
import { proxyFor } from './tunnel/proxy.ts';
import type { Upstream } from './tunnel/upstream.ts';
import { VERSION } from '../../common/version.ts';

export interface AgentOptions {
  settings: Settings;
  logger: Logger;
  clock?: Clock;
  /** Overrides for tests (discovery candidates, a fake client). */
  probe?: Partial<Pick<ProbeOptions, 'discover' | 'identify' | 'makeClient' | 'timeoutMs'>>;
  /** Seals the device token in device.json (the desktop app: Electron safeStorage). */
  sealer?: Sealer;
  /** Every live message the local API sends (status, activity), for a host such as the desktop shell. */
  onLive?(message: { type: string; [field: string]: unknown }): void;
  /** The log sink's health, shown in the status (the CLI passes its Log). */
  logs?: { fileProblem(): Problem | null; onFileProblem(fn: (p: Problem) => void): void };
  /** Overrides for tests (shorter heartbeats, backoff). */
  tunnel?: Partial<Pick<TunnelOptions, 'timing' | 'backoff' | 'ca' | 'env' | 'networkPollMs'>>;
  /** Overrides for tests (a full disk, the feed's outbox). */
  diagnostics?: Partial<Pick<DiagnosticsDeps, 'freeBytes' | 'feed'>>;
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

/** The feed's parts for the paired venue. */
interface VenueFeed { venueId: string; sender: Sender; feed: Feed; payments: Payments }

const UNPAIRED: TunnelStatus = { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null };

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
  const hostname = os.hostname();
  let api: Api | null = null;
  let link: TunnelHandle | null = null;
  let device: DeviceFile | null = null;
  let tunnel: TunnelStatus = { ...UNPAIRED };
  const reconnects = reconnectLog(clock);
  let reportedFront = '';
  // The one place commands from the relay are wired: feed, payments and diagnostics register here.
  const commands = createCommands(logger.child({ part: 'commands' }));

  // The feed's disk: one SQLite file for the outbox and the payment ledger. A failure here leaves
  // the tunnel working and shows in the status; it never stops the agent.
  let outbox: Outbox | null = null;
  let ledger: Ledger | null = null;
  let outboxProblem: Problem | null = null;
  if (settings.feed.enabled) {
    try {
      outbox = openOutbox({ dataDir: settings.dataDir, now: () => clock.now(), coalesceAbove: settings.feed.coalesceAbove });
      ledger = openLedger(outbox.db);
    } catch (e) {
      outboxProblem = diskProblem(e, settings.dataDir);
      logger.error('feed storage unusable; the feed is off', { err: e instanceof Error ? e.message : String(e) });
      outbox?.close();
      outbox = null;
    }
  }
  let venue: VenueFeed | null = null;

  const feedStatus = (): FeedStatus => {
    if (!venue || !outbox) {
      return {
        state: outboxProblem ? 'failing' : 'off', venueId: null, backlog: 0, inFlight: 0, oldestUnsentAt: null, lastEvent: null,
        acked: 0, ackedToday: 0, coalesced: 0, pollers: [], ...(outboxProblem ? { error: outboxProblem } : {}),
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
  };

  // The last port check, for the status card; declared before status() reads it.
  let lastPort: PortStatus | null = null;
  const status = (): Status => {
    const front = probe.status();
    // rttMs changes with every pong, not with the state events `tunnel` is kept from: read it live.
    const t = link ? { ...tunnel, rttMs: link.status().rttMs } : { ...tunnel };
    if (device?.venueName && t.venueId === device.venueId) t.venueName = device.venueName;
    const feed = feedStatus();
    const payments = venue ? venue.payments.summary() : undefined;
    const problem = opts.logs?.fileProblem() ?? null;
    // Logs lost to a full disk need a person, but EVVA still works: a warning, not an error (status.ts).
    const s: Status = {
      level: overallLevel({ front, tunnel: t, feed, ...(payments ? { payments } : {}), logsLost: problem !== null }),
      version: VERSION, startedAt, front, tunnel: t, feed,
      ...(payments ? { payments } : {}),
      ...(lastPort ? { port: lastPort } : {}),
    };
    if (opts.logs) s.logs = problem ? { state: 'console_only', error: problem } : { state: 'file' };
    return s;
  };
  let published = '';
  const activity = createActivity();
  // The Журнал's own store: a failure here costs the history, never the relaying.
  let journal: Journal | null = null;
  try {
    journal = openJournal({ dataDir: settings.dataDir, now: () => clock.now(), days: settings.journalDays });
  } catch (e) {
    logger.error('journal storage unusable; the Журнал shows no history', { err: e instanceof Error ? e.message : String(e) });
  }
  /** Sends new or folded Журнал rows to live clients. */
  const journaled = (rows: JournalRow[]) => {
    for (const row of rows) api?.broadcast({ type: 'journal', row });
  };
  /** Writes to the Журнал, best effort: a disk problem costs a line of history, never the caller's work. */
  const record = (write: (j: Journal) => JournalRow[]) => {
    if (!journal) return;
    try {
      journaled(write(journal));
    } catch (e) {
      logger.warn('journal row not written', { err: e instanceof Error ? e.message : String(e) });
    }
  };
  /** Pushes the status to live clients (and the desktop shell) when something a person would notice changed (not a new latency, round trip or poll time). */
  const publish = () => {
    const s = status();
    const feed = s.feed ? { ...s.feed, pollers: s.feed.pollers.map((p) => ({ ...p, lastOkAt: null, lastDurationMs: null })) } : undefined;
    const key = JSON.stringify({ ...s, front: { ...s.front, latencyMs: null, checkedAt: null }, tunnel: { ...s.tunnel, rttMs: null }, feed });
    if (key === published) return;
    published = key;
    const items = activity.observe(s.front, s.tunnel, new Date(clock.now()).toISOString());
    for (const item of items) {
      api?.broadcast({ type: 'activity', item });
      opts.onLive?.({ type: 'activity', item });
    }
    if (items.length) record((j) => j.activity(items));
    api?.publish(s);
    // EVVA's support console states the venue's verdict from this same status (throttled by the tunnel client).
    link?.reportStatus(s);
    opts.onLive?.({ type: 'status', status: s });
  };
  // Events and acks can come many a second: the status they change is pushed at most 4 times a second.
  let publishTimer: NodeJS.Timeout | undefined;
  const publishSoon = () => {
    publishTimer ??= clock.setTimeout(() => { publishTimer = undefined; publish(); }, 250);
  };

  const makeProbe = (): Probe => createProbe({
    frontUrl: settings.frontUrl,
    moduleId: settings.moduleId,
    intervalMs: settings.probeIntervalSec * MS_PER.s,
    sessionStore: (origin) => sessionFile(settings.dataDir, origin),
    maxAnswerBytes: settings.frontMaxAnswerBytes,
    clock,
    logger,
    frontSource: ({ file: 'settings', env: 'env', flag: 'flag' } as const)[settings.sources.frontUrl as 'file' | 'env' | 'flag'] ?? 'settings',
    onChange: (front) => {
      // The relay stores what it is told; tell it when the plugin's state changes,
      // not on every check's new latency (the local API still gets every check).
      const key = `${front.state}|${front.error?.code ?? ''}|${front.url ?? ''}|${front.version ?? ''}`;
      if (key !== reportedFront) {
        reportedFront = key;
        link?.reportFront(front, front.url);
        health('front');
      }
      publish();
    },
    ...opts.probe,
  });
  let lastReport: Report | null = null;
  const metrics = createMetrics(status, () => ({
    clockSkewMs: link?.relay().skewMs ?? null, reconnectsLastHour: reconnects.lastHour(), lastReport, remoteActions: remote.counts(),
  }), () => clock.now());
  let probe = makeProbe();
  opts.logs?.onFileProblem(() => publish());

  // The tunnel reaches the plugin only through the probe's client: one session, one origin.
  const upstream: Upstream = {
    forward(req) {
      const client = probe.client();
      if (!client) return Promise.reject(new FrontError('unreachable', 'plugin not found yet'));
      return client.forward(req);
    },
  };

  /** Starts the feed for `venueId` (stopping another venue's), or returns the running one. */
  function feedFor(venueId: string): VenueFeed | null {
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
    const sender = createSender({ outbox: store, venueId, logger, onAck: publishSoon });
    let payments: Payments | null = null;
    const feed = createFeed({
      venueId, dataDir: settings.dataDir, outbox: store, client: () => probe.client(), clock, logger,
      settings: settings.feed,
      onWritten: (events) => {
        sender.kick();
        for (const event of events) api?.broadcast({ type: 'event', event });
        record((j) => j.events(events));
        publishSoon();
      },
      onOrders: (orders) => payments?.onOrders(orders),
    });
    payments = createPayments({
      ledger, venueId, feed, clock, logger, paymentCloseAfterMin: settings.feed.paymentCloseAfterMin,
      onChange: (payment, reminder) => { api?.broadcast({ type: 'payment', payment, reminder }); record((j) => j.payment(payment)); publishSoon(); },
    });
    venue = { venueId, sender, feed, payments };
    feed.start();
    payments.start();
    return venue;
  }

  async function stopFeed(v: VenueFeed): Promise<void> {
    v.payments.stop();
    await v.feed.stop();
    if (venue === v) venue = null;
  }

  /** Writes a CompanionHealth event (best effort: a disk problem already shows in the status). */
  function health(reason: HealthInfo['reason']): void {
    if (!venue || !outbox) return;
    const front = probe.status();
    const st = outbox.stats(venue.venueId);
    const info: HealthInfo = {
      reason, front: front.state, frontError: front.error?.code ?? null, backlog: st.backlog, oldestUnsentAt: st.oldestUnsentAt, reconnects: tunnel.reconnects,
    };
    try {
      venue.feed.write({ events: [{ type: 'CompanionHealth', info }] });
    } catch {
      // Shown as the feed's problem; the next change writes a fresh one.
    }
  }

  const current = (): VenueFeed => {
    if (!venue) throw new CommandError('disabled', outboxProblem ? 'the feed is off: its storage is unusable' : 'the feed is off on this companion');
    return venue;
  };
  commands.register(Commands.paymentNotice, (args) => current().payments.notice(args));
  commands.register(Commands.menuSync, async () => {
    current().feed.syncMenu('request');
    return { queued: true };
  });

  function connect(d: DeviceFile): void {
    device = d;
    const old = link;
    const fed = feedFor(d.venueId);
    link = startTunnel({
      relayUrl: d.relayUrl,
      deviceToken: d.deviceToken,
      venueId: d.venueId,
      upstream,
      policy: { allowMethods: settings.tunnel.allowMethods, maxRequestBytes: settings.tunnel.maxRequestBytes },
      limits: { maxResponseBytes: settings.tunnel.maxResponseBytes },
      companion: { version: VERSION, hostname },
      frontOrigin: probe.status().url,
      front: probe.status(),
      proxy: settings.proxy ?? undefined,
      allowInsecure: settings.allowInsecure,
      commands,
      ...(fed ? { feed: fed.sender } : {}),
      clock,
      logger,
      ...opts.tunnel,
    });
    const current = link;
    tunnel = current.status();
    // A replaced link still reports while it drains; only the current one speaks for the tunnel.
    current.on('status', (s) => {
      if (link !== current) return;
      const up = s.state === 'connected' && tunnel.state !== 'connected';
      tunnel = s;
      reconnects.note(s.reconnects);
      if (up) health('link');
      publish();
    });
    void old?.stop();
    publish();
  }

  const tunnelView = (): TunnelView => ({
    status: status().tunnel, ...(link?.relay() ?? { skewMs: null, publicIp: null, proxy: null }), reconnectsLastHour: reconnects.lastHour(),
  });
  const diagnostics = createDiagnostics({
    clock, logger, version: VERSION, dataDir: settings.dataDir, apiPort: () => (api ? Number(new URL(api.url).port) : settings.apiPort),
    // Through `probe` at call time: a settings change replaces the probe, and diagnostics must use the current one.
    probe: { checkNow: () => probe.checkNow(), client: () => probe.client() }, tunnel: tunnelView, externalPort: settings.externalPort, evvaPaymentName: settings.feed.evvaPaymentName, courierCodes: settings.feed.courierCodes,
    probeBack: reusedProbe(clock, async (port, signal) => {
      if (!device) throw new Error('компаньон не привязан');
      const ends = relayEndpoints(device.relayUrl, settings.allowInsecure);
      const target = new URL(ends.tunnelUrl);
      return askRelay({ httpBase: ends.httpBase, deviceToken: device.deviceToken, proxy: proxyFor(target, { proxy: settings.proxy ?? undefined, env: opts.tunnel?.env }), ca: opts.tunnel?.ca, port, signal });
    }),
    feed: async () => {
      // A feed whose storage failed at start is a failing check (the runner reports the throw), not a skip.
      if (!outbox) throw new Error(outboxProblem?.message ?? 'лента событий выключена');
      const st = outbox.stats(venue?.venueId ?? null);
      return { backlog: st.backlog, oldestAt: st.oldestUnsentAt };
    },
    ...opts.diagnostics,
  });
  const diagnose = async (): Promise<Report> => {
    lastReport = await diagnostics.run();
    lastPort = portOfReport(lastReport);
    publish();
    return lastReport;
  };
  const bundle = async () => buildBundle({
    report: await diagnose(), settings, status: status(), metrics: (await metrics.render()).body, dataDir: settings.dataDir, now: clock.now(),
  });
  const audit = createAudit(settings.dataDir, (e) => logger.error('audit log not written', { error: e }));
  const remote = registerRemote({
    commands, audit, bundle, diagnose, dataDir: settings.dataDir, clock, logger,
    // Read from settings.json on each command, so the venue can switch support off without a restart.
    allowed: () => {
      try {
        return readSettingsFile(settings.dataDir).allowRemoteDiagnostics ?? settings.allowRemoteDiagnostics;
      } catch {
        return settings.allowRemoteDiagnostics;
      }
    },
  });

  /** Whether the plugin answers at `url`, the way discovery tells (no login, so no licence slot); nothing is saved. */
  const checkFront = async (url: string): Promise<FrontCheck> => {
    const who = await (opts.probe?.identify ?? identify)(url);
    if (who.kind === 'plugin') return { url: who.url, found: true, ...(who.version ? { version: who.version } : {}) };
    const problem = who.kind === 'not_plugin' ? explain(new FrontError('not_plugin', who.why), who.url) : explain(who.error, who.url);
    return { url: who.url, found: false, problem };
  };

  // The API first: if its port is taken, nothing else has been started.
  const settingsApi = configure(settings, {
    // Plugin address, module or interval changed: a new probe (one session, one origin) replaces the old.
    // The old one stops first: its session is logged out (or, with the plugin down, kept owed in
    // front-session.json) before the new client reads what is owed and logs in.
    async front() {
      const old = probe;
      await old.stop();
      probe = makeProbe();
      probe.start();
      publish();
    },
    // Proxy changed: reconnect through it.
    tunnel() { void connectSaved().catch(() => undefined); },
    journal(days) { journal?.keepDays(days); },
  });
  api = await startApi({
    port: settings.apiPort, token, logger, status, metrics: () => metrics.render(), clock,
    sessions: createUiSessions({ dataDir: settings.dataDir, clock, days: settings.uiSessionDays }),
    pair: (code, relayUrl) => agentPair(code, relayUrl),
    diagnose, bundle, audit: (limit) => audit.list(limit),
    payments: () => ({ payments: venue?.payments.list() ?? [] }),
    settings: settingsApi,
    activity: (limit) => activity.list(limit),
    journal: (query) => (journal ? journal.list(query) : null),
    checkFront: (port) => checkFront(`http://127.0.0.1:${port}`),
    effectiveSettings: () => effectiveSettings(settings),
  });
  const apiFile = path.join(settings.dataDir, LOCAL_API_FILE);
  writePrivateFile(apiFile, `${JSON.stringify({ url: api.url, token, pid: process.pid }, null, 2)}\n`);
  /** Connects with the saved pairing, if any; true when there was one. */
  async function connectSaved(): Promise<boolean> {
    const device = await readDevice(settings.dataDir, opts.sealer, logger);
    if (device) connect(device);
    return device !== null;
  }
  try {
    await connectSaved();
  } catch (e) {
    if (!(e instanceof TunnelError)) throw e;
    logger.warn('pairing file unusable', { code: e.problem.code });
    tunnel = { ...UNPAIRED, since: startedAt, error: e.problem };
  }
  probe.start();
  logger.info('companion started', { version: VERSION, dataDir: settings.dataDir, hostname, api: api.url });

  async function agentPair(code: string, relayUrl?: string): Promise<{ venueId: string; relayUrl: string; venueName?: string }> {
    const relay = relayUrl ?? settings.relayUrl;
    if (!relay) {
      throw new TunnelError({
        code: 'relay_url_missing',
        message: 'Не указан адрес сервера EVVA.',
        hint: 'Введите адрес сервера EVVA рядом с кодом: его даёт EVVA вместе с кодом.',
        messageEn: 'No EVVA server address given: enter the one EVVA gave with the code.',
        command: 'evva-companion pair КОД --relay-url https://…',
      });
    }
    const done = await pair({
      code, relayUrl: relay, dataDir: settings.dataDir, companion: { version: VERSION, hostname },
      proxy: settings.proxy ?? undefined, allowInsecure: settings.allowInsecure, ...(opts.tunnel?.ca ? { ca: opts.tunnel.ca } : {}),
    });
    logger.info('paired', { venueId: done.venueId, relay: done.relayUrl });
    await connectSaved();
    return done;
  }

  let stopping: Promise<void> | null = null;
  return {
    status,
    api: { url: api.url, token },
    loginLink: () => api!.loginLink(),
    reconnect: () => connectSaved(),
    pair: agentPair,
    diagnose,
    feed: () => venue?.feed ?? null,
    stop() {
      stopping ??= (async () => {
        remote.close();
        clock.clearTimeout(publishTimer);
        await link?.stop();
        if (venue) await stopFeed(venue);
        outbox?.close();
        journal?.close();
        await probe.stop();
        await api?.close();
        removeIfOurs(apiFile, token);
        unlock();
        logger.info('companion stopped');
      })();
      return stopping;
    },
  };
}

/** Deletes local-api.json unless another agent has taken it over since. */
function removeIfOurs(file: string, token: string): void {
  try {
    const content = JSON.parse(fs.readFileSync(file, 'utf8')) as { token?: string };
    if (content.token === token) fs.unlinkSync(file);
  } catch {
    // Already gone or unreadable: nothing of ours to clean.
  }
}
