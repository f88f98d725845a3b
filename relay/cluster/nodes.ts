/**
 * This node's registration in Redis (`RedisKeys.node(id)`, a lease), and what
 * other nodes registered: where the hop reaches them. Every copy is sealed
 * with the cluster secret and carries the time it was written (rewritten at
 * every renewal), so a registration written by anyone else, or an old one
 * replayed, is not believed (relay/cluster/seal.ts).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { HOP_MAX_SKEW_MS, LEASE_MS, RedisKeys } from '../../protocol/cluster.ts';
import { script, untimed, type Timed } from './redis.ts';
import { nodeSealed, sealNode } from './seal.ts';

/** What a node's registration key holds. */
export const NodeRecord = z.object({
  nodeId: z.string().min(1).max(128), url: z.string().url().max(512), startedAt: z.number(),
  /** When this copy was written (ms); with the seal, an old copy replayed later is refused. */
  at: z.number(),
  sig: z.string(),
});
export type NodeRecord = z.infer<typeof NodeRecord>;

/**
 * The record in a registration key's value, or null when it is missing, not
 * one, not sealed with `secret`, or written longer ago than a lease (plus the
 * clock skew nodes may have) before `now`.
 */
export function parseNode(raw: string | null | undefined, secret: string, now: number): NodeRecord | null {
  if (!raw || raw.length > 2_048) return null;
  try {
    const r = NodeRecord.safeParse(JSON.parse(raw));
    if (!r.success || !nodeSealed(secret, r.data, r.data.sig)) return null;
    return Math.abs(now - r.data.at) <= LEASE_MS + HOP_MAX_SKEW_MS ? r.data : null;
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
  /** The copy written last (what `remove` may delete). */
  private value: string | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly self: { nodeId: string; url: string; startedAt: number },
    private readonly leaseMs: number,
    private readonly secret: string,
    private readonly now: () => number,
    private readonly timed: Timed = untimed,
  ) {
    this.key = RedisKeys.node(self.nodeId);
  }

  /** (Re)writes the registration, sealed afresh, with a fresh lease: also recreates it after Redis lost its data. */
  async renew(): Promise<void> {
    const fields = { ...this.self, at: this.now() };
    const value = JSON.stringify({ ...fields, sig: sealNode(this.secret, fields) });
    await this.timed('register', () => this.redis.set(this.key, value, 'PX', this.leaseMs));
    this.value = value;
  }

  /** Removes the registration if it is still this one (another process under the same name is left alone). */
  async remove(): Promise<void> {
    if (this.value === null) return;
    const value = this.value;
    await this.timed('deregister', () => DEL_IF_SAME(this.redis, [this.key], [value]));
  }
}
