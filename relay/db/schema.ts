/**
 * The relay's tables as Kysely sees them: one set of types for SQLite and
 * Postgres. Times are milliseconds since the epoch (bigint on Postgres, read
 * back as numbers); JSON values are text, as the first SQLite schema had them.
 */
import type { Generated } from 'kysely';

export interface VenuesTable {
  id: string;
  name: string;
  created_at: number;
  token_hash: string | null;
  /** A re-pairing's token, valid alongside token_hash until its tunnel connects. */
  pending_token_hash: string | null;
  paired_at: number | null;
  revoked_at: number | null;
  companion_version: string | null;
  companion_hostname: string | null;
  connected_at: number | null;
  last_seen_at: number | null;
  front_json: string | null;
}

export interface PairingCodesTable {
  code_hash: string;
  venue_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface FeedEventsTable {
  /** Storage order (webhooks deliver in it). */
  id: Generated<number>;
  venue_id: string;
  event_id: string;
  seq: number;
  event_type: string;
  body: string;
  stored_at: number;
}

export interface WebhookTargetsTable {
  venue_id: string;
  url: string;
  /** The HMAC secret; '' when the receiver has none (an iiko-cloud one authenticating by its token). */
  secret: string;
  updated_at: number;
  /** `evva` or `iiko-cloud`; null (a row from before formats) is `evva`. */
  format: string | null;
  /** The iiko-cloud receiver's authToken, sent as Authorization. */
  auth_token: string | null;
}

/** A venue's iiko ids, which the iiko-cloud webhook format names. */
export interface VenueIikoTable {
  venue_id: string;
  organization_id: string | null;
  terminal_group_id: string | null;
  updated_at: number;
}

export interface WebhookStateTable {
  venue_id: string;
  delivered_id: number;
  delivered_at: number | null;
  batch_last_id: number | null;
  delivery_id: string | null;
  attempts: number;
  next_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
}

export interface PaymentsTable {
  id: Generated<number>;
  venue_id: string;
  payment_id: string;
  notice: string;
  state: string;
  view: string;
  updated_seq: number | null;
  created_at: number;
}

/** A venue's event numbering: the last seq stored, and what is added to a companion's seq after it started again at 1. */
export interface FeedStateTable {
  venue_id: string;
  last_seq: number;
  seq_base: number;
}

/** Events the relay refused and recorded instead of storing (never delivered). */
export interface FeedRefusedTable {
  id: Generated<number>;
  venue_id: string;
  event_id: string;
  seq: number;
  event_type: string | null;
  reason: string;
  /** The event as it came, cut to REFUSED_BODY_CHARS; null when it could not be written out (too deep). */
  body: string | null;
  stored_at: number;
}

/**
 * The support console's columns of `venues` (migration 0005_console): the
 * companion's last reported status and the verdict the relay judged from it
 * (relay/console/faces.ts), kept as columns so the list filters, sorts and
 * pages on indexes.
 */
export interface VenueFaceColumns {
  /** The companion's whole status as it last reported it (JSON), null before the first report of this connection. */
  status_json: string | null;
  /** The verdict's tone (face/face.ts), null until judged. */
  face_tone: string | null;
  /** The tone's place in VERDICT_ORDER (worst first); 9 until judged. */
  face_rank: Generated<number>;
  /** When the tone last changed (ms). */
  face_since: Generated<number>;
  /** When the verdict was last judged (ms), null: never (a venue made since). */
  face_at: number | null;
  /** `<node>/<link id>` of the tunnel that is up now, null while offline. */
  online_link: string | null;
  /** The name folded for search (lower case, ё → е) and the id. */
  search_key: string | null;
}

export interface ConsoleSessionsTable {
  /** SHA-256 (hex) of the cookie's value: the store never holds a usable session id. */
  id: string;
  /** The fingerprint of the API key signed in with (relay/auth.ts keyFingerprint). */
  key_fp: string;
  created_at: number;
  expires_at: number;
  ip: string;
}

export interface SupportAuditTable {
  id: Generated<number>;
  venue_id: string;
  at: number;
  action: string;
  outcome: string;
  key_fp: string;
  ip: string;
}

/** Named counters; `tokens` goes up in the same transaction as every device-token change. */
export interface CountersTable {
  name: string;
  value: number;
}

export interface Tables {
  venues: VenuesTable & VenueFaceColumns;
  pairing_codes: PairingCodesTable;
  feed_events: FeedEventsTable;
  webhook_targets: WebhookTargetsTable;
  webhook_state: WebhookStateTable;
  venue_iiko: VenueIikoTable;
  payments: PaymentsTable;
  counters: CountersTable;
  feed_state: FeedStateTable;
  feed_refused: FeedRefusedTable;
  console_sessions: ConsoleSessionsTable;
  support_audit: SupportAuditTable;
}

export type Dialect = 'sqlite' | 'postgres';
