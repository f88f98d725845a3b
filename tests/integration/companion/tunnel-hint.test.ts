/**
 * The venue hint in the tunnel URL (`/v1/tunnel?venue=<id>`, TUNNEL_VENUE_PARAM):
 * the companion sends its own venue, which a load balancer hashes on; the relay
 * marks the link as hinted only when the hint names the token's own venue, so a
 * wrong or missing hint never makes a link movable (relay/cluster/follow.ts),
 * and the link is served the same either way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fetchUpstream, pairedVenue, relayWithDataDir, tunnelFor, venueCall, waitFor } from '../../helpers/relay.ts';
import { startFakePlugin } from '../../helpers/plugin.ts';

describe('the venue hint in the tunnel URL', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

  const connect = async (venueIdInUrl: string | null) => {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const venue = await pairedVenue(relay.url, dataDir);
    const plugin = await startFakePlugin();
    cleanups.push(() => plugin.close());
    const upstream = fetchUpstream(plugin.url);
    cleanups.push(() => upstream.close());
    const tunnel = tunnelFor(relay.url, { ...venue, venueId: venueIdInUrl ?? venue.venueId }, upstream);
    cleanups.push(() => tunnel.stop());
    await waitFor(() => relay.relay.tunnels.get(venue.venueId) !== null, 'the tunnel up');
    return { relay, venue, link: relay.relay.tunnels.get(venue.venueId)! };
  };

  it('is the companion\'s own venue, and the relay marks such a link', async () => {
    const { relay, venue, link } = await connect(null);
    expect(link.hinted).toBe(true);
    expect((await venueCall(relay.url, venue.venueId, '/api/sections')).status).toBe(200);
  });

  it('naming another venue is ignored: the token decides, the link is served but never moved', async () => {
    const { relay, venue, link } = await connect('ven_someone_else');
    expect(link.venueId).toBe(venue.venueId);
    expect(link.hinted).toBe(false);
    expect((await venueCall(relay.url, venue.venueId, '/api/sections')).status).toBe(200);
  });
});
