/**
 * The relay cuts off an EVVA caller that stops reading, even
 * when the call's own deadline is long: the venue stream is cancelled and the
 * companion stops reading the plugin's answer.
 */
import net from 'node:net';
import { afterAll, expect, it } from 'vitest';
import type { UpstreamRequest, UpstreamResponse } from '../../../main/core/upstream.ts';
import { API_KEY, pairedVenue, relayWithDataDir, tunnelFor, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => { for (const c of cleanups.reverse()) await c(); });

it('cuts off a caller that takes no bytes for the write timeout and cancels the venue stream', async () => {
  const { relay, dataDir } = await relayWithDataDir(cleanups, { responseWriteTimeoutMs: 1_000 });
  const venue = await pairedVenue(relay.url, dataDir);
  const upstreamEnded: number[] = [];
  const chunk = Buffer.alloc(64 * 1024, 97);
  const tunnel = tunnelFor(relay.url, venue, {
    async forward(req: UpstreamRequest): Promise<UpstreamResponse> {
      return {
        status: 200, headers: { 'content-type': 'application/octet-stream' },
        body: (async function* () {
          try {
            while (!req.signal.aborted) yield chunk; // without end
          } finally {
            upstreamEnded.push(performance.now());
          }
        })(),
      };
    },
  });
  cleanups.push(() => tunnel.stop());
  await waitFor(() => tunnel.status().state === 'connected', 'tunnel up');

  const t0 = performance.now();
  const s = net.connect(relay.port, '127.0.0.1');
  cleanups.push(() => { s.destroy(); });
  let closed = 0;
  s.on('close', () => { closed = performance.now(); });
  s.on('error', () => undefined);
  s.write(`GET /v1/venues/${venue.venueId}/front/api/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nx-evva-timeout-ms: 60000\r\n\r\n`);
  s.pause();
  // Far below the call's 60 s deadline: the write timeout (1 s, plus buffers filling, plus a loaded machine) did it.
  // Far below the call's 60 s deadline: the write timeout (1 s, plus buffers filling, plus a loaded machine) did it.
  await waitFor(() => upstreamEnded.length === 1, 'venue stream cancelled', 20_000, 50);
  expect(upstreamEnded[0]! - t0).toBeLessThan(20_000);
  // The caller's connection was cut: once it reads what is buffered, it sees the end.
  s.resume();
  await waitFor(() => closed > 0, 'caller connection closed', 10_000, 50);
});
