/**
 * One periodic poll of the plugin with its own state for the status page:
 * runs its spec's `poll` every `intervalMs` (never two at once), waits while
 * no plugin client is known (or the spec is not ready), and backs off when the
 * plugin struggles: after a failure (doubling, capped) and after a slow answer
 * (the next poll waits at least twice as long as the last one took).
 */
import type { PollerStatus } from '../../../protocol/local.ts';
import type { Clock } from '../../../common/clock.ts';
import type { FrontClient } from '../front/client.ts';
import { isFrontError } from '../front/errors.ts';
import type { Logger } from '../../../common/logger.ts';

/** The polls of the feed, by name: each lives in a file of its own (orders.ts, staff.ts, tables.ts, menu.ts). */
export type PollName = 'orders' | 'staff' | 'tables' | 'menu';

/** Emits `type` with `info` when its hash differs from the last one emitted under `key`; `listKey` names the list to split when too large. */
export type Publish = (key: string, type: 'StaffUpdate' | 'TablesUpdate', info: Record<string, unknown>, listKey: string) => void;

/** What one poll is: its name, its interval, and one round against the plugin. */
export interface PollSpec {
  name: PollName;
  intervalMs: number;
  /** False while the poll should wait (besides waiting for a plugin client). */
  ready?(): boolean;
  /** One round; returns a short mode description for the status (e.g. `revision`, `full`) or nothing. Throws on failure. */
  poll(client: FrontClient): Promise<string | void>;
}

/** The longest wait after repeated failures. */
export const POLL_BACKOFF_CAP_MS = 30_000;

export interface Poller {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
  /** Runs a poll as soon as possible (after the one in progress). */
  now(): void;
  status(): PollerStatus;
  /** Changes the interval (tests, bench); takes effect from the next wait. */
  setInterval(ms: number): void;
}

export interface PollerOptions {
  spec: PollSpec;
  clock: Clock;
  logger: Logger;
  /** The probe's client (the one plugin session), or null while no plugin is known. */
  client(): FrontClient | null;
}

/** How soon a poll looks again for the plugin's client while none is known. */
export const NO_PLUGIN_RECHECK_MS = 1_000;

export function createPoller(o: PollerOptions): Poller {
  const { spec } = o;
  const log = o.logger.child({ part: 'poller', poller: spec.name });
  let interval = spec.intervalMs;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let stopped = true;
  let again = false;
  const st: PollerStatus = { name: spec.name, state: 'idle', intervalMs: interval, lastOkAt: null, lastDurationMs: null, failures: 0 };

  async function once(): Promise<number> {
    const client = o.client();
    if (!client || spec.ready?.() === false) {
      st.state = 'waiting';
      // Waiting on another poll, or for the plugin to be found, must not cost a whole interval: the menu's is a
      // day, and a POS PC often starts the companion before iikoFront. Checking costs no request.
      return client ? Math.min(interval, 250) : Math.min(interval, NO_PLUGIN_RECHECK_MS);
    }
    const started = o.clock.mono();
    try {
      const mode = await spec.poll(client);
      const took = o.clock.mono() - started;
      if (st.failures > 0) log.info('poll works again', { after: st.failures });
      st.state = 'ok';
      st.failures = 0;
      delete st.error;
      st.lastOkAt = new Date(o.clock.now()).toISOString();
      st.lastDurationMs = Math.round(took);
      if (mode) st.mode = mode;
      return Math.max(interval, 2 * took);
    } catch (e) {
      st.failures += 1;
      st.state = 'failing';
      st.error = isFrontError(e) ? `${e.code}${e.status ? ` ${e.status}` : ''}` : e instanceof Error ? e.message.slice(0, 200) : String(e);
      if (st.failures === 1 || st.failures % 20 === 0) log.warn('poll failed', { error: st.error, failures: st.failures });
      return Math.min(POLL_BACKOFF_CAP_MS, Math.max(interval, 1_000) * 2 ** Math.min(st.failures - 1, 5));
    }
  }

  function schedule(ms: number): void {
    if (stopped) return;
    o.clock.clearTimeout(timer);
    timer = o.clock.setTimeout(run, ms);
  }

  function run(): void {
    if (stopped || running) {
      again = true;
      return;
    }
    again = false;
    running = once().then((wait) => {
      running = null;
      schedule(again ? 0 : wait);
    });
  }

  return {
    name: spec.name,
    start() {
      if (!stopped) return;
      stopped = false;
      schedule(0);
    },
    async stop() {
      stopped = true;
      o.clock.clearTimeout(timer);
      await running;
    },
    now() {
      if (stopped) return;
      if (running) again = true;
      else schedule(0);
    },
    status: () => ({ ...st, intervalMs: interval }),
    setInterval(ms) {
      interval = ms;
    },
  };
}
