/**
 * The companion's local API (127.0.0.1:9142): the shapes the UI, the CLI,
 * support scripts and tests read. Documented in docs/local-api.md.
 */
import { z } from 'zod';
import { Envelope, PaymentView } from './events.ts';

/** A problem a person will read: a stable code, the Russian message, and what to do. */
export const Problem = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
  /** English, for support staff and logs. */
  messageEn: z.string().optional(),
  /**
   * What helps at this PC's command line or in settings.json, for a sysadmin
   * (`evva-companion pair КОД`). The CLI prints it; the UI never does: its hint
   * says what to do in the window instead.
   */
  command: z.string().optional(),
});
export type Problem = z.infer<typeof Problem>;

export const Level = z.enum(['ok', 'warn', 'error']);
export type Level = z.infer<typeof Level>;

export const FrontState = z.enum(['up', 'down', 'unlicensed', 'unknown']);
export type FrontState = z.infer<typeof FrontState>;

export const FrontStatus = z.object({
  state: FrontState,
  /** The plugin origin in use, or null while discovery has found nothing. */
  url: z.string().nullable(),
  latencyMs: z.number().nullable(),
  version: z.string().optional(),
  /** When the last probe finished (ISO). */
  checkedAt: z.string().nullable(),
  /** When `state` last changed (ISO). */
  since: z.string().nullable(),
  /** How the URL was chosen: settings.json (`settings`), an environment variable, a command-line flag, or found by discovery. */
  source: z.enum(['settings', 'env', 'flag', 'discovery']).nullable(),
  error: Problem.optional(),
});
export type FrontStatus = z.infer<typeof FrontStatus>;

export const TunnelState = z.enum(['connected', 'connecting', 'offline', 'unpaired']);
export type TunnelState = z.infer<typeof TunnelState>;

export const TunnelStatus = z.object({
  state: TunnelState,
  since: z.string().nullable(),
  rttMs: z.number().nullable(),
  reconnects: z.number(),
  venueId: z.string().nullable(),
  /** The venue's name in EVVA, when the pairing brought it (the UI shows it rather than the id). */
  venueName: z.string().nullable().optional(),
  relayUrl: z.string().nullable(),
  error: Problem.optional(),
});
export type TunnelStatus = z.infer<typeof TunnelStatus>;

/** One poller of the feed (orders, staff, tables, menu). */
export const PollerStatus = z.object({
  name: z.string(),
  /** idle: not started; waiting: no plugin yet; ok: the last poll worked; failing: it did not (backing off). */
  state: z.enum(['idle', 'waiting', 'ok', 'failing']),
  intervalMs: z.number(),
  lastOkAt: z.string().nullable(),
  lastDurationMs: z.number().nullable(),
  failures: z.number(),
  /** How it polls now, e.g. `revision` ($filter on Revision) or `full` (whole lists). */
  mode: z.string().optional(),
  error: z.string().optional(),
});
export type PollerStatus = z.infer<typeof PollerStatus>;

/** The feed: what is on disk waiting for the relay, and how the pollers do. */
export const FeedStatus = z.object({
  /** off: not paired (or switched off); running; failing: events cannot be written (see error). */
  state: z.enum(['off', 'running', 'failing']),
  venueId: z.string().nullable(),
  /** Events written and not yet acknowledged by the relay. */
  backlog: z.number(),
  inFlight: z.number(),
  oldestUnsentAt: z.string().nullable(),
  lastEvent: z.object({ seq: z.number(), eventType: z.string(), eventTime: z.string() }).nullable(),
  acked: z.number(),
  /** Events of this venue the relay acknowledged today (the POS's local day), kept across restarts. */
  ackedToday: z.number(),
  /** Orders and payments of this venue relayed today, each counted once however often it changed: what «Заказы и оплаты» counts. */
  ordersToday: z.number().optional(),
  /** When the last order or payment event acknowledged today was written (ISO); health and staff events do not count. */
  lastOrderAt: z.string().nullable().optional(),
  coalesced: z.number(),
  pollers: z.array(PollerStatus),
  error: Problem.optional(),
});
export type FeedStatus = z.infer<typeof FeedStatus>;

/** How many EVVA PAY payments are in each state; `alarms` counts mismatch and order-deleted. */
export const PaymentsSummary = z.object({
  total: z.number(),
  byState: z.record(z.string(), z.number()),
  alarms: z.number(),
  /** Payments whose order is still open past the reminder time. */
  pendingClose: z.number(),
});
export type PaymentsSummary = z.infer<typeof PaymentsSummary>;
/** Where the log goes: `console_only` when the file cannot be written (disk full); the companion keeps running. */
export const LogsStatus = z.object({
  state: z.enum(['file', 'console_only']),
  error: Problem.optional(),
});
export type LogsStatus = z.infer<typeof LogsStatus>;

/**
 * The port-forwarding check as it last ran (the diagnostics' `port` check),
 * absent until a check ran: nobody claims the port is open or closed unchecked.
 */
export const PortStatus = z.object({
  result: z.enum(['ok', 'warn', 'fail', 'skip']),
  /** true: the relay reached the port from the internet; false: it did not; null: it could not tell. */
  exposed: z.boolean().nullable(),
  explanation: z.string(),
  explanationEn: z.string().optional(),
  fix: z.string().optional(),
  checkedAt: z.string(),
});
export type PortStatus = z.infer<typeof PortStatus>;

export const Status = z.object({
  level: Level,
  /** The companion's version. */
  version: z.string(),
  startedAt: z.string(),
  front: FrontStatus,
  tunnel: TunnelStatus,
  feed: FeedStatus.optional(),
  payments: PaymentsSummary.optional(),
  /** The last port check (diagnostics), absent until one ran. */
  port: PortStatus.optional(),
  /** Absent when the companion logs to no file at all (tests, embedded use). */
  logs: LogsStatus.optional(),
});
export type Status = z.infer<typeof Status>;

/** `<data-dir>/local-api.json`, written by `run` (mode 0600) and read by `status`. */
export const LocalApiFile = z.object({
  url: z.string(),
  token: z.string(),
  pid: z.number().optional(),
});
export type LocalApiFile = z.infer<typeof LocalApiFile>;

export const LOCAL_API_FILE = 'local-api.json';
export const DEFAULT_API_PORT = 9142;

/** `POST /api/pair`: pair with a venue using the code EVVA gave. */
export const PairRequest = z.strictObject({
  code: z.string().min(1).max(32),
  relayUrl: z.string().url().max(2048).optional(),
});
export type PairRequest = z.infer<typeof PairRequest>;

/** `POST /api/pair` answers 200 with this, or 4xx/5xx with `{ error: Problem }`. */
export const PairResult = z.object({ venueId: z.string(), relayUrl: z.string(), venueName: z.string().optional() });
export type PairResult = z.infer<typeof PairResult>;

/** `GET /api/payments`: the ledger, newest first (PaymentView is in events.ts). */
export const PaymentsList = z.object({ payments: z.array(PaymentView) });
export type PaymentsList = z.infer<typeof PaymentsList>;


/** One line of the companion's recent activity (`GET /api/activity`, live `{type:"activity", item}`). */
export const ActivityItem = z.object({
  id: z.number(),
  at: z.string(),
  part: z.enum(['front', 'tunnel']),
  /** The part's new state (FrontState or TunnelState). */
  state: z.string(),
  message: z.string().optional(),
  messageEn: z.string().optional(),
});
export type ActivityItem = z.infer<typeof ActivityItem>;

/**
 * `GET /api/settings/effective` and `evva-companion settings --json`: every
 * setting's value in force and where it came from (a proxy password masked).
 * `fromEnv` names the proxy variable (HTTPS_PROXY…) a default proxy came from.
 */
export const SettingSource = z.enum(['default', 'file', 'env', 'flag']);
export const EffectiveSettings = z.object({
  dataDir: z.object({ value: z.string(), source: SettingSource }),
  settings: z.record(z.string(), z.object({ value: z.unknown(), source: SettingSource, fromEnv: z.string().optional() })),
});
export type EffectiveSettings = z.infer<typeof EffectiveSettings>;

/** `POST /api/front/check`: is the plugin on this port? (the wizard asks before it saves a port). */
export const FrontCheckRequest = z.strictObject({ port: z.number().int().min(1).max(65535) });
/** Found: the port answers like the plugin (no licence slot is used to tell). Otherwise `problem` says what is there. */
export const FrontCheck = z.object({ url: z.string(), found: z.boolean(), version: z.string().optional(), problem: Problem.optional() });
export type FrontCheck = z.infer<typeof FrontCheck>;

/** What a Журнал row is about (its filter). */
export const JournalKind = z.enum(['link', 'front', 'orders', 'payments', 'staff']);
export type JournalKind = z.infer<typeof JournalKind>;

/**
 * One row of the Журнал (`GET /api/journal`, live `{ type: "journal", row }`),
 * kept by the companion. `at` is when it happened; a state that came back soon
 * after is folded in: `count` times, the last at `lastAt`. Exactly one of
 * `activity`, `order`, `staff`, `payment` says what happened; the UI words it
 * in its language.
 */
export const JournalRow = z.object({
  id: z.number(),
  at: z.string(),
  lastAt: z.string(),
  count: z.number(),
  kind: JournalKind,
  activity: z.object({ part: z.enum(['front', 'tunnel']), state: z.string(), message: z.string().optional(), messageEn: z.string().optional() }).optional(),
  order: z.object({
    number: z.number().nullable(), delivery: z.boolean(), pickup: z.boolean().optional(), tables: z.array(z.number()), status: z.string().nullable(),
    iikoStatus: z.string().nullable(), gone: z.boolean(), sum: z.number().nullable(),
  }).optional(),
  staff: z.object({ all: z.number(), open: z.number() }).optional(),
  payment: PaymentView.optional(),
});
export type JournalRow = z.infer<typeof JournalRow>;

/** `GET /api/journal?limit=&kind=&before=`: newest first; `next` is the `before` of the next older page. */
export const JournalPage = z.object({ rows: z.array(JournalRow), next: z.string().nullable() });
export type JournalPage = z.infer<typeof JournalPage>;

/** `POST /api/login-link`: a new one-time link that logs a browser into the UI. */
export const LoginLink = z.object({ url: z.string(), expiresInSec: z.number() });
export type LoginLink = z.infer<typeof LoginLink>;

/**
 * Messages on the live WebSocket (`/api/live`): the status whenever it changes,
 * each feed event as it is written, each payment change or reminder, and each activity item.
 */
export const LiveMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status'), status: Status }),
  z.object({ type: z.literal('event'), event: Envelope }),
  z.object({ type: z.literal('payment'), payment: PaymentView, reminder: z.boolean() }),
  z.object({ type: z.literal('activity'), item: ActivityItem }),
  z.object({ type: z.literal('journal'), row: JournalRow }),
]);
export type LiveMessage = z.infer<typeof LiveMessage>;
