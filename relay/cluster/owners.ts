/**
 * Which node holds which venue's tunnel, over Redis: `owner:<venue>` holds
 * "<nodeId> <epoch> <seal>" with a lease (the seal: the cluster secret's MAC
 * of venue, node and epoch; an owner value without a valid one is ignored); `epoch:<venue>` counts every tunnel that
 * came up for the venue. The highest epoch wins, so a venue that reconnected
 * to another node takes over from the stale link at once.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/logger.ts';
import { REDIS_PREFIX, RedisKeys } from '../../protocol/cluster.ts';
import { DEL_IF_SAME, parseNode } from './nodes.ts';
import { ownerSealed, sealOwner } from './seal.ts';
import type { Owner, Owners } from './parts.ts';
import { ready, script, untimed, type Timed } from './redis.ts';

/**
 * Takes the next epoch. It is above the counter, above the stored owner's
 * epoch and above ARGV[1] (the epoch this node held before Redis lost its
 * data), so a claim always wins over what is stored: "the highest epoch wins"
 * holds even after a restart reset the counter. The owner key is written
 * next (SET_OWNER), with the value sealed for that epoch: the secret never
 * goes to Redis, so Redis cannot seal it itself.
 * KEYS: epoch, owner. ARGV: floor. Returns the epoch.
 */
const CLAIM = script(`
local e = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
local cur = redis.call('GET', KEYS[2])
if cur then
  local ce = tonumber(string.match(cur, '^%S+ (%d+)'))
  if ce and ce > floor then floor = ce end
end
if e <= floor then
  e = floor + 1
  redis.call('SET', KEYS[1], e)
end
return e`);

/**
 * Writes the sealed owner value unless a newer epoch got there first (two
 * nodes claiming at once: the higher epoch stays). KEYS: owner. ARGV: value,
 * leaseMs, epoch. Returns 1 when written.
 */
const SET_OWNER = script(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local ce = tonumber(string.match(cur, '^%S+ (%d+)'))
  if ce and ce > tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`);

/**
 * Renews every claim of this node in one call. KEYS: owner1, epoch1, owner2,
 * epoch2, … ARGV: leaseMs, epoch1, value1, epoch2, value2, … Per venue: 1
 * renewed; 2 restored (the lease had lapsed but nobody claimed since); 0 lost
 * (a newer epoch took it); -1 gone (Redis lost its data: claim again with a fresh epoch).
 */
const RENEW = script(`
local out = {}
for i = 1, #KEYS / 2 do
  local okey, ekey = KEYS[2 * i - 1], KEYS[2 * i]
  local e = tonumber(ARGV[2 * i])
  local mine = ARGV[2 * i + 1]
  local cur = redis.call('GET', okey)
  if cur == mine then
    redis.call('PEXPIRE', okey, ARGV[1])
    out[i] = 1
  elseif cur then
    out[i] = 0
  else
    local c = tonumber(redis.call('GET', ekey) or '0')
    if c == e then
      redis.call('SET', okey, mine, 'PX', ARGV[1])
      out[i] = 2
    elseif c > e then
      out[i] = 0
    else
      out[i] = -1
    end
  end
end
return out`);

/** The owner value and that node's registration, in one call. KEYS: owner. ARGV: the node key prefix. */
const LOOKUP = script(`
local v = redis.call('GET', KEYS[1])
if not v then return nil end
local node = string.match(v, '^(%S+) ')
if not node then return {v} end
return {v, redis.call('GET', ARGV[1] .. node)}`);

/** `<nodeId> <epoch> <seal>`: what an owner key holds. */
const OWNER_VALUE = /^(\S+) (\d{1,15}) ([0-9a-f]{64})$/;

const NODE_PREFIX = `${REDIS_PREFIX}node:`;
/** Most venues renewed by one script call (about a millisecond of Redis time each). */
const RENEW_CHUNK = 500;

interface Claim {
  /** The epoch in Redis now; null while not claimed there yet (Redis was unreachable). */
  epoch: number | null;
  /** The sealed owner value written for that epoch (what renewals and the release compare). */
  value: string | null;
  /** The epoch `claim` returned to the relay (0 when it returned null): what `onLost` and `release` speak of. */
  link: number;
}

export interface RenewResult { renewed: number; restored: number; lost: number; reclaimed: number }

export interface OwnersDeps {
  redis: Redis;
  nodeId: string;
  leaseMs: number;
  /** The cluster secret: seals this node's owner values, and only sealed ones are believed. */
  secret: string;
  now: () => number;
  log: Logger;
  publish: (msg: { t: 'owner'; venueId: string; nodeId: string; epoch: number }) => Promise<void>;
  /** A claim of this node was taken by a newer epoch (or lost with its lease). */
  lost: (venueId: string, linkEpoch: number) => void;
  timed?: Timed;
}

export class RedisOwners implements Owners {
  private readonly claims = new Map<string, Claim>();
  private readonly timed: Timed;

  constructor(private readonly deps: OwnersDeps) {
    this.timed = deps.timed ?? untimed;
  }

  /** Claims the venue at a new, highest epoch and announces it; null (and claimed later by `renew`) while Redis is unreachable. */
  async claim(venueId: string): Promise<number | null> {
    const before = this.claims.get(venueId);
    if (ready(this.deps.redis)) {
      try {
        const { epoch, value } = await this.take(venueId, before?.epoch ?? 0);
        const now = this.claims.get(venueId);
        // Two claims of one venue raced on this node: the higher epoch stays.
        if (!now || now.epoch === null || now.epoch < epoch) this.claims.set(venueId, { epoch, value, link: epoch });
        return epoch;
      } catch (err) {
        this.deps.log.warn('cluster: venue claim failed; retried when Redis answers', { venueId, error: (err as Error).message });
      }
    }
    this.claims.set(venueId, { epoch: null, value: null, link: 0 });
    return null;
  }

  /** Forgets this node's claim of that epoch, in Redis only if the stored owner is still exactly it. */
  async release(venueId: string, epoch: number): Promise<void> {
    const c = this.claims.get(venueId);
    let stored: string | null = null;
    if (c && c.link === epoch) {
      this.claims.delete(venueId);
      stored = c.value;
    } else if (epoch > 0) {
      stored = this.valueOf(venueId, epoch);
    }
    if (stored === null || !ready(this.deps.redis)) return;
    const value = stored;
    try {
      await this.timed('release', () => DEL_IF_SAME(this.deps.redis, [RedisKeys.owner(venueId)], [value]));
    } catch (err) {
      // The lease lapses by itself within LEASE_MS.
      this.deps.log.debug('cluster: release failed; the lease lapses', { venueId, error: (err as Error).message });
    }
  }

  /** The live owner (claim and node registration both live), read in one round trip; null also when Redis is unreachable. */
  async lookup(venueId: string): Promise<Owner | null> {
    const r = (await this.timed('lookup', () => LOOKUP(this.deps.redis, [RedisKeys.owner(venueId)], [NODE_PREFIX]))) as [string, string?] | null;
    if (!r) return null;
    // Both must be sealed with the cluster secret: a value someone else wrote routes nothing anywhere.
    const owner = this.sealedOwner(venueId, r[0]);
    const node = parseNode(r[1], this.deps.secret, this.deps.now());
    if (!owner || !node || node.nodeId !== owner.nodeId) return null;
    return { nodeId: node.nodeId, url: node.url, epoch: owner.epoch };
  }

  /** Venues of `venueIds` with a live claim anywhere (one MGET). */
  async online(venueIds: string[]): Promise<Set<string>> {
    if (venueIds.length === 0) return new Set();
    const values = await this.timed('online', () => this.deps.redis.mget(venueIds.map((v) => RedisKeys.owner(v))));
    return new Set(venueIds.filter((v, i) => this.sealedOwner(v, values[i]) !== null));
  }

  /** The node and epoch of an owner value sealed with the cluster secret for this venue, else null. */
  private sealedOwner(venueId: string, raw: string | null | undefined): { nodeId: string; epoch: number } | null {
    const m = raw ? OWNER_VALUE.exec(raw) : null;
    if (!m) return null;
    const nodeId = m[1] as string;
    const epoch = Number(m[2]);
    return ownerSealed(this.deps.secret, venueId, nodeId, epoch, m[3]) ? { nodeId, epoch } : null;
  }

  private valueOf(venueId: string, epoch: number): string {
    return `${this.deps.nodeId} ${epoch} ${sealOwner(this.deps.secret, venueId, this.deps.nodeId, epoch)}`;
  }

  held(): number {
    return this.claims.size;
  }

  /** The epochs this node's links know, per venue (for tests and /metrics). */
  links(): Map<string, number> {
    return new Map([...this.claims].map(([v, c]) => [v, c.link]));
  }

  /** Another node announced it took `venueId` at `epoch`: a claim of ours below it is lost now, without waiting for a renewal. */
  superseded(venueId: string, nodeId: string, epoch: number): void {
    const c = this.claims.get(venueId);
    if (!c || nodeId === this.deps.nodeId || (c.epoch !== null && c.epoch >= epoch)) return;
    this.claims.delete(venueId);
    this.deps.lost(venueId, c.link);
  }

  /**
   * Renews every claim in one round trip; claims lost to a newer epoch are
   * reported (`lost`), claims Redis forgot (restart) and claims made while it
   * was unreachable are claimed again with fresh epochs. Rejects when Redis
   * does not answer (the claims stay; the next renewal tries again).
   */
  async renew(): Promise<RenewResult> {
    const result: RenewResult = { renewed: 0, restored: 0, lost: 0, reclaimed: 0 };
    const live = [...this.claims].filter((e): e is [string, Claim & { epoch: number; value: string }] => e[1].epoch !== null && e[1].value !== null)
      .map(([v, c]) => [v, c.epoch, c.value] as const);
    const again: Array<[string, number]> = [...this.claims].filter(([, c]) => c.epoch === null).map(([v]) => [v, 0]);
    if (live.length > 0) {
      // Chunks sent back to back on one connection: still one round trip, but Redis (single-threaded) serves
      // other clients between them instead of being blocked for one long script.
      const chunks: Array<typeof live> = [];
      for (let i = 0; i < live.length; i += RENEW_CHUNK) chunks.push(live.slice(i, i + RENEW_CHUNK));
      const out = (await this.timed('renew', () => Promise.all(chunks.map((chunk) => RENEW(
        this.deps.redis,
        chunk.flatMap(([v]) => [RedisKeys.owner(v), RedisKeys.epoch(v)]),
        [this.deps.leaseMs, ...chunk.flatMap(([, e, value]) => [e, value])],
      ))))).flat() as number[];
      live.forEach(([venueId, epoch], i) => {
        const c = this.claims.get(venueId);
        if (!c || c.epoch !== epoch) return; // claimed again or released meanwhile
        const r = out[i];
        if (r === 1) result.renewed++;
        else if (r === 2) result.restored++;
        else if (r === -1) again.push([venueId, epoch]);
        else {
          result.lost++;
          this.claims.delete(venueId);
          this.deps.lost(venueId, c.link);
        }
      });
    }
    for (const [venueId, floor] of again) {
      const c = this.claims.get(venueId);
      if (!c || (c.epoch ?? 0) !== floor) continue;
      const { epoch, value } = await this.take(venueId, floor);
      const now = this.claims.get(venueId);
      if (now === c) this.claims.set(venueId, { epoch, value, link: c.link });
      result.reclaimed++;
    }
    return result;
  }

  /** Every claim of this node, released (stop). */
  async releaseAll(): Promise<void> {
    const all = [...this.claims].map(([v, c]) => this.release(v, c.link));
    await Promise.all(all);
  }

  private async take(venueId: string, floor: number): Promise<{ epoch: number; value: string }> {
    const { redis, nodeId, leaseMs } = this.deps;
    const owner = RedisKeys.owner(venueId);
    const epoch = Number(await this.timed('claim', () => CLAIM(redis, [RedisKeys.epoch(venueId), owner], [floor])));
    const value = this.valueOf(venueId, epoch);
    // Not written when a newer epoch got there first: the renewal then finds the claim lost and closes this link.
    await this.timed('claim', () => SET_OWNER(redis, [owner], [value, leaseMs, epoch]));
    // Other nodes close an older link of the venue at once; when this fails they learn it from the lease.
    await this.deps.publish({ t: 'owner', venueId, nodeId, epoch }).catch((err: Error) => {
      this.deps.log.debug('cluster: owner announcement failed', { venueId, error: err.message });
    });
    return { epoch, value };
  }
}
