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

/** Named counters; `tokens` goes up in the same transaction as every device-token change. */
export interface CountersTable {
  name: string;
  value: number;
}

export interface Tables {
  venues: VenuesTable;
  pairing_codes: PairingCodesTable;
  feed_events: FeedEventsTable;
  webhook_targets: WebhookTargetsTable;
  webhook_state: WebhookStateTable;
  venue_iiko: VenueIikoTable;
  payments: PaymentsTable;
  counters: CountersTable;
  feed_state: FeedStateTable;
  feed_refused: FeedRefusedTable;
}

export type Dialect = 'sqlite' | 'postgres';
