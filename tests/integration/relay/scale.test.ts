/**
 * The relay's bookkeeping at scale, on a real SQLite file: paging of the venue
 * list, last-seen times in one transaction, `synchronous` set explicitly, and
 * revocation pushed from the store (this process) or noticed from another.
 */
import Database from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VenueList } from '../../../protocol/relay.ts';
import { FD_HEADROOM_MIN, fdLimit, tunnelCap } from '../../../relay/limits.ts';
import { STORE_FILE } from '../../../relay/db/open.ts';
import { openStore } from '../../../relay/db/store.ts';
import type { Upstream } from '../../../main/core/upstream.ts';
import type { TunnelStatus } from '../../../protocol/local.ts';
import { API_KEY, createVenue, pairedVenue, relayWithDataDir, startRelay, tempDir, tunnelFor, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });
const ok: Upstream = { async forward() { return { status: 204, headers: {}, body: null }; } };

describe('relay at scale', () => {
  it('pages GET /v1/venues with a cursor, every venue exactly once, in creation order', async () => {
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await createVenue(relay.url, `V${i}`)).venueId);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const q: string = `limit=3${after ? `&after=${after}` : ''}`;
      const res = await fetch(`${relay.url}/v1/venues?${q}`, { headers: { authorization: `Bearer ${API_KEY}` } });
      const body = VenueList.parse(await res.json());
      expect(body.venues.length).toBeLessThanOrEqual(3);
      seen.push(...body.venues.map((v) => v.venueId));
      after = body.next ?? null;
      if (!after) break;
    }
    expect(seen).toEqual(made);
    const bad = await fetch(`${relay.url}/v1/venues?limit=0`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(bad.status).toBe(400);
    const unknown = await fetch(`${relay.url}/v1/venues?after=ven_nope`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(unknown.status).toBe(400);
  });

  it('sets synchronous=FULL on a new file and again after a restart, and writes last-seen times in one transaction', async () => {
    const d = tempDir('relay-store');
    cleanups.push(() => d.remove());
    for (let run = 0; run < 2; run++) {
      const store = await openStore({ dataDir: d.dir });
      // 2 = FULL (1 = NORMAL): read back through the store's own connection. FULL: an acked event survives a power cut.
      const pragma = await sql<{ synchronous: number }>`pragma synchronous`.execute((store as unknown as { db: Kysely<unknown> }).db);
      expect(pragma.rows[0]?.synchronous).toBe(2);
      if (run === 0) for (let i = 0; i < 50; i++) await store.addVenue(`v${i}`, `V${i}`, i);
      await store.markSeenMany(Array.from({ length: 50 }, (_, i) => [`v${i}`, 1_000 + i] as [string, number]));
      expect((await store.getVenue('v49'))?.lastSeenAt).toBe(1_049);
      await store.close();
    }
    // Another connection (as the CLI) sees every update, all committed together.
    const db = new Database(join(d.dir, STORE_FILE), { readonly: true });
    expect(db.prepare('SELECT COUNT(*) AS n FROM venues WHERE last_seen_at >= 1000').get()).toEqual({ n: 50 });
    db.close();
  });

  it('closes a revoked venue\'s tunnel by the time the revocation resolves, and tells the companion', async () => {
    const { relay, dataDir: dirA } = await relayWithDataDir(cleanups);
    const a = await pairedVenue(relay.url, dirA);
    const tunnelA = tunnelFor(relay.url, a, ok);
    cleanups.push(() => tunnelA.stop());
    await waitFor(() => relay.relay.tunnels.get(a.venueId) !== null, 'A connected');
    const linkA = relay.relay.tunnels.get(a.venueId)!;
    await relay.relay.store.revoke(a.venueId, Date.now());
    // Pushed by the store, no poll: a SQLite relay has none (`evva-relay venue revoke` goes through the relay's API,
    // tests/integration/companion/tunnel-resilience.test.ts; a shared store's poll: integration/relay/store-postgres.test.ts).
    expect(linkA.closed).toBe(true);
    await waitFor(() => tunnelA.status().state === 'unpaired', 'A told it is revoked');
    expect(tunnelA.status().error?.code).toBe('token_refused');
  });

  it('refuses tunnels beyond its cap with 503 while the venue API and health checks still answer', async () => {
    const relay = await startRelay({ maxTunnels: 1 });
    cleanups.push(() => relay.close());
    const dirs = [tempDir('companion'), tempDir('companion')];
    cleanups.push(() => { dirs.forEach((d) => d.remove()); });
    const a = await pairedVenue(relay.url, dirs[0]!.dir);
    const b = await pairedVenue(relay.url, dirs[1]!.dir);
    const ta = tunnelFor(relay.url, a, ok);
    cleanups.push(() => ta.stop());
    await waitFor(() => ta.status().state === 'connected', 'A connected');
    // Every status B reports, not a poll: B goes back to 'connecting' at its first retry, so a poll that first sees
    // the refusal may already read the retry's state (failed so at load 2-5).
    const seen: TunnelStatus[] = [];
    const tb = tunnelFor(relay.url, b, ok, { onStatus: (s) => seen.push(s) });
    cleanups.push(() => tb.stop());
    await waitFor(() => seen.some((s) => s.error?.code === 'relay_error'), 'B refused');
    expect(seen.find((s) => s.error?.code === 'relay_error')?.state).toBe('offline');
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
    const call = await fetch(`${relay.url}/v1/venues/${a.venueId}/front/api/x`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(call.status).toBe(204);
    const m = await (await fetch(`${relay.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
    expect(m).toMatch(/evva_relay_tunnels_refused_total [1-9]/);
  });

  it('keeps a headroom of file descriptors free of tunnels', () => {
    expect(tunnelCap(1_024)).toBe(1_024 - FD_HEADROOM_MIN);
    expect(tunnelCap(20_000)).toBe(18_000);
    expect(tunnelCap(100)).toBe(0);
    expect(tunnelCap(null)).toBeNull();
    const d = tempDir('limits');
    cleanups.push(() => d.remove());
    const f = join(d.dir, 'limits');
    writeFileSync(f, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            4096                 524288               files\n');
    expect(fdLimit(f)).toBe(4_096);
    expect(fdLimit(join(d.dir, 'missing'))).toBeNull();
  });
});
