/**
 * The relay's side of the feed: events from a tunnel are acked only once they
 * are in the store, duplicates are dropped but acked, a wrong venue is refused,
 * and EVVA pages through them with GET /v1/venues/:id/events.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../../common/logger.ts';
import { RefusedList } from '../../../protocol/relay.ts';
import { STORE_FILE } from '../../../relay/db/open.ts';
import { envelope, rawCompanion } from '../../helpers/feedpeers.ts';
import { API_KEY, pairedVenue, relayWithDataDir, waitFor } from '../../helpers/relay.ts';

const auth = { authorization: `Bearer ${API_KEY}` };

describe('feed events on the relay', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const venue = await pairedVenue(relay.url, dataDir);
    const peer = await rawCompanion(relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    return { relay, venue, peer };
  }

  const refusedOf = async (url: string, venueId: string) => {
    const r = await fetch(`${url}/v1/venues/${venueId}/events/refused`, { headers: auth });
    expect(r.status).toBe(200);
    return RefusedList.parse(await r.json()).refused;
  };

  const page = async (url: string, venueId: string, query: string) => {
    const r = await fetch(`${url}/v1/venues/${venueId}/events${query}`, { headers: auth });
    return { status: r.status, body: (await r.json()) as { events: Array<Record<string, unknown>>; nextAfter: number; more: boolean; error?: string } };
  };

  it('acks an event only when another connection to the store can already read it', async () => {
    const { relay, venue, peer } = await setup();
    const reader = new Database(join(relay.dataDir, STORE_FILE), { readonly: true });
    cleanups.push(() => void reader.close());
    const seenAtAck: number[] = [];
    peer.ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { t: string; eventIds?: string[] };
      if (f.t !== 'ack') return;
      for (const id of f.eventIds ?? []) {
        seenAtAck.push((reader.prepare('SELECT COUNT(*) AS n FROM feed_events WHERE event_id = ?').get(id) as { n: number }).n);
      }
    });
    const sent = [1, 2, 3, 4, 5].map((s) => envelope(venue.venueId, s));
    for (const e of sent) peer.event(e);
    await waitFor(() => peer.acked.length === 5, 'five acks');
    expect(peer.acked.sort()).toEqual(sent.map((e) => e.eventId).sort());
    expect(seenAtAck).toEqual([1, 1, 1, 1, 1]);
  });

  it('drops a duplicate eventId but acks it again, also after a reconnect', async () => {
    const { relay, venue, peer } = await setup();
    const e = envelope(venue.venueId, 1);
    peer.event(e);
    peer.event(e);
    await waitFor(() => peer.acked.length === 2, 'both copies acked');
    await peer.close();
    const again = await rawCompanion(relay.url, venue.deviceToken);
    cleanups.push(() => again.close());
    again.event(e);
    await waitFor(() => again.acked.length === 1, 'resent copy acked');
    const { body } = await page(relay.url, venue.venueId, '');
    expect(body.events.map((x) => x.eventId)).toEqual([e.eventId]);
    const metrics = await (await fetch(`${relay.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/evva_relay_events_total\{result="duplicate"\} 2/);
    expect(metrics).toMatch(/evva_relay_events_total\{result="stored"\} 1/);
  });

  it('refuses events of another venue or with a broken envelope: recorded as refused and acked, never delivered, the link stays up', async () => {
    const { relay, venue, peer } = await setup();
    const foreign = envelope('ven_someoneelse123', 1);
    peer.event(foreign);
    const broken = envelope(venue.venueId, 2);
    peer.send({ t: 'event', eventId: broken.eventId, seq: 2, event: { ...broken, eventType: 'Nonsense' } });
    const mismatched = envelope(venue.venueId, 3);
    peer.send({ t: 'event', eventId: 'other-id', seq: 3, event: mismatched });
    const good = envelope(venue.venueId, 4);
    peer.event(good);
    await waitFor(() => peer.acked.length === 4, 'all four acked');
    expect(peer.acked.sort()).toEqual([foreign.eventId, broken.eventId, 'other-id', good.eventId].sort());
    const { body } = await page(relay.url, venue.venueId, '');
    expect(body.events.map((x) => x.eventId)).toEqual([good.eventId]);
    expect(peer.ws.readyState).toBe(peer.ws.OPEN);
    const metrics = await (await fetch(`${relay.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/evva_relay_events_total\{result="refused"\} 3/);
    const refused = await refusedOf(relay.url, venue.venueId);
    expect(refused.map((r) => [r.eventId, r.seq])).toEqual([['other-id', 3], [broken.eventId, 2], [foreign.eventId, 1]]);
    expect(refused.map((r) => r.reason)).toEqual([
      'frame eventId/seq differ from the envelope', expect.stringMatching(/^bad envelope: eventType/), 'envelope venueId is not the venue of this tunnel',
    ]);
  });

  it('refuses an event whose eventInfo is not its type\'s shape, or nested thousands deep, and goes on with the ones behind it', async () => {
    const { relay, venue, peer } = await setup();
    let deep: unknown = {};
    for (let i = 0; i < 4_000; i++) deep = { d: deep };
    const sent = [
      envelope(venue.venueId, 1, { eventInfo: { order: { id: 'o1', status: 'new' } } }),
      envelope(venue.venueId, 2, { eventType: 'StaffUpdate', eventInfo: { staff: 'everyone' } }),
      envelope(venue.venueId, 3, { eventInfo: { order: deep } }),
    ];
    for (const e of sent) peer.event(e);
    // 20 000 levels (40 KB, inside one frame) cannot even be written out by JSON.stringify: the frame is written by hand.
    const deeper = envelope(venue.venueId, 4, { eventType: 'CompanionHealth', eventInfo: { x: 'HOLE' } });
    const text = JSON.stringify({ t: 'event', eventId: deeper.eventId, seq: 4, event: deeper });
    peer.ws.send(text.replace('"HOLE"', `${'['.repeat(20_000)}${']'.repeat(20_000)}`));
    peer.event(envelope(venue.venueId, 5));
    await waitFor(() => peer.acked.length === 5, 'every event acked');
    const events = await page(relay.url, venue.venueId, '');
    expect(events.status).toBe(200);
    expect(events.body.events.map((e) => e.seq)).toEqual([5]);
    const refused = await refusedOf(relay.url, venue.venueId);
    expect(refused.map((r) => r.seq)).toEqual([4, 3, 2, 1]);
    expect(refused[0]!.reason).toBe('nested deeper than 32 levels');
    expect(refused[1]!.reason).toBe('nested deeper than 32 levels');
    expect(refused[2]!.reason).toMatch(/^eventInfo is not a StaffUpdate: staff /);
    expect(refused[3]!.reason).toMatch(/^eventInfo is not a TableOrderUpdate: order\./);
    // The link survived all of it, and later events still follow.
    peer.event(envelope(venue.venueId, 6));
    await waitFor(() => peer.acked.length === 6, 'the next event acked');
    expect((await page(relay.url, venue.venueId, '?after=5')).body.events.map((e) => e.seq)).toEqual([6]);
  });

  it('refuses a seq that does not follow the venue\'s last one (2^53-1 too), so a puller paging with nextAfter sees every later event', async () => {
    const { relay, venue, peer } = await setup();
    peer.event(envelope(venue.venueId, 1));
    peer.event(envelope(venue.venueId, Number.MAX_SAFE_INTEGER));
    peer.event(envelope(venue.venueId, 2));
    await waitFor(() => peer.acked.length === 3, 'all three acked');
    const first = await page(relay.url, venue.venueId, '');
    expect(first.body.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(first.body.nextAfter).toBe(2);
    peer.event(envelope(venue.venueId, 3));
    await waitFor(() => peer.acked.length === 4, 'the next acked');
    expect((await page(relay.url, venue.venueId, `?after=${first.body.nextAfter}`)).body.events.map((e) => e.seq)).toEqual([3]);
    expect((await refusedOf(relay.url, venue.venueId))[0]).toMatchObject({ seq: Number.MAX_SAFE_INTEGER, reason: expect.stringMatching(/does not follow/) });
  });

  it('logs refusals at most once a minute per link, and counts every one', async () => {
    const warnings: string[] = [];
    const capture: Logger = {
      error() {}, info() {}, debug() {}, warn: (m) => void warnings.push(m), child: () => capture,
    };
    const { relay, dataDir } = await relayWithDataDir(cleanups, { logger: capture });
    const venue = await pairedVenue(relay.url, dataDir);
    const peer = await rawCompanion(relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    for (let i = 1; i <= 20; i++) peer.event(envelope('ven_someoneelse123', i));
    const good = envelope(venue.venueId, 1);
    peer.event(good);
    await waitFor(() => peer.acked.includes(good.eventId), 'the good event acked');
    expect(warnings.filter((w) => w.startsWith('feed event refused'))).toHaveLength(1);
    const metrics = await (await fetch(`${relay.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/evva_relay_events_total\{result="refused"\} 20/);
  });

  it('pages through events in seq order with after and limit, as WebhookEvents', async () => {
    const { relay, venue, peer } = await setup();
    const sent = Array.from({ length: 250 }, (_, i) => envelope(venue.venueId, i + 1));
    for (let i = 0; i < sent.length; i += 100) {
      for (const e of sent.slice(i, i + 100)) peer.event(e);
      await waitFor(() => peer.acked.length === Math.min(sent.length, i + 100), `acks up to ${i + 100}`);
    }
    const got: Array<Record<string, unknown>> = [];
    let after = 0;
    for (let round = 0; round < 10; round++) {
      const { status, body } = await page(relay.url, venue.venueId, `?after=${after}&limit=100`);
      expect(status).toBe(200);
      got.push(...body.events);
      after = body.nextAfter;
      if (!body.more) break;
    }
    expect(got.map((e) => e.seq)).toEqual(sent.map((e) => e.seq));
    expect(got[0]).toMatchObject({ ...sent[0], organizationId: venue.venueId, correlationId: sent[0]!.eventId });
    const tail = await page(relay.url, venue.venueId, '?after=240&limit=5');
    expect(tail.body.events.map((e) => e.seq)).toEqual([241, 242, 243, 244, 245]);
    expect(tail.body).toMatchObject({ nextAfter: 245, more: true });
  });

  it('answers 404 for an unknown venue, 400 for bad paging, 401 without the key', async () => {
    const { relay, venue } = await setup();
    expect((await page(relay.url, 'ven_nosuchvenue000', '')).status).toBe(404);
    expect((await page(relay.url, venue.venueId, '?limit=0')).status).toBe(400);
    expect((await page(relay.url, venue.venueId, '?after=-1')).status).toBe(400);
    expect((await page(relay.url, venue.venueId, '?limit=abc')).status).toBe(400);
    const r = await fetch(`${relay.url}/v1/venues/${venue.venueId}/events`);
    expect(r.status).toBe(401);
  });
});
