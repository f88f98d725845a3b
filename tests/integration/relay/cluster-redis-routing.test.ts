/**
 * Routing on Redis (relay/cluster/*), against a real redis-server from Debian:
 * ownership with epochs and leases, the bus, the shared pairing limits, and a
 * Redis restart in the middle of it all.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import { HOP_MAX_SKEW_MS, LEASE_MS, RedisKeys, type BusMessage } from '../../../protocol/cluster.ts';
import { sealBus, sealNode, sealOwner } from '../../../relay/cluster/seal.ts';
import { createCluster } from '../../../relay/cluster/cluster.ts';
import { COMMAND_TIMEOUT_MS, PROBE_TIMEOUT_MS } from '../../../relay/cluster/redis.ts';
import type { ClusterNode } from '../../../relay/cluster/parts.ts';
import { ROOT } from '../../helpers/proc.ts';
import { startRedis, type TestRedis } from '../../helpers/redis.ts';

const LEASE = 1_500;
const RENEW = 300;
const SECRET = 's'.repeat(40);

let redis: TestRedis;
let raw: Redis;
const nodes: ClusterNode[] = [];
let seq = 0;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  raw.on('error', () => {});
});
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});
afterAll(async () => {
  raw.disconnect();
  await redis.stop();
});

interface Lines extends Logger { lines: Array<{ level: string; message: string }> }
function recorder(lines: Lines['lines'] = []): Lines {
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: () => recorder(lines) };
}

async function node(name: string, opts: { limits?: { perIp: { max: number; windowMs: number }; global: { max: number; windowMs: number } }; log?: Logger; registry?: Registry; leaseMs?: number; renewMs?: number } = {}) {
  const n = createCluster(
    { redisUrl: redis.url, nodeId: name, advertise: `http://127.0.0.1:${7000 + nodes.length}`, secret: SECRET, leaseMs: opts.leaseMs ?? LEASE, renewMs: opts.renewMs ?? RENEW },
    { clock: realClock, log: opts.log ?? recorder(), registry: opts.registry ?? new Registry(), ...(opts.limits ? { limits: opts.limits } : {}) },
  );
  nodes.push(n);
  await n.start();
  return n;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `ms`. */
async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const venue = () => `venue-${process.pid}-${++seq}`;
const ip = () => `10.${seq >> 8 & 255}.${seq++ & 255}.7`;

describe('venue ownership', () => {
  it('a venue that reconnects to another node wins, and the old node hears it lost the venue', async () => {
    // Renewals far apart, so only the bus can tell node-a within the second.
    const a = await node('node-a', { leaseMs: 30_000, renewMs: 10_000 });
    const b = await node('node-b');
    const lost: Array<[string, number]> = [];
    a.onLost((v, e) => lost.push([v, e]));
    const v = venue();

    const ea = await a.owners.claim(v);
    expect(ea).toBeGreaterThan(0);
    expect(await b.owners.lookup(v)).toEqual({ nodeId: 'node-a', url: a.advertise, epoch: ea });

    const t0 = Date.now();
    const eb = await b.owners.claim(v);
    expect(eb).toBeGreaterThan(ea!);
    // The bus tells the old node at once (well under the 1 s the issue asks), not at its next renewal.
    await until('node-a hears it lost the venue', () => lost.length > 0, 1_000);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(lost).toEqual([[v, ea]]);
    expect(a.owners.held()).toBe(0);
    expect(await a.owners.lookup(v)).toEqual({ nodeId: 'node-b', url: b.advertise, epoch: eb });
  });

  it('a renewal finds a claim lost to a newer epoch even when the bus message never came', async () => {
    const a = await node('node-a');
    const lost: Array<[string, number]> = [];
    a.onLost((v, e) => lost.push([v, e]));
    const v = venue();
    const ea = await a.owners.claim(v);
    // Another node's claim (sealed with the cluster secret) written straight into Redis, without the bus announcement.
    const theirs = `node-x ${ea! + 1} ${sealOwner(SECRET, v, 'node-x', ea! + 1)}`;
    await raw.set(RedisKeys.epoch(v), ea! + 1);
    await raw.set(RedisKeys.owner(v), theirs, 'PX', LEASE);
    await until('the renewal reports the loss', () => lost.length > 0, RENEW * 3 + 2_000);
    expect(lost).toEqual([[v, ea]]);
    expect(await raw.get(RedisKeys.owner(v))).toBe(theirs);
  });

  it('release by a stale epoch leaves the newer owner alone', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    const v = venue();
    const e1 = await a.owners.claim(v);
    // The venue reconnects to the same node: the first link's late release must not drop the second.
    const e2 = await a.owners.claim(v);
    expect(e2).toBeGreaterThan(e1!);
    await a.owners.release(v, e1!);
    expect(await b.owners.lookup(v)).toMatchObject({ nodeId: 'node-a', epoch: e2 });
    expect(a.owners.held()).toBe(1);

    // It moves to node-b; node-a's release of its (now stale) epoch leaves node-b's claim in place.
    const e3 = await b.owners.claim(v);
    await a.owners.release(v, e2!);
    expect(await a.owners.lookup(v)).toMatchObject({ nodeId: 'node-b', epoch: e3 });

    // The owner's own release does forget it.
    await b.owners.release(v, e3!);
    expect(await a.owners.lookup(v)).toBeNull();
    expect(b.owners.held()).toBe(0);
  });

  it('claims outlive many lease periods while the node renews them, also more than one renewal chunk of them', async () => {
    const a = await node('node-a');
    const v = venue();
    const e = await a.owners.claim(v);
    const many = Array.from({ length: 1_100 }, () => venue());
    // A hundred at a time, not one by one: 1 100 round trips in a row took the test past its 30 s bound at load
    // 20-27 (three whole runs at once failed here), before the part it is about had begun.
    for (let i = 0; i < many.length; i += 100) await Promise.all(many.slice(i, i + 100).map((m) => a.owners.claim(m)));
    await new Promise((r) => setTimeout(r, LEASE * 2.5));
    expect(await a.owners.lookup(v)).toMatchObject({ nodeId: 'node-a', epoch: e });
    expect(await raw.pttl(RedisKeys.owner(v))).toBeGreaterThan(0);
    expect((await a.owners.online(many)).size).toBe(many.length);
  });

  it('a killed node\'s venues are forgotten within LEASE_MS', async () => {
    const a = await node('node-a');
    const v1 = venue();
    const v2 = venue();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'tests/helpers/redis-node.ts'), redis.url, 'node-k', String(LEASE), String(RENEW), v1, v2], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EVVA_TEST_CLUSTER_SECRET: SECRET },
    });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      await until(`the child node claims its venues (${out})`, () => out.includes('claimed '), 20_000);
      expect(await a.owners.lookup(v1)).toMatchObject({ nodeId: 'node-k' });
      expect(await a.owners.online([v1, v2, 'never-seen'])).toEqual(new Set([v1, v2]));

      const exited = new Promise((r) => child.once('exit', r));
      const t0 = Date.now();
      child.kill('SIGKILL');
      await exited;
      await until('the killed node\'s claims lapse', async () => (await a.owners.online([v1, v2])).size === 0, LEASE + 3_000);
      const took = Date.now() - t0;
      expect(took).toBeLessThanOrEqual(LEASE + 500);
      expect(await a.owners.lookup(v1)).toBeNull();
      expect(await raw.exists(RedisKeys.node('node-k'))).toBe(0);
      // Another node takes the venue over at a higher epoch.
      expect(await a.owners.claim(v1)).toBeGreaterThan(0);
      expect(await a.owners.lookup(v1)).toMatchObject({ nodeId: 'node-a' });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('lookup needs a live registration of the owning node, not just its claim', async () => {
    const a = await node('node-a');
    const v = venue();
    await raw.set(RedisKeys.owner(v), `node-gone 5 ${sealOwner(SECRET, v, 'node-gone', 5)}`, 'PX', LEASE);
    expect(await a.owners.lookup(v)).toBeNull();
    await raw.set(RedisKeys.owner(v), `node-a 5 ${sealOwner(SECRET, v, 'node-a', 5)}`, 'PX', LEASE);
    expect(await a.owners.lookup(v)).toEqual({ nodeId: 'node-a', url: a.advertise, epoch: 5 });
  });

  it('believes no node or owner that a Redis writer without the cluster secret put there, nor an old registration replayed', async () => {
    const a = await node('node-a');
    const v = venue();
    // A listener of the attacker's registered as a node, and made the owner of a venue: unsealed, or sealed with another secret.
    const evil = { nodeId: 'node-evil', url: 'http://127.0.0.1:6666', startedAt: Date.now(), at: Date.now() };
    await raw.set(RedisKeys.node('node-evil'), JSON.stringify({ ...evil, sig: 'f'.repeat(64) }), 'PX', LEASE);
    await raw.set(RedisKeys.owner(v), 'node-evil 99', 'PX', LEASE);
    expect(await a.owners.lookup(v)).toBeNull();
    expect(await a.owners.online([v])).toEqual(new Set());
    await raw.set(RedisKeys.node('node-evil'), JSON.stringify({ ...evil, sig: sealNode('another-secret-'.repeat(3), evil) }), 'PX', LEASE);
    await raw.set(RedisKeys.owner(v), `node-evil 99 ${sealOwner('another-secret-'.repeat(3), v, 'node-evil', 99)}`, 'PX', LEASE);
    expect(await a.owners.lookup(v)).toBeNull();
    // A real node's owner value moved to another venue does not fit it (the seal names the venue).
    const e = await a.owners.claim(v);
    const other = venue();
    await raw.set(RedisKeys.owner(other), (await raw.get(RedisKeys.owner(v)))!, 'PX', LEASE);
    expect(await a.owners.lookup(other)).toBeNull();
    expect(await a.owners.lookup(v)).toMatchObject({ nodeId: 'node-a', epoch: e });
    // A node's registration captured and replayed after its lease and the clock skew: refused.
    const old = { nodeId: 'node-a', url: a.advertise, startedAt: 1, at: Date.now() - LEASE_MS - HOP_MAX_SKEW_MS - 1_000 };
    await a.stop();
    await raw.set(RedisKeys.node('node-a'), JSON.stringify({ ...old, sig: sealNode(SECRET, old) }), 'PX', LEASE);
    await raw.set(RedisKeys.owner(v), `node-a ${e} ${sealOwner(SECRET, v, 'node-a', e!)}`, 'PX', LEASE);
    const b = await node('node-b');
    expect(await b.owners.lookup(v)).toBeNull();
  });

  it('stop releases every claim and the registration at once', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    const v = venue();
    await a.owners.claim(v);
    expect(await raw.exists(RedisKeys.node('node-a'))).toBe(1);
    await a.stop();
    expect(await b.owners.lookup(v)).toBeNull();
    expect(await raw.exists(RedisKeys.node('node-a'))).toBe(0);
  });
});

describe('start-up', () => {
  it('a node does not start without Redis, and says why', async () => {
    const dead = createCluster(
      { redisUrl: 'redis://127.0.0.1:1', nodeId: 'node-dead', advertise: 'http://127.0.0.1:7999', secret: SECRET },
      { clock: realClock, log: recorder(), registry: new Registry() },
    );
    const t0 = Date.now();
    await expect(dead.start()).rejects.toThrow(/Не удалось подключиться к Redis.*redis-server запущен/);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await dead.stop();
  });

  it('refuses a node id that cannot be stored, a bad address or a short secret', () => {
    const deps = { clock: realClock, log: recorder(), registry: new Registry() };
    const ok = { redisUrl: redis.url, nodeId: 'n1', advertise: 'http://127.0.0.1:1', secret: SECRET };
    expect(() => createCluster({ ...ok, nodeId: 'has space' }, deps)).toThrow(/--node-id/);
    expect(() => createCluster({ ...ok, advertise: 'ftp://x' }, deps)).toThrow(/--advertise/);
    expect(() => createCluster({ ...ok, secret: 'short' }, deps)).toThrow(/Секрет кластера/);
  });
});

describe('the bus', () => {
  it('reaches every node, the sender included', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    const got: Record<string, BusMessage[]> = { a: [], b: [] };
    a.bus.on((m) => got.a!.push(m));
    b.bus.on((m) => got.b!.push(m));
    const v = venue();
    await a.bus.publish({ t: 'tokens', venueId: v });
    await until('both nodes got it', () => got.a!.some((m) => m.venueId === v) && got.b!.some((m) => m.venueId === v), 2_000);
    expect(got.b!.find((m) => m.venueId === v)).toEqual({ t: 'tokens', venueId: v, from: 'node-a', sig: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('malformed bus messages are dropped and counted', async () => {
    const registry = new Registry();
    const a = await node('node-a', { registry });
    const got: BusMessage[] = [];
    a.bus.on((m) => got.push(m));
    const v = venue();
    for (const bad of ['not json', JSON.stringify({ t: 'tokens', from: 'x' }), JSON.stringify({ t: 'owner', venueId: v, nodeId: 'n', epoch: -1, from: 'x' }), JSON.stringify({ t: 'payment', venueId: 'y'.repeat(5000), from: 'x' }), JSON.stringify({ t: 'nuke', venueId: v, from: 'x' })]) {
      await raw.publish(RedisKeys.bus, bad);
    }
    // Well-formed but not sealed with the cluster secret (anyone who can write to Redis can publish): dropped too.
    await raw.publish(RedisKeys.bus, JSON.stringify({ t: 'owner', venueId: v, nodeId: 'node-evil', epoch: 1e9, from: 'node-evil', sig: 'a'.repeat(64) }));
    await raw.publish(RedisKeys.bus, JSON.stringify({ t: 'tokens', venueId: v, from: 'node-z' }));
    const sealed = { t: 'settings', venueId: v, from: 'node-z' };
    await raw.publish(RedisKeys.bus, JSON.stringify({ ...sealed, sig: sealBus(SECRET, sealed) }));
    await until('the valid message arrives', () => got.length > 0, 2_000);
    expect(got).toEqual([{ ...sealed, sig: sealBus(SECRET, sealed) }]);
    const metric = await registry.getSingleMetricAsString('evva_relay_cluster_bus_messages_total');
    expect(metric).toContain('evva_relay_cluster_bus_messages_total{type="unknown",result="malformed"} 6');
    expect(metric).toContain('evva_relay_cluster_bus_messages_total{type="owner",result="forged"} 1');
    expect(metric).toContain('evva_relay_cluster_bus_messages_total{type="settings",result="received"} 1');
  });
});

describe('shared pairing limits', () => {
  it('pairing limits hold across two nodes', async () => {
    const limits = { perIp: { max: 3, windowMs: 60_000 }, global: { max: 5, windowMs: 60_000 } };
    const a = await node('node-a', { limits });
    const b = await node('node-b', { limits });
    const one = ip();
    expect(await a.limiter.take(one)).toEqual({ ok: true });
    expect(await b.limiter.take(one)).toEqual({ ok: true });
    expect(await a.limiter.take(one)).toEqual({ ok: true });
    const refused = await b.limiter.take(one);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryAfterMs).toBeGreaterThan(55_000);
    // Two more from elsewhere fill the global budget of 5, whichever node they land on.
    expect(await b.limiter.take(ip())).toEqual({ ok: true });
    expect(await a.limiter.take(ip())).toEqual({ ok: true });
    expect((await a.limiter.take(ip())).ok).toBe(false);
    expect((await b.limiter.take(ip())).ok).toBe(false);
    await raw.del(RedisKeys.pairGlobal);
  });

  it('a source over its own limit does not spend the global budget', async () => {
    const limits = { perIp: { max: 1, windowMs: 60_000 }, global: { max: 3, windowMs: 60_000 } };
    const a = await node('node-a', { limits });
    const b = await node('node-b', { limits });
    const greedy = ip();
    expect((await a.limiter.take(greedy)).ok).toBe(true);
    for (let i = 0; i < 10; i++) expect((await (i % 2 ? a : b).limiter.take(greedy)).ok).toBe(false);
    expect((await b.limiter.take(ip())).ok).toBe(true);
    expect((await a.limiter.take(ip())).ok).toBe(true);
    expect((await b.limiter.take(ip())).ok).toBe(false);
    await raw.del(RedisKeys.pairGlobal);
  });

  it('addresses of one IPv6 /64 share one window across nodes', async () => {
    const limits = { perIp: { max: 1, windowMs: 60_000 }, global: { max: 100, windowMs: 60_000 } };
    const a = await node('node-a', { limits });
    const b = await node('node-b', { limits });
    const net64 = `2001:db8:${(seq++).toString(16)}:1`;
    expect((await a.limiter.take(`${net64}::1`)).ok).toBe(true);
    expect((await b.limiter.take(`${net64}:ffff::2`)).ok).toBe(false);
    await raw.del(RedisKeys.pairGlobal);
  });
});

describe('a Redis restart', () => {
  it('claims and the node registration come back within a few seconds, the bus resubscribes, the limiter falls back locally while Redis is down', async () => {
    const log = recorder();
    const limits = { perIp: { max: 2, windowMs: 60_000 }, global: { max: 100, windowMs: 60_000 } };
    const a = await node('node-a', { log, limits });
    const b = await node('node-b');
    const lost: string[] = [];
    const lostEpochs = new Map<string, number>();
    a.onLost((v, e) => { lost.push(v); lostEpochs.set(v, e); });
    const v1 = venue();
    const v2 = venue();
    const v3 = venue();
    const e1 = await a.owners.claim(v1);
    const e2 = await a.owners.claim(v2);
    expect((await a.health()).ok).toBe(true);

    await redis.kill();
    await until('node-a sees Redis gone', async () => !(await a.health()).ok, 5_000);
    const h = await a.health();
    expect(h.ms).toBeNull();
    expect(h.error).toMatch(/Redis недоступен/);

    // Pairing neither opens up nor locks everyone out: the same limits, counted on this node.
    const source = ip();
    const t0 = Date.now();
    expect(await a.limiter.take(source)).toEqual({ ok: true });
    expect(await a.limiter.take(source)).toEqual({ ok: true });
    expect((await a.limiter.take(source)).ok).toBe(false);
    expect(await a.limiter.take(ip())).toEqual({ ok: true });
    expect(Date.now() - t0).toBeLessThan(1_000); // fails fast, no waiting on a dead Redis
    // A tunnel that comes up meanwhile is served here and claimed once Redis is back.
    expect(await a.owners.claim(v3)).toBeNull();
    expect(a.owners.held()).toBe(3);

    await redis.start(); // empty: no persistence, as a real restart
    const back = Date.now();
    await until('claims are back', async () => {
      const owners = await Promise.all([v1, v2, v3].map((v) => b.owners.lookup(v).catch(() => null)));
      return owners.every((o) => o?.nodeId === 'node-a') && owners;
    }, 10_000);
    expect(Date.now() - back).toBeLessThan(5_000);
    expect(await raw.exists(RedisKeys.node('node-a'))).toBe(1);
    expect(await raw.exists(RedisKeys.node('node-b'))).toBe(1);
    // The fresh epoch is above the one before the restart, so "the highest epoch wins" still holds.
    expect((await b.owners.lookup(v1))!.epoch).toBeGreaterThan(e1!);
    expect(lost).toEqual([]);
    // The relay still speaks of the epochs it was given: releasing v2's link (claimed before the restart) removes the fresh claim.
    await a.owners.release(v2, e2!);
    expect(await b.owners.lookup(v2)).toBeNull();
    // v3's claim resolved null: when the venue moves, node-a hears it as epoch 0.
    await b.owners.claim(v3);
    await until('node-a hears it lost v3', () => lost.includes(v3), 2_000);
    expect(lostEpochs.get(v3)).toBe(0);
    expect(a.owners.held()).toBe(1);

    // The bus: both subscriptions are back (ioredis resubscribes).
    const got: BusMessage[] = [];
    a.bus.on((m) => got.push(m));
    await until('node-a hears node-b on the bus again', async () => {
      await b.bus.publish({ t: 'payment', venueId: v1 }).catch(() => {});
      return got.some((m) => m.t === 'payment' && m.from === 'node-b');
    }, 5_000);

    // The limits are shared again (node-b's attempts count on node-a), and the switch was said once each way, not once per attempt.
    await until('node-a asks Redis again', async () => {
      await a.limiter.take(ip());
      return log.lines.some((l) => l.level === 'info' && /pairing limits/.test(l.message));
    }, 5_000);
    const shared = ip();
    expect((await b.limiter.take(shared)).ok).toBe(true);
    expect((await b.limiter.take(shared)).ok).toBe(true);
    expect((await a.limiter.take(shared)).ok).toBe(false);
    const says = log.lines.filter((l) => /pairing limits/.test(l.message)).map((l) => l.level);
    expect(says).toEqual(['warn', 'info']);
  }, 40_000);

  it('a clean Redis restart (SIGTERM, same port, empty) is survived the same way', async () => {
    const registry = new Registry();
    const a = await node('node-a', { registry });
    const b = await node('node-b');
    const v = venue();
    await a.owners.claim(v);
    await redis.restart();
    await until('the claim is back', async () => (await b.owners.lookup(v).catch(() => null))?.nodeId === 'node-a', 10_000);
    expect((await a.health()).ok).toBe(true);
    // Claimed again (Redis came back empty), not merely renewed. The owner key is written by the claim
    // script before the renewal round that ran it finishes and counts it, so the count is awaited too.
    const renewals = () => registry.getSingleMetricAsString('evva_relay_cluster_lease_renewals_total');
    await until('the renewal round counted the claim', async () => (await renewals()).includes('result="reclaimed"}'), 5_000);
    expect(await renewals()).toContain('evva_relay_cluster_lease_renewals_total{result="reclaimed"} 1');
  }, 30_000);

  it('a hung Redis: calls give up within the command timeout, limits go local, and the claims are restored once it answers', async () => {
    const registry = new Registry();
    const limits = { perIp: { max: 1, windowMs: 60_000 }, global: { max: 100, windowMs: 60_000 } };
    const a = await node('node-a', { registry, limits });
    const lost: string[] = [];
    a.onLost((v) => lost.push(v));
    const v = venue();
    const e = await a.owners.claim(v);
    redis.pause();
    try {
      const t0 = Date.now();
      const source = ip();
      expect(await a.limiter.take(source)).toEqual({ ok: true });
      expect(Date.now() - t0).toBeLessThan(COMMAND_TIMEOUT_MS + 1_500);
      // Counted locally now, without waiting on Redis again: the same source is refused at once.
      const t1 = Date.now();
      expect((await a.limiter.take(source)).ok).toBe(false);
      expect(Date.now() - t1).toBeLessThan(200);
      const t2 = Date.now();
      expect((await a.health()).ok).toBe(false);
      expect(Date.now() - t2).toBeLessThan(PROBE_TIMEOUT_MS + 1_000); // /readyz answers the load balancer in time
      // Longer than the lease: Redis drops the claim when it wakes, and nobody else took it meanwhile.
      await new Promise((r) => setTimeout(r, LEASE + 500));
    } finally {
      redis.resume();
    }
    await until('the claim is restored', async () => (await a.owners.lookup(v).catch(() => null))?.epoch === e, 10_000);
    expect(lost).toEqual([]);
    expect(await registry.getSingleMetricAsString('evva_relay_cluster_lease_renewals_total')).toMatch(/result="failed"} [1-9]/);
  }, 30_000);
});
