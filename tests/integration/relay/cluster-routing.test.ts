/**
 * A venue API call through any node of a three-node
 * cluster (or through HAProxy) reaches every venue, and the answer is byte for
 * byte what a single relay answers for the same plugin. The single relay is
 * the embedded default (SQLite, no Redis) with the same --public-url, and
 * pairs a second companion with each venue's sim, so both relays read the
 * same plugin. Links the relay rewrites carry the venue's id, which differs
 * between the two relays; it is the only thing replaced before comparing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_URL, auth, startCluster, type Cluster, type ClusterVenue } from '../../helpers/cluster.ts';
import { runBin, startBin, type Proc } from '../../helpers/proc.ts';
import { API_KEY, createVenue, tempDir, waitFor } from '../../helpers/relay.ts';

const PATHS = ['/api/orders', '/api/users', '/api/tables', '/api/orders?$top=2'];

describe('a cluster answers every venue through any node as a single relay would', () => {
  let c: Cluster;
  let single: Proc;
  let singleUrl: string;
  const venues: Array<{ v: ClusterVenue; singleId: string }> = [];
  const cleanups: Array<() => Promise<unknown> | void> = [];

  beforeAll(async () => {
    c = await startCluster();
    cleanups.push(() => c.stop());
    const d = tempDir('single-relay');
    cleanups.push(() => d.remove());
    single = startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', d.dir, '--public-url', PUBLIC_URL], { EVVA_RELAY_API_KEYS: API_KEY });
    cleanups.push(() => single.stop('SIGKILL'));
    singleUrl = (await single.waitFor(/\{"listening":"([^"]+)"\}/))[1]!;
    for (let i = 1; i <= 3; i++) {
      const v = await c.venue(`Кафе ${i}`);
      // The same plugin behind a single relay: a second companion paired with it.
      const s = await createVenue(singleUrl, `Кафе ${i}`);
      const dir = tempDir('single-companion');
      cleanups.push(() => dir.remove());
      const paired = await runBin('evva-companion.js', ['pair', s.pairingCode, '--relay-url', singleUrl, '--data-dir', dir.dir]);
      expect(paired.code, paired.out).toBe(0);
      fs.writeFileSync(path.join(dir.dir, 'settings.json'), JSON.stringify({ feed: { enabled: false } }));
      const comp = startBin('evva-companion.js', ['run', '--data-dir', dir.dir, '--front-url', v.simUrl, '--api-port', '0']);
      cleanups.push(() => comp.stop('SIGKILL'));
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
      const owner = c.owner(v.venueId);
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
    const owner = c.node(c.owner(v.venueId)!);
    const res = await fetch(`${owner.url}/v1/venues/${v.venueId}/front/api/orders`, {
      headers: { 'x-evva-hop': `v1 n9 ${Date.now()} ${'0'.repeat(64)}`, 'x-evva-hop-count': '1' },
    });
    await res.arrayBuffer();
    expect([401, 403]).toContain(res.status);
  });
});
