/**
 * What one device token can make the relay store: events past a venue's
 * limits wait on the link unacknowledged (nothing is lost: the companion keeps
 * them), an event above the size cap is refused, and events are deleted after
 * the retention once no receiver needs them. The limits are lowered here so
 * the test need not send gigabytes; the production numbers are in
 * relay/quota.ts and docs/relay.md.
 */
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock, type Clock } from '../../../common/clock.ts';
import { MAX_EVENT_BYTES } from '../../../protocol/events.ts';
import { RefusedList } from '../../../protocol/relay.ts';
import { FEED_LIMITS } from '../../../relay/quota.ts';
import { envelope, rawCompanion } from '../../helpers/feedpeers.ts';
import { runBin } from '../../helpers/proc.ts';
import { API_KEY, pairedVenue, relayWithDataDir, tempDir, waitFor } from '../../helpers/relay.ts';
import type { RelayOptions } from '../../../relay/server.ts';

const auth = { authorization: `Bearer ${API_KEY}` };

describe('per-venue feed limits and retention', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(opts: Partial<RelayOptions>) {
    const { relay, dataDir } = await relayWithDataDir(cleanups, opts);
    const venue = await pairedVenue(relay.url, dataDir);
    const peer = await rawCompanion(relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    const stored = async () => ((await (await fetch(`${relay.url}/v1/venues/${venue.venueId}/events?limit=1000`, { headers: auth })).json()) as { events: unknown[] }).events.length;
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await (await fetch(`${relay.url}/metrics`, { headers: auth })).text())?.[1] ?? 0);
    return { relay, venue, peer, stored, metric };
  }

  it('holds back events over the venue\'s rate: they wait unacknowledged on the link, and all are stored in the end', async () => {
    const { venue, peer, stored, metric } = await setup({ feedLimits: { eventBurst: 5, eventsPerSecond: 5 } });
    const sent = Array.from({ length: 25 }, (_, i) => envelope(venue.venueId, i + 1));
    for (const e of sent) peer.event(e);
    await waitFor(() => peer.acked.length >= 5, 'the burst acked');
    // The other 20 need about 4 s at 5 a second: right after the burst, most still wait.
    expect(peer.acked.length).toBeLessThan(15);
    expect(await metric('evva_relay_feed_throttled_total')).toBeGreaterThan(0);
    await waitFor(() => peer.acked.length === 25, 'every event acked in the end', 20_000);
    expect(await stored()).toBe(25);
  });

  it('stops a venue at its bytes a day: what it sends beyond stays unacknowledged with the companion, nothing is stored past it', async () => {
    // A day's allowance of 40 KB (real: FEED_LIMITS.bytesPerDay): about eight of these 5 KB events.
    const { venue, peer, stored } = await setup({ feedLimits: { bytesPerDay: 40_000 } });
    const big = (seq: number) => envelope(venue.venueId, seq, { eventType: 'CompanionHealth', eventInfo: {
      reason: 'front', front: 'up', frontError: 'x'.repeat(5_000), backlog: 0, oldestUnsentAt: null, reconnects: 0,
    } });
    for (let s = 1; s <= 40; s++) peer.event(big(s));
    await waitFor(() => peer.acked.length >= 8, 'the day\'s allowance acked');
    // The rest would refill at 40 KB a day (one event every ~3 hours): nothing more is stored while the test looks.
    const atLimit = peer.acked.length;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(peer.acked.length).toBe(atLimit);
    expect(atLimit).toBeLessThanOrEqual(10);
    expect(await stored()).toBe(atLimit);
  });

  it('refuses one event larger than the cap (recorded, acked) and takes the next', async () => {
    const { relay, venue, peer, stored } = await setup({});
    const huge = envelope(venue.venueId, 1, { eventType: 'CompanionHealth', eventInfo: {
      reason: 'front', front: 'up', frontError: 'x'.repeat(MAX_EVENT_BYTES), backlog: 0, oldestUnsentAt: null, reconnects: 0,
    } });
    peer.event(huge);
    peer.event(envelope(venue.venueId, 2));
    await waitFor(() => peer.acked.length === 2, 'both acked');
    expect(await stored()).toBe(1);
    const refused = RefusedList.parse(await (await fetch(`${relay.url}/v1/venues/${venue.venueId}/events/refused`, { headers: auth })).json()).refused;
    expect(refused).toEqual([expect.objectContaining({ eventId: huge.eventId, reason: `larger than ${MAX_EVENT_BYTES} bytes` })]);
  });

  it('deletes events past the retention that no receiver needs, and keeps newer ones', async () => {
    // The relay's wall clock is moved 31 days on: events stored "then" are past a 30-day retention.
    let offset = 0;
    const clock: Clock = { ...realClock, now: () => Date.now() + offset };
    const { relay, venue, peer, stored } = await setup({ clock, retentionDays: 30 });
    for (let s = 1; s <= 3; s++) peer.event(envelope(venue.venueId, s));
    await waitFor(() => peer.acked.length === 3, 'three stored');
    offset = 31 * 86_400_000;
    peer.event(envelope(venue.venueId, 4));
    await waitFor(() => peer.acked.length === 4, 'a fresh one stored');
    expect(await relay.relay.retention.run()).toBe(3);
    expect(await stored()).toBe(1);
  });

  it('sets a busy venue\'s limits far above what it sends, and takes the retention from --retention-days', async () => {
    // docs/relay.md "Limits per venue" (npm run bench -- venue): a load far past any restaurant sends about 9 events and
    // 10 KiB a second, 36 MB an hour; a busy venue about 70 MB a day. The limits must leave room over both.
    expect(FEED_LIMITS.eventsPerSecond).toBeGreaterThanOrEqual(5 * 9);
    expect(FEED_LIMITS.bytesPerSecond).toBeGreaterThanOrEqual(50 * 10 * 1024);
    expect(FEED_LIMITS.bytesPerDay).toBeGreaterThanOrEqual(10 * 70e6);
    expect(FEED_LIMITS.bytesPerDay).toBeGreaterThanOrEqual(16 * 36e6);
    const d = tempDir('relay-retention');
    cleanups.push(() => d.remove());
    const bad = await runBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', d.dir, '--retention-days', '0'], { EVVA_RELAY_API_KEYS: API_KEY });
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--retention-days must be a whole number of days, 1\.\.3650/);
  });
});
