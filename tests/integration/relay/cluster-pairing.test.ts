/**
 * The pairing limits hold across nodes.
 * Attempts from one source spread over all three nodes are counted together
 * (the windows live in Redis), whether they come straight to the nodes (a
 * trusted proxy's X-Forwarded-For) or through HAProxy from the source's own
 * address; another source still pairs; a code issued on one node pairs on
 * another.
 */
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, startCluster, type Cluster } from '../../helpers/cluster.ts';
import { COMPANION } from '../../helpers/relay.ts';

/** relay/pairing.ts PAIR_LIMIT_PER_IP: attempts per source per minute. */
const PER_SOURCE = 10;

async function attempt(url: string, o: { code?: string; xff?: string; dispatcher?: Agent } = {}): Promise<number> {
  const res = await fetch(`${url}/v1/pair`, {
    method: 'POST', dispatcher: o.dispatcher,
    headers: { 'content-type': 'application/json', ...(o.xff ? { 'x-forwarded-for': o.xff } : {}) },
    body: JSON.stringify({ pairingCode: o.code ?? 'ZZZZ-ZZZZ', companion: COMPANION }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('pairing limits across nodes', () => {
  let c: Cluster;
  const agents: Agent[] = [];

  beforeAll(async () => { c = await startCluster(); }, 180_000);
  afterAll(async () => {
    for (const a of agents) await a.close();
    await c?.stop();
  }, 60_000);

  it('counts one source\'s attempts on every node together', async () => {
    const byNode = new Map<string, number[]>();
    for (let i = 0; i < PER_SOURCE * 3; i++) {
      const n = c.nodes[i % c.nodes.length]!;
      // Each node trusts 127.0.0.1 as its proxy: the source is the address it forwarded for.
      const s = await attempt(n.url, { xff: '198.51.100.7' });
      byNode.set(n.name, [...(byNode.get(n.name) ?? []), s]);
    }
    const all = [...byNode.values()].flat();
    expect(all.filter((s) => s !== 429)).toHaveLength(PER_SOURCE);
    expect(all.filter((s) => s === 429)).toHaveLength(PER_SOURCE * 2);
    // Every node refused some: the limit is one, not three of ten.
    for (const [name, statuses] of byNode) expect(statuses, name).toContain(429);
    // Another source is not held back by it, on any node.
    for (const n of c.nodes) expect(await attempt(n.url, { xff: `198.51.100.${20 + c.nodes.indexOf(n)}` })).toBe(404);
  });

  it('counts a source behind HAProxy by its own address, on whichever node its attempts land', async () => {
    const from = new Agent({ localAddress: '127.0.0.9' });
    const other = new Agent({ localAddress: '127.0.0.10' });
    agents.push(from, other);
    const statuses: number[] = [];
    for (let i = 0; i < PER_SOURCE + 5; i++) statuses.push(await attempt(c.url, { dispatcher: from }));
    expect(statuses.filter((s) => s !== 429)).toHaveLength(PER_SOURCE);
    expect(await attempt(c.url, { dispatcher: other })).toBe(404);
  });

  it('pairs on one node with a code issued on another', async () => {
    const created = await fetch(`${c.nodes[0]!.url}/v1/venues`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Кафе' }) });
    const { pairingCode } = (await created.json()) as { pairingCode: string };
    expect(await attempt(c.nodes[2]!.url, { code: pairingCode, xff: '198.51.100.99' })).toBe(200);
    // Spent: no node takes it again.
    expect(await attempt(c.nodes[1]!.url, { code: pairingCode, xff: '198.51.100.99' })).not.toBe(200);
  });
});
