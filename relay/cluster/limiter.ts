/**
 * The pairing limits shared by every node: the rules of relay/pairing.ts
 * RateLimiter (a per-source fixed window checked before the global one; a
 * source over its own limit does not spend the global budget), kept in Redis
 * so they hold whichever node an attempt lands on.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { RedisKeys } from '../../protocol/cluster.ts';
import { RateLimiter, sourceKey, type RateLimit } from '../pairing.ts';
import type { SharedLimiter } from './parts.ts';
import { ready, script, untimed, type Timed } from './redis.ts';

/**
 * One attempt, atomically. KEYS: source window, global window. ARGV: source
 * max, source window ms, global max, global window ms. Returns {1, 0} when
 * allowed, else {0, ms until the window that refused it ends}. A window starts
 * at its first attempt and ends with its key (PEXPIRE), as in RateLimiter.
 */
const TAKE = script(`
local function wait(key, windowMs)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, windowMs)
    ttl = tonumber(windowMs)
  end
  return ttl
end
local s = tonumber(redis.call('GET', KEYS[1]) or '0')
if s >= tonumber(ARGV[1]) then return {0, wait(KEYS[1], ARGV[2])} end
local g = tonumber(redis.call('GET', KEYS[2]) or '0')
if g >= tonumber(ARGV[3]) then return {0, wait(KEYS[2], ARGV[4])} end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return {1, 0}`);

/** How long the limiter stays local after Redis failed a call before it asks Redis again. */
export const RECHECK_MS = 1_000;

export interface LimiterDeps {
  redis: Redis;
  clock: Clock;
  log: Logger;
  perIp: RateLimit;
  global: RateLimit;
  timed?: Timed;
  /** Called once per switch between the shared and the local limits. */
  onMode?: (mode: 'shared' | 'local') => void;
  /** What is limited, for logs, and its Redis keys (default: pairing). */
  what?: string;
  keys?: { source(sourceKey: string): string; global: string };
}

export class RedisLimiter implements SharedLimiter {
  /** Used while Redis is unreachable: the same limits per node, so pairing neither opens up nor locks everyone out. */
  private readonly local: RateLimiter;
  private mode: 'shared' | 'local' = 'shared';
  /** After a failed call, Redis is asked again only from this monotonic time on: a hung Redis costs one timeout per RECHECK_MS, not one per attempt. */
  private retryAt = 0;
  private readonly timed: Timed;

  constructor(private readonly deps: LimiterDeps) {
    this.local = new RateLimiter(deps.clock, deps.perIp, deps.global);
    this.timed = deps.timed ?? untimed;
  }

  /** One pairing attempt from `ip`: counted across the cluster, or on this node alone while Redis is unreachable. */
  async take(ip: string): Promise<{ ok: true } | { ok: false; retryAfterMs: number }> {
    if (ready(this.deps.redis) && this.deps.clock.mono() >= this.retryAt) {
      try {
        const { perIp, global } = this.deps;
        const [ok, wait] = (await this.timed('limit', () =>
          TAKE(this.deps.redis, [(this.deps.keys?.source ?? RedisKeys.pairSource)(sourceKey(ip)), this.deps.keys?.global ?? RedisKeys.pairGlobal], [perIp.max, perIp.windowMs, global.max, global.windowMs]),
        )) as [number, number];
        this.switch('shared');
        return ok === 1 ? { ok: true } : { ok: false, retryAfterMs: Math.max(1, wait) };
      } catch (err) {
        this.retryAt = this.deps.clock.mono() + RECHECK_MS;
        this.switch('local', (err as Error).message);
      }
    } else {
      this.switch('local', `connection ${this.deps.redis.status}`);
    }
    return this.local.take(ip);
  }

  private switch(mode: 'shared' | 'local', why?: string): void {
    if (mode === this.mode) return;
    this.mode = mode;
    const what = this.deps.what ?? 'pairing';
    if (mode === 'local') this.deps.log.warn(`cluster: Redis unreachable, ${what} limits are counted per node until it is back`, { error: why });
    else this.deps.log.info(`cluster: Redis reachable again, ${what} limits are shared across nodes again`);
    this.deps.onMode?.(mode);
  }
}
