/**
 * The support console on a relay cluster (Postgres, Redis, two node bins,
 * HAProxy, a real companion and simulator): a session made on one node works
 * on the other and ends everywhere at sign-out; a support action sent to the
 * node without the venue's tunnel goes over the hop and is audited under the
 * key's fingerprint; sign-in attempts are limited across nodes.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetch } from 'undici';
import type { AuditList, VenueDetail, VenuePage } from '../../../protocol/console.ts';
import type { Report } from '../../../protocol/diagnostics.ts';
import { PUBLIC_URL, startCluster, type Cluster, type ClusterVenue, type Node } from '../../helpers/cluster.ts';
import { API_KEY, waitFor } from '../../helpers/relay.ts';

const FINGERPRINT = createHash('sha256').update(API_KEY).digest('hex').slice(0, 12);
let c: Cluster;
let v: ClusterVenue;

/** A console call straight to one node, as the page (served at the relay's public URL) makes it. */
async function call(n: Node, cookie: string, method: string, path: string, more: Record<string, string> = {}) {
  const res = await fetch(`${n.url}/console/api${path}`, { method, headers: { cookie, origin: PUBLIC_URL, 'sec-fetch-site': 'same-origin', ...more } });
  const text = await res.text();
  return { status: res.status, text, json: <T>() => JSON.parse(text) as T };
}
async function signIn(n: Node, key: string, client = '10.1.1.1') {
  const res = await fetch(`${n.url}/console/api/session`, {
    method: 'POST', body: JSON.stringify({ key }),
    // The nodes trust 127.0.0.1 as their proxy (as behind HAProxy): each scenario signs in from its own client address.
    headers: { 'content-type': 'application/json', origin: PUBLIC_URL, 'sec-fetch-site': 'same-origin', 'x-forwarded-for': client },
  });
  const setCookie = res.headers.get('set-cookie') ?? '';
  // Behind the https public URL the cookie is Secure.
  if (res.status === 200) expect(setCookie).toMatch(/; Secure$/);
  return { status: res.status, cookie: setCookie.split(';')[0] ?? '' };
}

beforeAll(async () => {
  c = await startCluster({ nodes: 2 });
  v = await c.venue('Кафе «Кластер»');
}, 180_000);
afterAll(async () => { await c?.stop(); }, 60_000);

describe('the console on a cluster', () => {
  it('keeps a session made on one node on the other, and ends it everywhere at sign-out', async () => {
    const [n1, n2] = c.nodes as [Node, Node];
    const { status, cookie } = await signIn(n1, API_KEY);
    expect(status).toBe(200);
    const page = (await call(n2, cookie, 'GET', '/venues?q=кластер')).json<VenuePage>();
    expect(page.venues.map((x) => [x.venueId, x.online])).toEqual([[v.venueId, true]]);
    // The node without the tunnel shows the companion's own verdict: it is in the shared store.
    await waitFor(async () => (await call(n2, cookie, 'GET', `/venues/${v.venueId}`)).json<VenueDetail>().reported, 'the companion\'s report in the store', 20_000, 200);
    expect((await call(n2, cookie, 'DELETE', '/session')).status).toBe(204);
    expect((await call(n1, cookie, 'GET', '/session')).status).toBe(401);
    expect((await call(n2, cookie, 'GET', '/session')).status).toBe(401);
  }, 60_000);

  it('runs diagnostics through the node without the venue\'s tunnel, audited under the key\'s fingerprint', async () => {
    const owner = await c.owner(v.venueId);
    expect(owner).not.toBeNull();
    const other = c.nodes.find((n) => n.name !== owner)!;
    const { cookie } = await signIn(c.node(owner!), API_KEY, '10.2.2.2');
    const r = await call(other, cookie, 'POST', `/venues/${v.venueId}/diagnostics`, { 'x-forwarded-for': '10.2.2.2' });
    expect(r.status, r.text).toBe(200);
    expect(r.json<Report>().summary.venueId).toBe(v.venueId);
    let entries: AuditList['entries'] = [];
    await waitFor(async () => {
      entries = (await call(other, cookie, 'GET', `/venues/${v.venueId}/audit`)).json<AuditList>().entries;
      return entries.some((e) => e.action === 'diagnose');
    }, 'the audit row', 10_000, 100);
    expect(entries.find((e) => e.action === 'diagnose')).toMatchObject({ outcome: 'done', by: { key: FINGERPRINT, ip: '10.2.2.2' } });
  }, 60_000);

  it('limits sign-in attempts across the nodes like pairing attempts', async () => {
    const [n1, n2] = c.nodes as [Node, Node];
    // 10 a minute per source: five wrong keys on each node, then the source is refused on both, the right key too.
    const wrong = await Promise.all(Array.from({ length: 10 }, (_, i) => signIn(i % 2 ? n2 : n1, 'wrong-key-0123456789abcdef', '10.3.3.3')));
    expect(wrong.map((x) => x.status)).toEqual(Array(10).fill(401));
    expect((await signIn(n1, API_KEY, '10.3.3.3')).status).toBe(429);
    expect((await signIn(n2, API_KEY, '10.3.3.3')).status).toBe(429);
    // Another source is not held up by it.
    expect((await signIn(n2, API_KEY, '10.4.4.4')).status).toBe(200);
  }, 60_000);
});
