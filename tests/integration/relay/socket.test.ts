/**
 * The relay's WebSocket transport (relay/socket.ts) against the real peer: the
 * `ws` client the companion uses, on a loopback socket; and a raw socket for
 * what `ws` would never send.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TUNNEL_PROTOCOL, WS_MAX_PAYLOAD_BYTES } from '../../../protocol/tunnel.ts';
import { Coalescer } from '../../../common/coalesce.ts';
import { CLOSE_WAIT_MS, WsCode, accept, handshake, type SocketHandler, type TunnelSocket } from '../../../relay/socket.ts';

/** What the server side of one connection heard. */
interface Heard {
  socket: TunnelSocket; messages: Array<[string, boolean]>; errors: string[]; closed: Promise<[number, string]>;
  /** Messages heard before bind() returned (a link is still being made then: there must be none). */
  duringBind: number;
}

let server: Server;
let url: string;
let port: number;
const live = new Set<TunnelSocket>();
const accepted: Heard[] = [];
let nextAccepted: ((h: Heard) => void) | null = null;

beforeAll(async () => {
  server = createServer((_req, res) => void res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => {
    const hs = handshake(req);
    if (!hs.ok) return void socket.end(`HTTP/1.1 ${hs.status} No\r\nConnection: close\r\n\r\n`);
    const ts = accept(socket, head, hs.key, TUNNEL_PROTOCOL, WS_MAX_PAYLOAD_BYTES, live)!;
    let closed!: (v: [number, string]) => void;
    const heard: Heard = { socket: ts, messages: [], errors: [], closed: new Promise((r) => { closed = r; }), duringBind: 0 };
    // An echo server: what comes in goes back as it came (text as text, bytes as bytes).
    const handler: SocketHandler = {
      onMessage(data, isBinary) {
        heard.messages.push([isBinary ? `${data.length} bytes` : data.toString(), isBinary]);
        ts.send(isBinary ? data : data.toString());
      },
      onSocketClose: (code, reason) => closed([code, reason]),
      onSocketError: (err) => void heard.errors.push(err.message),
    };
    ts.bind(handler);
    heard.duringBind = heard.messages.length;
    accepted.push(heard);
    nextAccepted?.(heard);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  url = `ws://127.0.0.1:${port}/v1/tunnel`;
});

afterAll(async () => {
  for (const ts of live) ts.terminate();
  await new Promise((r) => server.close(r));
});

/** A connected `ws` client (as the companion makes it) and the server side of its connection. */
async function client(): Promise<{ ws: WebSocket; heard: Heard; closed: Promise<[number, string]> }> {
  const side = new Promise<Heard>((r) => { nextAccepted = r; });
  const ws = new WebSocket(url, TUNNEL_PROTOCOL, { perMessageDeflate: false });
  ws.on('error', () => { /* the close event says what happened */ });
  const closed = new Promise<[number, string]>((r) => ws.on('close', (code, reason) => r([code, reason.toString()])));
  await once(ws, 'open');
  expect(ws.protocol).toBe(TUNNEL_PROTOCOL);
  return { ws, heard: await side, closed };
}

/** A raw socket that has done the handshake, for frames `ws` would never send. */
async function raw(): Promise<{ sock: Socket; heard: Heard; bytes: () => Buffer }> {
  const side = new Promise<Heard>((r) => { nextAccepted = r; });
  const sock = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const got: Buffer[] = [];
  sock.on('data', (b: Buffer) => got.push(b));
  await once(sock, 'connect');
  sock.write(`GET /v1/tunnel HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${TUNNEL_PROTOCOL}\r\n\r\n`);
  const heard = await side;
  return { sock, heard, bytes: () => Buffer.concat(got) };
}

/** The payload of the first frame after the 101's head in what a raw client received. */
function firstFrame(all: Buffer): { op: number; payload: Buffer } {
  const text = all.toString('latin1');
  const at = text.indexOf('\r\n\r\n') + 4;
  expect(text.slice(0, at)).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  const len = all[at + 1]! & 0x7f;
  return { op: all[at]! & 0x0f, payload: all.subarray(at + 2, at + 2 + len) };
}

describe("the relay's WebSocket frames on the socket, with the companion's ws client", () => {
  it('carries text as text and bytes as bytes, small and large, both ways', async () => {
    const { ws, heard } = await client();
    const back: Array<[string, boolean]> = [];
    ws.on('message', (data: Buffer, isBinary) => back.push([isBinary ? `${data.length} bytes` : data.toString(), isBinary]));
    ws.send('{"t":"hello","слово":"привет"}');
    ws.send(Buffer.alloc(5, 1));
    ws.send(Buffer.alloc(300, 2)); // a 16-bit length
    ws.send(Buffer.alloc(100_000, 3)); // a 64-bit length, written as header and payload in one writev
    ws.send('');
    const want: Array<[string, boolean]> = [['{"t":"hello","слово":"привет"}', false], ['5 bytes', true], ['300 bytes', true], ['100000 bytes', true], ['', false]];
    await expect.poll(() => back, { timeout: 10_000 }).toEqual(want);
    expect(heard.messages).toEqual(want);
    ws.terminate();
  });

  it('answers a ping with a pong of the same bytes', async () => {
    const { ws } = await client();
    ws.ping('are you there');
    const [data] = await once(ws, 'pong') as [Buffer];
    expect(data.toString()).toBe('are you there');
    ws.terminate();
  });

  it("echoes the companion's close with its code and reason, and reports them", async () => {
    const { ws, heard, closed } = await client();
    ws.close(4004, 'drained');
    expect(await closed).toEqual([4004, 'drained']);
    expect(await heard.closed).toEqual([4004, 'drained']);
    expect(live.has(heard.socket)).toBe(false);
  });

  it('closes with its own code and reason, cut to 123 bytes on a character', async () => {
    const { heard, closed } = await client();
    const long = 'туннель закрыт: '.repeat(20);
    heard.socket.close(4003, long);
    const [code, reason] = await closed;
    expect(code).toBe(4003);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(Buffer.byteLength(reason)).toBeGreaterThan(115);
    expect(long.startsWith(reason)).toBe(true);
    // ws answered the close: the socket ended, reported with the code the companion echoed.
    expect(await heard.closed).toEqual([4003, reason]);
    expect(heard.socket.open).toBe(false);
    heard.socket.send('after the close'); // nothing, and no throw
  });

  it('refuses a message over the limit with 1009 before reading it', async () => {
    const { ws, heard, closed } = await client();
    ws.send(Buffer.alloc(WS_MAX_PAYLOAD_BYTES + 1));
    expect((await closed)[0]).toBe(WsCode.tooBig);
    expect(await heard.closed).toEqual([WsCode.tooBig, `message over ${WS_MAX_PAYLOAD_BYTES} bytes`]);
    expect(heard.errors).toEqual([`WebSocket frame refused: message over ${WS_MAX_PAYLOAD_BYTES} bytes`]);
    expect(heard.messages).toEqual([]);
  });

  it("gathers the companion's frames of one turn after the first into one write on ws's own socket (the upgrade's)", async () => {
    // What the companion's link does (main/core/tunnel/client.ts hands it the upgrade response's socket): were that
    // not the socket ws writes on, nothing would be held and each frame would be its own write.
    const side = new Promise<Heard>((r) => { nextAccepted = r; });
    const ws = new WebSocket(url, TUNNEL_PROTOCOL, { perMessageDeflate: false });
    const opened = once(ws, 'open'); // emitted in the same turn as the upgrade
    const [res] = await once(ws, 'upgrade') as [{ socket: Socket }];
    await opened;
    const heard = await side;
    const batch = new Coalescer(res.socket);
    const sendAll = (...msgs: string[]) => { for (const m of msgs) { batch.before(); ws.send(m); } };
    sendAll('one');
    expect(ws.bufferedAmount).toBe(0); // the first of the turn went to the kernel at once
    sendAll('two', 'three');
    expect(ws.bufferedAmount).toBe(2 * (2 + 4) + 3 + 5); // two masked headers and their payloads, held
    await nextTurn();
    expect(ws.bufferedAmount).toBe(0);
    await expect.poll(() => heard.messages).toEqual([['one', false], ['two', false], ['three', false]]);
    ws.terminate();
  });

  it('terminate drops the socket at once (the companion sees 1006)', async () => {
    const { heard, closed } = await client();
    heard.socket.terminate();
    expect((await closed)[0]).toBe(WsCode.abnormal);
    expect((await heard.closed)[0]).toBe(WsCode.abnormal);
  });
});

describe("the relay's WebSocket frames on the socket, with a peer that breaks the rules", () => {
  it('refuses an unmasked frame with 1002 and says why, and ends the socket', async () => {
    const { sock, heard, bytes } = await raw();
    sock.write(Buffer.from([0x81, 0x02, 0x68, 0x69])); // "hi", unmasked
    await once(sock, 'end');
    const f = firstFrame(bytes());
    expect(f.op).toBe(0x8);
    expect(f.payload.readUInt16BE(0)).toBe(WsCode.protocolError);
    expect(f.payload.subarray(2).toString()).toBe('client frame not masked');
    sock.end();
    expect(await heard.closed).toEqual([WsCode.protocolError, 'client frame not masked']);
    expect(heard.messages).toEqual([]);
  });

  it("writes its first frame of a turn at once, the rest of the turn in one write at the turn's end, in order", async () => {
    const { sock, heard, bytes } = await raw();
    heard.socket.send('a');
    expect(heard.socket.bufferedAmount).toBe(0);
    heard.socket.send(Buffer.from('cc'));
    heard.socket.send('b');
    expect(heard.socket.bufferedAmount).toBe(4 + 3); // two frames held: 2-byte headers, 2 and 1 bytes
    await nextTurn();
    expect(heard.socket.bufferedAmount).toBe(0);
    const body = () => bytes().subarray(bytes().indexOf('\r\n\r\n') + 4);
    await expect.poll(body).toEqual(Buffer.from([0x81, 1, 0x61, 0x82, 2, 0x63, 0x63, 0x81, 1, 0x62]));
    // The next turn's first frame is not held either; a large frame after it is (its header and payload in one writev).
    heard.socket.send('d');
    expect(heard.socket.bufferedAmount).toBe(0);
    heard.socket.send(Buffer.alloc(20_000, 0x65));
    expect(heard.socket.bufferedAmount).toBe(4 + 20_000);
    await nextTurn();
    await expect.poll(() => body().length).toBe(10 + 3 + 4 + 20_000);
    expect(body().subarray(13, 17)).toEqual(Buffer.from([0x82, 126, 0x4e, 0x20]));
    sock.destroy();
    await heard.closed;
  });

  it('terminate writes the frames it held for the end of the turn before dropping the socket', async () => {
    const { sock, heard, bytes } = await raw();
    heard.socket.send('a');
    heard.socket.send('b');
    expect(heard.socket.bufferedAmount).toBe(3);
    heard.socket.terminate();
    await once(sock, 'end');
    expect(bytes().subarray(bytes().indexOf('\r\n\r\n') + 4)).toEqual(Buffer.from([0x81, 1, 0x61, 0x81, 1, 0x62]));
    expect((await heard.closed)[0]).toBe(WsCode.abnormal);
    sock.destroy();
  });

  it('drops a peer that never answers its close within CLOSE_WAIT_MS', async () => {
    const { sock, heard, bytes } = await raw();
    const t0 = performance.now();
    heard.socket.close(4004, 'drained');
    // The raw peer reads the close frame and never answers (nor ends its side).
    expect((await heard.closed)[0]).toBe(WsCode.abnormal);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(CLOSE_WAIT_MS - 50);
    expect(firstFrame(bytes()).payload.subarray(2).toString()).toBe('drained');
    sock.destroy();
  });

  it('reads frames sent in the same packet as the upgrade request', async () => {
    const side = new Promise<Heard>((r) => { nextAccepted = r; });
    const sock = connect({ port, host: '127.0.0.1' });
    await once(sock, 'connect');
    const key = Buffer.from([1, 2, 3, 4]);
    const masked = Buffer.from('hi').map((b, i) => b ^ key[i & 3]!);
    sock.write(Buffer.concat([
      Buffer.from(`GET /v1/tunnel HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
      Buffer.from([0x81, 0x82]), key, masked,
    ]));
    const heard = await side;
    await expect.poll(() => heard.messages).toEqual([['hi', false]]);
    expect(heard.duringBind).toBe(0);
    sock.destroy();
    await heard.closed;
  });
});
