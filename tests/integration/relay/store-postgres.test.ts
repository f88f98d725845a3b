/**
 * What only a shared Postgres can show: two relay nodes (two stores, each its
 * own pool) racing for the same webhook lease and the same pairing code never
 * both win, and the store lives through Postgres going away and coming back:
 * calls fail with an error meanwhile (never hang, never crash the process).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Upstream } from '../../../main/core/upstream.ts';
import { CreateVenueResponse, VenueList } from '../../../protocol/relay.ts';
import { QUERY_TIMEOUT_MS, STATEMENT_TIMEOUT_MS } from '../../../relay/db/open.ts';
import { arrivals, envelope } from '../../helpers/feedpeers.ts';
import { ROOT, startBin } from '../../helpers/proc.ts';
import { API_KEY, pairedVenue, startRelay, tempDir, tunnelFor, waitFor } from '../../helpers/relay.ts';
import { postgresBackend } from '../../helpers/stores.ts';

const ROUNDS = 30;
const COMPANION = { version: '1', hostname: 'pos' };

describe('relay store on a shared Postgres', () => {
  const backend = postgresBackend({ own: true }); // it kills, restarts and pauses the server
  beforeAll(() => backend.start(), 60_000);
  afterAll(() => backend.stop(), 60_000);
  beforeEach(() => backend.fresh(), 30_000);
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); }, 30_000);

  it('gives a webhook lease to one node at a time however the claims interleave', async () => {
    const nodes = [await backend.open(), await backend.open()];
    let ids = 0;
    const newId = () => `dlv_${++ids}`;
    const winners: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const v = `ven_race${round}`;
      await nodes[0]!.addVenue(v, v, round);
      // The state row exists before the race (a first batch delivered), so only the row lock can order the claims.
      await nodes[0]!.feed.appendEvents(v, arrivals([envelope(v, 1)]), 0);
      const first = await nodes[0]!.feed.claimBatch(v, 'warm', 0, 1_000, 10, newId);
      await nodes[0]!.feed.finishBatch(v, 'warm', first!.deliveryId, 1);
      await nodes[1]!.feed.appendEvents(v, arrivals([envelope(v, 2)]), 2);
      // Two claimers per node, all at once.
      const claims = await Promise.all([0, 1, 2, 3].map((i) =>
        nodes[i % 2]!.feed.claimBatch(v, `node-${i}`, 10, 60_000, 10, newId)));
      const won = claims.filter((c) => c !== null);
      winners.push(won.length);
      expect(won[0]?.events.map((e) => e.envelope.seq)).toEqual([2]);
    }
    expect(winners).toEqual(Array(ROUNDS).fill(1));
  }, 60_000);

  it('lets a pairing code be used once when two nodes claim it at the same moment', async () => {
    const [a, b] = [await backend.open(), await backend.open()];
    const outcomes = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const v = `ven_pair${round}`;
      await a.addVenue(v, v, round);
      await a.addPairingCode(v, `code${round}`, 0, 1_000_000);
      const r = await Promise.all([
        a.claimPairingCode(`code${round}`, `tokA${round}`, COMPANION, 10),
        b.claimPairingCode(`code${round}`, `tokB${round}`, COMPANION, 10),
      ]);
      const key = r.map((x) => (x.ok ? 'ok' : x.reason)).sort().join('+');
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      // The winner's token is the venue's, and only one token was installed.
      const hashes = await b.tokenHashesOf(v);
      expect(hashes).toHaveLength(1);
      expect(hashes[0]).toBe(r[0].ok ? `tokA${round}` : `tokB${round}`);
    }
    expect(Object.fromEntries(outcomes)).toEqual({ 'ok+used': ROUNDS });
  }, 60_000);

  it('fails calls while Postgres is down, within the timeouts, and works again once it is back', async () => {
    const server = backend.server();
    const store = await backend.open();
    await store.addVenue('ven_live', 'Live', 0);
    // Fill the pool with idle connections: the server's death errors them while nobody holds them.
    await Promise.all(Array.from({ length: 4 }, () => store.ping()));

    const e1 = envelope('ven_live', 1);
    const inFlight = Promise.allSettled(Array.from({ length: 3 }, () => store.feed.appendEvents('ven_live', arrivals([e1]), 0)));
    await server.kill();
    const acked = (await inFlight).some((r) => r.status === 'fulfilled'); // every one settled (committed or failed), none hangs

    const t = Date.now();
    const failures = await Promise.allSettled([store.ping(), store.getVenue('ven_live'), store.feed.listEvents('ven_live', 0, 10), store.tokenMark()]);
    expect(failures.every((f) => f.status === 'rejected')).toBe(true);
    // A refused connection fails at once; the bound is the connect timeout, well inside a statement timeout.
    expect(Date.now() - t).toBeLessThan(STATEMENT_TIMEOUT_MS);

    await server.restart();
    const back = Date.now();
    let ms: number | null = null;
    while (ms === null && Date.now() - back < 20_000) {
      ms = await store.ping().catch(() => null);
      if (ms === null) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ms).not.toBeNull();
    expect((await store.getVenue('ven_live'))?.name).toBe('Live');
    // An event acked before the kill survived it (fsync on), stored once however often it was sent; a resend adds nothing.
    const stored = (await store.feed.listEvents('ven_live', 0, 10)).map((e) => e.eventId);
    if (acked) expect(stored).toEqual([e1.eventId]);
    else expect(stored.filter((id) => id !== e1.eventId)).toEqual([]);
    expect(await store.feed.appendEvents('ven_live', arrivals([e1, envelope('ven_live', 2)]), 0)).toEqual({ inserted: stored.length ? 1 : 2, duplicates: stored.length ? 1 : 0, refused: [] });

    // A clean restart (fast shutdown) is survived the same way.
    await server.restart();
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = await store.countVenues().then(() => true, () => false);
      if (!ok) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ok).toBe(true);
    expect(await store.countVenues()).toBe(1);
  }, 90_000);

  it('fails calls within the query timeout while Postgres hangs (SIGSTOP), and works again once it answers', async () => {
    const server = backend.server();
    const store = await backend.open();
    await store.addVenue('ven_hung', 'Hung', 0);
    await Promise.all(Array.from({ length: 4 }, () => store.ping()));
    server.pause();
    try {
      const t = Date.now();
      // Pooled connections (their queries hang) and new ones (their start-up hangs) alike.
      const calls = await Promise.allSettled([store.getVenue('ven_hung'), store.feed.listEvents('ven_hung', 0, 10), store.tokenMark(),
        ...Array.from({ length: 8 }, () => store.countVenues())]);
      const took = Date.now() - t;
      expect(calls.every((c) => c.status === 'rejected'), JSON.stringify(calls.map((c) => c.status))).toBe(true);
      expect(took).toBeLessThan(QUERY_TIMEOUT_MS + 3_000);
      console.log(`postgres hung: ${calls.length} calls rejected after ${took} ms (query timeout ${QUERY_TIMEOUT_MS} ms)`);
    } finally {
      server.resume();
    }
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = await store.getVenue('ven_hung').then((v) => v?.name === 'Hung', () => false);
      if (!ok) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ok).toBe(true);
    expect(await store.countVenues()).toBe(1);
  }, 90_000);

  it('evva-relay takes the store from --store or EVVA_RELAY_STORE, in every command', async () => {
    const url = backend.server().url;
    const relayCli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync(process.execPath, ['bin/evva-relay.js', ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
    const d = tempDir('relay-pg');
    cleanups.push(() => d.remove());
    const add = relayCli(['venue', 'add', 'Кафе на Postgres', '--json', '--store', url, '--data-dir', d.dir]);
    expect(add.status, add.stderr).toBe(0);
    const created = CreateVenueResponse.parse(JSON.parse(add.stdout));
    const serve = startBin('evva-relay', ['serve', '--port', '0', '--data-dir', d.dir, '--store-pool', '3'],
      { EVVA_RELAY_API_KEYS: API_KEY, EVVA_RELAY_STORE: url });
    cleanups.push(() => serve.stop());
    const base = JSON.parse((await serve.waitFor(/\{"listening".*\}/))[0]).listening as string;
    const listed = VenueList.parse(await (await fetch(`${base}/v1/venues`, { headers: { authorization: `Bearer ${API_KEY}` } })).json());
    expect(listed.venues.map((v) => v.venueId)).toEqual([created.venueId]);
    // Nothing went to SQLite: the data dir has no relay.sqlite.
    expect(relayCli(['venues', '--json', '--data-dir', d.dir]).stdout).toBe('{"venues":[]}\n');
    const bad = relayCli(['venues', '--store', 'mysql://x/y', '--data-dir', d.dir]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--store takes postgres:/);
    const badPool = relayCli(['venues', '--store', url, '--store-pool', '0']);
    expect(badPool.status).toBe(2);
  }, 60_000);

  it('a revocation made through one relay closes the tunnel another relay holds, within about a second', async () => {
    const url = backend.server().url;
    const a = await startRelay({ store: url, storePool: 3 });
    cleanups.push(() => a.close());
    const b = await startRelay({ store: url, storePool: 3 });
    cleanups.push(() => b.close());
    const ok: Upstream = { async forward() { return { status: 204, headers: {}, body: null }; } };
    const companion = tempDir('companion');
    cleanups.push(() => companion.remove());
    const v = await pairedVenue(a.url, companion.dir);
    const tunnel = tunnelFor(a.url, v, ok);
    cleanups.push(() => tunnel.stop());
    await waitFor(() => a.relay.tunnels.get(v.venueId) !== null, 'tunnel on relay A');
    const link = a.relay.tunnels.get(v.venueId)!;
    const res = await fetch(`${b.url}/v1/venues/${v.venueId}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBeLessThan(300);
    const took = await waitFor(() => link.closed, 'A closed the revoked tunnel', 5_000);
    expect(took).toBeLessThan(3_000);
  }, 60_000);
});
