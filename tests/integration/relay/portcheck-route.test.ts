/**
 * `POST /v1/tunnel/portcheck`: only a paired device may ask, only with its
 * tunnel up (the tunnel's address is the only target), and not too often.
 */
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { PORTCHECK_PATH, PortCheckResult } from '../../../protocol/diagnostics.ts';
import type { Upstream } from '../../../main/core/upstream.ts';
import { pairedVenue, relayWithDataDir, tunnelFor, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const nothing: Upstream = { async forward() { throw new Error('no upstream'); } };

async function ask(relayUrl: string, token: string | null, body: unknown) {
  const res = await fetch(`${relayUrl}${PORTCHECK_PATH}`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

describe('port probe-back route', () => {
  it('wants a device token, a tunnel, a valid port, and one call per few seconds', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const venue = await pairedVenue(relay.url, dataDir);
    expect((await ask(relay.url, null, { port: 9042 })).status).toBe(401);
    expect((await ask(relay.url, 'evd_not-a-real-token-000000', { port: 9042 })).status).toBe(401);
    expect((await ask(relay.url, venue.deviceToken, { port: 9042 })).status).toBe(409); // no tunnel yet
    const t = tunnelFor(relay.url, venue, nothing);
    cleanups.push(() => t.stop());
    await waitFor(() => t.status().state === 'connected', 'tunnel up');
    expect((await ask(relay.url, venue.deviceToken, { port: 0 })).status).toBe(400);
    expect((await ask(relay.url, venue.deviceToken, { port: 9042, host: '8.8.8.8' })).status).toBe(400); // no caller-named host
    const first = await ask(relay.url, venue.deviceToken, { port: 9042 });
    expect(first.status).toBe(200);
    // Outside test mode the relay will not probe the tunnel's loopback address.
    expect(PortCheckResult.parse(first.body)).toMatchObject({ ip: '127.0.0.1', outcome: 'refused' });
    expect((await ask(relay.url, venue.deviceToken, { port: 9042 })).status).toBe(429);
  });
});
