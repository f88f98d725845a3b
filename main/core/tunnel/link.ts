/**
 * The companion's end of one tunnel WebSocket: hello/welcome, heartbeats, and
 * serving the relay's streams through the gate and the Upstream. A bad frame
 * closes this link with a reason; no frame, however malformed, throws out of
 * here. Body bytes move only within credit, in both directions.
 */
import type { WebSocket } from 'ws';
import type { Envelope } from '../../../protocol/events.ts';
import type { FrontStatus, Status } from '../../../protocol/local.ts';
import {
  CloseCode, FrameError, MAX_CHUNK_BYTES, MAX_STREAM_WINDOW_BYTES, STREAM_WINDOW_BYTES, RELAY_LEADS_REVISION, TUNNEL_PROTOCOL, TUNNEL_REVISION, encodeHead, maxWindow,
  decodeFrame, encodeControl, encodeData, encodeFrame, forwardableHeaders,
  type ControlFrame, type ExchangeFrame, type Frame, type GoawayFrame, type ReqFrame, type StreamErrorCode, type WelcomeFrame,
} from '../../../protocol/tunnel.ts';
import { Heartbeat, RecvCredit, SendCredit } from '../../../common/mux.ts';
import { Coalescer, type Corkable } from '../../../common/coalesce.ts';
import { writeDataFrame, writeMessage, type FrameSocket } from './dataframe.ts';
import type { Clock } from '../../../common/clock.ts';
import type { CommandOutcome, Commands } from '../commands.ts';
import { isFrontError } from '../upstream.ts';
import type { Logger } from '../../../common/logger.ts';
import { admitted, check, type GatePolicy } from './gate.ts';
import { DEFAULTS } from '../table.ts';
import type { Upstream } from '../upstream.ts';

/** The reason a stream that completed normally is finished with (one object: no stack trace per exchange). */
const DONE = new Error('done');

export interface TunnelLimits {
  /** Largest response body relayed; beyond it the stream fails with too_large. */
  maxResponseBytes: number;
  /** Streams served at once; more are answered with overloaded. */
  maxStreams: number;
}
/** The table's answer limit (tunnel.maxResponseBytes) and 64 concurrent calls: low enough to bound memory (64 × 256 KiB credit, and at most LINK_WINDOW_GROWTH_BYTES more the relay may grow it by). */
export const DEFAULT_TUNNEL_LIMITS: TunnelLimits = { maxResponseBytes: DEFAULTS.tunnel.maxResponseBytes, maxStreams: 64 };
/**
 * Above this many bytes queued on the socket, response pumps wait: the link, not only each stream,
 * stays bounded. Above one stream's largest window (with its frames' headers), so one big answer
 * alone never waits here: 1 MiB was, once the window could grow to 1 MiB, and its pump slept in
 * HIGH_WATER_POLL_MS steps (docs/performance.md, round two, ninth part).
 */
export const LINK_SEND_HIGH_WATER = 2 * MAX_STREAM_WINDOW_BYTES;
/** How often a pump re-checks a full socket queue. */
const HIGH_WATER_POLL_MS = 5;

export interface LinkTiming {
  /** The companion's pings where it leads the heartbeat (a relay older than revision 5: PING_INTERVAL_MS). */
  pingIntervalMs: number;
  /** The companion's pings where the relay leads (revision 5 on: FOLLOWER_PING_INTERVAL_MS, for the RTT figure only). */
  followPingIntervalMs: number;
  deadAfterMs: number;
  checkMs: number;
  helloTimeoutMs: number;
}

export interface CompanionLinkEvents {
  onWelcome(link: CompanionLink, w: WelcomeFrame): void;
  onGoaway(link: CompanionLink, g: GoawayFrame): void;
  onClose(link: CompanionLink, code: number, reason: string): void;
}

export interface CompanionLinkOptions {
  ws: WebSocket;
  /**
   * The socket under `ws` (the upgrade response's): frames sent in one turn of the event loop after its first
   * leave in one write at the turn's end (common/coalesce.ts), and every frame but the close is written on it,
   * masked, without `ws`'s Sender (dataframe.ts). Without it each frame is its own write through `ws`.
   */
  socket?: (Corkable & FrameSocket) | null;
  clock: Clock;
  log: Logger;
  upstream: Upstream;
  policy: GatePolicy;
  limits: TunnelLimits;
  timing: LinkTiming;
  companion: { version: string; hostname: string };
  frontOrigin: string | null;
  front: FrontStatus | null;
  events: CompanionLinkEvents;
  /** Answers the relay's `cmd` frames; without it every command is `unsupported`. */
  commands?: Commands;
  /** Receives the relay's `ack` frames (the feed's sender). */
  onAck?: (eventIds: string[]) => void;
}

class ServedStream {
  readonly abort = new AbortController();
  /** Response credit: STREAM_WINDOW_BYTES, which the relay may grow up to MAX_STREAM_WINDOW_BYTES from revision 4. */
  readonly send: SendCredit;
  readonly recv = new RecvCredit();
  done = false;
  private queue: Buffer[] = [];
  private ended = false;
  private wake: (() => void) | null = null;
  private received = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly sid: number, readonly req: ReqFrame, private readonly link: CompanionLink) {
    this.send = new SendCredit(STREAM_WINDOW_BYTES, maxWindow(link.rev));
  }

  /** The request body as the Upstream pulls it; credit goes back to the relay as each chunk is taken. */
  async *body(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk) {
        this.link.grant(this, chunk.length);
        yield chunk;
        continue;
      }
      if (this.ended) return;
      if (this.abort.signal.aborted) throw this.abort.signal.reason;
      await new Promise<void>((r) => { this.wake = r; });
      this.wake = null;
    }
  }

  pushBody(chunk: Buffer, max: number): boolean {
    this.received += chunk.length;
    if (this.received > max) return false;
    this.queue.push(chunk);
    this.wake?.();
    return true;
  }
  endBody(): void {
    this.ended = true;
    this.wake?.();
  }

  /** When the answer last moved (the req, the head, a body frame sent), on the clock's monotonic time. */
  private movedAt = 0;
  private deadlineMs = 0;
  private onDeadline: (() => void) | null = null;
  private clock: Clock | null = null;

  /**
   * Arms the stream's deadline: `ms` is the longest the answer may stand
   * still, i.e. the wait for the head and then each gap between body frames
   * (a wait for relay credit is such a gap). It is not a bound on the whole
   * transfer: a large answer that keeps moving runs as long as it moves.
   */
  arm(clock: Clock, ms: number, onFire: () => void): void {
    this.clock = clock;
    this.deadlineMs = ms;
    this.onDeadline = onFire;
    this.movedAt = clock.mono();
    clock.clearTimeout(this.timer);
    this.timer = clock.setTimeout(this.expire, ms);
  }
  /**
   * The answer moved: the deadline starts again from now. Hot path (once per
   * frame), so it only stamps the time; the one timer, when it fires, sets
   * itself again for what is left instead of a timer per frame.
   */
  moved(): void {
    if (this.clock) this.movedAt = this.clock.mono();
  }
  private readonly expire = (): void => {
    const clock = this.clock;
    if (!clock || this.done) return;
    const left = this.movedAt + this.deadlineMs - clock.mono();
    if (left > 0) {
      this.timer = clock.setTimeout(this.expire, left);
      return;
    }
    this.timer = undefined;
    this.onDeadline?.();
  };
  disarm(clock: Clock): void {
    clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
  /** Ends the stream; the upstream call is aborted only when it did not complete (an abort of a finished call can cost its connection). */
  stop(clock: Clock, reason: unknown): void {
    this.done = true;
    this.disarm(clock);
    this.send.fail(reason);
    if (reason !== DONE && !this.abort.signal.aborted) this.abort.abort(reason);
    this.wake?.();
  }
}

export class CompanionLink {
  welcome: WelcomeFrame | null = null;
  /** Our wall clock minus the relay's, measured at welcome (half the hello round trip allowed for); null if the relay did not say. */
  clockSkewMs: number | null = null;
  private readonly helloAt: number;
  /** The protocol revision the relay chose for this link (1 until welcome). */
  rev = 1;
  closed = false;
  draining = false;
  /** The most body bytes any stream had unacknowledged, and the largest socket queue seen: for tests and support. */
  readonly stats = { maxStreamOutstanding: 0, maxSocketQueued: 0, bytesOut: 0, bytesIn: 0, streamsServed: 0 };
  private readonly streams = new Map<number, ServedStream>();
  private lastSid = 0;
  private readonly heartbeat: Heartbeat;
  private helloTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly o: CompanionLinkOptions;
  private readonly frontHost: string | undefined;
  private readonly batch: Coalescer | null;

  constructor(o: CompanionLinkOptions) {
    this.o = o;
    this.batch = o.socket ? new Coalescer(o.socket) : null;
    this.frontHost = o.frontOrigin ? new URL(o.frontOrigin).host : undefined;
    const { ws, clock } = o;
    this.heartbeat = new Heartbeat(clock, this, { pingIntervalMs: o.timing.pingIntervalMs, deadAfterMs: o.timing.deadAfterMs, checkMs: o.timing.checkMs });
    this.helloTimer = clock.setTimeout(() => {
      if (!this.welcome) this.close(CloseCode.helloTimeout, 'no welcome');
    }, o.timing.helloTimeoutMs);
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', (code, reason) => this.onSocketClose(code, reason.toString()));
    ws.on('error', (err) => o.log.warn('tunnel socket error', { err: err.message }));
    this.sendControl({
      t: 'hello', v: TUNNEL_PROTOCOL, rev: TUNNEL_REVISION, companion: o.companion, frontOrigin: o.frontOrigin,
      ...(o.front ? { front: o.front } : {}),
    });
    this.helloAt = clock.mono();
  }

  get rttMs(): number | null {
    return this.heartbeat.rttMs;
  }

  /** Heartbeat: a ping is due. */
  heartbeatPing(id: number): void {
    this.sendFrame({ t: 'ping', id });
  }

  /** Heartbeat: nothing arrived for DEAD_AFTER_MS. */
  heartbeatDead(silentMs: number): void {
    this.o.log.warn('tunnel silent, declaring it dead', { silentMs: Math.round(silentMs) });
    this.terminate(CloseCode.heartbeatTimeout, 'heartbeat timeout');
  }
  get openStreams(): number {
    return this.streams.size;
  }

  /** Reports the plugin state to the relay, and the companion's whole status when given. */
  sendStatus(front: FrontStatus, frontOrigin: string | null, status?: Status): void {
    this.sendControl({ t: 'status', front, frontOrigin, ...(status ? { status } : {}) });
  }

  /**
   * Sends one feed event (docs/protocol.md, "Events"); false when this link can no
   * longer send (closed, or the event does not fit one control frame).
   */
  sendEvent(e: Envelope): boolean {
    if (this.closed || !this.welcome || this.o.ws.readyState !== this.o.ws.OPEN) return false;
    try {
      this.send(encodeControl({ t: 'event', eventId: e.eventId, seq: e.seq, event: e }));
      return true;
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.o.log.error('feed event too large for a control frame; it stays in the outbox', { seq: e.seq, eventType: e.eventType });
      return false;
    }
  }

  /** Takes no new streams and closes once the in-flight ones finish, or after `drainMs`. */
  drain(drainMs: number): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.drainTimer = this.o.clock.setTimeout(() => this.close(CloseCode.normal, 'drain timeout'), drainMs);
    this.maybeDrained();
  }

  /** Resolves once the socket is closed, or after `ms` (it is then terminated). */
  waitClosed(ms: number): Promise<void> {
    const ws = this.o.ws;
    if (ws.readyState === ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const t = this.o.clock.setTimeout(() => { this.drop(); resolve(); }, ms);
      ws.once('close', () => { this.o.clock.clearTimeout(t); resolve(); });
    });
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.teardown(code, reason);
    try { this.o.ws.close(code, reason); } catch { this.drop(); }
    const t = this.o.clock.setTimeout(() => this.drop(), 2_000);
    t.unref?.();
  }

  terminate(code: number, reason: string): void {
    if (this.closed) return;
    this.teardown(code, reason);
    this.drop();
  }

  /** Drops the socket, after the frames held for the end of this turn (they would have been written without the coalescing). */
  private drop(): void {
    this.batch?.flush();
    this.o.ws.terminate();
  }

  /** Hands `bytes` of credit back to the relay for a request body. */
  grant(s: ServedStream, bytes: number): void {
    if (s.done) return;
    s.recv.grant(bytes);
    this.sendFrame({ t: 'window', sid: s.sid, bytes });
  }

  /** A JSON control frame (hello, status, errors, command results: the rare ones). */
  private sendControl(frame: ControlFrame): void {
    this.send(encodeControl(frame));
  }

  /** A frame of an exchange, binary from revision 3 on. */
  private sendFrame(frame: ExchangeFrame): void {
    this.send(encodeFrame(frame, this.rev));
  }

  private send(data: Buffer | string): void {
    if (this.closed || this.o.ws.readyState !== this.o.ws.OPEN) return;
    const socket = this.o.socket;
    if (!socket) return this.o.ws.send(data);
    this.batch!.before();
    writeMessage(socket, data);
  }

  private teardown(code: number, reason: string): void {
    this.closed = true;
    this.heartbeat.stop();
    this.o.clock.clearTimeout(this.helloTimer);
    this.o.clock.clearTimeout(this.drainTimer);
    for (const s of [...this.streams.values()]) this.finish(s, new Error(`link closed: ${reason}`));
    this.o.events.onClose(this, code, reason);
  }

  private onSocketClose(code: number, reason: string): void {
    if (!this.closed) this.teardown(code, reason || 'socket closed');
  }

  private finish(s: ServedStream, reason: unknown): void {
    if (s.done) return;
    s.stop(this.o.clock, reason);
    this.streams.delete(s.sid);
    this.stats.maxStreamOutstanding = Math.max(this.stats.maxStreamOutstanding, s.send.maxOutstanding);
    this.maybeDrained();
  }

  private maybeDrained(): void {
    if (this.draining && this.streams.size === 0) this.close(CloseCode.normal, 'drained');
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    let frame: Frame;
    try {
      frame = decodeFrame(data, isBinary, this.rev);
    } catch (e) {
      const fe = e instanceof FrameError ? e : new FrameError(CloseCode.protocolError, 'undecodable frame');
      this.o.log.warn('bad frame from relay, closing tunnel', { reason: fe.message });
      this.close(fe.closeCode, fe.message);
      return;
    }
    this.heartbeat.seen();
    try {
      this.dispatch(frame);
    } catch (e) {
      const fe = e instanceof FrameError ? e : new FrameError(CloseCode.protocolError, 'frame handling failed');
      if (!(e instanceof FrameError)) this.o.log.error('error handling a tunnel frame', { err: e instanceof Error ? e.message : String(e), t: frame.t });
      else this.o.log.warn('protocol violation by relay, closing tunnel', { reason: fe.message });
      this.close(fe.closeCode, fe.message);
    }
  }

  private dispatch(f: Frame): void {
    if (!this.welcome && f.t !== 'welcome' && f.t !== 'ping' && f.t !== 'pong') {
      throw new FrameError(CloseCode.protocolError, `'${f.t}' before welcome`);
    }
    switch (f.t) {
      case 'welcome':
        if (this.welcome) throw new FrameError(CloseCode.protocolError, 'second welcome');
        if (f.v !== TUNNEL_PROTOCOL) {
          this.close(CloseCode.unsupportedVersion, `relay speaks ${f.v}`);
          return;
        }
        if ((f.rev ?? 1) > TUNNEL_REVISION) {
          this.close(CloseCode.unsupportedVersion, `relay chose revision ${f.rev}; this companion speaks up to ${TUNNEL_REVISION}`);
          return;
        }
        this.welcome = f;
        if (f.now !== undefined) this.clockSkewMs = Math.round(this.o.clock.now() - (this.o.clock.mono() - this.helloAt) / 2 - f.now);
        this.rev = f.rev ?? 1;
        // From this revision the relay pings every PING_INTERVAL_MS and this side answers (docs/protocol.md, "Heartbeats").
        if (this.rev >= RELAY_LEADS_REVISION) this.heartbeat.pingEvery(this.o.timing.followPingIntervalMs);
        this.o.clock.clearTimeout(this.helloTimer);
        this.o.events.onWelcome(this, f);
        return;
      case 'ping':
        this.sendFrame({ t: 'pong', id: f.id });
        return;
      case 'pong':
        this.heartbeat.pong(f.id);
        return;
      case 'goaway':
        this.o.events.onGoaway(this, f);
        return;
      case 'req':
        this.onReq(f);
        return;
      case 'data': {
        const s = this.stream(f.sid);
        if (!s) return;
        if (!s.recv.receive(f.payload.length)) throw new FrameError(CloseCode.flowControl, `stream ${f.sid} overran its credit`);
        this.stats.bytesIn += f.payload.length;
        if (!s.pushBody(f.payload, this.o.policy.maxRequestBytes)) this.fail(s, 'too_large', `request body over ${this.o.policy.maxRequestBytes} bytes`);
        return;
      }
      case 'end': {
        this.stream(f.sid)?.endBody();
        return;
      }
      case 'window': {
        const s = this.stream(f.sid);
        if (s && !s.send.grant(f.bytes)) throw new FrameError(CloseCode.flowControl, `stream ${f.sid} granted beyond its window`);
        return;
      }
      case 'cancel': {
        const s = this.stream(f.sid);
        if (s) {
          this.o.log.debug('stream cancelled by relay', { sid: f.sid, reason: f.reason });
          this.finish(s, new Error(`cancelled: ${f.reason ?? 'by relay'}`));
        }
        return;
      }
      case 'error': {
        // The relay failed the request body side (e.g. the caller's body was too large).
        const s = this.stream(f.sid);
        if (s) this.finish(s, new Error(`relay error: ${f.code}`));
        return;
      }
      case 'cmd':
        this.onCmd(f.id, f.name, f.args);
        return;
      case 'ack':
        this.o.onAck?.(f.eventIds);
        return;
      case 'hello': case 'res': case 'head': case 'status': case 'cmd_result': case 'event':
        throw new FrameError(CloseCode.protocolError, `'${f.t}' is not sent by the relay`);
    }
  }

  /** Runs a command through the dispatcher and always answers, so the relay never waits on a lost id. */
  private onCmd(id: string, name: string, args: unknown): void {
    const answer = (r: CommandOutcome) => {
      try {
        this.sendControl({ t: 'cmd_result', id, ...r });
      } catch (e) {
        // A result too large for one control frame: say so instead of closing the link.
        if (!(e instanceof FrameError)) throw e;
        this.sendControl({ t: 'cmd_result', id, ok: false, error: { code: 'too_large', message: `result of ${name} is larger than one control frame` } });
      }
    };
    if (!this.o.commands) {
      answer({ ok: false, error: { code: 'unsupported', message: `command ${name} is not supported by this companion` } });
      return;
    }
    void this.o.commands.run(name, args).then(answer, () => { /* run() never rejects */ });
  }

  private stream(sid: number): ServedStream | undefined {
    if (sid % 2 === 0 || sid > this.lastSid) throw new FrameError(CloseCode.protocolError, `unknown stream ${sid}`);
    return this.streams.get(sid);
  }

  private onReq(f: ReqFrame): void {
    if (f.sid % 2 === 0 || f.sid <= this.lastSid) throw new FrameError(CloseCode.protocolError, `stream id ${f.sid} not new`);
    this.lastSid = f.sid;
    const s = new ServedStream(f.sid, f, this);
    if (this.draining || this.streams.size >= this.o.limits.maxStreams) {
      this.sendControl({ t: 'error', sid: f.sid, code: 'overloaded', message: 'too many requests in flight' });
      return;
    }
    const verdict = check({ method: f.method, path: f.path, headers: f.headers, body: f.body }, this.o.policy, this.frontHost);
    if (!('ok' in verdict)) {
      this.o.log.warn('tunnel request refused by the gate', { method: f.method, path: f.path.split('?')[0]?.slice(0, 200), reason: verdict.refuse });
      this.sendControl({ t: 'error', sid: f.sid, code: verdict.code, message: verdict.refuse });
      return;
    }
    this.streams.set(f.sid, s);
    this.stats.streamsServed++;
    this.serve(s).catch((e: unknown) => {
      // A bug in one exchange fails that stream, never the process or the link.
      this.o.log.error('serving a tunnel stream failed', { sid: s.sid, err: e instanceof Error ? e.message : String(e) });
      this.fail(s, 'internal', 'companion error');
    });
  }

  private fail(s: ServedStream, code: StreamErrorCode, message: string): void {
    if (s.done) return;
    this.sendControl({ t: 'error', sid: s.sid, code, message });
    this.finish(s, new Error(code));
  }

  /** Runs one exchange against the Upstream; always ends with exactly one of res(no body) / end / error / (cancelled). */
  private async serve(s: ServedStream): Promise<void> {
    const { clock, upstream, limits, log } = this.o;
    const req = s.req;
    // The deadline bounds each time the answer stands still (the head, then every gap between
    // frames, credit waits included), as the relay does: a caller that stops reading lets go of
    // the plugin connection one deadline after the last frame, and a large answer that keeps
    // streaming is never cut for its size.
    s.arm(clock, req.timeoutMs, () => this.fail(s, 'timeout', `the answer stood still for ${req.timeoutMs} ms`));
    // Only allowlisted headers and no caller key reach the plugin (see gate.ts).
    const target = admitted(req.path, forwardableHeaders(req.headers));
    let res;
    try {
      res = await upstream.forward({ method: req.method, path: target.path, headers: target.headers, body: req.body ? s.body() : null, signal: s.abort.signal });
    } catch (e) {
      if (s.done) return;
      const [code, msg] = upstreamError(e);
      log.info('upstream call failed', { sid: s.sid, code, err: msg });
      this.fail(s, code, msg);
      return;
    }
    if (s.done) {
      void drainAndDrop(res.body);
      return;
    }
    const declared = Number(res.headers['content-length'] ?? res.headers['Content-Length'] ?? NaN);
    if (declared > limits.maxResponseBytes) {
      void drainAndDrop(res.body);
      this.fail(s, 'too_large', `response of ${declared} bytes over the ${limits.maxResponseBytes} limit`);
      return;
    }
    const hasBody = res.body !== null && req.method !== 'HEAD';
    const head = { status: res.status, headers: forwardableHeaders(res.headers) };
    if (!hasBody || !res.body) {
      if (this.rev >= 3) this.sendHead(s.sid, head, true, EMPTY);
      else this.sendControl({ t: 'res', sid: s.sid, ...head, body: false });
      void drainAndDrop(res.body);
      this.finish(s, DONE);
      return;
    }
    let total = 0;
    const it = res.body[Symbol.asyncIterator]();
    /** Revision 2: the head waits for the first body bytes and leaves with them (and with `end` when that is all). */
    let headPending = this.rev >= 2;
    if (!headPending) {
      this.sendControl({ t: 'res', sid: s.sid, ...head, body: true });
      s.moved();
    }
    try {
      for (;;) {
        const next = await it.next();
        if (s.done) break;
        if (next.done) {
          if (headPending) this.sendHead(s.sid, head, true, EMPTY);
          else this.sendFrame({ t: 'end', sid: s.sid });
          this.finish(s, DONE);
          break;
        }
        const chunk = next.value;
        total += chunk.byteLength;
        if (total > limits.maxResponseBytes) {
          this.fail(s, 'too_large', `response over the ${limits.maxResponseBytes} bytes limit`);
          break;
        }
        let off = 0;
        while (off < chunk.byteLength && !s.done) {
          // The upstream is not read again until the relay has room: this is what bounds memory.
          const want = Math.min(MAX_CHUNK_BYTES, chunk.byteLength - off);
          const n = s.send.tryTake(want) || await s.send.take(want);
          // Waits only when the socket's queue is over the mark (an async call per chunk was a promise and a turn for nothing).
          if (this.o.ws.bufferedAmount > LINK_SEND_HIGH_WATER) await this.socketRoom(s);
          if (s.done) break;
          const part = chunk.subarray(off, off + n);
          off += n;
          s.moved();
          if (headPending) {
            headPending = false;
            // The declared length reached in the first frame: that is the whole answer, end included.
            const whole = off === chunk.byteLength && total === declared;
            this.sendHead(s.sid, head, whole, part);
            if (whole) {
              this.finish(s, DONE);
              break;
            }
          } else {
            this.sendData(s.sid, part);
          }
        }
      }
    } catch (e) {
      if (!s.done) {
        const [code, msg] = upstreamError(e);
        this.fail(s, code, msg);
      }
    } finally {
      s.disarm(clock);
      if (s.done) void it.return?.().catch(() => {});
    }
  }

  private sendHead(sid: number, head: { status: number; headers: Record<string, string> }, end: boolean, payload: Uint8Array): void {
    if (this.closed) return;
    this.stats.bytesOut += payload.byteLength;
    this.send(encodeHead(sid, { ...head, end }, payload, this.rev));
  }

  private sendData(sid: number, payload: Uint8Array): void {
    if (this.closed) return;
    this.stats.bytesOut += payload.byteLength;
    const socket = this.o.socket;
    if (!socket) {
      this.send(encodeData(sid, payload));
    } else if (this.o.ws.readyState === this.o.ws.OPEN) {
      this.batch!.before();
      writeDataFrame(socket, sid, payload);
    }
    this.stats.maxSocketQueued = Math.max(this.stats.maxSocketQueued, this.o.ws.bufferedAmount);
  }

  private async socketRoom(s: ServedStream): Promise<void> {
    while (!this.closed && !s.done && this.o.ws.bufferedAmount > LINK_SEND_HIGH_WATER) {
      await new Promise((r) => this.o.clock.setTimeout(() => r(undefined), HIGH_WATER_POLL_MS));
    }
  }
}

const EMPTY = new Uint8Array(0);

/** Maps an Upstream failure to a stream error code and a short English message. */
export function upstreamError(e: unknown): [StreamErrorCode, string] {
  if (isFrontError(e)) {
    switch (e.code) {
      case 'unreachable': return ['unreachable', 'the plugin does not answer'];
      case 'timeout': return ['timeout', 'the plugin did not answer in time'];
      case 'unlicensed': return ['unlicensed', 'the plugin refused the login: no licence slot'];
      default: return ['bad_gateway', `the plugin answered unusably (${e.code}${e.status ? ` ${e.status}` : ''})`];
    }
  }
  if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError')) return ['timeout', 'aborted'];
  return ['internal', e instanceof Error ? e.message.slice(0, 200) : 'upstream failed'];
}

async function drainAndDrop(body: AsyncIterable<Uint8Array> | null): Promise<void> {
  if (!body) return;
  try {
    const it = body[Symbol.asyncIterator]();
    await it.return?.();
  } catch { /* the body is being thrown away */ }
}
