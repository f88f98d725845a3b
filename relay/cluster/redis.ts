/**
 * Connections to the cluster's Redis: one factory, so every connection of a
 * node retries the same way, fails fast while Redis is down, and never crashes
 * the process when Redis restarts.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type * as IORedis from 'ioredis';
import type { Logger } from '../../common/logger.ts';
import type { Health } from './parts.ts';

/** Longest wait between two reconnect attempts: a restarted Redis is found again within this. */
export const RECONNECT_MAX_MS = 1_000;
/** A command that has no answer by then fails (a hung or partitioned Redis must not stall a pairing or a renewal). */
export const COMMAND_TIMEOUT_MS = 2_000;

/** A health probe gives up sooner than a command: /readyz must answer the load balancer's check in time. */
export const PROBE_TIMEOUT_MS = 1_000;

/** Measures one Redis round trip (the cluster's histogram); `op` names the call. */
export type Timed = <T>(op: string, call: () => Promise<T>) => Promise<T>;
export const untimed: Timed = (_op, call) => call();

/**
 * A connection that reconnects forever (capped backoff), rejects commands
 * after one failed reconnect instead of queueing them forever, and logs its
 * errors instead of throwing them: Redis going away is an outage, not a crash.
 */
export function connect(url: string, log: Logger, role: string): Redis {
  // Loaded by the first connection: a relay without --redis (one node) never carries ioredis (about 7 MB).
  const { Redis: Client } = createRequire(import.meta.url)('ioredis') as typeof IORedis;
  const redis = new Client(url, {
    connectionName: `evva-relay-${role}`,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), RECONNECT_MAX_MS),
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    // While Redis is away a command fails at once instead of waiting in a queue: the callers have a fallback
    // (local limits, claims made again later, "unreachable" in /readyz), and a queue would only pile up stale work.
    enableOfflineQueue: false,
  });
  let down = false;
  redis.on('error', (err: Error) => {
    // One line per outage, not one per reconnect attempt.
    if (!down) log.warn('redis: connection error', { role, error: err.message });
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('redis: connected again', { role });
    down = false;
  });
  return redis;
}

/** True when commands sent now go straight to Redis (not to the offline queue). */
export function ready(redis: Redis): boolean {
  return redis.status === 'ready';
}

/** A PING round trip: whether Redis answers now, and how fast. */
export async function probe(redis: Redis, timed: Timed = untimed): Promise<Health> {
  if (!ready(redis)) return { ok: false, ms: null, error: unreachable(redis.status) };
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await timed('ping', () => Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS); }),
    ]));
    return { ok: true, ms: Math.round((performance.now() - t0) * 100) / 100 };
  } catch (err) {
    return { ok: false, ms: null, error: unreachable((err as Error).message) };
  } finally {
    clearTimeout(timer);
  }
}

function unreachable(why: string): string {
  return `Redis недоступен (${why}): маршруты к заведениям и общие лимиты не работают. Проверьте, что redis-server запущен и адрес --redis верен.`;
}

/** Closes a connection: politely when Redis answers, at once when it does not. */
export async function close(redis: Redis): Promise<void> {
  if (ready(redis)) {
    await Promise.race([redis.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000).unref())]);
  }
  redis.disconnect();
}

/**
 * A Lua script run by its SHA (one short round trip), loaded again by EVAL
 * when Redis does not know it: after a restart its script cache is empty.
 */
export function script(lua: string): (redis: Redis, keys: string[], args: Array<string | number>) => Promise<unknown> {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (redis, keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return redis.eval(lua, keys.length, ...keys, ...args);
    }
  };
}
