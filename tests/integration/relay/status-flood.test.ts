/**
 * A device-token holder flooding `status` frames: writes are
 * coalesced per venue, the latest state is what ends up stored, and a link that
 * keeps flooding is closed.
 */
import WebSocket from 'ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetch } from 'undici';
import type { FrontStatus } from '../../../protocol/local.ts';
import { CloseCode, TUNNEL_PROTOCOL, encodeControl } from '../../../protocol/tunnel.ts';
import { STATUS_FLOOD } from '../../../relay/link.ts';
import { API_KEY, COMPANION, pairedVenue, startRelay, tempDir, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const front = (n: number): FrontStatus => ({
  state: n % 2 ? 'up' : 'down', url: 'http://127.0.0.1:9042', latencyMs: n, checkedAt: null, since: null, source: 'settings',
});

describe('status frames from a companion', () => {
  it('are written coalesced, the latest last, and a flood closes the link', async () => {
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    const d = tempDir('companion');
    cleanups.push(() => d.remove());
    const venue = await pairedVenue(relay.url, d.dir);
    const writes = vi.spyOn(relay.relay.store, 'setFront');

    const ws = new WebSocket(`${relay.url.replace(/^http/, 'ws')}/v1/tunnel`, TUNNEL_PROTOCOL, { headers: { authorization: `Bearer ${venue.deviceToken}` } });
    cleanups.push(() => ws.terminate());
    ws.on('error', () => {});
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    await new Promise((r) => ws.once('open', r));
    ws.send(encodeControl({ t: 'hello', v: TUNNEL_PROTOCOL, companion: COMPANION, frontOrigin: null }));
    await new Promise((r) => ws.once('message', r)); // welcome

    const burst = STATUS_FLOOD.max - 5;
    for (let i = 1; i <= burst; i++) ws.send(encodeControl({ t: 'status', front: front(i) }));
    await waitFor(() => writes.mock.calls.some((c) => (c[1] as FrontStatus).latencyMs === burst), 'the latest state stored', 5_000);
    // One write at once, then at most one per STATUS_WRITE_MS (1 s): not one per frame.
    expect(writes.mock.calls.length).toBeLessThanOrEqual(4);
    const view = await (await fetch(`${relay.url}/v1/venues/${venue.venueId}`, { headers: { authorization: `Bearer ${API_KEY}` } })).json() as { front: FrontStatus };
    expect(view.front.latencyMs).toBe(burst);
    expect(ws.readyState).toBe(WebSocket.OPEN);

    for (let i = 0; i < 20; i++) ws.send(encodeControl({ t: 'status', front: front(i) }));
    const c = await closed;
    expect(c.code).toBe(CloseCode.protocolError);
    expect(c.reason).toMatch(/too many status frames/);
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  });
});
