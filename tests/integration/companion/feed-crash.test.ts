/**
 * The outbox against `kill -9`: the real companion process polls a busy
 * simulated restaurant and is killed with SIGKILL several times while events
 * are queued (the relay-side peer not acking, or acking as they come), then
 * restarted. At the end the peer holds every seq from 1 with one event each,
 * the latest state of every order, and no state twice.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedOrder } from '../../../protocol/feed.ts';
import { LocalApiFile, Status } from '../../../protocol/local.ts';
import { startSim, type Sim } from '../../../sim/index.ts';
import { startPeer, type Peer } from '../../helpers/peer.ts';
import { startBin, type Proc } from '../../helpers/proc.ts';

const TOKEN = 'device-token-crash-0123456789';
const VENUE = 'venue-crash';

let sim: Sim | null = null;
let peer: Peer | null = null;
let proc: Proc | null = null;
let dir = '';
afterEach(async () => {
  await proc?.stop('SIGKILL');
  await peer?.close();
  await sim?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function status(): Promise<Status | null> {
  try {
    const api = LocalApiFile.parse(JSON.parse(fs.readFileSync(path.join(dir, 'local-api.json'), 'utf8')));
    const res = await fetch(`${api.url}/api/status`, { headers: { authorization: `Bearer ${api.token}` } });
    return Status.parse(await res.json());
  } catch {
    return null;
  }
}

describe('the outbox survives kill -9', () => {
  it('loses and duplicates nothing at the relay end across three SIGKILLs', async () => {
    // The sim's usual 2 licence slots: the companion reuses its saved session after a kill, so kills leak no slot.
    sim = await startSim({ port: 0, auto: true, speed: 40, seed: 3 });
    peer = await startPeer({ token: TOKEN, venueId: VENUE, ack: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-crash-'));
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ feed: { ordersIntervalMs: 100, staffIntervalSec: 1, tablesIntervalSec: 1 } }));
    fs.writeFileSync(path.join(dir, 'device.json'), JSON.stringify({ relayUrl: peer.url, venueId: VENUE, deviceToken: TOKEN, pairedAt: new Date().toISOString() }));
    const run = () => startBin('evva-companion', ['run', '--data-dir', dir, '--front-url', sim!.url, '--api-port', '0']);
    let killedWithBacklog = 0;
    // Acks off, on, off: killed with nothing acked, with acks racing the kill, and with a backlog carried over.
    for (const ack of [false, true, false]) {
      peer.setAck(ack);
      proc = run();
      await proc.waitFor(/Локальный API/, 30_000);
      const before = peer.frames();
      const t0 = Date.now();
      while (peer.frames() < before + 15 && Date.now() - t0 < 20_000) await sleep(50);
      await sleep(200 + Math.floor(Math.random() * 800));
      const s = await status();
      if ((s?.feed?.backlog ?? 0) > 0) killedWithBacklog++;

      proc.child.kill('SIGKILL');
      expect(await proc.exited).toBe('SIGKILL');
    }
    expect(killedWithBacklog).toBeGreaterThanOrEqual(2);

    peer.setAck(true);
    proc = run();
    await proc.waitFor(/Локальный API/, 30_000);
    await sleep(1_000);
    sim.setAuto(false);
    const byOrder = (): Map<string, FeedOrder[]> => {
      const m = new Map<string, FeedOrder[]>();
      for (const e of peer!.ordered()) {
        if (!e.eventType.endsWith('OrderUpdate')) continue;
        const o = e.eventInfo.order as FeedOrder;
        m.set(o.id, [...(m.get(o.id) ?? []), o]);
      }
      return m;
    };
    // The orders whose last state at the peer is not the sim's. The plugin never lists a Deleted order: one deleted
    // before any poll could list it (the seeded morning's, or one opened and deleted while the companion was down)
    // leaves nothing to send. Seen once, its deletion must arrive.
    const behind = (): string[] => {
      const seen = byOrder();
      return sim!.world.orders.filter((o) => {
        const s = seen.get(o.id);
        if (!s) return o.status !== 'Deleted';
        return s.at(-1)!.revision !== o.revision || s.at(-1)!.iikoStatus !== o.status;
      }).map((o) => `${o.number} ${o.status} r${o.revision}`);
    };
    // Caught up: the peer shows every order's current state. Waited for, not slept on: a deletion that is the
    // plugin's latest change shows no gap in the revisions, so the companion finds it at its next sweep of the
    // open orders (DEFAULT_SWEEP_MS), which can be seconds after the last poll.
    const t0 = Date.now();
    while (behind().length > 0 && Date.now() - t0 < 30_000) await sleep(250);
    expect(behind(), 'orders whose latest state never reached the peer').toEqual([]);
    // Then quiet: nothing more is written, sent or resent.
    let quiet = 0;
    let last = -1;
    const t1 = Date.now();
    while (quiet < 3 && Date.now() - t1 < 30_000) {
      await sleep(500);
      const s = await status();
      const size = peer.events.size;
      quiet = s?.feed?.backlog === 0 && size === last ? quiet + 1 : 0;
      last = size;
    }
    expect(quiet).toBe(3);

    // Every seq from 1 to the last, each with exactly one eventId.
    const maxSeq = Math.max(...peer.bySeq.keys());
    expect(peer.events.size).toBe(maxSeq);
    for (let seq = 1; seq <= maxSeq; seq++) expect(peer.bySeq.get(seq)?.size, `seq ${seq}`).toBe(1);
    expect(peer.frames()).toBeGreaterThan(peer.events.size); // some were resent after the kills, and dropped by eventId

    // Nothing lost: the last event of every order in the sim shows its current state.
    const final = byOrder();
    expect(sim.world.orders.length).toBeGreaterThan(10);
    for (const o of sim.world.orders) {
      const seen = final.get(o.id);
      if (!seen && o.status === 'Deleted') continue;
      expect(seen, `order ${o.number}`).toBeDefined();
      expect([seen!.at(-1)!.revision, seen!.at(-1)!.iikoStatus], `order ${o.number}`).toEqual([o.revision, o.status]);
      // Nothing duplicated: no state of an order was emitted twice.
      const states = seen!.map((x) => JSON.stringify(x));
      expect(new Set(states).size, `order ${o.number}`).toBe(states.length);
    }
  }, 180_000);
});
