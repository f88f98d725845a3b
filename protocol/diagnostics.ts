/**
 * Diagnostics: the report every way of running the checks returns (the CLI's
 * `diagnose --json`, `POST /api/diagnostics`, the relay's
 * `POST /v1/venues/:venueId/diagnostics`, report.json in a bundle), the audit
 * log of remote actions, the relay's port probe-back, and the chunked bundle
 * commands. Documented in docs/diagnostics.md.
 */
import { z } from 'zod';

export const CheckResult = z.enum(['ok', 'warn', 'fail', 'skip']);
export type CheckResult = z.infer<typeof CheckResult>;

export const CheckId = z.enum(['plugin', 'tunnel', 'port', 'staff', 'tables', 'payment', 'menu', 'feed', 'machine']);
export type CheckId = z.infer<typeof CheckId>;

/** The English twin of a check's texts, from the same catalogue entry. */
export const CheckTextEn = z.object({ title: z.string(), explanation: z.string(), fix: z.string().optional() });

export const Check = z.object({
  id: CheckId,
  result: CheckResult,
  /** Russian, for the person at the venue. */
  title: z.string(),
  explanation: z.string(),
  fix: z.string().optional(),
  /** What helps at the command line (printed by the CLI and report.txt; the UI shows the fix only). */
  command: z.string().optional(),
  /** What was measured (numbers, names, URLs); never a secret. */
  evidence: z.record(z.string(), z.unknown()).optional(),
  en: CheckTextEn.optional(),
  durationMs: z.number().nonnegative().optional(),
});
export type Check = z.infer<typeof Check>;

export const Summary = z.object({
  /** The worst result of any check (skip counts as ok). */
  result: z.enum(['ok', 'warn', 'fail']),
  counts: z.object({ ok: z.number(), warn: z.number(), fail: z.number(), skip: z.number() }),
  /** One Russian line for a person; `textEn` for support. */
  text: z.string(),
  textEn: z.string().optional(),
  startedAt: z.string(),
  durationMs: z.number().nonnegative(),
  companion: z.string(),
  venueId: z.string().nullable().optional(),
});
export type Summary = z.infer<typeof Summary>;

export const Report = z.object({ checks: z.array(Check), summary: Summary });
export type Report = z.infer<typeof Report>;

// ---- Remote support (relay → companion commands) ---------------------------

/** Command names of remote support (main/core/commands.ts). */
export const SupportCommands = {
  /** args: { by }; result: Report. */
  diagnose: 'diagnostics.run',
  /** args: { by, lines }; result: LogTail. */
  logs: 'logs.tail',
  /** args: { by }; result: BundleOpened. The zip is then pulled with bundle.read. */
  bundleOpen: 'bundle.open',
  /** args: { id }; result: BundleChunk. */
  bundleRead: 'bundle.read',
  /**
   * args: { id }; result: { closed }. The caller went away before the last
   * chunk: the companion drops the bundle at once instead of holding one of
   * its MAX_OPEN_BUNDLES slots until it idles out. A companion without it
   * answers `unsupported`; its bundle then idles out as before.
   */
  bundleClose: 'bundle.close',
} as const;

/** Who asked, as the relay saw it: a fingerprint of the API key and the caller's address. */
export const Requester = z.object({ key: z.string().max(32), ip: z.string().max(64).optional(), note: z.string().max(200).optional() });
export type Requester = z.infer<typeof Requester>;

export const MAX_LOG_LINES = 2_000;
export const LogsArgs = z.object({ by: Requester, lines: z.number().int().min(1).max(MAX_LOG_LINES) });
export const DiagnoseArgs = z.object({ by: Requester });
export const BundleOpenArgs = z.object({ by: Requester });
export const BundleReadArgs = z.object({ id: z.string().min(1).max(64) });
export const BundleCloseArgs = BundleReadArgs;

/**
 * `logs.tail`: the newest lines, oldest first, already redacted. The answer
 * must fit one control frame, so older lines beyond LOG_TAIL_MAX_BYTES are
 * left out and counted in `dropped` (the bundle has the whole day).
 */
export const LogTail = z.object({ lines: z.array(z.string()), files: z.array(z.string()), dropped: z.number().int().nonnegative() });
export const LOG_TAIL_MAX_BYTES = 56 * 1024;
export type LogTail = z.infer<typeof LogTail>;

/**
 * Bundle bytes per `bundle.read`: base64 makes 4/3 of it, which with the JSON
 * around it stays well inside one 64 KiB control frame.
 */
export const BUNDLE_CHUNK_BYTES = 32 * 1024;
export const BundleOpened = z.object({ id: z.string(), name: z.string() });
export type BundleOpened = z.infer<typeof BundleOpened>;
export const BundleChunk = z.object({ data: z.string().max(Math.ceil(BUNDLE_CHUNK_BYTES / 3) * 4 + 4), done: z.boolean() });
export type BundleChunk = z.infer<typeof BundleChunk>;

// ---- Audit -------------------------------------------------------------------

export const AuditEntry = z.object({
  at: z.string(),
  /** diagnostics.run | logs.tail | bundle.open */
  action: z.string(),
  by: Requester,
  outcome: z.enum(['done', 'refused', 'failed']),
  /** Russian; `detailEn` its English twin (absent in entries written before issue 20). */
  detail: z.string().optional(),
  detailEn: z.string().optional(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;
export const AuditList = z.object({ entries: z.array(AuditEntry) });

// ---- Port probe-back (companion → relay, device token) ----------------------

export const PORTCHECK_PATH = '/v1/tunnel/portcheck';
export const PortCheckRequest = z.strictObject({ port: z.number().int().min(1).max(65535) });
export const PortCheckResult = z.object({
  /** The address the venue's tunnel came from; the only one the relay probes. */
  ip: z.string(),
  port: z.number(),
  /** refused: the relay will not probe this address (private, loopback, link-local). */
  outcome: z.enum(['reachable', 'unreachable', 'refused']),
  status: z.number().optional(),
  fingerprint: z.string().optional(),
  version: z.string().optional(),
  detail: z.string().max(300).optional(),
});
export type PortCheckResult = z.infer<typeof PortCheckResult>;
