/**
 * `evva-relay`: run the relay and manage its venues.
 *
 *   evva-relay serve [--port 8787] [--host 127.0.0.1] [--data-dir D] [--api-key K]... [--public-url URL]
 *                    [--tls-cert FILE --tls-key FILE] [--trust-proxy HOPS|ADDR[,ADDR]] [--log-level info]
 *                    [--webhook-url URL] [--webhook-secret-file FILE] [--drain-ms 30000]
 *                    [--webhook-format evva|iiko-cloud] [--webhook-auth-token-file FILE]
 *                    [--store postgres://… [--store-pool N]]
 *   evva-relay venue add "Name" [--iiko-organization-id UUID] [--json] [--data-dir D] [--relay-url URL] [--api-key K]
 *   evva-relay venue pairing ID [--json] [--data-dir D] [--relay-url URL] [--api-key K]
 *   evva-relay venue revoke ID [--json] [--data-dir D] [--relay-url URL] [--api-key K]
 *   evva-relay venues [--json] [--data-dir D]
 *   evva-relay support VENUE_ID diagnose|logs|bundle [--relay-url URL] [--api-key K] [--json] [--lines N] [--out FILE]
 *
 * The data dir also comes from EVVA_RELAY_DATA_DIR (default ./relay-data), API
 * keys also from EVVA_RELAY_API_KEYS (comma-separated), the webhook from
 * EVVA_RELAY_WEBHOOK_URL, EVVA_RELAY_WEBHOOK_SECRET, EVVA_RELAY_WEBHOOK_FORMAT and
 * EVVA_RELAY_WEBHOOK_AUTH_TOKEN, the store from
 * EVVA_RELAY_STORE / EVVA_RELAY_STORE_POOL. The venue commands go through the
 * running relay's API when one runs (relay/admin.ts), so what they change acts
 * at once (a revoked venue's tunnel is closed before the command returns);
 * with none running they write the store (SQLite file or Postgres) directly.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { realClock } from '../common/clock.ts';
import { VERSION } from '../common/version.ts';
import { ClusterEnv, DEFAULT_STORE_POOL, MIN_CLUSTER_SECRET_CHARS } from '../protocol/cluster.ts';
import { MIN_API_KEY_CHARS } from './auth.ts';
import type { ClusterOptions } from './cluster/parts.ts';
import { CreateVenueResponse, IikoId, WebhookFormat, type VenueView } from '../protocol/relay.ts';
import { AdminError, SERVING_FILE, adminCall, apiKeyFrom, servingRelay } from './admin.ts';
import type { createRelayLogger } from './log.ts';
import { Pairing } from './pairing.ts';
import { trustSetting } from './edge.ts';
import type { RelayStore } from './db/store.ts';
import { capYoungGeneration } from '../common/heap.ts';

const USAGE = `usage:
  evva-relay serve [--port 8787] [--host 127.0.0.1] [--data-dir DIR] [--api-key KEY]... [--public-url URL]
                   [--tls-cert FILE --tls-key FILE] [--trust-proxy HOPS|ADDR[,ADDR]] [--log-level info]
                   [--webhook-url URL] [--webhook-secret-file FILE | --webhook-secret SECRET] [--drain-ms 30000]
                   [--webhook-format evva|iiko-cloud] [--webhook-auth-token-file FILE]
                   [--store postgres://USER@HOST:PORT/DB] [--store-pool N] [--retention-days 30] [--allow-loopback-webhooks]
                   [--redis redis://HOST:PORT --advertise http://HOST:PORT [--node-id NAME] [--cluster-secret-file FILE]]
  evva-relay venue add "Name" [--iiko-organization-id UUID] [--json] [--data-dir DIR] [--relay-url URL] [--api-key KEY]
  evva-relay venue pairing VENUE_ID [--json] [--data-dir DIR] [--relay-url URL] [--api-key KEY]
  evva-relay venue revoke VENUE_ID [--json] [--data-dir DIR] [--relay-url URL] [--api-key KEY]
  evva-relay venues [--json] [--data-dir DIR]
  evva-relay support VENUE_ID diagnose|logs|bundle [--relay-url URL] [--api-key KEY] [--json] [--en] [--lines N] [--out FILE]
  evva-relay help | --help | --version
exit codes: 0 done, 1 failed (support diagnose: a check failed), 2 bad usage
every command takes --store/--store-pool too (default: SQLite relay.sqlite in the data dir)
venue add/pairing/revoke go through the running relay (--relay-url, else the one serving the data dir; its API key from
             --api-key or EVVA_RELAY_API_KEYS), so a revocation closes the tunnel at once; with no relay running they
             write the database directly
environment: EVVA_RELAY_DATA_DIR, EVVA_RELAY_STORE, EVVA_RELAY_STORE_POOL, EVVA_RELAY_API_KEYS (comma-separated; support uses the first),
             EVVA_RELAY_URL (the running relay: support, default http://127.0.0.1:8787; venue add/pairing/revoke),
             EVVA_RELAY_WEBHOOK_URL, EVVA_RELAY_WEBHOOK_SECRET (better than --webhook-secret, which other users see in ps),
             EVVA_RELAY_WEBHOOK_FORMAT (evva or iiko-cloud), EVVA_RELAY_WEBHOOK_AUTH_TOKEN (iiko-cloud: sent as Authorization),
             EVVA_RELAY_RETENTION_DAYS (events older than this are deleted once no receiver needs them; default 30),
             EVVA_RELAY_REDIS, EVVA_RELAY_NODE_ID, EVVA_RELAY_ADVERTISE, EVVA_RELAY_CLUSTER_SECRET (a cluster: docs/scaling.md)
serve: SIGTERM or SIGINT drains (not ready, go-away to companions, requests finish) for at most --drain-ms, then exits 0;
       a second signal exits at once
serve --allow-loopback-probe: TEST MODE ONLY, lets the port probe-back reach loopback addresses
serve --allow-loopback-webhooks: TEST MODE ONLY (the demo, tests), lets webhook receivers be on this machine's loopback`;

class UsageError extends Error {}

const common = {
  'data-dir': { type: 'string' }, store: { type: 'string' }, 'store-pool': { type: 'string' },
  json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

/** Strict parsing: an unknown or malformed flag is a UsageError (non-zero exit, with the usage). */
function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function dataDir(v: unknown): string {
  return resolve(typeof v === 'string' ? v : process.env.EVVA_RELAY_DATA_DIR || 'relay-data');
}

/** `--store postgres://…` (or EVVA_RELAY_STORE) and `--store-pool N` (or EVVA_RELAY_STORE_POOL); default the SQLite file in the data dir. */
function storeFlags(values: Values): { store: string | undefined; storePool: number } {
  const store = (values.store as string | undefined) ?? (process.env[ClusterEnv.store] || undefined);
  if (store !== undefined && !/^postgres(?:ql)?:\/\//i.test(store)) throw new UsageError(`--store takes postgres://user@host:port/db (leave it out for SQLite in the data dir), got ${redactUrl(store)}`);
  const rawPool = (values['store-pool'] as string | undefined) ?? (process.env[ClusterEnv.storePool] || undefined);
  const storePool = rawPool === undefined ? DEFAULT_STORE_POOL : Number(rawPool);
  if (!Number.isInteger(storePool) || storePool < 1 || storePool > 1000) throw new UsageError(`--store-pool must be 1..1000, got ${rawPool}`);
  return { store, storePool };
}

/** The store the flags name (the data dir's SQLite file unless --store). */
async function openFrom(values: Values): Promise<RelayStore> {
  const { store, storePool } = storeFlags(values);
  // Loaded when a command writes the store itself (kysely, better-sqlite3), not for --version or a refused flag.
  const { openStore } = await import('./db/store.ts');
  return openStore({ dataDir: dataDir(values['data-dir']), url: store, pool: storePool });
}

/** The relay's young generation: room for a burst of calls, not the 33.6 MB V8 would keep for ever after one (common/heap.ts). */
export const RELAY_YOUNG_GENERATION_BYTES = 8 * 1024 * 1024;

async function serve(args: string[]): Promise<void> {
  capYoungGeneration(RELAY_YOUNG_GENERATION_BYTES);
  const { values, positionals } = parse(args, {
    ...common,
    port: { type: 'string' }, host: { type: 'string' }, 'api-key': { type: 'string', multiple: true },
    'public-url': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'log-level': { type: 'string' },
    'allow-loopback-probe': { type: 'boolean' }, 'allow-loopback-webhooks': { type: 'boolean' },
    'webhook-url': { type: 'string' }, 'webhook-secret': { type: 'string' }, 'webhook-secret-file': { type: 'string' },
    'webhook-format': { type: 'string' }, 'webhook-auth-token-file': { type: 'string' },
    'trust-proxy': { type: 'string' }, 'drain-ms': { type: 'string' }, redis: { type: 'string' }, 'node-id': { type: 'string' },
    advertise: { type: 'string' }, 'cluster-secret': { type: 'string' }, 'cluster-secret-file': { type: 'string' },
    'retention-days': { type: 'string' },
  });
  if (positionals.length) throw new UsageError(`serve takes no arguments, got: ${positionals.join(' ')}`);
  const port = Number(values.port ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, got ${values.port}`);
  const drainMs = values['drain-ms'] === undefined ? undefined : Number(values['drain-ms']);
  if (drainMs !== undefined && (!Number.isInteger(drainMs) || drainMs < 0 || drainMs > 3_600_000)) throw new UsageError(`--drain-ms must be 0..3600000, got ${values['drain-ms']}`);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together');
  const rawRetention = (values['retention-days'] as string | undefined) ?? (process.env.EVVA_RELAY_RETENTION_DAYS || undefined);
  const retentionDays = rawRetention === undefined ? undefined : Number(rawRetention);
  if (retentionDays !== undefined && (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > 3650)) {
    throw new UsageError(`--retention-days must be a whole number of days, 1..3650, got ${rawRetention}`);
  }
  const keys = [...((values['api-key'] as string[] | undefined) ?? []), ...(process.env.EVVA_RELAY_API_KEYS ?? '').split(',')]
    .map((k) => k.trim()).filter(Boolean);
  if (keys.length === 0) throw new UsageError('no API keys: give --api-key KEY or EVVA_RELAY_API_KEYS (each 16+ characters)');
  if (keys.some((k) => k.length < MIN_API_KEY_CHARS)) throw new UsageError(`every API key must be at least ${MIN_API_KEY_CHARS} characters`);
  // The server and its logger are loaded here, not at the top: a venue command or --version does not need express,
  // ws, prom-client and winston, and loading them was about 0.4 s of CPU per start (0.7-0.9 s in all).
  const [{ createRelayLogger }, { createRelay }] = await Promise.all([import('./log.ts'), import('./server.ts')]);
  const logger = createRelayLogger({ level: (values['log-level'] as string | undefined) ?? 'info' });
  const tls = values['tls-cert'] ? { cert: readFileSync(String(values['tls-cert'])), key: readFileSync(String(values['tls-key'])) } : undefined;
  const store = storeFlags(values);
  const cluster = clusterFlags(values, port, store.store, logger);
  const relay = await createRelay({
    dataDir: dataDir(values['data-dir']), ...store, cluster, apiKeys: keys, logger, tls, trustProxy: trustProxy(values['trust-proxy'] as string | undefined),
    publicUrl: values['public-url'] as string | undefined,
    probeLoopback: Boolean(values['allow-loopback-probe']),
    webhooks: { ...webhookFlags(values, logger), allowLoopback: Boolean(values['allow-loopback-webhooks']) },
    drainTiming: drainMs === undefined ? undefined : { maxMs: drainMs },
    retentionDays,
  });
  if (values['allow-loopback-probe']) logger.warn('TEST MODE: the port probe-back may reach loopback addresses (--allow-loopback-probe)');
  if (values['allow-loopback-webhooks']) logger.warn('TEST MODE: webhook receivers on this machine\'s loopback are allowed (--allow-loopback-webhooks)');
  try {
    await relay.listen(port, (values.host as string | undefined) ?? '127.0.0.1');
  } catch (e) {
    // Not started (Redis unreachable, the port taken): close the store so the process exits now, with the reason.
    await relay.close().catch(() => undefined);
    throw e;
  }
  // The first signal drains (companions move make-before-break, calls in flight finish); a second one exits at once.
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) {
      logger.warn('second signal: exiting now without finishing the drain', { signal: sig });
      process.exit(1);
    }
    stopping = true;
    logger.info('stopping: draining', { signal: sig });
    await relay.drain();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // Only now, with the signals handled: whoever reads this line may send SIGTERM at once.
  // The tests and scripts read this line to learn the port when --port 0 was given.
  console.log(JSON.stringify({ listening: relay.url }));
}

/** The relay-wide webhook from flags and environment; the secret and token preferably from a file or the environment. */
function webhookFlags(values: Values, logger: ReturnType<typeof createRelayLogger>): { url?: string; secret?: string; format?: WebhookFormat; authToken?: string } {
  const url = (values['webhook-url'] as string | undefined) ?? (process.env.EVVA_RELAY_WEBHOOK_URL || undefined);
  if (values['webhook-secret'] && values['webhook-secret-file']) throw new UsageError('give --webhook-secret or --webhook-secret-file, not both');
  let secret = process.env.EVVA_RELAY_WEBHOOK_SECRET || undefined;
  if (values['webhook-secret-file']) secret = readFileSync(String(values['webhook-secret-file']), 'utf8').trim();
  if (values['webhook-secret']) {
    secret = String(values['webhook-secret']);
    logger.warn('--webhook-secret is visible to other users of this machine (ps); prefer EVVA_RELAY_WEBHOOK_SECRET or --webhook-secret-file');
  }
  const formatRaw = (values['webhook-format'] as string | undefined) ?? (process.env.EVVA_RELAY_WEBHOOK_FORMAT || undefined);
  const format = formatRaw === undefined ? undefined : WebhookFormat.safeParse(formatRaw);
  if (format && !format.success) throw new UsageError(`--webhook-format must be evva or iiko-cloud, got ${formatRaw}`);
  let authToken = process.env.EVVA_RELAY_WEBHOOK_AUTH_TOKEN || undefined;
  if (values['webhook-auth-token-file']) authToken = readFileSync(String(values['webhook-auth-token-file']), 'utf8').trim();
  return { url, secret, ...(format ? { format: format.data } : {}), ...(authToken ? { authToken } : {}) };
}

/** `--redis` turns clustering on; it then needs a shared store, this node's advertised address and the cluster secret. */
function clusterFlags(values: Values, port: number, storeUrl: string | undefined, logger: ReturnType<typeof createRelayLogger>): ClusterOptions | undefined {
  const env = (k: keyof typeof ClusterEnv) => process.env[ClusterEnv[k]] || undefined;
  const redisUrl = (values.redis as string | undefined) ?? env('redis');
  const advertise = (values.advertise as string | undefined) ?? env('advertise');
  const nodeId = (values['node-id'] as string | undefined) ?? env('nodeId');
  if (values['cluster-secret'] && values['cluster-secret-file']) throw new UsageError('give --cluster-secret-file or --cluster-secret, not both');
  let secret = env('secret');
  if (values['cluster-secret-file']) secret = readFileSync(String(values['cluster-secret-file']), 'utf8').trim();
  if (values['cluster-secret']) {
    secret = String(values['cluster-secret']);
    logger.warn(`--cluster-secret is visible to other users of this machine (ps); prefer ${ClusterEnv.secret} or --cluster-secret-file`);
  }
  if (!redisUrl) {
    if (advertise || nodeId || values['cluster-secret'] || values['cluster-secret-file']) throw new UsageError('--advertise, --node-id and the cluster secret are for a cluster: give --redis redis://… too');
    return undefined;
  }
  if (!/^rediss?:\/\//.test(redisUrl)) throw new UsageError(`--redis takes a redis://host:port URL, got ${redactUrl(redisUrl)}`);
  if (!storeUrl) throw new UsageError('a cluster keeps its state in a shared store: give --store postgres://… (SQLite in one data dir cannot be shared by nodes)');
  if (!advertise || !/^https?:\/\/[^/]+\/?$/.test(advertise)) throw new UsageError(`--advertise http://HOST:PORT (where the other nodes reach this one) is needed with --redis${advertise ? `, got ${advertise}` : ''}`);
  if (!secret || secret.length < MIN_CLUSTER_SECRET_CHARS) throw new UsageError(`a cluster needs a secret of at least ${MIN_CLUSTER_SECRET_CHARS} characters: ${ClusterEnv.secret} or --cluster-secret-file`);
  const id = nodeId ?? `${hostname()}-${port}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new UsageError(`--node-id: 1..64 letters, digits, '.', '_' or '-', got ${id}`);
  return { redisUrl, nodeId: id, advertise: advertise.replace(/\/+$/, ''), secret };
}

/** A URL for an error message, without its password. */
function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/** `--trust-proxy 1` (hops) or `--trust-proxy 10.0.0.5,10.1.0.0/16` (the proxies' addresses). */
function trustProxy(raw: string | undefined): number | string[] | undefined {
  if (raw === undefined) return undefined;
  const t = /^\d+$/.test(raw.trim()) ? Number(raw) : raw.split(',').map((a) => a.trim()).filter(Boolean);
  try {
    trustSetting(t);
  } catch (e) {
    throw new UsageError(`--trust-proxy: ${(e as Error).message.replace(/^trustProxy: /, '')}`);
  }
  return t;
}

function printVenue(v: { venueId: string; pairingCode: string; pairingExpiresAt: string; iikoOrganizationId?: string }, name: string | null, json: boolean): void {
  if (json) return void console.log(JSON.stringify(v));
  console.log(`${name ? `Venue "${name}" ` : ''}${v.venueId}\npairing code: ${v.pairingCode} (valid until ${v.pairingExpiresAt})\n` +
    `${v.iikoOrganizationId ? `iiko organization: ${v.iikoOrganizationId}\n` : ''}` +
    `on the POS PC: evva-companion pair ${v.pairingCode} --relay-url <this relay's public URL>`);
}

/** Where a venue command writes: through the running relay's API, or (none running) into the database. */
type Target = { kind: 'relay'; base: string; key: string } | { kind: 'database'; why: string };

/**
 * `--relay-url` (or EVVA_RELAY_URL) names the relay; else the one serving this
 * data dir (relay/admin.ts) is used; else the database is written directly.
 * Without an API key to give a running relay, a revocation is a usage error
 * (written behind its back, it would not close the tunnel the relay holds);
 * adding a venue or a code is written directly, as it acts the same either way.
 */
function targetOf(values: Values, sub: 'add' | 'pairing' | 'revoke'): Target {
  const named = (values['relay-url'] as string | undefined) ?? (process.env.EVVA_RELAY_URL || undefined);
  const dir = dataDir(values['data-dir']);
  const base = named ?? servingRelay(dir)?.url;
  if (!base) return { kind: 'database', why: `no relay is running on ${dir}` };
  if (!/^https?:\/\//.test(base)) throw new UsageError(`--relay-url takes http(s)://host:port, got ${base}`);
  const key = apiKeyFrom(values['api-key'] as string | undefined);
  if (!key && sub === 'revoke') {
    throw new UsageError(`a relay is running at ${base}: give its API key (--api-key KEY or EVVA_RELAY_API_KEYS) so the revocation goes through it and closes the venue's tunnel at once`);
  }
  if (!key) return { kind: 'database', why: `a relay is running at ${base} but no API key was given (--api-key or EVVA_RELAY_API_KEYS)` };
  return { kind: 'relay', base: base.replace(/\/+$/, ''), key };
}

/** What the command says about where it wrote (stderr, so --json output stays one object). */
function told(t: Target): void {
  console.error(t.kind === 'relay'
    ? `done through the running relay at ${t.base}`
    : `${t.why}: written to the database directly (a relay started later reads it there)`);
}

async function venue(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest, {
    ...common, 'iiko-organization-id': { type: 'string' }, 'relay-url': { type: 'string' }, 'api-key': { type: 'string' },
  });
  if (values['iiko-organization-id'] !== undefined && sub !== 'add') throw new UsageError('--iiko-organization-id goes with venue add');
  if (sub !== 'add' && sub !== 'pairing' && sub !== 'revoke') throw new UsageError(`unknown venue command: ${sub ?? '(none)'}`);
  const name = positionals.join(' ').trim();
  if (sub === 'add' && (!name || positionals.length !== 1)) throw new UsageError('venue add takes one quoted name: venue add "Cafe Pushkin"');
  const org = values['iiko-organization-id'] === undefined ? null : IikoId.safeParse(values['iiko-organization-id']);
  if (org && !org.success) throw new UsageError(`--iiko-organization-id must be the iiko organization's UUID, got ${String(values['iiko-organization-id'])}`);
  const id = sub === 'add' ? '' : one(positionals, `venue ${sub} VENUE_ID`);
  let target = targetOf(values, sub);
  if (target.kind === 'relay') {
    try {
      await throughRelay(target, sub, { id, name, org: org ? org.data : null }, Boolean(values.json));
      return told(target);
    } catch (e) {
      // Found by its file but not listening (killed without cleaning up): nothing runs, so the database is the place.
      const stale = !values['relay-url'] && !process.env.EVVA_RELAY_URL && e instanceof AdminError && e.noListener;
      if (!stale) throw e;
      target = { kind: 'database', why: `the relay recorded in ${SERVING_FILE} is not running` };
    }
  }
  const store = await openFrom(values);
  try {
    const pairing = new Pairing(store, realClock);
    switch (sub) {
      case 'add': {
        const created = await pairing.createVenue(name);
        // The iiko-cloud webhook format names the organization in every event (docs/relay.md).
        if (org) await store.feed.setIikoIds(created.venueId, { organizationId: org.data }, Date.now());
        printVenue({ ...created, ...(org ? { iikoOrganizationId: org.data } : {}) }, name, Boolean(values.json));
        break;
      }
      case 'pairing': {
        if (!(await store.getVenue(id))) throw new UsageError(`no venue ${id}`);
        printVenue(await pairing.issueCode(id), null, Boolean(values.json));
        break;
      }
      case 'revoke': {
        if (!(await store.revoke(id, Date.now()))) throw new UsageError(`no venue ${id}`);
        printRevoked(id, Boolean(values.json));
        break;
      }
    }
  } finally {
    await store.close();
  }
  told(target);
}

/** The same three commands as calls to the running relay's venue API. */
async function throughRelay(t: { base: string; key: string }, sub: 'add' | 'pairing' | 'revoke', a: { id: string; name: string; org: string | null }, json: boolean): Promise<void> {
  const call = (method: 'POST' | 'PUT', path: string, body?: unknown) => adminCall(t.base, t.key, method, path, body).catch((e: unknown) => {
    if (e instanceof AdminError && e.code === 'unknown_venue') throw new UsageError(`no venue ${a.id}`);
    throw e;
  });
  const venuePath = (id: string) => `/v1/venues/${encodeURIComponent(id)}`;
  switch (sub) {
    case 'add': {
      const created = CreateVenueResponse.parse(await call('POST', '/v1/venues', { name: a.name }));
      if (a.org) await call('PUT', venuePath(created.venueId), { iikoOrganizationId: a.org });
      return printVenue({ ...created, ...(a.org ? { iikoOrganizationId: a.org } : {}) }, a.name, json);
    }
    case 'pairing':
      return printVenue(CreateVenueResponse.parse(await call('POST', `${venuePath(a.id)}/pairing`)), null, json);
    case 'revoke':
      // The relay closes the venue's tunnels before it answers (in a cluster, the node holding it hears over the bus).
      await call('POST', `${venuePath(a.id)}/revoke`);
      return printRevoked(a.id, json);
  }
}

function printRevoked(id: string, json: boolean): void {
  if (json) console.log(JSON.stringify({ venueId: id, revoked: true }));
  else console.log(`revoked ${id}: its device token is refused from now on`);
}

async function venues(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, common);
  if (positionals.length) throw new UsageError('venues takes no arguments');
  const store = await openFrom(values);
  try {
    // Offline view: online state lives in the server; this reads what the store recorded.
    const list: VenueView[] = (await store.listVenues()).map((r) => ({
      venueId: r.id, name: r.name, createdAt: new Date(r.createdAt).toISOString(), online: false,
      connectedAt: r.connectedAt ? new Date(r.connectedAt).toISOString() : null,
      lastSeenAt: r.lastSeenAt ? new Date(r.lastSeenAt).toISOString() : null,
      pairedAt: r.pairedAt ? new Date(r.pairedAt).toISOString() : null,
      revoked: r.revokedAt !== null, companion: r.companion, front: r.front,
    }));
    if (values.json) return void console.log(JSON.stringify({ venues: list }));
    if (!list.length) return void console.log('no venues yet: evva-relay venue add "Name"');
    for (const v of list) {
      const state = v.revoked ? 'revoked' : v.pairedAt ? `paired, last seen ${v.lastSeenAt ?? 'never'}` : 'not paired';
      console.log(`${v.venueId}  ${v.name}  (${state})`);
    }
  } finally {
    await store.close();
  }
}

function one(positionals: string[], usage: string): string {
  if (positionals.length !== 1) throw new UsageError(`usage: evva-relay ${usage}`);
  return positionals[0] as string;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'serve': await serve(rest); return -1;
      case 'venue': await venue(rest); return 0;
      case 'venues': await venues(rest); return 0;
      case 'support': return await (await import('./supportcli.ts')).supportCommand(rest);
      case '--version': case '-v': case 'version':
        console.log(VERSION);
        return 0;
      case undefined: case 'help': case '--help': case '-h':
        console.log(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command: ${cmd}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`evva-relay: ${e.message}\n${USAGE}`);
      return 2;
    }
    console.error(`evva-relay: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

/** Runs this process's command line (bin/evva-relay.js calls it); `serve` leaves the exit code to its shutdown. */
export async function runCommandLine(): Promise<void> {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exitCode = code;
}
