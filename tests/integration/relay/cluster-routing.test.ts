/**
 * A venue API call through any node of a three-node
 * cluster (or through HAProxy) reaches every venue, and the answer is byte for
 * byte what a single relay answers for the same plugin. The single relay is
 * the embedded default (SQLite, no Redis) with the same public URL, and
 * pairs a second companion with each venue's sim, so both relays read the
 * same plugin. Links the relay rewrites carry the venue's id, which differs
 * between the two relays; it is the only thing replaced before comparing.
 * The cluster is all real processes; the reference (the single relay and its
 * companions) runs in this process, as the code `evva-relay serve` and
 * `evva-companion run` run (createRelay, startAgent): seven bin starts fewer,
 * a fifth of the file's CPU, and nothing of the cluster under test changes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../../main/core/agent.ts';
import { loadSettings } from '../../../main/core/settings.ts';
import { PUBLIC_URL, auth, startCluster, type Cluster, type ClusterVenue } from '../../helpers/cluster.ts';
import { pairedVenue, startRelay, tempDir, testLogger, waitFor } from '../../helpers/relay.ts';

const PATHS = ['/api/orders', '/api/users', '/api/tables', '/api/orders?$top=2'];

describe('a cluster answers every venue through any node as a single relay would', () => {
  let c: Cluster;
  let singleUrl: string;
  const venues: Array<{ v: ClusterVenue; singleId: string }> = [];
  const cleanups: Array<() => Promise<unknown> | void> = [];

  beforeAll(async () => {
    c = await startCluster();
    cleanups.push(() => c.stop());
    const single = await startRelay({ publicUrl: PUBLIC_URL });
    cleanups.push(() => single.close());
    singleUrl = single.url;
    for (let i = 1; i <= 3; i++) {
      const v = await c.venue(`Кафе ${i}`);
      // The same plugin behind a single relay: a second companion paired with it.
      const dir = tempDir('single-companion');
      cleanups.push(() => dir.remove());
      const s = await pairedVenue(singleUrl, dir.dir);
      fs.writeFileSync(path.join(dir.dir, 'settings.json'), JSON.stringify({ feed: { enabled: false } }));
      const agent = await startAgent({
        settings: loadSettings({ dataDir: dir.dir, apiPort: '0', frontUrl: v.simUrl }, {}), logger: testLogger('single-companion'),
        tunnel: { env: { NO_PROXY: '127.0.0.1,localhost' } },
      });
      cleanups.push(() => agent.stop());
      await waitFor(async () => {
        const r = await fetch(`${singleUrl}/v1/venues/${s.venueId}`, { headers: auth });
        return ((await r.json()) as { online?: boolean }).online === true;
      }, 'the single relay\'s venue online', 30_000, 200);
      venues.push({ v, singleId: s.venueId });
    }
  }, 240_000);

  afterAll(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  }, 60_000);

  it('holds each venue\'s tunnel on one live node, known to every node', async () => {
    for (const { v } of venues) {
      const owner = await c.owner(v.venueId);
      expect(c.nodes.map((n) => n.name)).toContain(owner);
      for (const n of c.nodes) {
        const r = await fetch(`${n.url}/v1/venues/${v.venueId}`, { headers: auth });
        expect(((await r.json()) as { online: boolean }).online, `${v.venueId} online as ${n.name} sees it`).toBe(true);
      }
    }
  });

  it('answers byte for byte as a single relay, through HAProxy and through each node (forwarded by the others)', async () => {
    let compared = 0;
    for (const { v, singleId } of venues) {
      for (const p of PATHS) {
        const ref = await fetch(`${singleUrl}/v1/venues/${singleId}/front${p}`, { headers: auth });
        const refText = await ref.text();
        expect(ref.status, `${p} on the single relay`).toBe(200);
        const want = refText.replaceAll(singleId, 'VENUE');
        // The rewritten links are there to compare: the plugin's own origin never leaks.
        expect(refText).not.toContain(v.simUrl);
        for (const base of [c.url, ...c.nodes.map((n) => n.url)]) {
          const got = await c.front(v.venueId, p, base);
          expect(got.status, `${p} via ${base}`).toBe(200);
          expect(got.headers.get('content-type')).toBe(ref.headers.get('content-type'));
          expect(got.text.replaceAll(v.venueId, 'VENUE'), `${p} via ${base}`).toBe(want);
          compared++;
        }
      }
    }
    expect(compared).toBe(venues.length * PATHS.length * (c.nodes.length + 1));
  });

  it('refuses a hop that is not signed with the cluster secret', async () => {
    const { v } = venues[0]!;
    const owner = c.node((await c.owner(v.venueId))!);
    const res = await fetch(`${owner.url}/v1/venues/${v.venueId}/front/api/orders`, {
      headers: { 'x-evva-hop': `v1 n9 ${Date.now()} ${'0'.repeat(64)}`, 'x-evva-hop-count': '1' },
    });
    await res.arrayBuffer();
    expect([401, 403]).toContain(res.status);
  });
});
