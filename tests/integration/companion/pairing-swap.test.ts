/**
 * Pairing again must never strand a venue: the companion
 * checks it can keep the token before spending the code, and the relay keeps
 * the old token valid until the new one has connected.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fetch } from 'undici';
import type { TunnelHandle } from '../../../main/core/tunnel/client.ts';
import { DEVICE_FILE, loadDevice, pair } from '../../../main/core/tunnel/pair.ts';
import type { Upstream } from '../../../main/core/upstream.ts';
import { REVOCATION_POLL_MS } from '../../../relay/tunnels.ts';
import { API_KEY, COMPANION, createVenue, relayWithDataDir, problemOf, tempDir, tunnelFor, venueCall, waitFor } from '../../helpers/relay.ts';

const hello: Upstream = {
  async forward() {
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: (async function* () { yield Buffer.from('hello'); })() };
  },
};

describe('pairing again', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const track = (t: TunnelHandle) => { cleanups.push(() => t.stop()); return t; };
  const newCode = async (relayUrl: string, venueId: string) => {
    const res = await fetch(`${relayUrl}/v1/venues/${venueId}/pairing`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
    return ((await res.json()) as { pairingCode: string }).pairingCode;
  };

  it('with a data dir that cannot take device.json fails before the relay spends the code', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const v = await createVenue(relay.url);
    // Root ignores permission bits, so make the write impossible another way: device.json is a folder.
    mkdirSync(join(dataDir, DEVICE_FILE));
    const p = await problemOf(pair({ code: v.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION }));
    expect(p.code).toBe('data_dir_unwritable');
    expect(p.message).toContain(dataDir);
    expect(p.hint).toMatch(/не потрачен/);
    // A folder path through a regular file is refused the same way.
    const file = join(tempDir('x').dir, 'plain');
    writeFileSync(file, '');
    expect((await problemOf(pair({ code: v.pairingCode, relayUrl: relay.url, dataDir: join(file, 'sub'), companion: COMPANION }))).code).toBe('data_dir_unwritable');
    // The code was not spent: a good folder pairs with it.
    const good = tempDir('companion-good');
    cleanups.push(() => good.remove());
    await expect(pair({ code: v.pairingCode, relayUrl: relay.url, dataDir: good.dir, companion: COMPANION })).resolves.toMatchObject({ venueId: v.venueId });
  });

  it('keeps the running tunnel until the new token has connected, then retires the old one', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const v = await createVenue(relay.url);
    await pair({ code: v.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION });
    const old = loadDevice(dataDir)!;
    const tunnelA = track(tunnelFor(relay.url, old, hello));
    await waitFor(() => tunnelA.status().state === 'connected', 'the first tunnel is up');

    // A second pairing whose token never reached the disk (the relay answered, the write failed).
    const res = await fetch(`${relay.url}/v1/pair`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pairingCode: await newCode(relay.url, v.venueId), companion: COMPANION }),
    });
    expect(res.status).toBe(200);
    const lost = (await res.json()) as { deviceToken: string };

    // Well past a revocation poll, the venue still works through the old token's tunnel.
    await new Promise((r) => setTimeout(r, REVOCATION_POLL_MS * 2.5));
    expect(tunnelA.status().state).toBe('connected');
    expect((await venueCall(relay.url, v.venueId, '/api/x')).text).toBe('hello');

    // The new token connects: from then on it alone is accepted and the old tunnel is closed as revoked.
    const tunnelB = track(tunnelFor(relay.url, { venueId: v.venueId, deviceToken: lost.deviceToken }, hello));
    await waitFor(() => tunnelB.status().state === 'connected', 'the new tunnel is up');
    await waitFor(() => tunnelA.status().state === 'unpaired', 'the old tunnel is refused', REVOCATION_POLL_MS * 8);
    expect(tunnelA.status().error?.code).toBe('token_refused');
    expect(await relay.relay.pairing.authenticate(old.deviceToken)).toBeNull();
    expect((await relay.relay.pairing.authenticate(lost.deviceToken))?.venueId).toBe(v.venueId);
    expect((await venueCall(relay.url, v.venueId, '/api/x')).text).toBe('hello');
  });
});
