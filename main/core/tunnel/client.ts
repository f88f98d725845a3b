/**
 * The tunnel client: keeps one link to the relay up, for as long as it runs.
 *
 * - Reconnects with full-jitter backoff; a link that stayed up STABLE_AFTER_MS
 *   resets it. A refused token retries slowly (state `unpaired`).
 * - Reconnects at once after sleep (a 1 s timer that fires far too late) or a
 *   network change (the set of local addresses changed).
 * - On go-away (or any deliberate reconnect) it opens the new link first, and
 *   only then drains the old one, so in-flight calls finish.
 * - Goes through an HTTP CONNECT proxy when one applies (see proxy.ts).
 * - Refuses plain ws:// to anything but loopback unless allowInsecure.
 */
import { EventEmitter } from 'node:events';
import { networkInterfaces as osNetworkInterfaces } from 'node:os';
import { HttpsProxyAgent } from 'https-proxy-agent';
import WebSocket from 'ws';
import type { FrontStatus, Problem, Status, TunnelState, TunnelStatus } from '../../../protocol/local.ts';
import {
  CloseCode, DEAD_AFTER_MS, FOLLOWER_PING_INTERVAL_MS, GOAWAY_DRAIN_MS, HEARTBEAT_CHECK_MS, HELLO_TIMEOUT_MS, WS_MAX_PAYLOAD_BYTES, PING_INTERVAL_MS, TUNNEL_PROTOCOL, TUNNEL_VENUE_PARAM,
} from '../../../protocol/tunnel.ts';
import type { Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import { Backoff, BACKOFF_BASE_MS, BACKOFF_CAP_MS, REPLACED_RETRY_MS, STABLE_AFTER_MS, TOKEN_REFUSED_RETRY_MS } from './backoff.ts';
import { DEFAULT_GATE_POLICY, type GatePolicy } from './gate.ts';
import type { Commands } from '../commands.ts';
import { CompanionLink, DEFAULT_TUNNEL_LIMITS, type LinkTiming, type TunnelLimits } from './link.ts';
import { TunnelError, relayEndpoints, tunnelProblem, type RelayEndpoints, type TunnelProblemCode } from './problems.ts';
import { proxyFor } from './proxy.ts';
import type { Corkable } from '../../../common/coalesce.ts';
import type { FrameSocket } from './dataframe.ts';
import type { Upstream } from '../upstream.ts';

/** The WebSocket handshake (TCP, TLS, proxy CONNECT, upgrade) must finish within this. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How often the sleep detector ticks. */
export const WAKE_CHECK_MS = 1_000;
/** A tick this much later than due means the machine slept (or the clock jumped): reconnect at once. */
export const WAKE_JUMP_MS = 4_000;
/** How often local addresses are compared to notice a network change. */
export const NETWORK_POLL_MS = 3_000;
/** stop() waits at most this long for the relay to acknowledge the close. */
export const STOP_WAIT_MS = 1_000;
/**
 * The companion's whole status goes to the relay (EVVA's support console) at
 * once when a state in it changes (the plugin, the link, payments waiting,
 * alarms, the port check, the feed), otherwise at most this often: counters
 * that move with every order must not become a frame per order per venue.
 */
export const STATUS_REPORT_MS = 30_000;

export interface TunnelOptions {
  /** The relay, as http(s):// or ws(s):// (the tunnel path is added). */
  relayUrl: string;
  deviceToken: string;
  venueId: string;
  upstream: Upstream;
  policy?: GatePolicy;
  limits?: Partial<TunnelLimits>;
  companion: { version: string; hostname: string };
  /** The plugin origin the Upstream calls, e.g. http://127.0.0.1:9042; the relay rewrites links from it. */
  frontOrigin: string | null;
  /** The plugin state to announce in hello (later changes go through reportFront). */
  front?: FrontStatus | null;
  /** Proxy setting: a URL, null for "never", undefined to follow HTTPS_PROXY/NO_PROXY. */
  proxy?: string | null;
  /** The environment to read proxy variables from (default process.env). */
  env?: NodeJS.ProcessEnv;
  allowInsecure?: boolean;
  /** Extra trusted CA certificates (PEM), e.g. for a relay with a private CA. */
  ca?: string | Buffer;
  clock: Clock;
  logger: Logger;
  /** The dispatcher that answers the relay's commands (main/core/commands.ts). */
  commands?: Commands;
  /** The feed's sender: told when a link is up (welcomed) or gone, and of the relay's acks. */
  feed?: FeedPort;
  onStatus?: (s: TunnelStatus) => void;
  /** Tests shorten these; production uses the protocol's constants. */
  timing?: Partial<LinkTiming>;
  backoff?: { baseMs?: number; capMs?: number; stableAfterMs?: number; random?: () => number; tokenRefusedRetryMs?: number; replacedRetryMs?: number };
  /** Source of local addresses for the network-change detector (tests inject one). */
  networkInterfaces?: () => ReturnType<typeof osNetworkInterfaces>;
  /** How often local addresses are compared; NETWORK_POLL_MS by default (tests shorten it). */
  networkPollMs?: number;
}

export interface TunnelStats {
  /** Links opened successfully (welcome received), the first included. */
  linksOpened: number;
  /** The most response-body bytes any stream had unacknowledged by the relay. */
  maxStreamOutstanding: number;
  /** The largest socket send queue seen. */
  maxSocketQueued: number;
  bytesOut: number;
  streamsServed: number;
}

export interface TunnelHandle {
  /** The state as GET /api/status shows it. */
  status(): TunnelStatus;
  /** Closes every link and stops reconnecting; in-flight calls are cancelled. */
  stop(): Promise<void>;
  /** Opens a new link now (the old one, if any, drains once the new one is up). */
  reconnectNow(reason: string): void;
  /** Tells the relay the plugin's current state. */
  reportFront(front: FrontStatus, frontOrigin?: string | null): void;
  /** Tells the relay the companion's whole status: now when a state in it changed, else within STATUS_REPORT_MS. */
  reportStatus(status: Status): void;
  /** Subscribes to status changes; returns the unsubscribe function. */
  on(event: 'status', fn: (s: TunnelStatus) => void): () => void;
  stats(): TunnelStats;
  /** What the current link learned from the relay: clock skew (ours minus its), the public IP it saw; and the proxy in use. */
  relay(): { skewMs: number | null; publicIp: string | null; proxy: string | null };
}

/** What the tunnel tells the feed (main/core/outbox/sender.ts implements it). */
export interface FeedPort {
  up(link: CompanionLink): void;
  down(link: CompanionLink): void;
  ack(eventIds: string[]): void;
}

interface Attempt {
  ws: WebSocket;
  link: CompanionLink | null;
  failed: boolean;
}

/** Starts keeping the tunnel up; never throws (a bad URL shows up as the status error). */
export function startTunnel(opts: TunnelOptions): TunnelHandle {
  const { clock } = opts;
  const log = opts.logger.child({ part: 'tunnel', venueId: opts.venueId });
  const emitter = new EventEmitter();
  const policy = opts.policy ?? DEFAULT_GATE_POLICY;
  const limits: TunnelLimits = { ...DEFAULT_TUNNEL_LIMITS, ...opts.limits };
  const timing: LinkTiming = {
    pingIntervalMs: PING_INTERVAL_MS, followPingIntervalMs: FOLLOWER_PING_INTERVAL_MS, deadAfterMs: DEAD_AFTER_MS, checkMs: HEARTBEAT_CHECK_MS, helloTimeoutMs: HELLO_TIMEOUT_MS, ...opts.timing,
  };
  const b = opts.backoff ?? {};
  const backoff = new Backoff(b.random ?? Math.random, b.baseMs ?? BACKOFF_BASE_MS, b.capMs ?? BACKOFF_CAP_MS);
  const stableAfterMs = b.stableAfterMs ?? STABLE_AFTER_MS;
  const netIfs = opts.networkInterfaces ?? osNetworkInterfaces;

  let state: TunnelState = 'connecting';
  let since = new Date(clock.now()).toISOString();
  let error: Problem | undefined;
  let reconnects = 0;
  let linksOpened = 0;
  let current: CompanionLink | null = null;
  let currentSince = 0;
  let attempt: Attempt | null = null;
  /** True while a live link should be replaced (go-away, wake, network change): failed attempts are retried. */
  let replacing = false;
  const draining = new Set<CompanionLink>();
  let retryTimer: NodeJS.Timeout | undefined;
  let stableTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let front: FrontStatus | null = opts.front ?? null;
  let frontOrigin = opts.frontOrigin;
  let proxyInUse: string | null = null;
  const closedStats = { maxStreamOutstanding: 0, maxSocketQueued: 0, bytesOut: 0, streamsServed: 0 };
  /** The companion's whole status for the relay (reportStatus): the latest, what its states were when last sent, and when. */
  let reported: Status | null = null;
  let reportedKey = '';
  let reportedAt = -Infinity;
  let reportTimer: NodeJS.Timeout | undefined;
  const sendReport = () => {
    clock.clearTimeout(reportTimer);
    reportTimer = undefined;
    if (!reported || !current) return;
    reportedKey = statesOf(reported);
    reportedAt = clock.mono();
    // The link part as this client knows it now (a report made while connecting reaches the relay over the new link).
    current.sendStatus(reported.front, frontOrigin ?? null, { ...reported, tunnel: snapshot() });
  };

  const snapshot = (): TunnelStatus => ({
    state, since, rttMs: current?.rttMs ?? null, reconnects, venueId: opts.venueId, relayUrl: opts.relayUrl,
    ...(error ? { error } : {}),
  });
  const setState = (s: TunnelState, problem?: Problem) => {
    const changed = s !== state || problem?.code !== error?.code;
    if (s !== state) since = new Date(clock.now()).toISOString();
    state = s;
    error = problem;
    if (changed) {
      const snap = snapshot();
      opts.onStatus?.(snap);
      emitter.emit('status', snap);
    }
  };

  let endpoints: RelayEndpoints | null = null;
  try {
    endpoints = relayEndpoints(opts.relayUrl, opts.allowInsecure);
  } catch (e) {
    const problem = e instanceof TunnelError ? e.problem : tunnelProblem('bad_relay_url', { relayUrl: opts.relayUrl });
    log.error('relay URL refused; not connecting', { relayUrl: opts.relayUrl, code: problem.code });
    state = 'offline';
    error = problem;
  }

  function schedule(delayMs: number, why: string): void {
    if (stopped) return;
    clock.clearTimeout(retryTimer);
    log.info('reconnecting', { inMs: Math.round(delayMs), why });
    retryTimer = clock.setTimeout(() => { retryTimer = undefined; connect(); }, delayMs);
  }

  function connect(): void {
    if (stopped || attempt || !endpoints) return;
    if (!current) setState('connecting', error);
    // The venue named for the relay's load balancer, which hashes a venue's tunnel and calls to one node (a hint only).
    const tunnelUrl = `${endpoints.tunnelUrl}?${TUNNEL_VENUE_PARAM}=${encodeURIComponent(opts.venueId)}`;
    const target = new URL(tunnelUrl);
    const proxyUrl = proxyFor(target, { proxy: opts.proxy, env: opts.env });
    proxyInUse = proxyUrl ? safeHost(proxyUrl) : null;
    let proxyStatus: number | null = null;
    let agent: HttpsProxyAgent<string> | undefined;
    if (proxyUrl) {
      agent = new HttpsProxyAgent(proxyUrl, opts.ca ? { ca: opts.ca } : {});
      agent.on('proxyConnect', (res: { statusCode: number }) => { proxyStatus = res.statusCode; });
    }
    const ws = new WebSocket(tunnelUrl, TUNNEL_PROTOCOL, {
      headers: { Authorization: `Bearer ${opts.deviceToken}` },
      agent,
      maxPayload: WS_MAX_PAYLOAD_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      ...(opts.ca ? { ca: opts.ca } : {}),
    });
    const a: Attempt = { ws, link: null, failed: false };
    attempt = a;
    log.debug('connecting', { url: endpoints.tunnelUrl, proxy: proxyUrl ? new URL(proxyUrl).host : null });

    const fail = (code: TunnelProblemCode, ctx: { status?: number; detail?: string }, refused = false) => {
      if (a.failed) return;
      a.failed = true;
      if (attempt === a) attempt = null;
      try { ws.terminate(); } catch { /* already gone */ }
      if (stopped) return;
      const problem = tunnelProblem(code, { relayUrl: opts.relayUrl, proxy: proxyUrl, ...ctx });
      log.warn('tunnel connection failed', { code, status: ctx.status, detail: ctx.detail });
      if (current) {
        // The old link still serves; keep trying to replace it, with backoff, until it goes.
        if (replacing) schedule(backoff.next(), `replacement link failed: ${code}`);
        return;
      }
      if (code === 'token_refused') {
        setState('unpaired', problem);
        schedule(b.tokenRefusedRetryMs ?? TOKEN_REFUSED_RETRY_MS, 'device token refused');
        return;
      }
      setState('offline', problem);
      schedule(backoff.next(refused), code);
    };

    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      if (proxyStatus !== null && proxyStatus !== 200) return fail('proxy_refused', { status: proxyStatus });
      if (status === 401 || status === 403) return fail('token_refused', { status });
      if (status === 426) return fail('protocol', { status, detail: 'relay does not speak this protocol version' });
      fail('relay_error', { status });
    });
    ws.on('error', (err: Error & { code?: string }) => {
      if (a.link) return; // errors after open are the link's business
      if (proxyStatus !== null && proxyStatus !== 200) return fail('proxy_refused', { status: proxyStatus, detail: err.message });
      // Refused by the relay itself (not by a proxy): it is restarting, so retry soon (REFUSED_CAP_MS).
      fail(classify(err, proxyUrl !== null && proxyStatus === null), { detail: `${err.code ?? ''} ${err.message}`.trim() }, err.code === 'ECONNREFUSED' && proxyUrl === null);
    });
    ws.on('close', (code, reason) => {
      if (!a.link) fail('relay_unreachable', { detail: `closed ${code} ${reason.toString()}` });
    });
    // The socket under ws, so the link can gather a turn's frames into one write (ws sends each frame on its own)
    // and write its frames itself, masked (dataframe.ts).
    let socket: (Corkable & FrameSocket) | null = null;
    ws.once('upgrade', (res) => { socket = res.socket; });
    ws.on('open', () => {
      if (stopped || a.failed) return void ws.terminate();
      a.link = new CompanionLink({
        ws, socket, clock, log, upstream: opts.upstream, policy, limits, timing, companion: opts.companion,
        frontOrigin, front, commands: opts.commands, onAck: (ids) => opts.feed?.ack(ids), events: {
          onWelcome: (link) => promote(a, link),
          onGoaway: (link, g) => onGoaway(link, g.reason, g.drainMs),
          onClose: (link, code, reason) => onLinkClose(a, link, code, reason),
        },
      });
    });
  }

  function promote(a: Attempt, link: CompanionLink): void {
    if (attempt === a) attempt = null;
    if (stopped) return void link.close(CloseCode.normal, 'companion stopping');
    const previous = current;
    current = link;
    replacing = false;
    currentSince = clock.mono();
    linksOpened++;
    if (linksOpened > 1) reconnects++;
    if (previous) {
      // The new link is up: only now does the old one stop, after its in-flight calls.
      draining.add(previous);
      previous.drain(GOAWAY_DRAIN_MS);
    }
    log.info('tunnel connected', { linkId: link.welcome?.linkId, replaced: previous !== null });
    opts.feed?.up(link);
    // A new link (maybe to another relay node) gets the status at once: from the owner's next report
    // (setState tells it), or else the last one it made.
    reportedKey = '';
    setState('connected', undefined);
    if (reportedKey === '') sendReport();
    clock.clearTimeout(stableTimer);
    stableTimer = clock.setTimeout(() => { if (current === link) backoff.reset(); }, stableAfterMs);
  }

  function onGoaway(link: CompanionLink, reason: 'drain' | 'replaced' | 'shutdown', drainMs: number): void {
    if (link !== current) return;
    if (reason === 'replaced' && !attempt) {
      // Not our doing: another companion with this token took over. Stepping back (slowly) avoids a tug of war.
      current = null;
      draining.add(link);
      link.drain(drainMs);
      setState('offline', tunnelProblem('replaced', { relayUrl: opts.relayUrl }));
      schedule(b.replacedRetryMs ?? REPLACED_RETRY_MS, 'replaced by another companion');
      return;
    }
    if (reason === 'replaced') return; // our own new link, still handshaking, replaced it
    log.info('relay asked to reconnect (go-away)', { reason, drainMs });
    backoff.reset();
    replacing = true;
    connect();
  }

  function onLinkClose(a: Attempt, link: CompanionLink, code: number, reason: string): void {
    collect(link);
    opts.feed?.down(link);
    if (draining.delete(link)) return;
    if (link !== current) {
      // Closed before welcome: a failed attempt.
      if (attempt === a && !a.failed) {
        a.failed = true;
        attempt = null;
        if (stopped) return;
        const kind: TunnelProblemCode = code === CloseCode.unsupportedVersion ? 'protocol' : code === CloseCode.revoked ? 'token_refused' : 'relay_unreachable';
        if (current) {
          if (replacing) schedule(backoff.next(), `replacement link closed: ${code}`);
          return;
        }
        if (kind === 'token_refused') {
          setState('unpaired', tunnelProblem(kind, { relayUrl: opts.relayUrl, detail: reason }));
          return schedule(b.tokenRefusedRetryMs ?? TOKEN_REFUSED_RETRY_MS, 'device token refused');
        }
        setState('offline', tunnelProblem(kind, { relayUrl: opts.relayUrl, detail: `${code} ${reason}` }));
        schedule(backoff.next(), kind);
      }
      return;
    }
    current = null;
    replacing = false;
    clock.clearTimeout(stableTimer);
    if (stopped) return;
    const upFor = clock.mono() - currentSince;
    if (upFor >= stableAfterMs) backoff.reset();
    log.warn('tunnel lost', { code, reason, upForMs: Math.round(upFor) });
    if (code === CloseCode.revoked) {
      setState('unpaired', tunnelProblem('token_refused', { relayUrl: opts.relayUrl, detail: reason }));
      return schedule(b.tokenRefusedRetryMs ?? TOKEN_REFUSED_RETRY_MS, 'device token revoked');
    }
    const kind: TunnelProblemCode = code === CloseCode.heartbeatTimeout ? 'link_dead'
      : code === CloseCode.protocolError || code === CloseCode.unsupportedVersion || code === CloseCode.flowControl ? 'protocol'
        : 'relay_unreachable';
    if (attempt) {
      // A new link is already on its way (go-away, wake, network change).
      setState('connecting', tunnelProblem(kind, { relayUrl: opts.relayUrl, detail: `${code} ${reason}` }));
      return;
    }
    setState('offline', tunnelProblem(kind, { relayUrl: opts.relayUrl, detail: `${code} ${reason}` }));
    schedule(backoff.next(), kind);
  }

  function collect(link: CompanionLink): void {
    closedStats.maxStreamOutstanding = Math.max(closedStats.maxStreamOutstanding, link.stats.maxStreamOutstanding);
    closedStats.maxSocketQueued = Math.max(closedStats.maxSocketQueued, link.stats.maxSocketQueued);
    closedStats.bytesOut += link.stats.bytesOut;
    closedStats.streamsServed += link.stats.streamsServed;
  }

  function reconnectNow(reason: string): void {
    if (stopped || !endpoints) return;
    log.info('reconnecting now', { reason });
    backoff.reset();
    if (current) replacing = true;
    clock.clearTimeout(retryTimer);
    retryTimer = undefined;
    if (attempt) {
      // A handshake begun before the sleep or on the old network may never finish: start over.
      const a = attempt;
      a.failed = true;
      attempt = null;
      try { a.ws.terminate(); } catch { /* gone */ }
    }
    connect();
  }

  // Sleep detection: an interval that fires much later than due means the process was suspended.
  let lastTick = clock.now();
  const wakeTimer = clock.setInterval(() => {
    const now = clock.now();
    const late = now - lastTick - WAKE_CHECK_MS;
    lastTick = now;
    if (late > WAKE_JUMP_MS || late < -WAKE_JUMP_MS) reconnectNow(`resumed from sleep or clock jump (${Math.round(late)} ms)`);
  }, WAKE_CHECK_MS);
  wakeTimer.unref?.();

  // Network change: the set of non-internal addresses differs from the last poll.
  let lastNet = netFingerprint(netIfs);
  const netTimer = clock.setInterval(() => {
    const fp = netFingerprint(netIfs);
    if (fp !== lastNet) {
      lastNet = fp;
      reconnectNow('network change');
    }
  }, opts.networkPollMs ?? NETWORK_POLL_MS);
  netTimer.unref?.();

  if (endpoints) connect();

  return {
    status: snapshot,
    stats: () => {
      const live = [current, ...draining].filter((l): l is CompanionLink => l !== null);
      return {
        linksOpened,
        maxStreamOutstanding: Math.max(closedStats.maxStreamOutstanding, ...live.map((l) => l.stats.maxStreamOutstanding)),
        maxSocketQueued: Math.max(closedStats.maxSocketQueued, ...live.map((l) => l.stats.maxSocketQueued)),
        bytesOut: closedStats.bytesOut + live.reduce((n, l) => n + l.stats.bytesOut, 0),
        streamsServed: closedStats.streamsServed + live.reduce((n, l) => n + l.stats.streamsServed, 0),
      };
    },
    reconnectNow,
    relay: () => ({ skewMs: current?.clockSkewMs ?? null, publicIp: current?.welcome?.peer ?? null, proxy: proxyInUse }),
    reportFront(f, origin) {
      front = f;
      if (origin !== undefined) frontOrigin = origin;
      current?.sendStatus(f, frontOrigin);
    },
    reportStatus(s) {
      reported = s;
      const key = statesOf(s);
      const due = reportedAt + STATUS_REPORT_MS - clock.mono();
      if (key !== reportedKey || due <= 0) return sendReport();
      reportTimer ??= clock.setTimeout(() => { reportTimer = undefined; sendReport(); }, due);
    },
    on(_event, fn) {
      emitter.on('status', fn);
      return () => emitter.off('status', fn);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clock.clearTimeout(retryTimer);
      clock.clearTimeout(stableTimer);
      clock.clearInterval(wakeTimer);
      clock.clearInterval(netTimer);
      clock.clearTimeout(reportTimer);
      if (attempt) {
        attempt.failed = true;
        attempt.ws.terminate();
        attempt = null;
      }
      const links = [current, ...draining].filter((l): l is CompanionLink => l !== null);
      for (const l of links) l.close(CloseCode.normal, 'companion stopping');
      current = null;
      draining.clear();
      setState('offline', undefined);
      await Promise.all(links.map((l) => l.waitClosed(STOP_WAIT_MS)));
    },
  };
}

/** host:port of a proxy URL, never its credentials. */
function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'proxy';
  }
}

function classify(err: Error & { code?: string }, viaProxyNotConnected: boolean): TunnelProblemCode {
  const code = err.code ?? '';
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/i.test(code) || /certificate|SSL routines/i.test(err.message)) return 'tls_error';
  if (viaProxyNotConnected && /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET/.test(code)) return 'proxy_unreachable';
  return 'relay_unreachable';
}

function netFingerprint(source: () => ReturnType<typeof osNetworkInterfaces>): string {
  try {
    const addrs: string[] = [];
    for (const [name, list] of Object.entries(source())) {
      for (const a of list ?? []) if (!a.internal) addrs.push(`${name}/${a.address}`);
    }
    return addrs.sort().join(',');
  } catch {
    return '';
  }
}

/** The states in a status a person would see change (not counters, times or latencies): a change is reported at once. */
function statesOf(s: Status): string {
  const p = s.payments;
  return [
    s.level, s.front.state, s.front.error?.code, s.tunnel.state, s.tunnel.error?.code, s.feed?.state, s.feed?.error?.code,
    p ? (p.byState.notified ?? 0) + (p.byState['pending-close'] ?? 0) : '-', p?.alarms, s.port?.exposed, s.port?.result, s.logs?.state,
  ].join('|');
}
