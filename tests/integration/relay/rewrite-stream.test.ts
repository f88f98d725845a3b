/**
 * A big textual answer full of the plugin's links, streamed through the relay
 * to a caller that stops reading for a while: the relay writes each rewritten
 * chunk from a buffer it reuses once the caller's socket has taken the chunk
 * (relay/rewrite.ts), so chunks that wait in the socket's queue must arrive
 * exactly as they were written, never overwritten by a later one.
 */
import http from 'node:http';
import { afterAll, expect, it } from 'vitest';
import type { UpstreamResponse } from '../../../main/core/upstream.ts';
import { API_KEY, pairedVenue, relayWithDataDir, tunnelFor, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => { for (const c of cleanups.reverse()) await c(); });

const ORIGIN = 'http://127.0.0.1:9042';
/** Chunks of ~64 KiB, each numbered in every record, so a chunk written over another shows. */
const CHUNKS = 160;

function chunkOf(n: number): Buffer {
  const recs: string[] = [];
  for (let i = 0, len = 0; len < 64 * 1024 - 200; i++) {
    const rec = `{"Chunk":${n},"Id":${i},"Url":"${ORIGIN}/api/orders/${n}-${i}","Esc":"${ORIGIN.replace(/\//g, '\\/')}\\/x\\/${n}"},`;
    recs.push(rec);
    len += rec.length;
  }
  return Buffer.from(recs.join(''));
}

it('delivers a 10 MiB rewritten answer byte for byte to a caller that stops reading and comes back', async () => {
  const { relay, dataDir } = await relayWithDataDir(cleanups);
  const venue = await pairedVenue(relay.url, dataDir);
  const tunnel = tunnelFor(relay.url, venue, {
    async forward(): Promise<UpstreamResponse> {
      return {
        status: 200, headers: { 'content-type': 'application/json' },
        body: (async function* () {
          for (let n = 0; n < CHUNKS; n++) yield chunkOf(n);
        })(),
      };
    },
  }, { frontOrigin: ORIGIN });
  cleanups.push(() => tunnel.stop());
  await waitFor(() => tunnel.status().state === 'connected', 'tunnel up');

  const host = `127.0.0.1:${relay.port}`;
  const got = await new Promise<Buffer>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: relay.port, path: `/v1/venues/${venue.venueId}/front/api/orders`, headers: { host, authorization: `Bearer ${API_KEY}` } }, (res) => {
      // Not read for a while: the socket buffers fill and the relay's writes wait in its queue.
      res.pause();
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
      setTimeout(() => res.resume(), 1_500);
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('no answer in 60 s')));
  });

  const base = `http://${host}/v1/venues/${venue.venueId}/front`;
  const want = Buffer.concat(Array.from({ length: CHUNKS }, (_, n) => chunkOf(n)))
    .toString().split(ORIGIN).join(base).split(ORIGIN.replace(/\//g, '\\/')).join(base.replace(/\//g, '\\/'));
  expect(got.length).toBe(Buffer.byteLength(want));
  // Compared chunk by chunk, so a failure names where the bytes went wrong instead of printing 10 MiB.
  const text = got.toString();
  for (let at = 0; at < want.length; at += 64 * 1024) expect(text.slice(at, at + 64 * 1024), `bytes from ${at}`).toBe(want.slice(at, at + 64 * 1024));
}, 90_000);
