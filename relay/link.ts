/**
 * The relay's end of one tunnel WebSocket: hello/welcome, heartbeats, and the
 * streams the relay opens on it (its WebSocket frames: relay/socket.ts). Every
 * frame from the socket is validated; a bad one closes this link with a reason
 * and touches nothing else.
 */
import { randomBytes } from 'node:crypto';
import type { SocketHandler, TunnelSocket } from './socket.ts';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { FrontStatus, Status } from '../protocol/local.ts';
import {
  CloseCode, DEAD_AFTER_MS, FrameError, HEARTBEAT_CHECK_MS, HELLO_TIMEOUT_MS, LINK_WINDOW_GROWTH_BYTES, MAX_CHUNK_BYTES,
  MAX_STREAM_WINDOW_BYTES, MAX_STREAMS_PER_LINK, FOLLOWER_PING_INTERVAL_MS, PING_INTERVAL_MS, RELAY_LEADS_REVISION, STREAM_WINDOW_BYTES, TUNNEL_PROTOCOL, TUNNEL_REVISION,
  WINDOW_GROW_MS, decodeFrame, encodeControl, encodeData, encodeFrame, maxWindow,
  type ControlFrame, type ExchangeFrame, type Frame, type HelloFrame, type ReqFrame, type ResFrame, type StreamErrorCode,
} from '../protocol/tunnel.ts';
import { Heartbeat, RecvCredit, SendCredit } from '../common/mux.ts';

/** The reason of a stream that ended normally (one object: no stack trace per exchange). */
const ENDED = new Error('ended');
/**
 * Response credit consumed by the caller is handed back at once when this much is owed, and
 * otherwise at the end of the event-loop turn, in one window frame for everything the turn
 * consumed. A relay that falls behind reads several frames of a stream per turn; a window frame
 * for each (a ws frame and a write on the relay, a read and a dispatch on the companion) was a
 * tenth of its CPU for a big answer (docs/performance.md, "one big stream"). Half the window:
 * the companion always keeps at least half of it in flight, and a slow caller still holds it
 * back, since nothing is owed before the caller's socket has taken the bytes. A stream whose
 * window grew (revision 4) is granted at half of its own window.
 */
export const GRANT_AT_BYTES = STREAM_WINDOW_BYTES / 2;
/** A companion reports the plugin state when it changes: more status frames than this per window is abuse, and closes the link. */
export const STATUS_FLOOD = { max: 120, windowMs: 10_000 };

export interface LinkTiming {
  /** The relay's pings where it leads the heartbeat (revision 5 on: PING_INTERVAL_MS). */
  pingIntervalMs: number;
  /** The relay's pings where the companion leads (older revisions: for the RTT figure only). */
  followPingIntervalMs: number;
  deadAfterMs: number;
  checkMs: number;
  helloTimeoutMs: number;
}
export const DEFAULT_LINK_TIMING: LinkTiming = {
  pingIntervalMs: PING_INTERVAL_MS, followPingIntervalMs: FOLLOWER_PING_INTERVAL_MS, deadAfterMs: DEAD_AFTER_MS, checkMs: HEARTBEAT_CHECK_MS, helloTimeoutMs: HELLO_TIMEOUT_MS,
};

/** What the proxy hears about one stream; exactly one of onEnd/onError ends it. */
export interface StreamHandlers {
  /**
   * The response head. `whole` is the complete body when the companion sent
   * head, body and end in one frame (revision 2): then no onData/onEnd follow.
   */
  onHead(res: ResFrame, whole?: Buffer): void;
  /** A body chunk; the consumer calls `stream.consumed(n)` once its sink has taken it. */
  onData(chunk: Buffer): void;
  onEnd(): void;
  /** The companion's error frame, or `link_lost` when the tunnel closed under the stream. */
  onError(code: StreamErrorCode | 'link_lost', message?: string): void;
}

export type OpenRequest = Omit<ReqFrame, 't' | 'sid'>;

/** One exchange the relay opened; the proxy drives it. */
export class RelayStream {
  readonly send: SendCredit;
  readonly recv = new RecvCredit();
  done = false;
  /** Response bytes the caller has taken and the companion has not yet been granted back (GRANT_AT_BYTES). */
  owed = 0;
  /** The response credit this stream may have: STREAM_WINDOW_BYTES, grown on a revision-4 link (grantOwed). */
  window = STREAM_WINDOW_BYTES;
  /** Since when, and how much, the caller has taken in this measure of its pace (a window's worth each). */
  private paceAt: number;
  private paceBytes = 0;
  constructor(readonly id: number, private readonly link: RelayLink, readonly handlers: StreamHandlers) {
    this.send = new SendCredit(STREAM_WINDOW_BYTES, maxWindow(link.rev));
    this.paceAt = link.monoNow();
  }

  /** Sends request body bytes within credit; resolves once all of `chunk` is on the socket's queue. */
  async write(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.byteLength) {
      const n = await this.send.take(Math.min(MAX_CHUNK_BYTES, chunk.byteLength - off));
      if (this.done) return;
      this.link.sendRaw(encodeData(this.id, chunk.subarray(off, off + n)));
      off += n;
    }
  }
  /** No more request body. */
  end(): void {
    if (!this.done) this.link.sendFrame({ t: 'end', sid: this.id });
  }
  /** The caller took `bytes` of the response body: the companion gets them back as credit (at once, or at the end of the turn). */
  consumed(bytes: number): void {
    if (this.done || bytes <= 0) return;
    const first = this.owed === 0;
    this.owed += bytes;
    if (this.owed >= this.window / 2) this.grantOwed();
    else if (first) this.link.oweLater(this);
  }
  /** Sends the credit owed, if any (and the stream is still open). */
  grantOwed(): void {
    const bytes = this.owed;
    if (this.done || bytes <= 0) return;
    this.owed = 0;
    const more = this.link.rev >= 4 ? this.growth(bytes) : 0;
    this.recv.grant(bytes + more);
    this.link.sendFrame({ t: 'window', sid: this.id, bytes: bytes + more });
  }
  /**
   * Revision 4: how much to grow the window by with this grant. When the caller took a whole
   * window within WINDOW_GROW_MS, the window held the answer back (not the caller): it grows by
   * STREAM_WINDOW_BYTES, up to MAX_STREAM_WINDOW_BYTES and within the link's LINK_WINDOW_GROWTH_BYTES.
   * A slower caller never grows it: nothing is owed before its socket has taken the bytes.
   */
  private growth(taken: number): number {
    this.paceBytes += taken;
    if (this.paceBytes < this.window) return 0;
    const now = this.link.monoNow();
    const fast = now - this.paceAt < WINDOW_GROW_MS;
    this.paceAt = now;
    this.paceBytes = 0;
    if (!fast || this.window >= MAX_STREAM_WINDOW_BYTES) return 0;
    const more = this.link.takeGrowth(Math.min(STREAM_WINDOW_BYTES, MAX_STREAM_WINDOW_BYTES - this.window));
    this.window += more;
    return more;
  }
  /** Abandons the stream (caller gone, timeout); the companion stops the upstream call. */
  cancel(reason: string): void {
    if (this.done) return;
    this.link.sendFrame({ t: 'cancel', sid: this.id, reason });
    this.link.finish(this, new Error(`cancelled: ${reason}`));
  }
}

/** How long the relay waits for a command's answer unless the caller says otherwise. */
export const COMMAND_TIMEOUT_MS = 15_000;

/** A command that did not succeed: the companion's error code, or `timeout` / `link_lost` / `too_large` from this side. */
export class CommandFailed extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'CommandFailed';
  }
}

export interface LinkEvents {
  /** The hello arrived and was valid: the link may now carry streams. */
  onReady(link: RelayLink, hello: HelloFrame): void;
  /** `status` is the companion's whole status, from companions that send it. */
  onStatus(link: RelayLink, front: FrontStatus, frontOrigin: string | null | undefined, status?: Status): void;
  onClose(link: RelayLink, code: number, reason: string): void;
  /** A feed event arrived (relay/events.ts stores it, then acks); without a handler events are ignored, never acked. */
  onEvent?(link: RelayLink, frame: EventFrame): void;
}

export type EventFrame = Extract<ControlFrame, { t: 'event' }>;

/** What a link needs of its socket (relay/socket.ts TunnelSocket; tests may give a fake). */
export type LinkSocket = Pick<TunnelSocket, 'bind' | 'open' | 'send' | 'close' | 'terminate'>;

export class RelayLink implements SocketHandler {
  readonly id = randomBytes(6).toString('hex');
  readonly connectedAt: number;
  lastSeenAt: number;
  hello: HelloFrame | null = null;
  /** The protocol revision this link uses (agreed in hello/welcome). */
  rev = 1;
  frontOrigin: string | null = null;
  draining = false;
  closed = false;
  /** The cluster's ownership epoch of this link (relay/cluster/owners.ts), once claimed; null on a single relay. */
  epoch: number | null = null;
  private readonly streams = new Map<number, RelayStream>();
  /** This link's logger (the venue named), made on its first line: most links never log one of their own. */
  private logger: Logger | null = null;
  private nextSid = 1;
  private statusWindow = { start: 0, count: 0 };
  private readonly heartbeat: Heartbeat;
  /** The ping interval once the revision says the relay leads (the heartbeat follows until hello). */
  private readonly leadPingMs: number;
  private helloTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  /** Commands sent and not yet answered, by id (made with the first command: most links never get one). */
  private pending: Map<string, { resolve(v: unknown): void; reject(e: CommandFailed): void; timer: NodeJS.Timeout }> | null = null;
  private nextCmd = 0;
  /** The address the tunnel came from (the venue's public IP); the port probe-back targets only this. */
  peer: string | null = null;
  /**
   * The tunnel URL named this link's own venue (`?venue=`), so a balancer that
   * hashes on it put the link where the venue's calls land; only such links
   * are moved to follow their calls (relay/cluster/follow.ts).
   */
  hinted = false;
  /** Bytes received/sent in body chunks, for metrics. */
  bytesIn = 0;
  bytesOut = 0;
  /** Streams owing credit at the end of this turn (made with the first: most links never stream a big answer). */
  private owing: RelayStream[] | null = null;
  /** Revision 4: window growth still to give this link's streams (LINK_WINDOW_GROWTH_BYTES; back when a grown stream ends). */
  private growthLeft = LINK_WINDOW_GROWTH_BYTES;

  constructor(
    private readonly ws: LinkSocket,
    readonly venueId: string,
    readonly tokenHash: string,
    private readonly clock: Clock,
    /** Where this link's own lines go; each names the venue. */
    private readonly parentLog: Logger,
    private readonly events: LinkEvents,
    timing: LinkTiming = DEFAULT_LINK_TIMING,
  ) {
    this.connectedAt = clock.now();
    this.lastSeenAt = this.connectedAt;
    // The link itself answers the heartbeat (heartbeatPing, heartbeatDead) and the socket's events (SocketHandler):
    // a relay holds 10 000 idle links, and closures per link add up.
    // Until hello says which side leads, the relay pings as a follower (an older companion leads itself).
    this.heartbeat = new Heartbeat(clock, this, { pingIntervalMs: timing.followPingIntervalMs, deadAfterMs: timing.deadAfterMs, checkMs: timing.checkMs }, true);
    this.leadPingMs = timing.pingIntervalMs;
    this.helloTimer = clock.setTimeout(() => onHelloTimeout(this), timing.helloTimeoutMs);
    ws.bind(this);
  }

  /** This link's logger, with the venue in every line. */
  get log(): Logger {
    return (this.logger ??= this.parentLog.child({ venueId: this.venueId }));
  }

  /** Heartbeat: a ping is due (every PING_INTERVAL_MS where the relay leads; else every FOLLOWER_PING_INTERVAL_MS, for the RTT figure). */
  heartbeatPing(id: number): void {
    this.sendFrame({ t: 'ping', id });
  }

  /** Heartbeat: nothing arrived for DEAD_AFTER_MS. */
  heartbeatDead(silentMs: number): void {
    this.log.warn('tunnel silent, declaring it dead', { silentMs: Math.round(silentMs) });
    this.terminate(CloseCode.heartbeatTimeout, 'heartbeat timeout');
  }

  get rttMs(): number | null {
    return this.heartbeat.rttMs;
  }

  /** The heartbeat check, called by the registry's one shared timer for every link. */
  tick(): void {
    if (!this.closed) this.heartbeat.tick();
  }
  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * Runs a named command on the companion; resolves with its result, or rejects
   * with CommandFailed (the companion's error code, `timeout`, or `link_lost`).
   */
  command(name: string, args: unknown, timeoutMs: number = COMMAND_TIMEOUT_MS): Promise<unknown> {
    if (this.closed || !this.hello) return Promise.reject(new CommandFailed('link_lost', 'the tunnel is not ready'));
    const id = `c${++this.nextCmd}`;
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending?.delete(id);
        reject(new CommandFailed('timeout', `no answer to ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      const pending = (this.pending ??= new Map());
      pending.set(id, { resolve, reject, timer });
      try {
        this.sendControl({ t: 'cmd', id, name, args });
      } catch (e) {
        this.clock.clearTimeout(timer);
        pending.delete(id);
        reject(new CommandFailed('too_large', e instanceof Error ? e.message : String(e)));
      }
    });
  }

  /** Opens a stream, or returns null when this link takes no new ones (not ready, draining, full). */
  open(req: OpenRequest, handlers: StreamHandlers): RelayStream | null {
    if (!this.hello || this.draining || this.closed || this.streams.size >= MAX_STREAMS_PER_LINK) return null;
    const sid = this.nextSid;
    this.nextSid += 2; // relay-opened streams are odd; even ids are reserved for the companion
    const s = new RelayStream(sid, this, handlers);
    this.streams.set(sid, s);
    this.sendFrame({ t: 'req', sid, method: req.method, path: req.path, headers: req.headers, body: req.body, timeoutMs: req.timeoutMs });
    return s;
  }

  /** The clock's monotonic time (a stream's pace). */
  monoNow(): number {
    return this.clock.mono();
  }

  /** Up to `bytes` of window growth from this link's LINK_WINDOW_GROWTH_BYTES (what is left of it). */
  takeGrowth(bytes: number): number {
    const n = Math.min(bytes, this.growthLeft);
    this.growthLeft -= n;
    return n;
  }

  /** Grants `s`'s owed credit at the end of this event-loop turn, with every other stream's of this link. */
  oweLater(s: RelayStream): void {
    const owing = (this.owing ??= []);
    owing.push(s);
    if (owing.length === 1) setImmediate(grantOwing, this);
  }

  /** @internal the end of the turn (grantOwing): every stream's owed credit goes out. */
  grantOwing(): void {
    const owing = this.owing;
    if (!owing) return;
    this.owing = null;
    for (const s of owing) s.grantOwed();
  }

  /** Stops new streams, tells the companion to reconnect, and closes once in-flight streams end (or drainMs passes). */
  goaway(reason: 'drain' | 'replaced' | 'shutdown', drainMs: number): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.sendControl({ t: 'goaway', reason, drainMs });
    this.drainTimer = this.clock.setTimeout(() => this.close(CloseCode.replaced, 'drain timeout'), drainMs);
    this.maybeDrained();
  }

  /** A JSON control frame (welcome, go-away, commands, acks: the rare ones). */
  sendControl(frame: ControlFrame): void {
    this.send(encodeControl(frame));
  }

  /** A frame of an exchange, binary from revision 3 on. */
  sendFrame(frame: ExchangeFrame): void {
    this.send(encodeFrame(frame, this.rev));
  }

  sendRaw(buf: Buffer): void {
    this.bytesOut += buf.length;
    this.send(buf);
  }

  private send(data: Buffer | string): void {
    if (this.closed || !this.ws.open) return;
    this.ws.send(data);
  }

  /** Orderly close with a code and reason the companion can act on. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.teardown(code, reason);
    try { this.ws.close(code, reason); } catch { this.ws.terminate(); }
    // A peer that never answers the close handshake must not keep the socket.
    const t = this.clock.setTimeout(() => this.ws.terminate(), 2_000);
    t.unref?.();
  }

  /** Drops the socket at once (dead link: a close handshake would only wait). */
  terminate(code: number, reason: string): void {
    if (this.closed) return;
    this.teardown(code, reason);
    this.ws.terminate();
  }

  /** Ends a stream's bookkeeping (called once per stream). */
  finish(s: RelayStream, err: unknown): void {
    if (s.done) return;
    s.done = true;
    s.send.fail(err);
    this.growthLeft += s.window - STREAM_WINDOW_BYTES;
    this.streams.delete(s.id);
    this.maybeDrained();
  }

  private maybeDrained(): void {
    if (this.draining && this.streams.size === 0) this.close(CloseCode.replaced, 'drained');
  }

  private teardown(code: number, reason: string): void {
    this.closed = true;
    this.heartbeat.stop();
    this.clock.clearTimeout(this.helloTimer);
    this.clock.clearTimeout(this.drainTimer);
    for (const s of [...this.streams.values()]) {
      this.finish(s, new Error('link closed'));
      safe(() => s.handlers.onError('link_lost', reason));
    }
    for (const [id, p] of this.pending ?? []) {
      this.clock.clearTimeout(p.timer);
      this.pending?.delete(id);
      p.reject(new CommandFailed('link_lost', `tunnel closed: ${reason}`));
    }
    this.events.onClose(this, code, reason);
  }

  /** @internal the socket's close (SocketHandler). */
  onSocketClose(code: number, reason: string): void {
    if (!this.closed) this.teardown(code, reason || 'socket closed');
  }

  /** @internal the socket failed, or refused a frame from the companion (SocketHandler); its close follows. */
  onSocketError(err: Error): void {
    this.log.warn('tunnel socket error', { err: err.message });
  }

  /** @internal a message from the socket (SocketHandler). */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    let frame: Frame;
    try {
      frame = decodeFrame(data, isBinary, this.rev);
    } catch (e) {
      const fe = e instanceof FrameError ? e : new FrameError(CloseCode.protocolError, 'undecodable frame');
      this.log.warn('bad frame from companion, closing tunnel', { reason: fe.message });
      this.close(fe.closeCode, fe.message);
      return;
    }
    this.heartbeat.seen();
    this.lastSeenAt = this.clock.now();
    try {
      this.dispatch(frame);
    } catch (e) {
      // A bug handling one frame must not take the relay down; it costs this link only.
      const fe = e instanceof FrameError ? e : new FrameError(CloseCode.protocolError, 'frame handling failed');
      this.log.error('error handling a tunnel frame', { err: e instanceof Error ? e.message : String(e), t: frame.t });
      this.close(fe.closeCode, fe.message);
    }
  }

  private dispatch(f: Frame): void {
    if (!this.hello && f.t !== 'hello') throw new FrameError(CloseCode.protocolError, `'${f.t}' before hello`);
    switch (f.t) {
      case 'hello': {
        if (this.hello) throw new FrameError(CloseCode.protocolError, 'second hello');
        if (f.v !== TUNNEL_PROTOCOL) {
          this.close(CloseCode.unsupportedVersion, `unsupported version ${f.v}; relay speaks ${TUNNEL_PROTOCOL}`);
          return;
        }
        this.hello = f;
        this.frontOrigin = f.frontOrigin;
        this.rev = Math.min(f.rev ?? 1, TUNNEL_REVISION);
        // The companion stops leading once it hears this revision in welcome; the relay's next pings keep it alive.
        if (this.rev >= RELAY_LEADS_REVISION) this.heartbeat.pingEvery(this.leadPingMs, true);
        this.clock.clearTimeout(this.helloTimer);
        this.helloTimer = undefined;
        this.sendControl({
          t: 'welcome', v: TUNNEL_PROTOCOL, rev: this.rev, venueId: this.venueId, linkId: this.id, now: this.clock.now(),
          ...(this.peer ? { peer: this.peer.slice(0, 64) } : {}),
        });
        this.events.onReady(this, f);
        return;
      }
      case 'ping':
        this.sendFrame({ t: 'pong', id: f.id });
        return;
      case 'pong':
        this.heartbeat.pong(f.id);
        return;
      case 'status': {
        const now = this.clock.mono();
        if (now - this.statusWindow.start >= STATUS_FLOOD.windowMs) this.statusWindow = { start: now, count: 0 };
        if (++this.statusWindow.count > STATUS_FLOOD.max) throw new FrameError(CloseCode.protocolError, 'too many status frames');
        if (f.frontOrigin !== undefined) this.frontOrigin = f.frontOrigin;
        this.events.onStatus(this, f.front, f.frontOrigin, f.status);
        return;
      }
      case 'data': {
        const s = this.stream(f.sid);
        if (!s) return;
        if (!s.recv.receive(f.payload.length)) throw new FrameError(CloseCode.flowControl, `stream ${f.sid} overran its credit`);
        this.bytesIn += f.payload.length;
        s.handlers.onData(f.payload);
        return;
      }
      case 'res': {
        const s = this.stream(f.sid);
        if (!s) return;
        if (f.body) {
          s.handlers.onHead(f);
        } else {
          // A head without body completes the exchange; no end frame follows.
          this.finish(s, ENDED);
          s.handlers.onHead(f);
          s.handlers.onEnd();
        }
        return;
      }
      case 'head': {
        const s = this.stream(f.sid);
        if (!s) return;
        if (!s.recv.receive(f.payload.length)) throw new FrameError(CloseCode.flowControl, `stream ${f.sid} overran its credit`);
        this.bytesIn += f.payload.length;
        const res: ResFrame = { t: 'res', sid: f.sid, status: f.status, headers: f.headers, body: f.payload.length > 0 || !f.end };
        if (f.end) {
          // The whole exchange in one frame: nothing to grant back, nothing more to wait for.
          this.finish(s, ENDED);
          s.handlers.onHead(res, f.payload);
          return;
        }
        s.handlers.onHead(res);
        if (f.payload.length) s.handlers.onData(f.payload);
        return;
      }
      case 'end': {
        const s = this.stream(f.sid);
        if (!s) return;
        this.finish(s, ENDED);
        s.handlers.onEnd();
        return;
      }
      case 'window': {
        const s = this.stream(f.sid);
        if (s && !s.send.grant(f.bytes)) throw new FrameError(CloseCode.flowControl, `stream ${f.sid} granted beyond its window`);
        return;
      }
      case 'error': {
        const s = this.stream(f.sid);
        if (!s) return;
        this.finish(s, new Error(f.code));
        s.handlers.onError(f.code, f.message);
        return;
      }
      case 'cancel': {
        const s = this.stream(f.sid);
        if (!s) return;
        this.finish(s, new Error('cancelled by companion'));
        s.handlers.onError('internal', f.reason ?? 'cancelled by the companion');
        return;
      }
      case 'cmd_result': {
        const p = this.pending?.get(f.id);
        if (!p) return; // answered after its timeout: nobody waits any more
        this.pending?.delete(f.id);
        this.clock.clearTimeout(p.timer);
        if (f.ok) p.resolve(f.result);
        else p.reject(new CommandFailed(f.error?.code ?? 'failed', f.error?.message ?? 'the command failed'));
        return;
      }
      case 'event':
        // Without a feed handler the event is not acknowledged, so the companion keeps it in its outbox.
        this.events.onEvent?.(this, f);
        return;
      case 'welcome': case 'req': case 'goaway': case 'cmd': case 'ack':
        throw new FrameError(CloseCode.protocolError, `'${f.t}' is not sent by the companion`);
    }
  }

  /** The open stream `sid`; frames for streams already finished (a race with cancel) are ignored. */
  private stream(sid: number): RelayStream | undefined {
    if (sid % 2 === 0 || sid >= this.nextSid) throw new FrameError(CloseCode.protocolError, `unknown stream ${sid}`);
    return this.streams.get(sid);
  }
}

function grantOwing(link: RelayLink): void {
  link.grantOwing();
}
function onHelloTimeout(link: RelayLink): void {
  if (!link.hello) link.close(CloseCode.helloTimeout, 'no hello');
}

function safe(fn: () => void): void {
  try { fn(); } catch { /* a handler's failure must not stop the teardown of the others */ }
}
