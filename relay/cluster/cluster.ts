/**
 * A relay node's cluster membership over one Redis: its registration, the
 * venues it owns, the bus and the shared pairing limits, renewed on one timer
 * and brought back by themselves after Redis restarts. The relay's
 * composition root builds one with `createCluster` when `--redis` is given.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { LEASE_MS, LEASE_RENEW_MS, MIN_CLUSTER_SECRET_CHARS, RedisKeys } from '../../protocol/cluster.ts';
import { PAIR_LIMIT_GLOBAL, PAIR_LIMIT_PER_IP, type RateLimit } from '../pairing.ts';
import { RedisBus } from './bus.ts';
import { RedisLimiter } from './limiter.ts';
import { Registration } from './nodes.ts';
import { RedisOwners } from './owners.ts';
import type { ClusterNode, ClusterOptions, Health } from './parts.ts';
import { close, connect, probe, type Timed } from './redis.ts';

/** Lease timings; the defaults are the contract's, tests shorten them. */
export interface ClusterTimings {
  /** How long a registration or claim lives without renewal (LEASE_MS). */
  leaseMs: number;
  /** How often they are renewed (LEASE_RENEW_MS; at most a third of leaseMs). */
  renewMs: number;
}

export interface ClusterDeps {
  clock: Clock;
  log: Logger;
  /** The relay's metrics registry: the cluster's metrics are added to it. */
  registry: Registry;
  /** The pairing limits (default: relay/pairing.ts PAIR_LIMIT_PER_IP and PAIR_LIMIT_GLOBAL). */
  limits?: { perIp: RateLimit; global: RateLimit };
  /** The console's sign-in limits (default: the pairing defaults). */
  signinLimits?: { perIp: RateLimit; global: RateLimit };
}

/** Node names go into "<nodeId> <epoch>" values and key names: no spaces, nothing exotic. */
const NODE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds (does not start) this node's cluster parts; throws on a node id, address or secret that cannot work. */
export function createCluster(opts: ClusterOptions & Partial<ClusterTimings>, deps: ClusterDeps): ClusterNode {
  const leaseMs = opts.leaseMs ?? LEASE_MS;
  const renewMs = opts.renewMs ?? LEASE_RENEW_MS;
  if (!NODE_ID.test(opts.nodeId)) throw new Error(`Имя узла «${opts.nodeId}» не подходит: допустимы латинские буквы, цифры и . _ : - (до 128 символов). Задайте другое в --node-id.`);
  if (!/^https?:\/\/[^/\s]+\/?$/.test(opts.advertise)) throw new Error(`Адрес узла «${opts.advertise}» не подходит: нужен вид http://HOST:PORT. Исправьте --advertise.`);
  if (opts.secret.length < MIN_CLUSTER_SECRET_CHARS) throw new Error(`Секрет кластера короче ${MIN_CLUSTER_SECRET_CHARS} символов: задайте длинный случайный секрет, одинаковый на всех узлах.`);
  if (renewMs * 3 > leaseMs) throw new Error(`renewMs (${renewMs}) must be at most a third of leaseMs (${leaseMs})`);

  const { clock, registry } = deps;
  const log = deps.log.child({ part: 'cluster', nodeId: opts.nodeId });
  const limits = deps.limits ?? { perIp: PAIR_LIMIT_PER_IP, global: PAIR_LIMIT_GLOBAL };

  const renewals = new Counter({ name: 'evva_relay_cluster_lease_renewals_total', help: 'Lease renewal rounds (ok, failed) and venue claims they found lost, restored or claimed again.', labelNames: ['result'], registers: [registry] });
  const rtt = new Histogram({
    name: 'evva_relay_redis_seconds', help: 'Redis round trips of this node, by call.', labelNames: ['op'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
  });
  const busCount = new Counter({ name: 'evva_relay_cluster_bus_messages_total', help: 'Bus messages, by type and result (sent, failed, received, malformed, forged: not sealed with the cluster secret).', labelNames: ['type', 'result'], registers: [registry] });
  const limiterLocal = new Gauge({ name: 'evva_relay_cluster_pair_limits_local', help: '1 while Redis is unreachable and pairing limits are counted on this node alone.', registers: [registry] });

  const timed: Timed = async (op, call) => {
    const end = rtt.startTimer({ op });
    try {
      return await call();
    } finally {
      end();
    }
  };

  const redis = connect(opts.redisUrl, log, 'main');
  const sub = connect(opts.redisUrl, log, 'bus');
  const lostFns: Array<(venueId: string, epoch: number) => void> = [];
  const bus = new RedisBus({ redis, sub, nodeId: opts.nodeId, secret: opts.secret, log, timed, count: (type, result) => busCount.inc({ type, result }) });
  const owners = new RedisOwners({
    redis, nodeId: opts.nodeId, leaseMs, log, timed, secret: opts.secret, now: () => clock.now(),
    publish: (msg) => bus.publish(msg),
    lost: (venueId, epoch) => {
      log.info('cluster: venue taken over by a newer tunnel', { venueId, epoch });
      for (const fn of lostFns) {
        try {
          fn(venueId, epoch);
        } catch (err) {
          log.error('cluster: onLost handler failed', { venueId, error: (err as Error).message });
        }
      }
    },
  });
  new Gauge({ name: 'evva_relay_cluster_claims', help: 'Venues whose tunnel this node holds a claim on.', registers: [registry], collect() { this.set(owners.held()); } });
  const limiter = new RedisLimiter({ redis, clock, log, perIp: limits.perIp, global: limits.global, timed, onMode: (m) => limiterLocal.set(m === 'local' ? 1 : 0) });
  const signinLimits = deps.signinLimits ?? { perIp: PAIR_LIMIT_PER_IP, global: PAIR_LIMIT_GLOBAL };
  const signins = new RedisLimiter({
    redis, clock, log, perIp: signinLimits.perIp, global: signinLimits.global, timed, what: 'console sign-in',
    keys: { source: RedisKeys.signinSource, global: RedisKeys.signinGlobal },
  });
  const registration = new Registration(redis, { nodeId: opts.nodeId, url: opts.advertise, startedAt: clock.now() }, leaseMs, opts.secret, () => clock.now(), timed);

  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  let stopped = false;
  let failing = false;

  /** One renewal round: the registration and every claim (also what brings them back after a Redis restart). */
  async function tick(): Promise<void> {
    if (busy || stopped) return;
    busy = true;
    try {
      const [, r] = await Promise.all([registration.renew(), owners.renew()]);
      renewals.inc({ result: 'ok' });
      if (r.lost) renewals.inc({ result: 'lost' }, r.lost);
      if (r.restored) renewals.inc({ result: 'restored' }, r.restored);
      if (r.reclaimed) {
        renewals.inc({ result: 'reclaimed' }, r.reclaimed);
        log.info('cluster: venues claimed again after Redis lost them', { venues: r.reclaimed });
      }
      if (failing) log.info('cluster: leases renewed again');
      failing = false;
    } catch (err) {
      renewals.inc({ result: 'failed' });
      if (!failing) log.warn('cluster: lease renewal failed; venues stay served here and are claimed again when Redis answers', { error: (err as Error).message });
      failing = true;
    } finally {
      busy = false;
    }
  }

  let started = false;
  redis.on('ready', () => {
    // After a reconnect (Redis restarted: keys gone) re-register and re-claim now rather than at the next round.
    if (started && !stopped) void tick();
  });
  bus.on((msg) => {
    if (msg.t === 'owner') owners.superseded(msg.venueId, msg.nodeId, msg.epoch);
  });

  return {
    nodeId: opts.nodeId,
    advertise: opts.advertise,
    owners,
    bus,
    limiter,
    signins,
    async start() {
      try {
        await Promise.all([redis.connect(), sub.connect()]);
        await bus.start();
        await registration.renew();
      } catch (err) {
        redis.disconnect();
        sub.disconnect();
        throw new Error(`Не удалось подключиться к Redis (${(err as Error).message}): узел кластера не может стартовать без него. Проверьте, что redis-server запущен и адрес --redis верен.`, { cause: err });
      }
      started = true;
      timer = clock.setInterval(() => void tick(), renewMs);
      log.info('cluster: node registered', { advertise: opts.advertise, leaseMs, renewMs });
    },
    health(): Promise<Health> {
      return probe(redis, timed);
    },
    onLost(fn) {
      lostFns.push(fn);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clock.clearInterval(timer);
      await Promise.allSettled([owners.releaseAll(), registration.remove()]);
      await Promise.all([close(sub), close(redis)]);
      log.info('cluster: node left the cluster');
    },
  };
}
