/**
 * The relay cluster's contracts (docs/scaling.md): what relay nodes say to
 * each other and keep in Redis. A single relay (SQLite, no Redis) uses none of
 * this. Every node of one cluster must run the same revision of this file.
 *
 * - State (venues, tokens, events, payments, webhook leases) lives in the
 *   shared store (Postgres); routing (which node holds which venue's tunnel)
 *   and fan-out (revocations, settings, payment notices) live in Redis.
 * - A venue call that lands on a node without the venue's tunnel is forwarded
 *   over the hop: plain HTTP to the owner's advertised address, signed with
 *   the cluster secret, streamed both ways.
 */
import { z } from 'zod';

// ---- flags and their environment variables ----------------------------------

/** Each cluster flag of `evva-relay serve` and the environment variable that sets it too. */
export const ClusterEnv = {
  /** `--store postgres://user@host:port/db` (default: SQLite in the data dir). */
  store: 'EVVA_RELAY_STORE',
  /** `--store-pool N`: most Postgres connections of one node. */
  storePool: 'EVVA_RELAY_STORE_POOL',
  /** `--redis redis://host:port[/db]`: turns clustering on. */
  redis: 'EVVA_RELAY_REDIS',
  /** `--node-id NAME`: this node's name in Redis, logs and metrics (default: hostname-port). */
  nodeId: 'EVVA_RELAY_NODE_ID',
  /** `--advertise http://HOST:PORT`: where other nodes reach this one for the hop. */
  advertise: 'EVVA_RELAY_ADVERTISE',
  /** The cluster secret; `--cluster-secret-file FILE` or this variable (a `--cluster-secret` flag shows in ps). */
  secret: 'EVVA_RELAY_CLUSTER_SECRET',
} as const;

/** The cluster secret signs every hop; shorter ones are refused at start-up. */
export const MIN_CLUSTER_SECRET_CHARS = 32;
/** Default most Postgres connections per node. */
export const DEFAULT_STORE_POOL = 10;

// ---- timings -------------------------------------------------------------------

/** A node's registration and each venue it owns expire this long after the last renewal (a kill -9'd node is forgotten by then). */
export const LEASE_MS = 6_000;
/** How often a node renews its registration and its venues' ownership (a third of the lease: two renewals may fail). */
export const LEASE_RENEW_MS = 2_000;
/** On SIGTERM a node first reports not-ready for this long, so the load balancer stops sending it new tunnels, then sends go-away. */
export const DRAIN_NOTICE_MS = 1_500;
/** A draining node exits at the latest this long after SIGTERM, drained or not. */
export const DRAIN_MAX_MS = 30_000;
/**
 * A venue whose tunnel was asked to leave a node (go-away: drain, moved,
 * replaced) has no owner for a moment, until its companion's new link is
 * claimed elsewhere (make-before-break: usually well under a second). A call
 * for it waits for the new owner this long at most instead of failing, from
 * the go-away until this long after the old link closed.
 */
export const MOVE_WAIT_MS = 5_000;
/** A signed hop older (or newer) than this is refused: a captured one cannot be replayed later. */
export const HOP_MAX_SKEW_MS = 30_000;
/** Most nodes a call may pass: the receiving node, then one more if the venue moved meanwhile; never a loop. */
export const HOP_MAX = 2;

// ---- venue affinity (the tunnel follows its calls) ------------------------------

/**
 * The companion names its venue in the tunnel URL (TUNNEL_VENUE_PARAM in
 * protocol/tunnel.ts), so a load balancer can hash a venue's tunnel and its
 * calls to the same node (deploy/haproxy.cfg: `balance hash`).
 *
 * When a venue's calls keep reaching its owner over the hop from one and the
 * same other node (the balancer sends them there, e.g. after a node came
 * back), the owner asks the companion to reconnect (go-away 'drain'), so the
 * balancer puts the tunnel where the calls land and they stop hopping. Only
 * links that carried the hint are moved (an older companion would land
 * anywhere again). Of the venue's last FOLLOW_SAMPLE tunnel calls, those
 * within FOLLOW_WINDOW_MS are at least FOLLOW_MIN_CALLS, FOLLOW_SHARE of them
 * from that node; the link is at least
 * FOLLOW_MIN_AGE_MS old; a venue is moved at most once per
 * FOLLOW_COOLDOWN_MS; a node moves at most FOLLOW_PER_SECOND venues a second.
 */
export const FOLLOW_SAMPLE = 10;
export const FOLLOW_WINDOW_MS = 10_000;
export const FOLLOW_MIN_CALLS = 5;
export const FOLLOW_SHARE = 0.9;
export const FOLLOW_MIN_AGE_MS = 5_000;
export const FOLLOW_COOLDOWN_MS = 60_000;
export const FOLLOW_PER_SECOND = 20;

// ---- the hop (node → node HTTP) ----------------------------------------------------

/**
 * `x-evva-hop: v2 <fromNodeId> <toNodeId> <unixMs> <nonce> <hex hmac-sha256>`,
 * the HMAC (keyed by the cluster secret) over the version, both node ids, the
 * time, the nonce (32 hex), METHOD, the path with query, and every hop header
 * below as `name:value` lines, the body's SHA-256 among them
 * (relay/cluster/hop.ts SIGNED_HEADERS). It replaces the caller's API key,
 * which never leaves the first node: a hop-signed call is authenticated as
 * the cluster, not as a key. The receiver refuses a nonce it has seen within
 * HOP_MAX_SKEW_MS, and a hop signed for another node.
 */
export const HOP_HEADER = 'x-evva-hop';
/** The SHA-256 (hex) of the request body the first node read whole and signed; the owner checks the body against it before acting. */
export const HOP_BODY_HEADER = 'x-evva-hop-body';
/**
 * Before the first call to a node (and again after HOP_PROOF_TTL_MS) a node
 * proves the other holds the cluster secret: `GET HOP_PROOF_PATH` with a
 * 64-hex `x-evva-hop-challenge`, answered `{ nodeId, proof }`
 * (relay/cluster/seal.ts proveNode: bound to the answering node's own id and
 * advertised address).
 */
export const HOP_PROOF_PATH = '/v1/cluster/proof';
export const HOP_CHALLENGE_HEADER = 'x-evva-hop-challenge';
export const HOP_PROOF_TTL_MS = 30_000;
/** How many hops the call has made so far (1 on the first forward). Part of the signature. */
export const HOP_COUNT_HEADER = 'x-evva-hop-count';
/** The caller's Host and scheme, so links the owner rewrites read exactly as a single relay would write them. */
export const HOP_HOST_HEADER = 'x-evva-hop-host';
export const HOP_PROTO_HEADER = 'x-evva-hop-proto';
/** The caller's address as the first node saw it (after its trusted proxies). */
export const HOP_CLIENT_HEADER = 'x-evva-hop-client';
/** The fingerprint of the caller's API key (12 hex of its SHA-256, never the key), for the owner's support audit. */
export const HOP_KEY_HEADER = 'x-evva-hop-key';

/**
 * Venue routes that need the venue's tunnel, so a node without it forwards
 * them to the owner: the venue API, support (diagnose, logs, bundle), payment
 * notices and the menu-sync action. Group 1 is the venue id.
 */
export const TUNNEL_ROUTES: ReadonlyArray<{ method: string | null; re: RegExp }> = [
  { method: null, re: /^\/v1\/venues\/([^/?#]+)\/front(?:[/?#]|$)/ },
  { method: 'POST', re: /^\/v1\/venues\/([^/?#]+)\/diagnostics(?:[?#]|$)/ },
  { method: 'GET', re: /^\/v1\/venues\/([^/?#]+)\/logs(?:[?#]|$)/ },
  { method: 'GET', re: /^\/v1\/venues\/([^/?#]+)\/bundle(?:[?#]|$)/ },
  { method: 'POST', re: /^\/v1\/venues\/([^/?#]+)\/payments(?:[?#]|$)/ },
  { method: 'POST', re: /^\/v1\/venues\/([^/?#]+)\/actions\/menu-sync(?:[?#]|$)/ },
];

/** The venue id when `method url` is a route that needs the venue's tunnel, else null. */
export function tunnelRouteVenue(method: string | undefined, url: string): string | null {
  for (const r of TUNNEL_ROUTES) {
    if (r.method !== null && r.method !== method) continue;
    const m = r.re.exec(url);
    if (m) return m[1] as string;
  }
  return null;
}

// ---- Redis ---------------------------------------------------------------------------

/** Every key and channel the relay uses starts with this, so one Redis can serve other things too. */
export const REDIS_PREFIX = 'evva:relay:';
export const RedisKeys = {
  /** `{"nodeId","url","startedAt","at","sig"}` with PX LEASE_MS: a live node and where the hop reaches it, sealed with the cluster secret. */
  node: (nodeId: string) => `${REDIS_PREFIX}node:${nodeId}`,
  /** `<nodeId> <epoch> <seal>` with PX LEASE_MS: which node holds the venue's current tunnel (the seal: the cluster secret's MAC of venue, node, epoch). */
  owner: (venueId: string) => `${REDIS_PREFIX}owner:${venueId}`,
  /** INCR counter: every tunnel that comes up for the venue takes the next epoch; the highest one wins. */
  epoch: (venueId: string) => `${REDIS_PREFIX}epoch:${venueId}`,
  /** Pairing rate-limit windows (shared by every node). */
  pairSource: (sourceKey: string) => `${REDIS_PREFIX}pair:src:${sourceKey}`,
  pairGlobal: `${REDIS_PREFIX}pair:global`,
  /** Support-console sign-in windows (shared by every node, counted like pairing attempts). */
  signinSource: (sourceKey: string) => `${REDIS_PREFIX}signin:src:${sourceKey}`,
  signinGlobal: `${REDIS_PREFIX}signin:global`,
  /** The one pub/sub channel; messages are BusMessage JSON. */
  bus: `${REDIS_PREFIX}bus`,
} as const;

/** The cluster secret's MAC of a bus message's fields (relay/cluster/seal.ts sealBus): an unsealed message is dropped. */
const sig = z.string().regex(/^[0-9a-f]{64}$/);

/** What one node tells the others; every node validates and checks the seal of each message and ignores what fails. */
export const BusMessage = z.discriminatedUnion('t', [
  /** The venue's device tokens changed (revoked, re-paired): every node re-reads them and closes links whose token is gone. */
  z.object({ t: z.literal('tokens'), venueId: z.string().min(1).max(64), from: z.string().max(128), sig }),
  /** The venue's settings (webhook target) changed: re-read them and try delivery now. */
  z.object({ t: z.literal('settings'), venueId: z.string().min(1).max(64), from: z.string().max(128), sig }),
  /** A payment notice was queued for the venue: its owner sends the queued notices now. */
  z.object({ t: z.literal('payment'), venueId: z.string().min(1).max(64), from: z.string().max(128), sig }),
  /** `nodeId` took the venue's tunnel at `epoch`: any other node with an older link of the venue closes it. */
  z.object({ t: z.literal('owner'), venueId: z.string().min(1).max(64), nodeId: z.string().min(1).max(128), epoch: z.number().int().nonnegative(), from: z.string().max(128), sig }),
]);
export type BusMessage = z.infer<typeof BusMessage>;

/** `GET /readyz`: 200 when this node takes tunnels, 503 (same body) when it does not. */
export const Readiness = z.object({
  ready: z.boolean(),
  nodeId: z.string(),
  draining: z.boolean(),
  tunnels: z.number().int().nonnegative(),
  store: z.object({ ok: z.boolean(), ms: z.number().nullable(), error: z.string().optional() }),
  /** Absent on a single relay (no Redis). */
  redis: z.object({ ok: z.boolean(), ms: z.number().nullable(), error: z.string().optional() }).optional(),
});
export type Readiness = z.infer<typeof Readiness>;
