/**
 * This node's registration in Redis (`RedisKeys.node(id)`, a lease), and what
 * other nodes registered: where the hop reaches them.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { RedisKeys } from '../../protocol/cluster.ts';
import { script, untimed, type Timed } from './redis.ts';

/** What a node's registration key holds. */
export const NodeRecord = z.object({ nodeId: z.string().min(1).max(128), url: z.string().url().max(512), startedAt: z.number() });
export type NodeRecord = z.infer<typeof NodeRecord>;

/** The record in a registration key's value, or null when it is missing or not one. */
export function parseNode(raw: string | null | undefined): NodeRecord | null {
  if (!raw) return null;
  try {
    const r = NodeRecord.safeParse(JSON.parse(raw));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** Compare-and-delete: KEYS[1] is deleted only when it still holds ARGV[1]. */
export const DEL_IF_SAME = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

export class Registration {
  private readonly key: string;
  private readonly value: string;

  constructor(
    private readonly redis: Redis,
    self: NodeRecord,
    private readonly leaseMs: number,
    private readonly timed: Timed = untimed,
  ) {
    this.key = RedisKeys.node(self.nodeId);
    this.value = JSON.stringify(self);
  }

  /** (Re)writes the registration with a fresh lease: also recreates it after Redis lost its data. */
  async renew(): Promise<void> {
    await this.timed('register', () => this.redis.set(this.key, this.value, 'PX', this.leaseMs));
  }

  /** Removes the registration if it is still this one (another process under the same name is left alone). */
  async remove(): Promise<void> {
    await this.timed('deregister', () => DEL_IF_SAME(this.redis, [this.key], [this.value]));
  }
}

/** The live registration of `nodeId`, or null when it has none (stopped, killed, lease lapsed). */
export async function lookupNode(redis: Redis, nodeId: string, timed: Timed = untimed): Promise<NodeRecord | null> {
  return parseNode(await timed('node', () => redis.get(RedisKeys.node(nodeId))));
}
