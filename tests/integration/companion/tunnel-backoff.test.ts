/**
 * The tunnel client's reconnect wiring, with its production backoff numbers:
 * retries start under BACKOFF_BASE_MS, never wait more than BACKOFF_CAP_MS,
 * and a link that stayed up STABLE_AFTER_MS starts the next retry from the
 * base again. A fake relay on loopback refuses or accepts the upgrade; a
 * manual clock stands in for time, so minutes of backoff take milliseconds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { manualClock } from '../../helpers/clock.ts';
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, STABLE_AFTER_MS } from '../../../main/core/tunnel/backoff.ts';
import { TUNNEL_PROTOCOL, decodeFrame, encodeControl } from '../../../protocol/tunnel.ts';
import { tunnelFor, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A relay stand-in: refuses the first `refuse` upgrades with 503, then welcomes the companion. */
async function fakeRelay(refuse: number) {
  const state = { attempts: 0, socket: null as WebSocket | null };
  const wss = new WebSocketServer({
    port: 0, host: '127.0.0.1', handleProtocols: () => TUNNEL_PROTOCOL,
    verifyClient: (_info, cb) => { state.attempts++; if (state.attempts <= refuse) cb(false, 503); else cb(true); },
  });
  cleanups.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }));
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => {
    state.socket = ws;
    ws.on('message', (data, isBinary) => {
      const f = decodeFrame(data as Buffer, isBinary);
      if (f.t === 'hello') ws.send(encodeControl({ t: 'welcome', v: TUNNEL_PROTOCOL, venueId: 'ven_fake', linkId: 'fake' }));
    });
  });
  return { url: `http://127.0.0.1:${(wss.address() as { port: number }).port}`, state };
}

/** The production backoff wiring (only the random draw is pinned near its top), on the manual clock. */
function client(relayUrl: string, clock: ReturnType<typeof manualClock>) {
  const never = 3_600_000;
  const t = tunnelFor(relayUrl, { venueId: 'ven_fake', deviceToken: 'evd_fake' }, { forward: () => Promise.reject(new Error('no calls')) }, {
    clock,
    backoff: { random: () => 0.999 },
    // The heartbeat and hello deadlines are not under test; keep them out of the way of the jumps in time.
    timing: { pingIntervalMs: never, deadAfterMs: never, checkMs: never, helloTimeoutMs: never },
    networkInterfaces: () => ({}),
  });
  cleanups.push(() => t.stop());
  return t;
}

/** Waits (in real time) for the client to schedule its next retry, returns the delay, and lets that much time pass. */
async function nextRetry(clock: ReturnType<typeof manualClock>, seen: { n: number }): Promise<number> {
  await waitFor(() => clock.scheduled.length > seen.n, 'the client schedules a retry', 5_000, 2);
  seen.n = clock.scheduled.length;
  const ms = clock.scheduled[seen.n - 1] as number;
  clock.advance(ms);
  return ms;
}

describe('tunnel client reconnect wiring', () => {
  it('starts retrying under the base delay and never waits longer than the 10 s cap', async () => {
    const relay = await fakeRelay(Infinity);
    const clock = manualClock();
    const t = client(relay.url, clock);
    const seen = { n: 0 };
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) delays.push(await nextRetry(clock, seen));
    expect(t.status().state).not.toBe('connected');
    expect(t.status().error?.code).toBe('relay_error');
    expect(relay.state.attempts).toBeGreaterThanOrEqual(12);
    expect(delays[0]).toBeLessThan(BACKOFF_BASE_MS);
    expect(BACKOFF_CAP_MS).toBe(10_000);
    for (const d of delays) expect(d).toBeLessThan(BACKOFF_CAP_MS);
    // Reaches the cap and stays there: the ceiling doubles from the base until then.
    expect(delays.slice(-4).every((d) => d >= BACKOFF_CAP_MS * 0.99)).toBe(true);
    delays.slice(0, 5).forEach((d, i) => expect(d).toBe(Math.floor(0.999 * BACKOFF_BASE_MS * 2 ** i)));
  });

  /** Six refusals climb the backoff to its cap; the seventh attempt connects; the link lives `upMs`, then the relay drops it. Returns the next retry's delay. */
  async function retryAfterLinkOf(upMs: number): Promise<number> {
    const relay = await fakeRelay(6);
    const clock = manualClock();
    const t = client(relay.url, clock);
    const seen = { n: 0 };
    for (let i = 0; i < 6; i++) await nextRetry(clock, seen);
    await waitFor(() => t.status().state === 'connected', 'connected', 5_000, 2);
    seen.n = clock.scheduled.length;
    clock.advance(upMs);
    relay.state.socket?.close(1001, 'relay restarting');
    return nextRetry(clock, seen);
  }

  it('starts again from the base delay after a link that stayed up long enough', async () => {
    expect(await retryAfterLinkOf(STABLE_AFTER_MS + 1)).toBeLessThan(BACKOFF_BASE_MS);
  });

  it('keeps backing off after a link that dropped soon after connecting', async () => {
    expect(await retryAfterLinkOf(1_000)).toBeGreaterThanOrEqual(BACKOFF_CAP_MS * 0.99);
  });
});
