/**
 * Readiness and graceful drain, for a single relay and a cluster node alike.
 *
 * `/healthz` says the process is alive; `/readyz` says it takes new tunnels
 * (the load balancer's check). On SIGTERM the node first turns not-ready, so
 * the load balancer stops sending it tunnels; then refuses new tunnels, tells
 * every companion to reconnect (go-away 'shutdown': the companion connects
 * anew before it lets the old link go), waits for the links to leave, lets the
 * HTTP requests in flight finish, and closes. Every step is bounded by maxMs.
 */
import type { Server } from 'node:http';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { DRAIN_MAX_MS, DRAIN_NOTICE_MS, type Readiness } from '../protocol/cluster.ts';
import type { Health } from './cluster/parts.ts';

export interface DrainTiming {
  /** How long the node reports not-ready before it refuses tunnels and sends go-away. */
  noticeMs: number;
  /** The node is closed at the latest this long after the drain began, drained or not. */
  maxMs: number;
}

export const DEFAULT_DRAIN_TIMING: DrainTiming = { noticeMs: DRAIN_NOTICE_MS, maxMs: DRAIN_MAX_MS };
/** A readiness check that takes longer than this counts as failed: a hung store must not hang the load balancer's probe. */
export const READY_CHECK_TIMEOUT_MS = 2_000;
/** How often the drain looks whether links and connections are gone. */
const POLL_MS = 50;

/** What the drain acts on, wired by the composition root. */
export interface DrainParts {
  /** Sends go-away ('shutdown') to every link, letting each drain at most `drainMs`. */
  goaway(drainMs: number): void;
  /** Links still open, plus (in a cluster) venues that left but are not yet claimed by another node (relay/cluster/wire.ts). */
  links(): number;
  server: Server;
  /** Closes everything else (tunnels left over, timers, the store). */
  close(): Promise<void>;
}

export type DrainPhase = 'serving' | 'notice' | 'goaway' | 'requests' | 'closing' | 'closed';

/** The drain's state machine; `run` is idempotent and never rejects. */
export class Drain {
  phase: DrainPhase = 'serving';
  private running: Promise<void> | null = null;

  constructor(private readonly timing: DrainTiming, private readonly clock: Clock, private readonly log: Logger) {}

  /** False from the first moment of the drain: /readyz answers 503. */
  get draining(): boolean {
    return this.phase !== 'serving';
  }

  /** True once the notice is over: new tunnel upgrades are refused (503 + Retry-After). */
  get refusingTunnels(): boolean {
    return this.phase !== 'serving' && this.phase !== 'notice';
  }

  /** Drains and closes; resolves when closed (within maxMs plus the close itself). Calling it again returns the same drain. */
  run(parts: DrainParts): Promise<void> {
    this.running ??= this.steps(parts).catch((e: unknown) => {
      this.log.error('drain failed; closing now', { err: e instanceof Error ? e.message : String(e) });
      return parts.close();
    });
    return this.running;
  }

  private async steps(p: DrainParts): Promise<void> {
    const start = this.clock.mono();
    const left = () => Math.max(0, this.timing.maxMs - (this.clock.mono() - start));
    this.phase = 'notice';
    this.log.info('drain 1/4: not ready; the load balancer stops sending new tunnels', { noticeMs: this.timing.noticeMs, maxMs: this.timing.maxMs, tunnels: p.links() });
    await this.sleep(Math.min(this.timing.noticeMs, left()));

    this.phase = 'goaway';
    const links = p.links();
    this.log.info('drain 2/4: refusing new tunnels; go-away sent to every companion', { tunnels: links });
    p.goaway(left());
    const gone = await this.until(() => p.links() === 0, left);
    this.log.info(gone ? 'drain 3/4: every tunnel left' : 'drain 3/4: tunnels still open at the bound; closing them', { left: p.links(), ms: Math.round(this.clock.mono() - start) });

    this.phase = 'requests';
    // Stops accepting; requests in flight (venue calls started here) finish; idle keep-alive connections are closed as they become idle.
    const closed = new Promise<void>((resolve) => {
      if (!p.server.listening) return resolve();
      p.server.close(() => resolve());
    });
    let done = false;
    void closed.then(() => { done = true; });
    const finished = await this.until(() => {
      p.server.closeIdleConnections();
      return done;
    }, left);
    this.log.info(finished ? 'drain 4/4: requests in flight finished; closing the store' : 'drain 4/4: requests still in flight at the bound; cutting them', { ms: Math.round(this.clock.mono() - start) });

    this.phase = 'closing';
    await p.close();
    this.phase = 'closed';
    this.log.info('drained', { ms: Math.round(this.clock.mono() - start) });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  /** Resolves true once `cond` holds, false when `left()` runs out first. */
  private async until(cond: () => boolean, left: () => number): Promise<boolean> {
    while (!cond()) {
      if (left() <= 0) return false;
      await this.sleep(Math.min(POLL_MS, left()));
    }
    return true;
  }
}

export interface ReadinessDeps {
  nodeId: () => string;
  drain: Drain;
  tunnels: () => number;
  /** A cheap round trip to the store; rejects when it is unreachable. */
  store: () => Promise<unknown>;
  /** Redis health, on a cluster node only. */
  redis?: () => Promise<Health>;
  clock: Clock;
}

/** The `/readyz` body: ready only when not draining, the store answers and (clustered) Redis is healthy. Never rejects. */
export async function readiness(d: ReadinessDeps): Promise<Readiness> {
  const [store, redis] = await Promise.all([timed(d.store, d.clock), d.redis ? bounded(d.redis(), d.clock) : Promise.resolve(undefined)]);
  const draining = d.drain.draining;
  return {
    ready: !draining && store.ok && (redis?.ok ?? true),
    nodeId: d.nodeId(), draining, tunnels: d.tunnels(), store, ...(redis ? { redis } : {}),
  };
}

async function timed(check: () => Promise<unknown>, clock: Clock): Promise<Health> {
  const t0 = clock.mono();
  const r = await bounded(check().then(() => ({ ok: true, ms: null })), clock);
  return r.ok ? { ok: true, ms: Math.round((clock.mono() - t0) * 100) / 100 } : r;
}

function bounded(p: Promise<Health>, clock: Clock): Promise<Health> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Health>((resolve) => {
    timer = clock.setTimeout(() => resolve({ ok: false, ms: null, error: `no answer within ${READY_CHECK_TIMEOUT_MS} ms` }), READY_CHECK_TIMEOUT_MS);
  });
  return Promise.race([
    p.catch((e: unknown) => ({ ok: false, ms: null, error: e instanceof Error ? e.message : String(e) })),
    late,
  ]).finally(() => clock.clearTimeout(timer));
}
