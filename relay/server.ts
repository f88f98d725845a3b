/**
 * The relay's composition root: `createRelay` wires the store, pairing, the
 * tunnel registry, the venue API and metrics into one HTTP(S) server. Nothing
 * here is a module-level singleton, so a test can run several relays at once.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { realClock, type Clock } from '../common/clock.ts';
import { silentLogger, type Logger } from '../common/logger.ts';
import { RelayErrorCode } from '../protocol/relay.ts';
import { GOAWAY_DRAIN_MS, WS_MAX_PAYLOAD_BYTES, TUNNEL_PATH, TUNNEL_PROTOCOL, TUNNEL_VENUE_PARAM } from '../protocol/tunnel.ts';
import { MIN_API_KEY_CHARS, apiKeyCheck, bearer } from './auth.ts';
import { EventIntake, createFeedMetrics, eventRoutes } from './events.ts';
import { FEED_LIMITS, Quota, type FeedLimits } from './quota.ts';
import { DEFAULT_RETENTION_DAYS, Retention } from './retention.ts';
import { DEFAULT_LINK_TIMING, type LinkTiming } from './link.ts';
import { DEFAULT_DRAIN_TIMING, Drain, readiness, type DrainTiming } from './drain.ts';
import { createMetrics, type RelayMetrics } from './metrics.ts';
import { PAIR_LIMIT_GLOBAL, PAIR_LIMIT_PER_IP, Pairing, RateLimiter, type RateLimit } from './pairing.ts';
import { LISTEN_BACKLOG, fdLimit, tunnelCap } from './limits.ts';
import { frontProxy } from './forward.ts';
import { openStore, type RelayStore } from './db/store.ts';
import { portCheckRoute, supportRoutes } from './support.ts';
import { TunnelRegistry } from './tunnels.ts';
import { pairRoute, venueRoutes } from './venues.ts';
import { Payments, paymentRoutes, type PaymentOptions } from './payments.ts';
import { Webhooks, cleartext, webhookRoutes, webhookTarget, type WebhookOptions } from './webhooks.ts';
import { iikoRoutes } from './iiko.ts';
import { createCluster } from './cluster/cluster.ts';
import type { ClusterNode, ClusterOptions } from './cluster/parts.ts';
import { createClusterMetrics } from './cluster/metrics.ts';
import { Follow } from './cluster/follow.ts';
import { clusterRoute } from './cluster/route.ts';
import { claimLinks, wireCluster } from './cluster/wire.ts';
import { accept, handshake, type TunnelSocket } from './socket.ts';
import { announce } from './admin.ts';
import { mountConsole } from './console/mount.ts';
import { DEFAULT_SERVER_LIMITS, capPerSource, destroySocket, peerOf, refuseUpgrade, secureReq, trustSetting, type ServerLimits } from './edge.ts';

export interface RelayOptions {
  dataDir: string;
  /** `postgres://…` keeps the state in Postgres (shared by a cluster's nodes); default the SQLite file in dataDir. */
  store?: string | undefined;
  /** Most Postgres connections of this node (default DEFAULT_STORE_POOL). */
  storePool?: number | undefined;
  /** Keys the EVVA backend authenticates with (at least one, each ≥ MIN_API_KEY_CHARS). */
  apiKeys: string[];
  clock?: Clock;
  logger?: Logger;
  /** Public base URL (e.g. https://relay.evva.ru) for rewritten links; else taken from each request's Host. */
  publicUrl?: string;
  /** Serve HTTPS/WSS directly with this PEM certificate and key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Default per-request timeout (ms); a call may override it with the x-evva-timeout-ms header. */
  requestTimeoutMs?: number;
  /** A caller that takes no answer bytes this long is cut off (default RESPONSE_WRITE_TIMEOUT_MS). */
  responseWriteTimeoutMs?: number;
  maxRequestBytes?: number;
  pairLimits?: { perIp?: RateLimit; global?: RateLimit };
  pairingTtlMs?: number;
  /** Heartbeat and hello timings (tests shorten them). */
  linkTiming?: Partial<LinkTiming>;
  drainMs?: number;
  /**
   * Behind reverse proxies you run: how many proxy hops to trust (the client
   * address is the X-Forwarded-For entry that many hops from the right), or the
   * proxies' addresses/subnets (e.g. ['10.0.0.5', '10.1.0.0/16']). Never "trust
   * everything": the left-most entry is whatever the client wrote.
   */
  trustProxy?: number | string[];
  /** Connection deadlines and caps (tests shorten them). */
  serverLimits?: Partial<ServerLimits>;
  /**
   * Most tunnels held at once; default: the process's fd limit minus headroom
   * (relay/limits.ts). Whatever this says, new tunnels are also refused while
   * the open sockets of every kind reach that fd cap, so the venue API and
   * health checks always get a socket.
   */
  maxTunnels?: number;
  /** Test mode only: the port probe-back may reach loopback addresses (never private ones). */
  probeLoopback?: boolean;
  /** The feed's webhooks: a relay-wide receiver (`url` + `secret`) and delivery timings. */
  webhooks?: WebhookOptions;
  /** Payment notices: command timeout and retry period. */
  payments?: PaymentOptions;
  /** What one venue may have stored (relay/quota.ts FEED_LIMITS; tests lower them). */
  feedLimits?: Partial<FeedLimits>;
  /** Events older than this many days are deleted once no receiver needs them (default DEFAULT_RETENTION_DAYS, 30). */
  retentionDays?: number;
  /** Tests shorten the retention timer. */
  retentionTiming?: { everyMs?: number; firstAfterMs?: number };
  /** Join a cluster: Redis routing, the signed hop, shared pairing limits (docs/scaling.md). Needs a Postgres `store`. */
  cluster?: ClusterOptions;
  /** This node's name in /readyz and logs (default: the cluster's node id, else hostname-port). */
  nodeId?: string;
  /** The graceful drain's notice and bound (tests shorten them; `--drain-ms` sets maxMs). */
  drainTiming?: Partial<DrainTiming>;
}

export interface Relay {
  /** Starts listening; resolves with the base URL (http(s)://host:port). */
  listen(port: number, host?: string): Promise<string>;
  /** Closes tunnels, connections and the store at once; safe to call twice. */
  close(): Promise<void>;
  /**
   * Graceful shutdown (SIGTERM): not ready at once, then new tunnels refused
   * and go-away to every companion, then in-flight requests finish, then
   * close(); all within drainTiming.maxMs. Calling it again returns the same drain.
   */
  drain(): Promise<void>;
  readonly url: string | null;
  readonly store: RelayStore;
  readonly tunnels: TunnelRegistry;
  readonly metrics: RelayMetrics;
  readonly pairing: Pairing;
  readonly webhooks: Webhooks;
  readonly payments: Payments;
  /** Deletes old events no receiver needs (`run()` for one round now). */
  readonly retention: Retention;
  /** This node's cluster parts, or null on a single relay. */
  readonly cluster: ClusterNode | null;
}

/** Builds a relay (its store opened and migrated); it serves nothing until `listen`. Rejects (in English, for operators) on unusable options or an unreachable store. */
export async function createRelay(opts: RelayOptions): Promise<Relay> {
  const keys = opts.apiKeys.map((k) => k.trim()).filter(Boolean);
  if (keys.length === 0) throw new Error('no API keys: give --api-key or EVVA_RELAY_API_KEYS');
  if (keys.some((k) => k.length < MIN_API_KEY_CHARS)) throw new Error(`every API key must be at least ${MIN_API_KEY_CHARS} characters`);
  const clock = opts.clock ?? realClock;
  const log = opts.logger ?? silentLogger;
  const store: RelayStore = await openStore({ dataDir: opts.dataDir, url: opts.store, pool: opts.storePool });
  const pairing = new Pairing(store, clock, opts.pairingTtlMs);
  const pairLimits = { perIp: opts.pairLimits?.perIp ?? PAIR_LIMIT_PER_IP, global: opts.pairLimits?.global ?? PAIR_LIMIT_GLOBAL };
  // The gauge reads the registry at scrape time (after listen); the registry needs the metrics first.
  const metrics = createMetrics(() => registry.count());
  const cluster = opts.cluster
    ? createCluster(opts.cluster, { clock, log: log.child({ part: 'cluster' }), registry: metrics.registry, limits: pairLimits, signinLimits: pairLimits })
    : null;
  // A cluster's nodes share the pairing limits through Redis; a single relay keeps its own.
  const limiter = cluster ? cluster.limiter : new RateLimiter(clock, pairLimits.perIp, pairLimits.global);
  const claims = cluster ? claimLinks(cluster, log.child({ part: 'cluster' })) : null;
  // The feed and the console need the registry, and it tells them of its links: its hooks reach them through
  // their consts, which are set before listen() lets the first link in.
  const registry = new TunnelRegistry(store, clock, log.child({ part: 'tunnels' }), metrics, {
    feed: { onEvent: (link, f) => intake.take(link, f), onReady: (venueId) => void payments.drain(venueId) },
    owners: claims?.hooks ?? null,
    watch: { up: (l) => consoleMount.faces.up(l), status: (l, front, st) => consoleMount.faces.status(l, front, st), down: (l) => consoleMount.faces.down(l) },
  }, {
    timing: { ...DEFAULT_LINK_TIMING, ...opts.linkTiming }, drainMs: opts.drainMs ?? GOAWAY_DRAIN_MS,
    // A shared store may be written by other nodes and machines (tunnels.ts RegistryOptions).
    pollRevocations: opts.store !== undefined,
  });
  const relayWide = webhookTarget(opts.webhooks);
  if (relayWide && cleartext(relayWide.url)) log.warn('--webhook-url uses plain http: orders and payments cross the network unencrypted; use https');
  const feedMetrics = createFeedMetrics(metrics.registry, () => store.feed.webhookBacklog(relayWide !== null));
  // The webhook lease names its holder: in a cluster, the node (several nodes may share one hostname).
  const webhooks = new Webhooks(store.feed, clock, log.child({ part: 'webhooks' }), feedMetrics, relayWide,
    cluster ? { ...opts.webhooks, nodeId: cluster.nodeId } : opts.webhooks);
  const payments = new Payments(store.feed, registry, clock, log.child({ part: 'payments' }), feedMetrics, opts.payments);
  const quota = new Quota(clock, { ...FEED_LIMITS, ...opts.feedLimits });
  const intake = new EventIntake(store.feed, clock, log.child({ part: 'events' }), feedMetrics, (venueId) => webhooks.kick(venueId), quota);
  const retentionDays = opts.retentionDays ?? DEFAULT_RETENTION_DAYS;
  if (!(retentionDays >= 1 && retentionDays <= 3650)) throw new Error(`retention must be 1..3650 days, got ${retentionDays}`);
  const retention = new Retention(store.feed, clock, log.child({ part: 'retention' }), { days: retentionDays, everyVenue: relayWide !== null, ...opts.retentionTiming });
  const unwire = cluster && claims ? wireCluster(cluster, claims, { tunnels: registry, webhooks, payments, store, log: log.child({ part: 'cluster' }) }) : null;
  const tell = (m: { t: 'settings' | 'payment'; venueId: string }) => void cluster?.bus.publish(m).catch(() => { /* the poll and retry timers catch up */ });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustSetting(opts.trustProxy));
  const trustFn = app.get('trust proxy fn') as (addr: string, hop: number) => boolean;
  const keyCheck = apiKeyCheck(keys);
  const drain = new Drain({ ...DEFAULT_DRAIN_TIMING, ...opts.drainTiming }, clock, log.child({ part: 'drain' }));
  let nodeId = opts.cluster?.nodeId ?? opts.nodeId ?? hostname();
  const clusterMetrics = cluster ? createClusterMetrics(metrics.registry, { draining: () => drain.phase !== 'serving' }) : null;
  const route = cluster && clusterMetrics ? clusterRoute({
    cluster, tunnels: registry, secret: (opts.cluster as ClusterOptions).secret, log: log.child({ part: 'hop' }), apiKey: keyCheck,
    client: (req) => peerOf(req, trustFn), scheme: () => (opts.tls ? 'https' : 'http'), metrics: clusterMetrics,
    requestTimeoutMs: opts.requestTimeoutMs, maxBodyBytes: opts.maxRequestBytes,
    follow: new Follow({ tunnels: registry, clock, log: log.child({ part: 'follow' }), moved: clusterMetrics.moved, rules: opts.cluster?.follow }),
  }) : null;
  // A call that came over a verified hop was authenticated by the first node (which dropped the caller's key).
  const checkKey = (req: IncomingMessage, res: ServerResponse) => (route?.hopOf(req) ? true : keyCheck(req, res));
  const auth = (req: Request, res: Response, next: NextFunction) => { if (checkKey(req, res)) next(); };
  const deps = {
    store, pairing, limiter, tunnels: registry, metrics, clock, log: log.child({ part: 'api' }),
    online: cluster ? (ids: string[]) => cluster.owners.online(ids) : undefined,
  };

  app.get('/healthz', (_req, res) => void res.json({ ok: true, tunnels: registry.count() }));
  // The load balancer's check (no API key): does this node take new tunnels now?
  app.get('/readyz', async (_req, res) => {
    const r = await readiness({
      nodeId: () => nodeId, drain, tunnels: () => registry.count(), store: () => store.ping(), clock,
      redis: cluster ? () => cluster.health() : undefined,
    });
    // The load balancer polls this every few seconds: its round trips are the node's store latency series
    // (Redis round trips are timed by the cluster itself, on every call).
    if (clusterMetrics && r.store.ms !== null) clusterMetrics.storeLatency.observe(r.store.ms / 1000);
    res.status(r.ready ? 200 : 503).set('cache-control', 'no-store').json(r);
  });
  app.get('/metrics', auth, async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  app.use(pairRoute(deps));
  // The support console (docs/console.md): its page and API under /console/, in front of everything else.
  const consoleMount = mountConsole({
    store, tunnels: registry, webhooks, clock, log: log.child({ part: 'console' }), registry: metrics.registry, keys,
    limiter: cluster ? cluster.signins : new RateLimiter(clock, pairLimits.perIp, pairLimits.global),
    client: (req) => peerOf(req, trustFn), secure: (req) => secureReq(req, opts, trustFn), publicUrl: opts.publicUrl, node: cluster ? cluster.nodeId : null,
  });
  const support = {
    record: consoleMount.record,
    store, tunnels: registry, pairing, clock, log: log.child({ part: 'support' }), probeLoopback: opts.probeLoopback ?? false,
    hopOf: route ? (req: IncomingMessage) => route.hopOf(req) : undefined,
    upElsewhere: cluster ? async (id: string) => (await cluster.owners.lookup(id)) !== null : undefined,
  };
  app.use(portCheckRoute(support));
  // The venue API streams bodies: it must come before any body parser.
  app.use('/v1/venues', auth);
  app.use(supportRoutes(support));
  app.use(venueRoutes(deps));
  const feedDeps = {
    store, feed: store.feed, webhooks, payments, tunnels: registry, clock, log: log.child({ part: 'feed' }),
    settingsChanged: cluster ? (venueId: string) => tell({ t: 'settings', venueId }) : undefined,
    paymentQueued: cluster ? (venueId: string) => tell({ t: 'payment', venueId }) : undefined,
  };
  app.use(eventRoutes(feedDeps));
  app.use(webhookRoutes(feedDeps));
  app.use(iikoRoutes({ ...feedDeps, kick: (venueId) => webhooks.kick(venueId) }));
  app.use(paymentRoutes(feedDeps));
  app.use((_req, res) => void res.status(404).json({ error: RelayErrorCode.notFound }));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof err === 'object' && err && 'status' in err && typeof err.status === 'number' ? err.status : 500;
    if (status >= 500) log.error('request failed', { err: err instanceof Error ? err.message : String(err) });
    if (res.headersSent) return void res.destroy();
    res.status(status).json({ error: status === 413 ? RelayErrorCode.tooLarge : status < 500 ? RelayErrorCode.badRequest : 'internal' });
  });

  // The venue API is served before express: it is the hot path, and it streams bodies (no body parser may touch them).
  const venueApi = frontProxy({
    store, tunnels: registry, metrics, clock, log: log.child({ part: 'proxy' }), auth: checkKey,
    publicUrl: opts.publicUrl, requestTimeoutMs: opts.requestTimeoutMs, maxRequestBytes: opts.maxRequestBytes,
    trustProxy: trustFn, scheme: opts.tls ? 'https' : 'http',
    responseWriteTimeoutMs: opts.responseWriteTimeoutMs,
    hopOrigin: route ? (req) => { const h = route.hopOf(req); return h?.host && h.proto ? { host: h.host, proto: h.proto } : undefined; } : undefined,
  });
  const local = (req: IncomingMessage, res: ServerResponse) => {
    if (!venueApi(req, res)) app(req, res);
  };
  // On a cluster node a call for a venue whose tunnel is on another node goes there over the hop.
  const routed = (req: IncomingMessage, res: ServerResponse) => {
    if (!route?.take(req, res, local)) local(req, res);
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (!consoleMount.take(req, res, routed)) routed(req, res);
  };
  const lim: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...opts.serverLimits };
  const serverOptions = {
    headersTimeout: lim.headersTimeoutMs, requestTimeout: lim.requestTimeoutMs, keepAliveTimeout: lim.keepAliveTimeoutMs,
    connectionsCheckingInterval: lim.checkIntervalMs,
  };
  const server: Server = opts.tls
    ? createHttpsServer({ ...serverOptions, cert: opts.tls.cert, key: opts.tls.key }, handle)
    : createHttpServer(serverOptions, handle);
  server.maxConnections = lim.maxConnections;
  capPerSource(server, lim, opts.trustProxy !== undefined, log);
  // Every tunnel's socket until it closes (close() drops them). Frames are read and written straight on the socket
  // (relay/socket.ts): no extension is negotiated (no permessage-deflate), a message is at most WS_MAX_PAYLOAD_BYTES.
  const tunnelSockets = new Set<TunnelSocket>();

  // Every open socket counts against the fd limit; tunnels stop before it, the API does not.
  let sockets = 0;
  server.on('connection', (socket) => {
    sockets++;
    socket.once('close', () => { sockets--; });
  });
  const fdCap = tunnelCap(fdLimit());
  const maxTunnels = opts.maxTunnels ?? fdCap;
  log.info('tunnel cap', { maxTunnels, fdCap });

  // Authentication happens before the upgrade completes: a bad token never gets a WebSocket.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A shared handler, not a closure: a closure here would keep this call's request (and head) alive with the tunnel.
    socket.on('error', destroySocket);
    if (drain.refusingTunnels) {
      metrics.tunnelsRefused.inc();
      return refuseUpgrade(socket, 503, RelayErrorCode.overloaded, 'relay node shutting down; reconnect (another node takes the tunnel)');
    }
    if ((maxTunnels !== null && registry.count() >= maxTunnels) || (fdCap !== null && sockets > fdCap)) {
      // Cheap and early (no SQLite): the companion backs off and retries, maybe on another relay node.
      metrics.tunnelsRefused.inc();
      return refuseUpgrade(socket, 503, RelayErrorCode.overloaded, 'relay at its tunnel capacity; retry later');
    }
    const [path, query] = (req.url ?? '').split('?', 2);
    if (path !== TUNNEL_PATH) return refuseUpgrade(socket, 404, RelayErrorCode.notFound);
    // The venue the companion names for the load balancer's hashing (a hint: the token decides the venue).
    const hint = query ? new URLSearchParams(query).get(TUNNEL_VENUE_PARAM) : null;
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    if (!offered.includes(TUNNEL_PROTOCOL)) {
      return refuseUpgrade(socket, 426, 'unsupported_version', `this relay speaks ${TUNNEL_PROTOCOL}`);
    }
    // The WebSocket handshake's own checks (method, Upgrade, key, version), before the token costs a store lookup.
    const hs = handshake(req);
    if (!hs.ok) return refuseUpgrade(socket, hs.status, RelayErrorCode.badRequest, hs.message);
    const token = bearer(req.headers.authorization);
    void (token ? pairing.authenticate(token) : Promise.resolve(null)).then((who) => {
      if (!who) {
        log.warn('tunnel refused: bad device token', { ip: req.socket.remoteAddress });
        return refuseUpgrade(socket, 401, RelayErrorCode.unauthorized, 'device token not accepted');
      }
      if (socket.destroyed) return;
      if (closed) return refuseUpgrade(socket, 503, RelayErrorCode.overloaded, 'relay node shutting down; reconnect');
      const ts = accept(socket, head, hs.key, TUNNEL_PROTOCOL, WS_MAX_PAYLOAD_BYTES, tunnelSockets);
      if (ts) registry.attach(ts, who.venueId, who.tokenHash, peerOf(req, trustFn), hint);
    }, (e: unknown) => {
      // The store is unreachable (Postgres restarting): the companion retries with backoff, maybe on another node.
      log.warn('tunnel refused: the store is unreachable', { err: String(e) });
      refuseUpgrade(socket, 503, RelayErrorCode.overloaded, 'relay store unavailable; retry later');
    });
  });

  await consoleMount.start();

  let url: string | null = null;
  let closed = false;
  let unannounce = () => { /* not listening yet */ };
  return {
    get url() { return url; },
    store, tunnels: registry, metrics, pairing, webhooks, payments, retention, cluster,
    async listen(port, host = '127.0.0.1') {
      // A node that cannot reach Redis at start does not start (docs/scaling.md): listening without having joined,
      // it would answer /healthz and take calls from a load balancer's fallback while it can route none of them.
      // Once started, a node rides out Redis going away (cluster.ts).
      if (cluster) await cluster.start();
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
          server.off('error', reject);
          const addr = server.address();
          const p = typeof addr === 'object' && addr ? addr.port : port;
          const h = host.includes(':') ? `[${host}]` : host;
          url = `${opts.tls ? 'https' : 'http'}://${h}:${p}`;
          if (!opts.nodeId) nodeId = `${hostname()}-${p}`;
          log.info('relay listening', { url });
          // The venue commands on this machine find the relay here, and go through its API (admin.ts).
          unannounce = announce(opts.dataDir, url);
          webhooks.start();
          payments.start();
          retention.start();
          resolve(url);
        });
      });
    },
    drain(this: Relay) {
      return drain.run({ goaway: (ms) => registry.goawayAll(ms), links: () => registry.count() + (claims?.moving() ?? 0), server, close: () => this.close() });
    },
    async close() {
      if (closed) return;
      closed = true;
      payments.stop();
      retention.stop();
      consoleMount.stop();
      await webhooks.stop();
      registry.closeAll();
      unwire?.();
      unannounce();
      await cluster?.stop().catch(() => { /* Redis away: the leases run out on their own */ });
      for (const ts of tunnelSockets) ts.terminate();
      await new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await store.close();
    },
  };
}
