/**
 * Who leads the heartbeat (docs/protocol.md, "Heartbeats and dead links"):
 * from revision 5 the relay pings every interval and the companion answers;
 * before that the companion pings and the relay answers. Either way each side
 * hears from the other every interval, and a side that stops hearing drops
 * the link within the silence bound. Real sockets with a shortened heartbeat
 * (interval 200 ms, silence 1 000 ms, checks every 100 ms), a real relay or
 * a real companion, and raw peers of either age standing in for the other side.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { RELAY_LEADS_REVISION, TUNNEL_PROTOCOL, decodeFrame, encodeControl, encodeFrame, type Frame } from '../../../protocol/tunnel.ts';
import type { Upstream } from '../../../main/core/upstream.ts';
import type { TunnelStatus } from '../../../protocol/local.ts';
import { COMPANION, pairedVenue, relayWithDataDir, tunnelFor, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

const timing = { pingIntervalMs: 200, deadAfterMs: 1_000, checkMs: 100 };
/** A silent link is gone this long after its last frame at the latest. */
const BOUND_MS = timing.deadAfterMs + timing.checkMs;
/** Room for a loaded machine (the suite runs beside others on 2 cores); what it excludes is "never". */
const SLACK_MS = 2_000;
const nothing: Upstream = { forward: async () => ({ status: 204, headers: {}, body: null }) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw companion of revision `rev`: answers the relay's pings while `answering`, and pings itself every `pingMs` if given. */
async function rawCompanion(relayUrl: string, token: string, rev: number, pingMs?: number) {
  const ws = new WebSocket(`${relayUrl.replace('http', 'ws')}/v1/tunnel`, TUNNEL_PROTOCOL, { headers: { authorization: `Bearer ${token}` } });
  cleanups.push(() => { ws.terminate(); });
  const me = { ws, answering: true, pingsIn: [] as number[], pongsIn: 0, closed: null as null | { code: number; at: number } };
  ws.on('close', (code) => { me.closed = { code, at: performance.now() }; });
  ws.on('message', (d, bin) => {
    const f = decodeFrame(d as Buffer, bin, rev);
    if (f.t === 'ping') {
      me.pingsIn.push(performance.now());
      if (me.answering) ws.send(encodeFrame({ t: 'pong', id: f.id }, rev));
    }
    if (f.t === 'pong') me.pongsIn++;
  });
  // Hello from the open event itself, as the companion sends it (main/core/tunnel/client.ts). Sent after
  // `await once(ws, 'open')` it went out a turn later: a relay ping read with the 101 in one chunk (the relay pings
  // a new link at its first heartbeat tick) was answered first, and a pong before hello is refused (4000).
  ws.once('open', () => ws.send(encodeControl({ t: 'hello', v: TUNNEL_PROTOCOL, rev, companion: COMPANION, frontOrigin: null })));
  await once(ws, 'open');
  if (pingMs) {
    let id = 0;
    const t = setInterval(() => { if (ws.readyState === ws.OPEN) ws.send(encodeFrame({ t: 'ping', id: ++id }, rev)); }, pingMs);
    cleanups.push(() => clearInterval(t));
  }
  return me;
}

/** A stand-in relay that welcomes at revision `rev`, answers pings while `answering`, and pings every `pingMs` while `pinging`. */
async function rawRelay(rev: number, pingMs: number) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => TUNNEL_PROTOCOL });
  cleanups.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }));
  await once(wss, 'listening');
  const me = { url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`, pinging: true, answering: true, pingsIn: [] as number[], links: 0 };
  wss.on('connection', (ws) => {
    me.links++;
    let id = 0;
    const t = setInterval(() => { if (me.pinging && ws.readyState === ws.OPEN) ws.send(encodeFrame({ t: 'ping', id: ++id }, rev)); }, pingMs);
    ws.on('close', () => clearInterval(t));
    ws.on('message', (d, bin) => {
      const f: Frame = decodeFrame(d as Buffer, bin, rev);
      if (f.t === 'hello') ws.send(encodeControl({ t: 'welcome', v: TUNNEL_PROTOCOL, rev, venueId: 'v1', linkId: `l${me.links}` }));
      if (f.t === 'ping') {
        me.pingsIn.push(performance.now());
        if (me.answering) ws.send(encodeFrame({ t: 'pong', id: f.id }, rev));
      }
    });
  });
  return me;
}

/** A real companion on a stand-in relay of revision `rev`, connected and left idle past the silence bound. */
async function idleCompanionOn(rev: number, relayPingMs: number) {
  const r = await rawRelay(rev, relayPingMs);
  const states: Array<{ at: number; s: TunnelStatus }> = [];
  const tunnel = tunnelFor(r.url, { venueId: 'v1', deviceToken: 'token' }, nothing, { timing, onStatus: (s) => states.push({ at: performance.now(), s }) });
  cleanups.push(() => tunnel.stop());
  await waitFor(() => tunnel.status().state === 'connected', 'connected');
  await sleep(timing.deadAfterMs + 500);
  /** After `silence()` makes the relay silent: how long until the companion dropped the link, as dead. */
  const droppedAfter = async (silence: () => void) => {
    const t0 = performance.now();
    silence();
    await waitFor(() => states.some((e) => e.at >= t0 && e.s.state !== 'connected'), 'the companion dropped the silent link', BOUND_MS + SLACK_MS + 1_000);
    const lost = states.find((e) => e.at >= t0 && e.s.state !== 'connected')!;
    expect(lost.s.error?.code).toBe('link_dead');
    return lost.at - t0;
  };
  return { r, droppedAfter };
}

/** How many of `times` fell in the last `ms`. */
const within = (times: number[], ms: number) => times.filter((t) => t >= performance.now() - ms).length;

describe('the heartbeat, led by the relay from revision 5', () => {
  it('a relay and a companion of this revision keep an idle link up on the relay\'s pings alone, and the companion pings only for its RTT', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups, { linkTiming: timing });
    const v = await pairedVenue(relay.url, dataDir);
    const states: TunnelStatus[] = [];
    const tunnel = tunnelFor(relay.url, v, nothing, { timing, onStatus: (s) => states.push(s) });
    cleanups.push(() => tunnel.stop());
    await waitFor(() => tunnel.status().state === 'connected', 'connected');
    // Three silence bounds with no call: a side that stopped hearing the other would have dropped the link.
    await sleep(3 * timing.deadAfterMs);
    expect(tunnel.stats().linksOpened).toBe(1);
    expect(states.filter((s) => s.state !== 'connected')).toEqual([]);
    const link = relay.relay.tunnels.get(v.venueId)!;
    expect(link.rev).toBe(RELAY_LEADS_REVISION);
    // The relay's RTT figure comes from its own pings, answered.
    expect(link.rttMs).not.toBeNull();
    // The companion's first ping (before it heard the revision) gives its RTT figure too.
    expect(tunnel.status().rttMs).not.toBeNull();
  }, 20_000);

  it('the relay pings a revision-5 companion every interval, and drops it within the bound once it stops answering', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups, { linkTiming: timing });
    const v = await pairedVenue(relay.url, dataDir);
    const c = await rawCompanion(relay.url, v.deviceToken, RELAY_LEADS_REVISION);
    await waitFor(() => relay.relay.tunnels.count() === 1, 'the link');
    // It never pings, only answers: alive past the silence bound, pinged about every 200 ms.
    await sleep(timing.deadAfterMs + 500);
    expect(c.closed).toBeNull();
    expect(within(c.pingsIn, 1_000)).toBeGreaterThanOrEqual(3);
    expect(c.pongsIn).toBe(0);
    const t0 = performance.now();
    c.answering = false;
    await waitFor(() => c.closed !== null, 'the relay dropped the silent link', BOUND_MS + SLACK_MS + 1_000);
    // Dropped, not closed: a dead link gets no close handshake (1006 on this side).
    expect(c.closed!.code).toBe(1006);
    // Not sooner than the silence bound allows, and not much later.
    expect(c.closed!.at - t0).toBeGreaterThanOrEqual(timing.deadAfterMs - timing.pingIntervalMs);
    expect(c.closed!.at - t0).toBeLessThan(BOUND_MS + SLACK_MS);
  }, 20_000);

  it('an older companion (revision 4) still leads: the relay answers its pings and pings it only for its RTT', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups, { linkTiming: timing });
    const v = await pairedVenue(relay.url, dataDir);
    const c = await rawCompanion(relay.url, v.deviceToken, RELAY_LEADS_REVISION - 1, timing.pingIntervalMs);
    await waitFor(() => relay.relay.tunnels.count() === 1, 'the link');
    await sleep(timing.deadAfterMs + 500);
    expect(c.closed).toBeNull();
    expect(c.pongsIn).toBeGreaterThanOrEqual(5);
    // The relay's own pings follow FOLLOWER_PING_INTERVAL_MS (30 s): the one when the link was new, no more.
    expect(c.pingsIn.length).toBeLessThanOrEqual(1);
  }, 20_000);

  it('a companion welcomed at revision 5 answers and stops leading, and drops the link within the bound once the relay goes silent', async () => {
    const { r, droppedAfter } = await idleCompanionOn(RELAY_LEADS_REVISION, timing.pingIntervalMs);
    expect(r.links).toBe(1);
    // At most its first ping (sent before it heard the revision): it follows now.
    expect(within(r.pingsIn, timing.deadAfterMs)).toBe(0);
    const ms = await droppedAfter(() => { r.pinging = false; });
    expect(ms).toBeGreaterThanOrEqual(timing.deadAfterMs - timing.pingIntervalMs);
    expect(ms).toBeLessThan(BOUND_MS + SLACK_MS);
  }, 20_000);

  it('a companion welcomed by an older relay (revision 4) leads: it pings every interval, and drops the link once the relay stops answering', async () => {
    const { r, droppedAfter } = await idleCompanionOn(RELAY_LEADS_REVISION - 1, 60_000);
    expect(r.links).toBe(1);
    expect(within(r.pingsIn, timing.deadAfterMs)).toBeGreaterThanOrEqual(3);
    expect(await droppedAfter(() => { r.answering = false; })).toBeLessThan(BOUND_MS + SLACK_MS);
  }, 20_000);
});
