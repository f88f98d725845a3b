/**
 * Store and bus outages: Redis and then Postgres go away and
 * come back. While one is down every node's /readyz answers 503 and names
 * what is wrong (HAProxy then falls back to any live node); once it is back
 * every node is ready again by itself, the venue is routed again, and the
 * orders iiko made during each outage reach the webhook receiver: none lost,
 * none twice. Redis comes back empty (no persistence, as a restarted cache
 * would): the nodes register and claim their venues again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster, type ClusterVenue } from '../../helpers/cluster.ts';
import { waitFor } from '../../helpers/relay.ts';

/** How long each outage lasts after iiko made its order: the companion polls and sends several times meanwhile. */
const OUTAGE_MS = 3_000;

describe('a Redis restart and a Postgres restart', () => {
  let c: Cluster;
  let v: ClusterVenue;
  const orders: string[] = [];

  const order = async (table: number) => {
    orders.push((await v.control<{ Id: string }>('POST', 'orders', { tableNum: table, items: [{ productCode: '02401', amount: 1 }] })).Id.toLowerCase());
  };
  /** Every stored event and every order made so far at the receiver, once. */
  const caughtUp = async (what: string) => {
    const seen = () => JSON.stringify(c.events().map((e) => e.eventInfo));
    await waitFor(() => orders.every((id) => seen().includes(id)), `${what}: every order at the receiver`, 60_000, 250);
    const stored = await c.delivered(v.venueId);
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    expect(c.duplicates()).toEqual([]);
  };
  /** Waits until every node's /readyz matches `ok`, and returns the bodies. */
  const everyNode = async (ok: (r: Awaited<ReturnType<Cluster['readiness']>>) => boolean, what: string) => {
    const got: Array<Awaited<ReturnType<Cluster['readiness']>>> = [];
    for (const n of c.nodes) {
      await waitFor(async () => {
        const r = await c.readiness(n).catch(() => null);
        if (r && ok(r)) got.push(r);
        return Boolean(r && ok(r));
      }, `${n.name}: ${what}`, 20_000, 100);
    }
    return got;
  };
  const allReady = () => everyNode((r) => r.status === 200 && r.body.ready && r.body.store.ok && r.body.redis?.ok === true, 'ready');

  beforeAll(async () => {
    // Two nodes: every assertion is about every node at once (all go unready and recover together), which two show.
    c = await startCluster({ ownPostgres: true, nodes: 2 }); // it kills and restarts Postgres
    v = await c.venue();
  }, 240_000);

  afterAll(async () => { await c?.stop(); }, 60_000);

  it('survives Redis going away: /readyz says so, then recovers, and no event is lost', async () => {
    await order(1);
    await caughtUp('before');

    await c.redis.kill();
    const down = await everyNode((r) => r.status === 503 && r.body.redis?.ok === false, 'not ready, Redis down');
    for (const r of down) {
      expect(r.body.ready).toBe(false);
      expect(r.body.redis?.error).toBeTruthy();
      expect(r.body.store.ok).toBe(true);
    }
    await c.balancerSees({ n1: 'DOWN', n2: 'DOWN' });
    await order(2);
    await new Promise((res) => setTimeout(res, OUTAGE_MS));

    await c.redis.restart();
    await allReady();
    await c.balancerSees({ n1: 'UP', n2: 'UP' });
    await waitFor(async () => (await c.owner(v.venueId)) !== null, 'the venue claimed again in the new Redis', 20_000, 100);
    await waitFor(async () => (await c.front(v.venueId, '/api/orders?$top=1')).status === 200, 'venue calls through HAProxy', 20_000, 200);
    await order(3);
    await caughtUp('after Redis');
  }, 180_000);

  it('survives Postgres going away: /readyz says so, then recovers, and no event is lost', async () => {
    await c.pg.kill();
    const down = await everyNode((r) => r.status === 503 && r.body.store.ok === false, 'not ready, Postgres down');
    for (const r of down) {
      expect(r.body.ready).toBe(false);
      expect(r.body.store.error).toBeTruthy();
      expect(r.body.redis?.ok).toBe(true);
    }
    await c.balancerSees({ n1: 'DOWN', n2: 'DOWN' });
    // iiko works on: the companion keeps the events until the relay can store them.
    await order(4);
    await new Promise((res) => setTimeout(res, OUTAGE_MS));
    // Nothing of it could be stored meanwhile: it is not at the receiver yet.
    expect(JSON.stringify(c.events().map((e) => e.eventInfo))).not.toContain(orders.at(-1));

    await c.pg.restart();
    await allReady();
    await c.balancerSees({ n1: 'UP', n2: 'UP' });
    await waitFor(async () => (await c.front(v.venueId, '/api/orders?$top=1')).status === 200, 'venue calls through HAProxy', 20_000, 200);
    await order(5);
    await caughtUp('after Postgres');
  }, 180_000);
});
