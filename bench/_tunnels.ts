/**
 * Helper process of bench/load.ts: holds many protocol-speaking tunnels to a
 * relay, as that many companions would. Each one sends hello (this revision),
 * pings every PING_INTERVAL_MS like a companion (every FOLLOWER_PING_INTERVAL_MS
 * once welcomed at a revision where the relay leads), answers the relay's pings,
 * answers every req with a 1 KB head frame, and reconnects with the
 * companion's own backoff after losing its link. Like the companion it names
 * its venue in the tunnel URL (the balancer's venue hash) and, on go-away,
 * opens its new link before it lets the old one go.
 *
 *   node --import tsx bench/_tunnels.ts RELAY_URL TOKENS_FILE FROM COUNT [LOCAL_ADDRESS|-] [MAX_HANDSHAKES]
 *
 * LOCAL_ADDRESS (a loopback address such as 127.0.0.3) is the source of this
 * helper's connections: each source address has its own ~28 000 ephemeral
 * ports, so helpers on different addresses never run out of them together.
 *
 * Reports on stdout, one JSON line each: {"up":N,"welcomes":W} whenever the
 * number of welcomed links changes (at most every 100 ms; W counts every
 * welcome ever, so reconnections are counted even before losses are seen),
 * and {"served":N} on SIGUSR2.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Backoff, BACKOFF_BASE_MS, BACKOFF_CAP_MS } from '../main/core/tunnel/backoff.ts';
import { FOLLOWER_PING_INTERVAL_MS, PING_INTERVAL_MS, RELAY_LEADS_REVISION, TUNNEL_PROTOCOL, TUNNEL_REVISION, TUNNEL_VENUE_PARAM, decodeFrame, encodeControl, encodeFrame, encodeHead } from '../protocol/tunnel.ts';

const [relayUrl, tokensFile, fromArg, countArg, sourceArg] = process.argv.slice(2);
const localAddress = sourceArg === '-' ? undefined : sourceArg;
const all = JSON.parse(readFileSync(tokensFile!, 'utf8')) as Array<{ venueId: string; token: string }>;
const mine = all.slice(Number(fromArg), Number(fromArg) + Number(countArg));
const wsUrl = `${relayUrl!.replace(/^http/, 'ws')}/v1/tunnel`;
const BODY = Buffer.from(JSON.stringify({ ok: true, pad: 'x'.repeat(1000) }));
const HEAD = { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(BODY.length) }, end: true };

/**
 * Handshakes in flight per helper at most (MAX_HANDSHAKES, bench/idle.ts passes 100; unbounded otherwise,
 * as bench/load.ts measures how fast all come back after a relay restart): the rest wait their turn. Thousands of links opened in the same
 * instant all wait for the relay's first answer together, miss the hello deadline on a loaded machine, and
 * come back together after their backoff (at load 20, 7 242 of 10 000 were up after 360 s); real companions
 * come up at scattered times.
 */
const MAX_HANDSHAKES = Number(process.argv[6] ?? Infinity) || Infinity;
let handshakes = 0;
const waiting: Array<() => void> = [];
function handshakeDone(): void {
  handshakes--;
  waiting.shift()?.();
}
function whenTurn(fn: () => void): void {
  if (handshakes < MAX_HANDSHAKES) fn();
  else waiting.push(fn);
}

let up = 0;
let welcomes = 0;
let served = 0;
let reported = -1;

function open(v: { venueId: string; token: string }, backoff: Backoff): void {
  whenTurn(() => openNow(v, backoff));
}

function openNow(v: { venueId: string; token: string }, backoff: Backoff): void {
  handshakes++;
  let shaking = true;
  const shaken = () => { if (shaking) { shaking = false; handshakeDone(); } };
  const ws = new WebSocket(`${wsUrl}?${TUNNEL_VENUE_PARAM}=${encodeURIComponent(v.venueId)}`, TUNNEL_PROTOCOL, { headers: { authorization: `Bearer ${v.token}` }, perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
  let welcomed = false;
  let refused = false;
  let replaced = false;
  let pinger: NodeJS.Timeout | undefined;
  let pingId = 0;
  /** The link's revision once welcomed (its frames before that are JSON, as a companion's). */
  let rev = 1;
  ws.on('open', () => {
    ws.send(encodeControl({ t: 'hello', v: TUNNEL_PROTOCOL, rev: TUNNEL_REVISION, companion: { version: 'load', hostname: 'load' }, frontOrigin: null }));
    // Spread the pings of many links over the interval, as independent companions would be.
    pinger = setTimeout(function tick() {
      if (ws.readyState === ws.OPEN) ws.send(encodeFrame({ t: 'ping', id: ++pingId }, rev));
      pinger = setTimeout(tick, rev >= RELAY_LEADS_REVISION ? FOLLOWER_PING_INTERVAL_MS : PING_INTERVAL_MS);
    }, Math.random() * PING_INTERVAL_MS);
  });
  ws.on('message', (data, isBinary) => {
    const f = decodeFrame(data as Buffer, isBinary, rev);
    if (f.t === 'welcome') {
      shaken();
      welcomed = true;
      rev = f.rev ?? 1;
      up++;
      welcomes++;
      backoff.reset();
    } else if (f.t === 'ping') {
      ws.send(encodeFrame({ t: 'pong', id: f.id }, rev));
    } else if (f.t === 'goaway' && !replaced) {
      // Make-before-break: the new link comes now; this one is closed by the relay once drained.
      replaced = true;
      open(v, backoff);
    } else if (f.t === 'req') {
      served++;
      ws.send(encodeHead(f.sid, HEAD, BODY, rev));
    }
  });
  const gone = () => {
    shaken();
    clearTimeout(pinger);
    if (welcomed) up--;
    welcomed = false;
    if (!replaced) setTimeout(() => open(v, backoff), backoff.next(refused));
  };
  // As the companion does: a refused connect (the relay restarting) is retried within REFUSED_CAP_MS.
  ws.on('error', (err: Error & { code?: string }) => { refused = err.code === 'ECONNREFUSED'; });
  ws.on('close', gone);
}

for (const v of mine) open(v, new Backoff(Math.random, BACKOFF_BASE_MS, BACKOFF_CAP_MS));
setInterval(() => {
  if (welcomes !== reported) {
    reported = welcomes;
    console.log(JSON.stringify({ up, welcomes }));
  }
}, 100);
process.on('SIGUSR2', () => console.log(JSON.stringify({ served })));
process.on('SIGTERM', () => process.exit(0));
