/**
 * A relay cluster on loopback for integration tests, every part a real
 * process: Postgres (tests/helpers/postgres.ts: a database of its own on the
 * run's shared server, unless `ownPostgres`), Redis (tests/helpers/redis.ts),
 * N relay node bins sharing them, and HAProxy (tests/helpers/haproxy.ts) in
 * front, health-checking /readyz. Venues are real: an `evva-sim` bin and an
 * `evva-companion` bin paired through HAProxy (the pairing code runs in this
 * process). A webhook receiver records every event the nodes deliver. `stop()` kills everything it started.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { fetch } from 'undici';
import { VERSION } from '../../common/version.ts';
import { pair } from '../../main/core/tunnel/pair.ts';
import { TunnelError } from '../../main/core/tunnel/problems.ts';
import { DRAIN_MAX_MS, RedisKeys, Readiness } from '../../protocol/cluster.ts';
import { startReceiver } from './feedpeers.ts';
import { startHaproxy, type Haproxy } from './haproxy.ts';
import { startPostgres } from './postgres.ts';
import { freePort, startBin, type Proc } from './proc.ts';
import { startRedis } from './redis.ts';
import { startTap, type Tap } from './tap.ts';
import { API_KEY, tempDir, waitFor } from './relay.ts';

/** Every node and the single relay of the byte-identical comparison build links from this, so they read the same. */
export const PUBLIC_URL = 'https://relay.evva.test';
export const CLUSTER_SECRET = 'cluster-test-secret-0123456789abcdef0123';
export const WEBHOOK_SECRET = 'cluster-webhook-secret-01';
export const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

export interface Node {
  name: string;
  port: number;
  /** Its own address (not through HAProxy). */
  url: string;
  /** Where the other nodes reach it (its own address, or its tap's). */
  advertise: string;
  /** What went over the hop to this node, when the cluster was started with taps. */
  tap: Tap | null;
  proc: Proc | null;
}

export interface ClusterVenue {
  venueId: string;
  simUrl: string;
  companion: Proc;
  dataDir: string;
  /** Calls the sim's control API (`/_sim/…`); throws on a status ≥ 300. */
  control<T = unknown>(method: string, p: string, body?: unknown): Promise<T>;
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

export interface Cluster {
  /** HAProxy's address: what EVVA and the companions use. */
  url: string;
  nodes: Node[];
  pg: Awaited<ReturnType<typeof startPostgres>>;
  redis: Awaited<ReturnType<typeof startRedis>>;
  lb: Haproxy;
  receiver: Receiver;
  node(name: string): Node;
  /** Starts (or restarts) a node's bin and waits until its /readyz says ready. */
  start(n: Node): Promise<void>;
  /** kill -9 the node. */
  kill9(n: Node): Promise<void>;
  /** SIGTERM the node and wait for it to exit (drained); resolves with its exit code. */
  term(n: Node): Promise<number | string>;
  /** GET /readyz on the node itself: the status and the parsed body. */
  readiness(n: Node): Promise<{ status: number; body: Readiness }>;
  /** Waits until HAProxy sees each named node in the given state (UP or DOWN). */
  balancerSees(states: Record<string, 'UP' | 'DOWN'>, ms?: number): Promise<void>;
  /** The node holding the venue's tunnel, from Redis (null when no live claim). */
  owner(venueId: string): Promise<string | null>;
  /**
   * A new venue: a sim, a companion paired through HAProxy, connected. Its feed polls the sim at the intervals the
   * companion ships with (orders every second): iiko's orders reach the receiver within a second or two.
   */
  venue(name?: string): Promise<ClusterVenue>;
  /** A venue API call (`/v1/venues/:id/front…`) through `base` (default HAProxy). */
  front(venueId: string, p: string, base?: string): Promise<{ status: number; text: string; headers: Headers }>;
  /** Webhook events accepted by the receiver, one per event id, in arrival order. */
  events(): Array<{ eventId: string; seq: number; venueId: string; eventType: string; eventInfo: Record<string, unknown> }>;
  /** Event ids the receiver accepted (2xx) more than once. */
  duplicates(): string[];
  /** Waits until the receiver holds every event stored for the venue; returns the stored ones, oldest first. */
  delivered(venueId: string, ms?: number): Promise<Array<{ eventId: string; seq: number }>>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  nodes?: number;
  /** More `serve` flags for every node. */
  args?: string[];
  /** HAProxy's balancing (default 'venue', as deploy/haproxy.cfg: a venue's tunnel and calls hash to one node). */
  balance?: 'venue' | 'leastconn' | 'roundrobin';
  /** A Postgres server of its own, for a test that kills or restarts it (else a database on the run's shared one). */
  ownPostgres?: boolean;
  /** Put a recording tap (tests/helpers/tap.ts) on every node's advertised address: the hops between nodes go through it. */
  taps?: boolean;
}

/** Starts Postgres, Redis, the nodes and HAProxy; on failure stops whatever had started. */
export async function startCluster(o: ClusterOptions = {}): Promise<Cluster> {
  const stops: Array<() => Promise<unknown> | void> = [];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) {
      try { await s(); } catch { /* keep stopping the rest */ }
    }
  };
  try {
    return await build(o, stops, stopAll);
  } catch (e) {
    await stopAll();
    throw e;
  }
}

async function build(o: ClusterOptions, stops: Array<() => Promise<unknown> | void>, stopAll: () => Promise<void>): Promise<Cluster> {
  const [pg, redis] = await Promise.all([startPostgres({ own: o.ownPostgres }), startRedis()]);
  stops.push(() => pg.stop(), () => redis.stop());
  const receiver = await startReceiver();
  stops.push(() => receiver.close());
  const dir = tempDir('cluster');
  stops.push(() => dir.remove());
  const secretFile = path.join(dir.dir, 'webhook.secret');
  fs.writeFileSync(secretFile, WEBHOOK_SECRET);

  const nodes: Node[] = [];
  for (let i = 1; i <= (o.nodes ?? 3); i++) {
    // --advertise needs the port before start: pick a free one now.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const tap = o.taps ? await startTap(url) : null;
    if (tap) stops.push(() => tap.close());
    nodes.push({ name: `n${i}`, port, url, advertise: tap?.url ?? url, tap, proc: null });
  }
  stops.push(async () => { for (const n of nodes) await n.proc?.stop('SIGKILL'); });

  const readiness = async (n: Node) => {
    const res = await fetch(`${n.url}/readyz`);
    return { status: res.status, body: Readiness.parse(await res.json()) };
  };
  const start = async (n: Node) => {
    await n.proc?.stop('SIGKILL');
    fs.mkdirSync(path.join(dir.dir, n.name), { recursive: true });
    n.proc = startBin('evva-relay.js', ['serve', '--port', String(n.port), '--host', '127.0.0.1',
      '--data-dir', path.join(dir.dir, n.name), '--store', pg.url, '--redis', redis.url,
      '--node-id', n.name, '--advertise', n.advertise, '--trust-proxy', '127.0.0.1', '--public-url', PUBLIC_URL,
      '--webhook-url', receiver.url, '--webhook-secret-file', secretFile, '--allow-loopback-webhooks', ...(o.args ?? [])],
    { EVVA_RELAY_API_KEYS: API_KEY, EVVA_RELAY_CLUSTER_SECRET: CLUSTER_SECRET });
    await n.proc.waitFor(/\{"listening":/, 60_000); // a cold start from TypeScript, three at once with the rest of the suite: 30 s was passed on a loaded machine
    await waitFor(async () => (await readiness(n).catch(() => null))?.status === 200, `${n.name} ready`, 20_000, 100);
  };
  await Promise.all(nodes.map(start));

  // Venue affinity as in deploy/haproxy.cfg: a venue's tunnel and its calls land on the same node.
  const lb = await startHaproxy({ balance: o.balance ?? 'venue', backends: nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.port })) });
  stops.push(() => lb.stop());
  const balancerSees: Cluster['balancerSees'] = async (states, ms = 15_000) => {
    await waitFor(async () => {
      const s = await lb.servers();
      return Object.entries(states).every(([k, v]) => s[k] === v);
    }, `HAProxy to see ${JSON.stringify(states)}`, ms, 100);
  };
  await balancerSees(Object.fromEntries(nodes.map((n) => [n.name, 'UP' as const])));

  const venue: Cluster['venue'] = async (name = 'Кафе') => {
    const sim = startBin('evva-sim.js', ['--port', '0', '--no-auto', '--seed', '1', '--licence-slots', '5']);
    stops.push(() => sim.stop('SIGKILL'));
    const simUrl = (await sim.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const created = await fetch(`${lb.url}/v1/venues`, { method: 'POST', headers: auth, body: JSON.stringify({ name }) });
    if (created.status !== 201) throw new Error(`create venue through HAProxy: ${created.status} ${await created.text()}`);
    const v = (await created.json()) as { venueId: string; pairingCode: string };
    const d = tempDir('cluster-companion');
    stops.push(() => d.remove());
    // Paired by the code `evva-companion pair` runs, in this process: a bin start (0.7 s of CPU) per venue spared.
    // Pairing across nodes is cluster-pairing.test.ts's; the CLI's `pair` is system/venue.test.ts's.
    await pair({ code: v.pairingCode, relayUrl: lb.url, dataDir: d.dir, companion: { version: VERSION, hostname: os.hostname() } })
      .catch((e: unknown) => { throw new Error(`pairing through HAProxy failed: ${JSON.stringify(e instanceof TunnelError ? e.problem : String(e))}`); });
    // The companion's shipped feed intervals: 250 ms order polls (and staff and tables every second) cost the companion
    // and the sim CPU for as long as the venue runs, and no test here needs an order sooner than within a second.
    const companion = startBin('evva-companion.js', ['run', '--data-dir', d.dir, '--front-url', simUrl, '--api-port', '0']);
    stops.push(() => companion.stop('SIGKILL'));
    await companion.waitFor(/Локальный API/, 60_000); // setup, as a node's start: over 30 s twice at load 25-35
    await waitFor(async () => {
      const r = await fetch(`${lb.url}/v1/venues/${v.venueId}`, { headers: auth });
      return r.status === 200 && ((await r.json()) as { online?: boolean }).online === true;
    }, `venue ${v.venueId} online`, 30_000, 200);
    return {
      venueId: v.venueId, simUrl, companion, dataDir: d.dir,
      async control<T>(method: string, p: string, body?: unknown) {
        const r = await fetch(`${simUrl}/_sim/${p}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
        if (r.status >= 300) throw new Error(`${method} /_sim/${p}: ${r.status} ${await r.text()}`);
        return (await r.json()) as T;
      },
    };
  };

  // One connection for the test's reads of the claims. A redis-cli per read cost a process start each, and the waits
  // for a claim read it every 20-100 ms for up to a minute (cluster-security waits out the companion's retry).
  const peek = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  peek.on('error', () => undefined); // a test that kills Redis sees the failed read itself
  stops.push(() => peek.disconnect());
  const accepted = () => receiver.accepted() as unknown as ReturnType<Cluster['events']>;
  return {
    url: lb.url, nodes, pg, redis, lb, receiver, start, readiness, balancerSees, venue,
    node: (name) => {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no node ${name}`);
      return n;
    },
    kill9: async (n) => { await n.proc?.stop('SIGKILL'); },
    term: async (n) => (n.proc ? n.proc.stop('SIGTERM', DRAIN_MAX_MS + 10_000) : 'not running'),
    async owner(venueId) {
      const v = await peek.get(RedisKeys.owner(venueId));
      return v ? (v.split(' ')[0] ?? null) : null;
    },
    async front(venueId, p, base = lb.url) {
      const res = await fetch(`${base}/v1/venues/${venueId}/front${p}`, { headers: auth });
      return { status: res.status, text: await res.text(), headers: res.headers as unknown as Headers };
    },
    events() {
      const seen = new Map<string, ReturnType<Cluster['events']>[number]>();
      for (const e of accepted()) if (!seen.has(e.eventId)) seen.set(e.eventId, e);
      return [...seen.values()];
    },
    duplicates() {
      const count = new Map<string, number>();
      for (const e of accepted()) count.set(e.eventId, (count.get(e.eventId) ?? 0) + 1);
      return [...count].filter(([, c]) => c > 1).map(([id]) => id);
    },
    async delivered(venueId, ms = 30_000) {
      let stored: Array<{ eventId: string; seq: number }> = [];
      await waitFor(async () => {
        stored = await storedEvents(lb.url, venueId);
        const got = new Set(accepted().map((e) => e.eventId));
        return stored.length > 0 && stored.every((e) => got.has(e.eventId));
      }, `every stored event of ${venueId} at the receiver`, ms, 250);
      return stored;
    },
    stop: stopAll,
  };
}

/** The venue's stored events (GET …/events through `base`), oldest first. */
export async function storedEvents(base: string, venueId: string): Promise<Array<{ eventId: string; seq: number }>> {
  const r = await fetch(`${base}/v1/venues/${venueId}/events?after=0&limit=1000`, { headers: auth });
  if (r.status !== 200) throw new Error(`events: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { events: Array<{ eventId: string; seq: number }> }).events;
}
