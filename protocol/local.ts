/**
 * The companion's local API (127.0.0.1:9142): the shapes the UI, the CLI,
 * support scripts and tests read. Documented in docs/local-api.md.
 */
import { z } from 'zod';

/** A problem a person will read: a stable code, the Russian message, and what to do. */
export const Problem = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
  /** English, for support staff and logs. */
  messageEn: z.string().optional(),
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
  relayUrl: z.string().nullable(),
  error: Problem.optional(),
});
export type TunnelStatus = z.infer<typeof TunnelStatus>;

/** Where the log goes: `console_only` when the file cannot be written (disk full); the companion keeps running. */
export const LogsStatus = z.object({
  state: z.enum(['file', 'console_only']),
  error: Problem.optional(),
});
export type LogsStatus = z.infer<typeof LogsStatus>;

export const Status = z.object({
  level: Level,
  /** The companion's version. */
  version: z.string(),
  startedAt: z.string(),
  front: FrontStatus,
  tunnel: TunnelStatus,
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
export const PairResult = z.object({ venueId: z.string(), relayUrl: z.string() });
export type PairResult = z.infer<typeof PairResult>;

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

/** `POST /api/login-link`: a new one-time link that logs a browser into the UI. */
export const LoginLink = z.object({ url: z.string(), expiresInSec: z.number() });
export type LoginLink = z.infer<typeof LoginLink>;
