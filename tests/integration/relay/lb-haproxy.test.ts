/**
 * HAProxy from Debian in front of three relay bins (each a plain single relay
 * with its own SQLite): what the load balancer itself must do for a cluster,
 * independent of the cluster's own parts. Health checks take a dead node out
 * and put it back, a call that hit a dying node is sent to another, the
 * relay sees the client's own address (X-Forwarded-For), and a tunnel's
 * WebSocket upgrade passes. HAProxy checks /readyz, as in production.
 */
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type Sim } from '../../../sim/index.ts';
import { relaysBehindHaproxy, type Haproxy, type PlainNode } from '../../helpers/haproxy.ts';
import { API_KEY, COMPANION, createVenue, fetchUpstream, pairedVenue, tempDir, tunnelFor, venueCall, waitFor } from '../../helpers/relay.ts';

const auth = { authorization: `Bearer ${API_KEY}` };

/** A client whose connections come from `address` (any of 127.0.0.0/8), so the relay can tell clients apart. */
function clientAt(address: string): Agent {
  return new Agent({ localAddress: address });
}

async function pairAttempt(url: string, dispatcher: Agent, code = 'ZZZZ-ZZZZ'): Promise<number> {
  const res = await fetch(`${url}/v1/pair`, {
    method: 'POST', dispatcher, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pairingCode: code, companion: COMPANION }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('HAProxy in front of relay nodes', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  let nodes: PlainNode[];
  let lb: Haproxy;
  let start: (n: PlainNode) => Promise<void>;

  /** The name of the node that answered: each node's own SQLite holds one venue named after it. */
  const whoAnswers = async (): Promise<string> => {
    const res = await fetch(`${lb.url}/v1/venues`, { headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { venues: Array<{ name: string }> };
    return body.venues.map((v) => v.name).join(',');
  };

  beforeAll(async () => {
    ({ nodes, lb, start } = await relaysBehindHaproxy(['n1', 'n2', 'n3'], cleanups));
    for (const n of nodes) await createVenue(n.url, n.name);
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('health-checks every node and spreads calls over all of them', async () => {
    expect(await lb.servers()).toEqual({ n1: 'UP', n2: 'UP', n3: 'UP' });
    const seen = new Map<string, number>();
    for (let i = 0; i < 9; i++) {
      const who = await whoAnswers();
      seen.set(who, (seen.get(who) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(['n1', 'n2', 'n3']);
  });

  it('passes the client address to the relay (X-Forwarded-For, --trust-proxy)', async () => {
    const from = clientAt('127.0.0.5');
    cleanups.push(() => from.close());
    expect(await pairAttempt(lb.url, from)).toBe(404);
    // The refusal is logged on whichever node took it, with the address HAProxy saw, not HAProxy's own.
    await waitFor(() => nodes.some((n) => /"pairing refused".*"ip":"127\.0\.0\.5"|"ip":"127\.0\.0\.5".*"pairing refused"/.test(n.proc!.output())),
      'the refusal logged with the client address', 5_000);
  });

  it('sends calls that hit a dead or stopping node to the others, and marks the node down', async () => {
    const n2 = nodes[1]!;
    const n3 = nodes[2]!;
    await n2.proc!.stop('SIGKILL');
    const term = n3.proc!.stop('SIGTERM');
    // Before the health checks notice, some of these land on the dead node: HAProxy retries them elsewhere.
    const answered: string[] = [];
    for (let i = 0; i < 30; i++) answered.push(await whoAnswers());
    await term;
    // Every call answered 200 (whoAnswers checks it); none by the dead node. The stopping one may
    // still answer during its drain's first moments, until HAProxy has seen its /readyz turn 503.
    expect(answered).toHaveLength(30);
    expect(answered).not.toContain('n2');
    expect(answered).toContain('n1');
    await waitFor(async () => {
      const s = await lb.servers();
      return s.n2 === 'DOWN' && s.n3 === 'DOWN' && s.n1 === 'UP';
    }, 'n2 and n3 DOWN in HAProxy', 10_000, 100);
  });

  it('holds the pairing limit per client address, not per load balancer', async () => {
    // Only n1 is up now: every attempt reaches one limiter (a cluster shares it through Redis).
    const a = clientAt('127.0.0.6');
    const b = clientAt('127.0.0.7');
    cleanups.push(() => a.close(), () => b.close());
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push(await pairAttempt(lb.url, a));
    expect(statuses.filter((s) => s === 404)).toHaveLength(10); // PAIR_LIMIT_PER_IP
    expect(statuses.filter((s) => s === 429)).toHaveLength(4);
    // Another venue's address is not limited by the first one's attempts.
    expect(await pairAttempt(lb.url, b)).toBe(404);
  });

  it('passes a tunnel\'s WebSocket upgrade, and venue calls reach the plugin through it', async () => {
    const sim: Sim = await startSim({ port: 0, auto: false });
    cleanups.push(() => sim.close());
    const dataDir = tempDir('lb-companion');
    cleanups.push(() => dataDir.remove());
    const venue = await pairedVenue(lb.url, dataDir.dir);
    const up = fetchUpstream(sim.url);
    cleanups.push(() => up.close());
    const tunnel = tunnelFor(lb.url, venue, up);
    cleanups.push(() => tunnel.stop());
    await waitFor(() => tunnel.status().state === 'connected', 'tunnel connected through HAProxy', 15_000);
    const r = await venueCall(lb.url, venue.venueId, '/api/orders?$top=1');
    expect(r.status).toBe(200);
    expect(Array.isArray(r.json())).toBe(true);
    expect(up.calls).toBeGreaterThan(0);
  });

  it('puts a restarted node back once its health checks pass', async () => {
    const n2 = nodes[1]!;
    await start(n2);
    await waitFor(async () => (await lb.servers()).n2 === 'UP', 'n2 UP again', 15_000, 100);
    // It serves through HAProxy again: its own venue shows up among the answers.
    const answered = new Set<string>();
    for (let i = 0; i < 12; i++) answered.add(await whoAnswers());
    expect(answered.has('n2')).toBe(true);
  });
});
