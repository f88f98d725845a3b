/**
 * The companion's whole state, assembled from its parts as the local API
 * serves it, and pushed to whoever watches (the UI, the desktop shell, the
 * relay) when something a person would notice changed. The level itself is
 * the one verdict's (face/verdict.ts), so status --check says what the tray
 * and the window say.
 */
import type { ActivityItem, FeedStatus, FrontStatus, PaymentsSummary, PortStatus, Problem, Status, TunnelStatus } from '../../protocol/local.ts';
import { withLevel } from '../../face/verdict.ts';
import type { Clock } from '../../common/clock.ts';
import { VERSION } from '../../common/version.ts';
import { createActivity } from './activity.ts';

/** The log sink's health (the CLI passes its Log). */
export interface LogHealth { fileProblem(): Problem | null; onFileProblem(fn: (p: Problem) => void): void }

export interface StateDeps {
  clock: Clock;
  startedAt: string;
  front(): FrontStatus;
  tunnel(): TunnelStatus;
  feed(): FeedStatus;
  payments(): PaymentsSummary | undefined;
  /** The last port check; null before one ran. */
  port(): PortStatus | null;
  logs?: LogHealth;
  /** Parts whose state changed since the last push (the activity's new items). */
  onActivity(items: ActivityItem[]): void;
  /** A status that differs from the last one pushed. */
  onStatus(status: Status): void;
}

export interface State {
  /** The whole state, read now. */
  status(): Status;
  /** Pushes the status now, unless nothing a person would notice changed (not a new latency, round trip or poll time). */
  publish(): void;
  /** Pushes within 250 ms: events and acks can come many a second, the status they change at most 4 times a second. */
  publishSoon(): void;
  /** Recent state changes, newest first. */
  activity(limit?: number): ActivityItem[];
  stop(): void;
}

/** Pushes nothing until publish(); never pushes a status that differs from the last pushed only in latencies or poll times. */
export function createState(d: StateDeps): State {
  const { clock } = d;
  const activity = createActivity();
  let published = '';
  let timer: NodeJS.Timeout | undefined;

  const status = (): Status => {
    const front = d.front();
    const tunnel = d.tunnel();
    const feed = d.feed();
    const payments = d.payments();
    const port = d.port();
    const problem = d.logs?.fileProblem() ?? null;
    const s: Omit<Status, 'level'> = {
      version: VERSION, startedAt: d.startedAt, front, tunnel, feed,
      ...(payments ? { payments } : {}),
      ...(port ? { port } : {}),
    };
    if (d.logs) s.logs = problem ? { state: 'console_only', error: problem } : { state: 'file' };
    return withLevel(s);
  };

  const publish = () => {
    const s = status();
    const feed = s.feed ? { ...s.feed, pollers: s.feed.pollers.map((p) => ({ ...p, lastOkAt: null, lastDurationMs: null })) } : undefined;
    const key = JSON.stringify({ ...s, front: { ...s.front, latencyMs: null, checkedAt: null }, tunnel: { ...s.tunnel, rttMs: null }, feed });
    if (key === published) return;
    published = key;
    const items = activity.observe(s.front, s.tunnel, new Date(clock.now()).toISOString());
    if (items.length) d.onActivity(items);
    d.onStatus(s);
  };
  d.logs?.onFileProblem(() => publish());

  return {
    status,
    publish,
    publishSoon() {
      timer ??= clock.setTimeout(() => { timer = undefined; publish(); }, 250);
    },
    activity: (limit) => activity.list(limit),
    stop() { clock.clearTimeout(timer); },
  };
}
