/**
 * Two relay nodes in this process with a real Redis between them, sharing one
 * store: what the cluster adds to a relay, checked without the load balancer.
 * (The store is one SQLite file opened by both nodes, which SQLite allows;
 * the multi-process Postgres + HAProxy cluster is in cluster-*.test.ts.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CommandError, createCommands } from '../../../main/core/commands.ts';
import { silentLogger } from '../../../common/logger.ts';
import type { Upstream } from '../../../main/core/upstream.ts';
import { SupportCommands } from '../../../protocol/diagnostics.ts';
import { keyFingerprint } from '../../../relay/auth.ts';
import { API_KEY, pairedVenue, startRelay, tempDir, tunnelFor, venueCall, waitFor, type RunningRelay } from '../../helpers/relay.ts';
import { startRedis, type TestRedis } from '../../helpers/redis.ts';

const SECRET = 'cluster-route-test-secret-0123456789abcdef';
const hello: Upstream = {
  async forward(req) {
    const body = Buffer.from(JSON.stringify({ path: req.path, method: req.method }));
    return { status: 200, headers: { 'content-type': 'application/json' }, body: (async function* () { yield body; })() };
  },
};

describe('a relay node in a cluster', () => {
  let redis: TestRedis;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeAll(async () => { redis = await startRedis(); }, 30_000);
  afterAll(async () => { await redis?.stop(); });
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

  /** Two nodes on one store and one Redis; each advertises its own address. */
  async function twoNodes(): Promise<[RunningRelay, RunningRelay, string]> {
    const store = tempDir('cluster-store');
    cleanups.push(() => store.remove());
    const nodes: RunningRelay[] = [];
    for (const name of ['a', 'b']) {
      // The advertised address must be known before listening: take a free port first.
      const probe = await startRelay({ dataDir: store.dir });
      const port = probe.port;
      await probe.close();
      const r = await startRelay({
        dataDir: store.dir, port,
        cluster: { redisUrl: redis.url, nodeId: `node-${name}`, advertise: `http://127.0.0.1:${port}`, secret: SECRET },
      });
      cleanups.push(() => r.close());
      nodes.push(r);
    }
    const companion = tempDir('companion');
    cleanups.push(() => companion.remove());
    return [nodes[0]!, nodes[1]!, companion.dir];
  }

  /** Two nodes and a paired venue whose tunnel is up on node a, and claimed by it in Redis. */
  async function venueOnA(more: Parameters<typeof tunnelFor>[3] = {}) {
    const [a, b, dir] = await twoNodes();
    const v = await pairedVenue(a.url, dir);
    const t = tunnelFor(a.url, v, hello, more);
    cleanups.push(() => t.stop());
    await waitFor(() => a.relay.tunnels.get(v.venueId) !== null, 'tunnel up on node a');
    await waitFor(async () => (await b.relay.cluster!.owners.lookup(v.venueId))?.nodeId === 'node-a', 'node a owns the venue');
    return { a, b, v };
  }

  it('forwards a venue call that lands on a node without the tunnel to the node holding it, with the same answer', async () => {
    const { a, b, v } = await venueOnA();

    const direct = await venueCall(a.url, v.venueId, '/api/orders?x=1');
    const hopped = await venueCall(b.url, v.venueId, '/api/orders?x=1');
    expect(direct.status).toBe(200);
    expect(hopped.status).toBe(200);
    expect(hopped.text).toBe(direct.text);
    const metrics = await (await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
    expect(metrics).toMatch(/evva_relay_hops_forwarded_total\{outcome="ok"\} 1/);
    // Both nodes say the venue is online, though only one holds its tunnel.
    const view = await (await fetch(`${b.url}/v1/venues/${v.venueId}`, { headers: { authorization: `Bearer ${API_KEY}` } })).json() as { online: boolean };
    expect(view.online).toBe(true);
  });

  it('names the caller of a forwarded support action by its own key fingerprint and address, as the first node saw them', async () => {
    const commands = createCommands(silentLogger);
    const asked: unknown[] = [];
    // The companion records who the relay says asked (its own audit), then declines.
    commands.register(SupportCommands.logs, async (args) => {
      asked.push((args as { by: unknown }).by);
      throw new CommandError('disabled', 'remote support is off');
    });
    const { a, b, v } = await venueOnA({ commands });
    const logs = (base: string) => fetch(`${base}/v1/venues/${v.venueId}/logs`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect((await logs(a.url)).status).toBe(403);
    expect((await logs(b.url)).status).toBe(403);
    const me = { key: keyFingerprint(API_KEY), ip: expect.stringMatching(/127\.0\.0\.1$/) as unknown };
    expect(asked).toEqual([me, me]);
  });

  it('refuses a hop signed with another secret, and a call without a key is not forwarded', async () => {
    const { a, b, v } = await venueOnA();
    const { EMPTY_DIGEST, signHop } = await import('../../../relay/cluster/hop.ts');
    const path = `/v1/venues/${v.venueId}/front/api/orders`;
    const headers = { 'x-evva-hop-count': '1', 'x-evva-hop-body': EMPTY_DIGEST };
    const forged = await fetch(`${a.url}${path}`, { headers: { ...headers, 'x-evva-hop': signHop('another-secret-0123456789abcdef-0123456789', 'node-b', 'node-a', 'GET', path, headers, Date.now()) } });
    expect(forged.status).toBe(403);
    const keyless = await fetch(`${b.url}${path}`);
    expect(keyless.status).toBe(401);
  });

  it('closes the tunnel held by another node within a second when the venue is revoked on this one', async () => {
    const { a, b, v } = await venueOnA();
    const link = a.relay.tunnels.get(v.venueId)!;
    const res = await fetch(`${b.url}/v1/venues/${v.venueId}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBe(200);
    const took = await waitFor(() => link.closed, 'the link on node a closed', 5_000);
    expect(took).toBeLessThan(1_000);
  });

  it('tells the stale link to go when the venue connects through another node', async () => {
    const { a, b, v } = await venueOnA();
    const stale = a.relay.tunnels.get(v.venueId)!;
    await waitFor(() => stale.epoch !== null, 'node a claimed the venue');
    // The same device connects to node b (as after a network change): the newer epoch wins.
    const second = tunnelFor(b.url, v, hello);
    cleanups.push(() => second.stop());
    await waitFor(() => b.relay.tunnels.get(v.venueId) !== null, 'tunnel up on node b');
    await waitFor(() => stale.draining || stale.closed, 'the link on node a was told to go', 5_000);
    await waitFor(async () => (await a.relay.cluster!.owners.lookup(v.venueId))?.nodeId === 'node-b', 'node b owns the venue');
    expect((await venueCall(a.url, v.venueId, '/api/x')).status).toBe(200);
  });
});
