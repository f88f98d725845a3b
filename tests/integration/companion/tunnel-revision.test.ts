/**
 * Protocol revisions inside evva-tunnel.1: a companion and a relay of
 * different ages agree on the lower revision, and each frame is only accepted
 * on a link whose revision has it. Real sockets, a real relay or a real
 * companion, and raw WebSocket peers standing in for the other side, old or new.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BinaryType, CloseCode, TUNNEL_PROTOCOL, TUNNEL_REVISION, decodeFrame, encodeControl, encodeData, encodeFrame, encodeHead, type Frame,
} from '../../../protocol/tunnel.ts';
import type { Upstream } from '../../../main/core/upstream.ts';
import { COMPANION, pairedVenue, relayWithDataDir, tunnelFor, venueCall, waitFor } from '../../helpers/relay.ts';

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
  /** How each frame came: as text (JSON) or binary. */
  const kinds: Array<{ t: string; binary: boolean }> = [];
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.on('message', (d, bin) => { const f = decodeFrame(d as Buffer, bin); frames.push(f); kinds.push({ t: f.t, binary: bin }); onFrame(ws, f); });
  await once(ws, 'open');
  ws.send(encodeControl({ t: 'hello', v: TUNNEL_PROTOCOL, ...(rev ? { rev } : {}), companion: COMPANION, frontOrigin: null }));
  return { ws, frames, kinds, closed };
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
    for (const relayRev of [undefined, 1, 2, 3, TUNNEL_REVISION]) {
      // A stand-in relay: welcome with the given revision (none = an old relay), then one req.
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => TUNNEL_PROTOCOL });
      cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
      const got: Frame[] = [];
      const types: number[] = [];
      wss.on('connection', (ws) => {
        ws.on('message', (d, bin) => {
          const f = decodeFrame(d as Buffer, bin, relayRev ?? 1);
          got.push(f);
          if (bin) types.push((d as Buffer)[0]!);
          if (f.t === 'hello') {
            ws.send(encodeControl({ t: 'welcome', v: TUNNEL_PROTOCOL, ...(relayRev ? { rev: relayRev } : {}), venueId: 'v1', linkId: 'l1' }));
            ws.send(encodeFrame({ t: 'req', sid: 1, method: 'GET', path: '/api/orders', headers: { accept: 'application/json' }, body: false, timeoutMs: 5_000 }, relayRev ?? 1));
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
        // Revision 3 on: the binary response head; revision 2: the head frame with its JSON head.
        const binary = (relayRev ?? 1) >= 3;
        expect(types).toContain(binary ? BinaryType.res : BinaryType.head);
        expect(types).not.toContain(binary ? BinaryType.head : BinaryType.res);
      } else {
        expect(kinds).toEqual(['res', 'data', 'end']);
      }
      await tunnel.stop();
    }
  });

  it('a new relay and a new companion run a whole exchange on revision 3 with no JSON frame', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const v = await pairedVenue(relay.url, dataDir);
    // The relay side of the wire, seen by a raw revision-3 companion.
    const raw = await rawCompanion(relay.url, v.deviceToken, 3, (ws, f) => {
      if (f.t === 'req') ws.send(encodeHead(f.sid, { status: 200, headers: { 'content-type': 'text/plain' }, end: true }, Buffer.from(`rev3 ${f.method} ${f.path}`), 3));
    });
    await waitFor(() => raw.frames.some((f) => f.t === 'welcome'), 'welcome');
    expect(raw.frames.find((f) => f.t === 'welcome')).toMatchObject({ rev: 3 });
    // A JSON ping (as a companion sends before welcome) is still answered, now with a binary pong.
    raw.ws.send(encodeControl({ t: 'ping', id: 7 }));
    raw.ws.send(encodeFrame({ t: 'ping', id: 8 }, 3));
    await waitFor(() => raw.frames.filter((f) => f.t === 'pong').length === 2, 'two pongs');
    const r = await venueCall(relay.url, v.venueId, '/api/x?y=1');
    expect(r).toMatchObject({ status: 200, text: 'rev3 GET /api/x?y=1' });
    expect(raw.kinds.filter((k) => k.t !== 'welcome' && k.t !== 'ping')).toEqual([
      { t: 'pong', binary: true }, { t: 'pong', binary: true }, { t: 'req', binary: true },
    ]);

    // The companion side, seen by a raw revision-3 relay: a body-carrying request, its window and end, all binary.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => TUNNEL_PROTOCOL });
    cleanups.push(() => new Promise<void>((res) => { for (const c of wss.clients) c.terminate(); wss.close(() => res()); }));
    await once(wss, 'listening');
    const fromCompanion: Array<{ t: string; binary: boolean }> = [];
    let answer = '';
    wss.on('connection', (ws) => {
      ws.on('message', (d, bin) => {
        const f = decodeFrame(d as Buffer, bin, 3);
        fromCompanion.push({ t: f.t, binary: bin });
        if (f.t === 'hello') {
          ws.send(encodeControl({ t: 'welcome', v: TUNNEL_PROTOCOL, rev: 3, venueId: 'v1', linkId: 'l1' }));
          ws.send(encodeFrame({ t: 'req', sid: 1, method: 'POST', path: '/api/echo', headers: { 'content-type': 'text/plain' }, body: true, timeoutMs: 5_000 }, 3));
          ws.send(encodeData(1, Buffer.from('posted body')));
          ws.send(encodeFrame({ t: 'end', sid: 1 }, 3));
        }
        if (f.t === 'head') answer += f.payload.toString();
        if (f.t === 'data') answer += f.payload.toString();
      });
    });
    const echo: Upstream = {
      async forward(req) {
        let body = '';
        for await (const c of req.body ?? []) body += Buffer.from(c).toString();
        const text = `${req.method} ${body}`;
        return { status: 201, headers: { 'content-type': 'text/plain', 'content-length': String(text.length) }, body: (async function* () { yield Buffer.from(text); })() };
      },
    };
    const port = (wss.address() as AddressInfo).port;
    const tunnel = tunnelFor(`http://127.0.0.1:${port}`, { venueId: 'v1', deviceToken: 'token' }, echo, { policy: { allowMethods: ['GET', 'HEAD', 'POST'], maxRequestBytes: 64 * 1024 } });
    cleanups.push(() => tunnel.stop());
    await waitFor(() => answer === 'POST posted body', 'the echoed answer');
    const exchange = fromCompanion.filter((k) => k.t !== 'hello' && k.t !== 'status' && k.t !== 'ping');
    expect(exchange).toEqual([{ t: 'window', binary: true }, { t: 'head', binary: true }]);
  });

  it('each side refuses a revision-3 binary frame on a revision 2 link', async () => {
    // A revision-2 companion that answers with a binary response head: the relay closes its link.
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const v = await pairedVenue(relay.url, dataDir);
    const old = await rawCompanion(relay.url, v.deviceToken, 2, (ws, f) => {
      if (f.t === 'req') ws.send(encodeHead(f.sid, { status: 200, headers: {}, end: true }, Buffer.from('x'), 3));
    });
    await waitFor(() => old.frames.some((f) => f.t === 'welcome'), 'welcome');
    expect(old.frames.find((f) => f.t === 'welcome')).toMatchObject({ rev: 2 });
    expect((await venueCall(relay.url, v.venueId, '/api/x')).status).toBe(503);
    expect(await old.closed).toEqual({ code: CloseCode.protocolError, reason: "'res' frame on a revision 2 link" });
    // The relay spoke JSON to it: the req came as text.
    expect(old.kinds.find((k) => k.t === 'req')).toEqual({ t: 'req', binary: false });

    // A revision-2 relay that sends a binary req: the companion closes the link and never serves it.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => TUNNEL_PROTOCOL });
    cleanups.push(() => new Promise<void>((res) => { for (const c of wss.clients) c.terminate(); wss.close(() => res()); }));
    await once(wss, 'listening');
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      wss.on('connection', (ws) => {
        ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
        ws.on('message', (d, bin) => {
          if (decodeFrame(d as Buffer, bin, 2).t !== 'hello') return;
          ws.send(encodeControl({ t: 'welcome', v: TUNNEL_PROTOCOL, rev: 2, venueId: 'v1', linkId: 'l1' }));
          ws.send(encodeFrame({ t: 'req', sid: 1, method: 'GET', path: '/api/orders', headers: {}, body: false, timeoutMs: 5_000 }, 3));
        });
      });
    });
    let served = 0;
    const port = (wss.address() as AddressInfo).port;
    const tunnel = tunnelFor(`http://127.0.0.1:${port}`, { venueId: 'v1', deviceToken: 'token' }, { forward: async (r) => { served++; return answer.forward(r); } },
      { backoff: { baseMs: 60_000, random: () => 0.99 } });
    cleanups.push(() => tunnel.stop());
    expect(await closed).toEqual({ code: CloseCode.protocolError, reason: "'req' frame on a revision 2 link" });
    expect(served).toBe(0);
  });
});
