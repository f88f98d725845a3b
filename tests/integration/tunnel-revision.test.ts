/**
 * Protocol revisions inside evva-tunnel.1: a companion and a relay of
 * different ages agree on the lower revision, and each frame is only accepted
 * on a link whose revision has it. Real sockets, a real relay, and raw
 * WebSocket peers standing in for the old side.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CloseCode, TUNNEL_PROTOCOL, TUNNEL_REVISION, decodeFrame, encodeControl, encodeData, encodeHead, type Frame,
} from '../../protocol/tunnel.ts';
import type { Upstream } from '../../main/core/tunnel/upstream.ts';
import { COMPANION, pairedVenue, relayWithDataDir, tunnelFor, venueCall, waitFor } from '../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

const BODY = JSON.stringify({ ok: true, items: 'x'.repeat(2000) });
const answer: Upstream = {
  async forward() {
    return { status: 200, headers: { 'content-type': 'text/plain', 'content-length': String(BODY.length) }, body: (async function* () { yield Buffer.from(BODY); })() };
  },
};

/** A raw companion: hello with the given revision (none = an old companion), then `onFrame` for what the relay sends. */
async function rawCompanion(relayUrl: string, token: string, rev: number | undefined, onFrame: (ws: WebSocket, f: Frame) => void) {
  const ws = new WebSocket(`${relayUrl.replace('http', 'ws')}/v1/tunnel`, TUNNEL_PROTOCOL, { headers: { authorization: `Bearer ${token}` } });
  cleanups.push(() => { ws.terminate(); });
  const frames: Frame[] = [];
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.on('message', (d, bin) => { const f = decodeFrame(d as Buffer, bin); frames.push(f); onFrame(ws, f); });
  await once(ws, 'open');
  ws.send(encodeControl({ t: 'hello', v: TUNNEL_PROTOCOL, ...(rev ? { rev } : {}), companion: COMPANION, frontOrigin: null }));
  return { ws, frames, closed };
}

describe('protocol revisions', () => {
  it('a new relay serves an old companion (no rev in hello) with the revision 1 frames', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const v = await pairedVenue(relay.url, dataDir);
    const old = await rawCompanion(relay.url, v.deviceToken, undefined, (ws, f) => {
      if (f.t !== 'req') return;
      ws.send(encodeControl({ t: 'res', sid: f.sid, status: 200, headers: { 'content-type': 'text/plain' }, body: true }));
      ws.send(encodeData(f.sid, Buffer.from('old companion')));
      ws.send(encodeControl({ t: 'end', sid: f.sid }));
    });
    await waitFor(() => old.frames.some((f) => f.t === 'welcome'), 'welcome');
    const welcome = old.frames.find((f) => f.t === 'welcome');
    expect(welcome).toMatchObject({ t: 'welcome', rev: 1 });
    const r = await venueCall(relay.url, v.venueId, '/api/x');
    expect(r).toMatchObject({ status: 200, text: 'old companion' });
  });

  it('a relay refuses a head frame on a revision 1 link, and takes it on a revision 2 link', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const v = await pairedVenue(relay.url, dataDir);
    const headAnswer = (ws: WebSocket, f: Frame) => {
      if (f.t === 'req') ws.send(encodeHead(f.sid, { status: 200, headers: { 'content-type': 'text/plain' }, end: true }, Buffer.from('in one frame')));
    };
    const old = await rawCompanion(relay.url, v.deviceToken, 1, headAnswer);
    await waitFor(() => old.frames.some((f) => f.t === 'welcome'), 'welcome');
    const refused = await venueCall(relay.url, v.venueId, '/api/x');
    expect(refused.status).toBe(503);
    expect(await old.closed).toMatchObject({ code: CloseCode.protocolError, reason: expect.stringMatching(/revision 1/) });

    const fresh = await rawCompanion(relay.url, v.deviceToken, 2, headAnswer);
    await waitFor(() => fresh.frames.some((f) => f.t === 'welcome'), 'welcome');
    expect(fresh.frames.find((f) => f.t === 'welcome')).toMatchObject({ rev: 2 });
    const r = await venueCall(relay.url, v.venueId, '/api/x');
    expect(r).toMatchObject({ status: 200, text: 'in one frame' });
    expect(r.headers.get('content-length')).toBe(String('in one frame'.length));
    // The exchange ended in the head frame: the relay grants nothing back for it.
    await new Promise((res) => setTimeout(res, 100));
    expect(fresh.frames.filter((f) => f.t === 'window')).toEqual([]);
  });

  it('the companion answers in one head frame on a revision 2 link, and with res/data/end to an old relay', async () => {
    for (const relayRev of [undefined, 1, TUNNEL_REVISION]) {
      // A stand-in relay: welcome with the given revision (none = an old relay), then one req.
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => TUNNEL_PROTOCOL });
      cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
      const got: Frame[] = [];
      wss.on('connection', (ws) => {
        ws.on('message', (d, bin) => {
          const f = decodeFrame(d as Buffer, bin);
          got.push(f);
          if (f.t === 'hello') {
            ws.send(encodeControl({ t: 'welcome', v: TUNNEL_PROTOCOL, ...(relayRev ? { rev: relayRev } : {}), venueId: 'v1', linkId: 'l1' }));
            ws.send(encodeControl({ t: 'req', sid: 1, method: 'GET', path: '/api/orders', headers: {}, body: false, timeoutMs: 5_000 }));
          }
        });
      });
      await once(wss, 'listening');
      const port = (wss.address() as AddressInfo).port;
      const tunnel = tunnelFor(`http://127.0.0.1:${port}`, { venueId: 'v1', deviceToken: 'token' }, answer);
      cleanups.push(() => tunnel.stop());
      await waitFor(() => got.some((f) => f.t === 'head' || f.t === 'end'), `an answer (relay rev ${relayRev})`);
      expect(got.find((f) => f.t === 'hello')).toMatchObject({ rev: TUNNEL_REVISION });
      const kinds = got.filter((f) => f.t !== 'hello' && f.t !== 'ping' && f.t !== 'pong' && f.t !== 'status').map((f) => f.t);
      if ((relayRev ?? 1) >= 2) {
        expect(kinds).toEqual(['head']);
        const head = got.find((f) => f.t === 'head');
        expect(head).toMatchObject({ sid: 1, status: 200, end: true });
        expect((head as { payload: Buffer }).payload.toString()).toBe(BODY);
      } else {
        expect(kinds).toEqual(['res', 'data', 'end']);
      }
      await tunnel.stop();
    }
  });
});
