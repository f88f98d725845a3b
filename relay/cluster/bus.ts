/**
 * The cluster's fan-out: one Redis pub/sub channel (`RedisKeys.bus`). A
 * subscribed connection can run nothing else, so messages arrive on a
 * connection of their own and are published on the node's normal one. Every
 * message is sealed with the cluster secret; one that is not (anyone who can
 * write to Redis can publish) is dropped and counted as `forged`.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/logger.ts';
import { BusMessage, RedisKeys } from '../../protocol/cluster.ts';
import type { Bus } from './parts.ts';
import { untimed, type Timed } from './redis.ts';
import { busSealed, sealBus } from './seal.ts';

/** Longest bus message read; anything longer is dropped unparsed (every valid one is a few hundred bytes). */
const MAX_MESSAGE_CHARS = 4_096;

export type BusResult = 'sent' | 'received' | 'malformed' | 'forged' | 'failed';

export interface BusDeps {
  /** The node's normal connection (publish). */
  redis: Redis;
  /** A connection used for nothing but the subscription. */
  sub: Redis;
  nodeId: string;
  /** The cluster secret: seals what this node publishes, and only sealed messages are acted on. */
  secret: string;
  log: Logger;
  /** Counts each message by type and result (malformed ones as type "unknown"). */
  count?: (type: string, result: BusResult) => void;
  timed?: Timed;
}

export class RedisBus implements Bus {
  private readonly listeners = new Set<(msg: BusMessage) => void>();
  private readonly count: (type: string, result: BusResult) => void;
  private readonly timed: Timed;

  constructor(private readonly deps: BusDeps) {
    this.count = deps.count ?? (() => {});
    this.timed = deps.timed ?? untimed;
    deps.sub.on('message', (channel: string, raw: string) => {
      if (channel === RedisKeys.bus) this.deliver(raw);
    });
  }

  /** Subscribes; ioredis subscribes again by itself after every reconnect (autoResubscribe). */
  async start(): Promise<void> {
    await this.deps.sub.subscribe(RedisKeys.bus);
  }

  /** Sends to every node, this one included; rejects when Redis does not take it (the caller's state is in the store anyway). */
  async publish(msg: Parameters<Bus['publish']>[0]): Promise<void> {
    try {
      const fields = { ...msg, from: this.deps.nodeId };
      await this.timed('publish', () => this.deps.redis.publish(RedisKeys.bus, JSON.stringify({ ...fields, sig: sealBus(this.deps.secret, fields) })));
      this.count(msg.t, 'sent');
    } catch (err) {
      this.count(msg.t, 'failed');
      throw err;
    }
  }

  /** `fn` gets every valid message until the returned function is called. */
  on(fn: (msg: BusMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private deliver(raw: string): void {
    let msg: BusMessage;
    try {
      if (raw.length > MAX_MESSAGE_CHARS) throw new Error('too long');
      msg = BusMessage.parse(JSON.parse(raw));
    } catch {
      // Anyone who can reach Redis can publish: never trust the channel, never log its content.
      this.count('unknown', 'malformed');
      this.deps.log.debug('cluster: malformed bus message dropped', { chars: raw.length });
      return;
    }
    if (!busSealed(this.deps.secret, msg, msg.sig)) {
      this.count(msg.t, 'forged');
      this.deps.log.debug('cluster: unsealed bus message dropped', { t: msg.t });
      return;
    }
    this.count(msg.t, 'received');
    for (const fn of this.listeners) {
      try {
        fn(msg);
      } catch (err) {
        this.deps.log.error('cluster: bus handler failed', { t: msg.t, error: (err as Error).message });
      }
    }
  }
}
