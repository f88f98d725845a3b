/**
 * The relay does not keep connections that never say what they want, nor
 * unbounded numbers of them.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetch } from 'undici';
import type { Upstream } from '../../../main/core/upstream.ts';
import { pairedVenue, startRelay, tempDir, tunnelFor, venueCall, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Opens a raw connection; resolves when connected, with a promise of when the server closed it. */
async function rawSocket(port: number, send?: string): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => { socket.destroy(); });
  socket.on('error', () => {});
  socket.on('data', () => {});
  const t0 = performance.now();
  const closed = new Promise<number>((r) => socket.once('close', () => r(performance.now() - t0)));
  await new Promise<void>((r, j) => { socket.once('connect', r); socket.once('close', () => j(new Error('closed before connect'))); });
  if (send) socket.write(send);
  return { socket, closed };
}

const hello: Upstream = {
  async forward() {
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: (async function* () { yield Buffer.from('hello'); })() };
  },
};

describe('relay connection limits', () => {
  it('closes a connection that sends half a request line and stops', async () => {
    const relay = await startRelay({ serverLimits: { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, checkIntervalMs: 250 } });
    cleanups.push(() => relay.close());
    const partial = await rawSocket(relay.port, 'GET /heal');
    const silent = await rawSocket(relay.port);
    // Generous bound for a loaded machine; without the limits both stayed open for minutes.
    const bound = new Promise<number>((r) => setTimeout(() => r(Infinity), 10_000));
    expect(await Promise.race([partial.closed, bound])).toBeLessThan(10_000);
    expect(await Promise.race([silent.closed, bound])).toBeLessThan(10_000);
  });

  it('keeps a tunnel open well past the request deadlines', async () => {
    const relay = await startRelay({ serverLimits: { headersTimeoutMs: 500, requestTimeoutMs: 1_000, keepAliveTimeoutMs: 500, checkIntervalMs: 250 } });
    cleanups.push(() => relay.close());
    const d = tempDir('companion');
    cleanups.push(() => d.remove());
    const venue = await pairedVenue(relay.url, d.dir);
    const t = tunnelFor(relay.url, venue, hello);
    cleanups.push(() => t.stop());
    await waitFor(() => t.status().state === 'connected', 'tunnel up');
    const opened = t.stats().linksOpened;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(t.status().state).toBe('connected');
    expect(t.stats().linksOpened).toBe(opened);
    expect((await venueCall(relay.url, venue.venueId, '/api/x')).text).toBe('hello');
  });

  it('caps open connections per address, and others still get in', async () => {
    const relay = await startRelay({ serverLimits: { maxConnectionsPerSource: 5, capLoopback: true } });
    cleanups.push(() => relay.close());
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await rawSocket(relay.port));
    const extra = await rawSocket(relay.port).catch(() => null);
    if (extra) expect(await Promise.race([extra.closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 5_000))])).toBeLessThan(5_000);
    for (const h of held) expect(h.socket.destroyed).toBe(false);
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    await waitFor(async () => (await fetch(`${relay.url}/healthz`).then((r) => r.status).catch(() => 0)) === 200, 'a new connection is served once the others are gone', 5_000);
  });

  it('caps the total number of connections', async () => {
    const relay = await startRelay({ serverLimits: { maxConnections: 3 } });
    cleanups.push(() => relay.close());
    for (let i = 0; i < 3; i++) await rawSocket(relay.port);
    const extra = await rawSocket(relay.port).catch(() => null);
    if (extra) expect(await Promise.race([extra.closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 5_000))])).toBeLessThan(5_000);
  });
});
