/**
 * The mechanics both ends of a link run the same way: the heartbeat, the
 * flow-control credit of each stream. Runtime code, so not in protocol/ (the
 * wire only): both links (main/core/tunnel/link.ts, relay/link.ts) run it, on
 * the constants it implements (protocol/tunnel/limits.ts).
 */
import { DEAD_AFTER_MS, HEARTBEAT_CHECK_MS, PING_INTERVAL_MS, STREAM_WINDOW_BYTES } from '../protocol/tunnel/limits.ts';

/** The part of the core Clock the heartbeat needs (structural, so protocol/ imports nothing from main/). */
export interface HeartbeatClock {
  mono(): number;
  setInterval(fn: () => void, ms: number): NodeJS.Timeout;
  clearInterval(t: NodeJS.Timeout | undefined): void;
}

/** What a heartbeat drives: its link (methods, not closures: a relay holds thousands of links). */
export interface HeartbeatOwner {
  /** Send ping `id` now. */
  heartbeatPing(id: number): void;
  /** Nothing arrived for DEAD_AFTER_MS; called once. */
  heartbeatDead(silentMs: number): void;
}

/**
 * Sends a ping every `pingIntervalMs` and tells its owner once when nothing has
 * been received for DEAD_AFTER_MS. Every received frame must be reported with
 * `seen()`; pongs with `pong(id)`, which updates `rttMs`. The interval changes
 * when the link's revision says which side leads (`pingEvery`); the silence
 * bound never does.
 */
export class Heartbeat {
  rttMs: number | null = null;
  private lastRx: number;
  private lastPing = -Infinity;
  private nextId = 1;
  /** When each unanswered ping left (made with the first ping). */
  private sentAt: Map<number, number> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private dead = false;
  /** Set by pingEvery: this side leads, so the peer speaks only when asked. */
  private leads = false;
  /** When the first ping since the last frame received left (-Infinity: none yet). */
  private askedAt = -Infinity;
  /** This heartbeat's own copy (pingEvery changes it). */
  private readonly timing: { pingIntervalMs: number; deadAfterMs: number; checkMs: number };

  constructor(
    private readonly clock: HeartbeatClock,
    private readonly owner: HeartbeatOwner,
    timing = { pingIntervalMs: PING_INTERVAL_MS, deadAfterMs: DEAD_AFTER_MS, checkMs: HEARTBEAT_CHECK_MS },
    /** True when the owner calls `tick()` from a timer shared by many links (the relay), instead of one timer each. */
    shared = false,
  ) {
    this.timing = { pingIntervalMs: timing.pingIntervalMs, deadAfterMs: timing.deadAfterMs, checkMs: timing.checkMs };
    this.lastRx = clock.mono();
    if (!shared) {
      this.timer = clock.setInterval(() => this.tick(), timing.checkMs);
      this.timer.unref?.();
    }
  }

  /** Any frame from the peer proves the link alive. */
  seen(): void {
    this.lastRx = this.clock.mono();
  }

  pong(id: number): void {
    const at = this.sentAt?.get(id);
    if (at === undefined) return;
    this.sentAt?.delete(id);
    this.rttMs = Math.round((this.clock.mono() - at) * 10) / 10;
  }

  /**
   * Pings every `ms` from now on (the next one `ms` after the last). `leads`:
   * the peer answers our pings and sends nothing of its own, so a silence is
   * the peer's only once we asked: the link is dead when nothing came for
   * DEAD_AFTER_MS and our first ping since then has waited DEAD_AFTER_MS less one
   * interval. With pings on time that is the same bound; a side that pings late
   * (its event loop behind, under load) does not blame its peer for the wait.
   */
  pingEvery(ms: number, leads = false): void {
    this.timing.pingIntervalMs = ms;
    this.leads = leads;
  }

  silentMs(): number {
    return this.clock.mono() - this.lastRx;
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check: declares the link dead after the silence bound, and pings when one is due. */
  tick(): void {
    if (this.dead) return;
    const now = this.clock.mono();
    if (now - this.lastRx > this.timing.deadAfterMs && (!this.leads || (this.askedAt > this.lastRx && now - this.askedAt >= this.timing.deadAfterMs - this.timing.pingIntervalMs))) {
      this.dead = true;
      this.stop();
      this.owner.heartbeatDead(now - this.lastRx);
      return;
    }
    if (now - this.lastPing >= this.timing.pingIntervalMs - this.timing.checkMs / 2) {
      this.lastPing = now;
      if (this.askedAt <= this.lastRx) this.askedAt = now;
      const id = this.nextId++;
      const sentAt = (this.sentAt ??= new Map());
      sentAt.set(id, now);
      // Only the last few pings can still be answered; older ones are lost with a dead link.
      if (sentAt.size > 8) sentAt.delete(sentAt.keys().next().value as number);
      this.owner.heartbeatPing(id);
    }
  }
}

/**
 * Send-side credit of one stream: `take` resolves with how many bytes may be
 * sent now (≥ 1, ≤ max) once the peer has granted any, so a sender never has
 * more unacknowledged than the window the peer gave: STREAM_WINDOW_BYTES at
 * first, and from revision 4 up to `limit` if the peer grows it (it grants
 * more than it took back).
 */
export class SendCredit {
  private available: number;
  /** Bytes sent and not yet granted back. */
  private outstanding = 0;
  private waiter: { resolve: (n: number) => void; reject: (e: unknown) => void; max: number } | null = null;
  private failed: unknown = null;
  /** The most bytes ever outstanding (sent, not yet granted back): what the tests assert on. */
  maxOutstanding = 0;

  constructor(window: number = STREAM_WINDOW_BYTES, private readonly limit: number = window) {
    this.available = window;
  }

  /**
   * Takes up to `max` bytes of credit now, or 0 when there is none (or the stream failed):
   * a sender with credit in hand (every small answer) sends without a promise and a turn.
   */
  tryTake(max: number): number {
    return this.failed || this.available <= 0 ? 0 : this.consume(max);
  }

  take(max: number): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.available > 0) return Promise.resolve(this.consume(max));
    if (this.waiter) return Promise.reject(new Error('SendCredit: one sender at a time'));
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject, max }; });
  }

  /**
   * The peer's window frame; returns false when the credit in hand would exceed the
   * most the peer may give (a protocol violation). A grant is first what was sent;
   * the rest, if any, grows the window.
   */
  grant(bytes: number): boolean {
    if (this.available + bytes > this.limit) return false;
    this.available += bytes;
    this.outstanding = Math.max(0, this.outstanding - bytes);
    const w = this.waiter;
    if (w && this.available > 0) {
      this.waiter = null;
      w.resolve(this.consume(w.max));
    }
    return true;
  }

  /** Fails the pending and every later `take` (stream cancelled, link closed). */
  fail(err: unknown): void {
    this.failed = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  private consume(max: number): number {
    const n = Math.min(max, this.available);
    this.available -= n;
    this.outstanding += n;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    return n;
  }
}

/** Receive-side credit of one stream: refuses chunks beyond what was granted. */
export class RecvCredit {
  private remaining: number;
  constructor(window: number = STREAM_WINDOW_BYTES) {
    this.remaining = window;
  }
  /** Accounts an arriving chunk; false means the peer overran its credit. */
  receive(bytes: number): boolean {
    this.remaining -= bytes;
    return this.remaining >= 0;
  }
  /** Accounts bytes handed back to the peer with a window frame. */
  grant(bytes: number): void {
    this.remaining += bytes;
  }
}

/*
 * No write batching: holding a link's writes until the end of the event-loop
 * turn (cork, then one shared setImmediate to uncork) was tried in this round
 * and measured against the same code without it, side by side in two runs
 * (docs/performance.md, round two): without it small requests were faster
 * (added p50 +1.03 vs +1.49 ms, +2.27 vs +2.62 ms), c=32 served more
 * (1 883 vs 1 689, 846 vs 440 req/s) and cost less CPU (402 vs 501 µs, 569
 * vs 756 µs). Fewer write calls did not pay for the later writes.
 */
