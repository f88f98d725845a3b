/**
 * The companion's whole status reaches the relay (for the support console's
 * verdict): at once when a state in it changes, otherwise at most every
 * STATUS_REPORT_MS, and again on every new link. A raw relay stand-in records
 * the status frames as they arrive; a manual clock stands in for time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { silentLogger } from '../../../common/logger.ts';
import type { Status } from '../../../protocol/local.ts';
import { TUNNEL_PROTOCOL, decodeFrame, encodeControl, type StatusFrame } from '../../../protocol/tunnel.ts';
import { STATUS_REPORT_MS, startTunnel } from '../../../main/core/tunnel/client.ts';
import { manualClock } from '../../helpers/clock.ts';
import { waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A relay stand-in that welcomes every link and keeps each status frame, with a pong after it to know it was read. */
async function recordingRelay() {
  const frames: StatusFrame[] = [];
  const sockets: WebSocket[] = [];
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => TUNNEL_PROTOCOL });
  cleanups.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }));
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('message', (data, isBinary) => {
      const f = decodeFrame(data as Buffer, isBinary);
      if (f.t === 'hello') ws.send(encodeControl({ t: 'welcome', v: TUNNEL_PROTOCOL, venueId: 'ven_fake', linkId: `l${sockets.length}` }));
      if (f.t === 'ping') ws.send(encodeControl({ t: 'pong', id: f.id }));
      if (f.t === 'status') frames.push(f);
    });
  });
  return { url: `http://127.0.0.1:${(wss.address() as { port: number }).port}`, frames, sockets };
}

const base: Status = {
  level: 'ok', version: '1.0.0', startedAt: '2026-01-01T00:00:00.000Z',
  front: { state: 'up', url: 'http://127.0.0.1:9042', latencyMs: 5, checkedAt: null, since: null, source: 'discovery' },
  tunnel: { state: 'connecting', since: null, rttMs: null, reconnects: 0, venueId: 'ven_fake', relayUrl: null },
  payments: { total: 0, byState: {}, alarms: 0, pendingClose: 0 },
};
/** The same states with another counter: nothing a person would see change. */
const counted = (n: number): Status => ({ ...base, payments: { ...base.payments!, total: n, byState: { reconciled: n } } });

describe('the companion\'s status report', () => {
  it('goes at once on a new link and when a state changes, otherwise at most every STATUS_REPORT_MS', async () => {
    const relay = await recordingRelay();
    const clock = manualClock();
    const t = startTunnel({
      relayUrl: relay.url, deviceToken: 'evd_test', venueId: 'ven_fake', companion: { version: '1.0.0', hostname: 'pos' }, frontOrigin: null,
      upstream: { forward: async () => ({ status: 200, headers: {}, body: null }) }, clock, logger: silentLogger, proxy: null,
      // Minutes pass on the manual clock at once: the heartbeat must not call the link dead meanwhile.
      timing: { pingIntervalMs: 3_600_000, deadAfterMs: 7_200_000 },
    });
    cleanups.push(() => t.stop());
    // Made before the link is up: it leaves on the link once there is one, with the link as the client knows it then.
    t.reportStatus(counted(1));
    await waitFor(() => relay.frames.length === 1, 'the first report');
    expect(relay.frames[0]!.status).toMatchObject({ payments: { total: 1 }, tunnel: { state: 'connected' } });
    // Counters only: held. A state change: sent at once, carrying the latest counters.
    t.reportStatus(counted(2));
    t.reportStatus({ ...counted(3), front: { ...base.front, state: 'down' } });
    await waitFor(() => relay.frames.length === 2, 'the state change');
    expect(relay.frames[1]!.status).toMatchObject({ front: { state: 'down' }, payments: { total: 3 } });
    expect(relay.frames[1]!.front.state).toBe('down');
    // Counters only again: nothing until STATUS_REPORT_MS after the last report, then the latest.
    t.reportStatus({ ...counted(4), front: { ...base.front, state: 'down' } });
    t.reportStatus({ ...counted(5), front: { ...base.front, state: 'down' } });
    clock.advance(STATUS_REPORT_MS - 1);
    t.reportStatus({ ...counted(6), front: { ...base.front, state: 'down' } });
    clock.advance(1);
    await waitFor(() => relay.frames.length === 3, 'the held report');
    expect(relay.frames[2]!.status?.payments?.total).toBe(6);
    // A new link (the old one gone) gets the last report at once.
    relay.sockets[0]!.terminate();
    await waitFor(() => { clock.advance(500); return relay.frames.length === 4; }, 'the report on the new link');
    expect(relay.sockets.length).toBe(2);
    expect(relay.frames[3]!.status?.payments?.total).toBe(6);
  });
});
