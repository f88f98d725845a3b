/**
 * The relay's persistent state: venues, their device-token hashes and pairing
 * codes, in one SQLite file (WAL) in the data dir. The CLI and the server may
 * open the same file at once: the store tells its own process's listeners of
 * token changes, and another process's writes show in `dataVersion()`.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FrontStatus } from '../protocol/local.ts';
import { FrontStatus as FrontStatusSchema } from '../protocol/local.ts';
import type { CompanionInfo } from '../protocol/relay.ts';
import { SqliteFeedStore, type FeedStore } from './feedstore.ts';
import { statementCache } from './sqlite.ts';

export const STORE_FILE = 'relay.sqlite';
/** How long a writer waits for another process's lock before failing. */
const BUSY_TIMEOUT_MS = 5_000;

export interface VenueRow {
  id: string;
  name: string;
  createdAt: number;
  tokenHash: string | null;
  /** A re-pairing's token, valid alongside tokenHash until its tunnel connects and it replaces tokenHash. */
  pendingTokenHash: string | null;
  pairedAt: number | null;
  revokedAt: number | null;
  companion: CompanionInfo | null;
  connectedAt: number | null;
  lastSeenAt: number | null;
  front: FrontStatus | null;
}

export type ClaimResult =
  | { ok: true; venueId: string }
  | { ok: false; reason: 'invalid' | 'expired' | 'used' };

/** Each entry brings the schema from version i to i+1; never edit a shipped one, append. */
const MIGRATIONS: string[] = [
  `CREATE TABLE venues (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     token_hash TEXT,
     paired_at INTEGER,
     revoked_at INTEGER,
     companion_version TEXT,
     companion_hostname TEXT,
     connected_at INTEGER,
     last_seen_at INTEGER,
     front_json TEXT
   );
   CREATE UNIQUE INDEX venues_token_hash ON venues(token_hash) WHERE token_hash IS NOT NULL;
   CREATE TABLE pairing_codes (
     code_hash TEXT PRIMARY KEY,
     venue_id TEXT NOT NULL REFERENCES venues(id),
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER
   );
   CREATE INDEX pairing_codes_venue ON pairing_codes(venue_id);`,
  // Two-phase token swap: a re-pairing's new token waits here until its tunnel connects.
  `ALTER TABLE venues ADD COLUMN pending_token_hash TEXT;
   CREATE UNIQUE INDEX venues_pending_token_hash ON venues(pending_token_hash) WHERE pending_token_hash IS NOT NULL;`,
];

interface RawVenue {
  id: string; name: string; created_at: number; token_hash: string | null; paired_at: number | null;
  revoked_at: number | null; companion_version: string | null; companion_hostname: string | null;
  connected_at: number | null; last_seen_at: number | null; front_json: string | null; pending_token_hash: string | null;
}

export class RelayStore {
  private readonly db: Database.Database;
  /** A prepared statement, compiled once per store (every venue call reads the store). */
  private readonly q: (sql: string) => Database.Statement;
  private readonly feedDb: Database.Database;
  /** Events, webhook delivery and payments (relay/feedstore.ts): in the same file, behind an async interface. */
  readonly feed: FeedStore;

  /** Opens (creating and migrating as needed) the store in `dataDir`. */
  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, STORE_FILE));
    this.db.pragma('journal_mode = WAL');
    // Explicit, not left to the build's default (which made it FULL on a first run and NORMAL after a
    // restart): in WAL mode NORMAL is durable across a crash of the process, and loses at most the last
    // commits on a power cut, which for last-seen times and pairing (retried by the user) is acceptable.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.db.pragma('foreign_keys = ON');
    this.q = statementCache(this.db);
    this.migrate();
    // The feed gets its own connection with synchronous = FULL: an event is acked
    // once stored, and the companion then deletes it, so its commit must survive a
    // power cut too, not only a crash (NORMAL above is fine for venue bookkeeping).
    this.feedDb = new Database(join(dataDir, STORE_FILE));
    this.feedDb.pragma('journal_mode = WAL');
    this.feedDb.pragma('synchronous = FULL');
    this.feedDb.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.feed = new SqliteFeedStore(this.feedDb);
  }

  private readonly tokenListeners = new Set<(venueId: string) => void>();

  /** Calls `fn` after this store changed a venue's device token (paired anew, revoked). Returns the unsubscribe. */
  onTokenChange(fn: (venueId: string) => void): () => void {
    this.tokenListeners.add(fn);
    return () => this.tokenListeners.delete(fn);
  }

  private tokenChanged(venueId: string): void {
    for (const fn of this.tokenListeners) {
      try { fn(venueId); } catch { /* a listener's failure is its own */ }
    }
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      const sql = MIGRATIONS[v] as string;
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  async close(): Promise<void> {
    this.feedDb.close();
    this.db.close();
  }

  /** Inserts a venue; the id must be new. */
  async addVenue(id: string, name: string, now: number): Promise<void> {
    this.q('INSERT INTO venues (id, name, created_at) VALUES (?, ?, ?)').run(id, name, now);
  }

  async getVenue(id: string): Promise<VenueRow | null> {
    const row = this.q('SELECT * FROM venues WHERE id = ?').get(id) as RawVenue | undefined;
    return row ? toVenue(row) : null;
  }

  async listVenues(): Promise<VenueRow[]> {
    return (this.q('SELECT * FROM venues ORDER BY created_at, id').all() as RawVenue[]).map(toVenue);
  }

  /**
   * One page of venues in a stable order (created_at, id), starting after the
   * venue `after` (a cursor: the last id of the previous page), at most `limit`.
   */
  async pageVenues(after: string | null, limit: number): Promise<VenueRow[]> {
    if (after === null) return (this.q('SELECT * FROM venues ORDER BY created_at, id LIMIT ?').all(limit) as RawVenue[]).map(toVenue);
    return (this.q(`SELECT * FROM venues WHERE (created_at, id) > (SELECT created_at, id FROM venues WHERE id = ?)
                    ORDER BY created_at, id LIMIT ?`).all(after, limit) as RawVenue[]).map(toVenue);
  }

  /** How many venues there are. */
  async countVenues(): Promise<number> {
    return (this.q('SELECT COUNT(*) AS n FROM venues').get() as { n: number }).n;
  }

  /**
   * A number that changes whenever another connection (the CLI, another
   * process) has committed to the file since the last call on this one: a
   * near-free way to know whether anything needs re-reading.
   */
  async dataVersion(): Promise<number> {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  /** Every venue's accepted token hashes (current, then pending; none when revoked or unpaired), in one query. */
  async tokenHashes(): Promise<Map<string, string[]>> {
    const rows = this.q('SELECT id, token_hash, pending_token_hash FROM venues').all() as Array<{ id: string; token_hash: string | null; pending_token_hash: string | null }>;
    return new Map(rows.map((r) => [r.id, [r.token_hash, r.pending_token_hash].filter((h): h is string => h !== null)]));
  }

  /** Stores a new pairing code for the venue, replacing its unused ones. */
  async addPairingCode(venueId: string, codeHash: string, now: number, expiresAt: number): Promise<void> {
    this.db.transaction(() => {
      this.q('DELETE FROM pairing_codes WHERE venue_id = ? AND used_at IS NULL').run(venueId);
      this.q('INSERT INTO pairing_codes (code_hash, venue_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
        .run(codeHash, venueId, now, expiresAt);
    }).immediate();
  }

  /**
   * Uses a pairing code at most once: in one transaction it checks the code,
   * marks it used and installs the new device-token hash. A venue that has a
   * working token keeps it valid until the new one connects (`promoteToken`):
   * if the companion cannot keep the new token, its running tunnel is not
   * stranded. A venue without one (new, revoked) takes the new token at once.
   */
  async claimPairingCode(codeHash: string, tokenHash: string, companion: CompanionInfo, now: number): Promise<ClaimResult> {
    const r = this.claimTx(codeHash, tokenHash, companion, now);
    if (r.ok) this.tokenChanged(r.venueId);
    return r;
  }

  private claimTx(codeHash: string, tokenHash: string, companion: CompanionInfo, now: number): ClaimResult {
    return this.db.transaction((): ClaimResult => {
      const code = this.q('SELECT venue_id, expires_at, used_at FROM pairing_codes WHERE code_hash = ?')
        .get(codeHash) as { venue_id: string; expires_at: number; used_at: number | null } | undefined;
      if (!code) return { ok: false, reason: 'invalid' };
      if (code.used_at !== null) return { ok: false, reason: 'used' };
      if (now >= code.expires_at) return { ok: false, reason: 'expired' };
      this.q('UPDATE pairing_codes SET used_at = ? WHERE code_hash = ?').run(now, codeHash);
      const cur = this.q('SELECT token_hash FROM venues WHERE id = ?').get(code.venue_id) as { token_hash: string | null } | undefined;
      const current = cur?.token_hash ?? null;
      this.q(`UPDATE venues SET token_hash = ?, pending_token_hash = ?, paired_at = ?, revoked_at = NULL,
                         companion_version = ?, companion_hostname = ? WHERE id = ?`)
        .run(current ?? tokenHash, current ? tokenHash : null, now, companion.version, companion.hostname, code.venue_id);
      return { ok: true, venueId: code.venue_id };
    }).immediate();
  }

  /** The venue a device-token hash belongs to (current or pending), or null (unknown, replaced or revoked). */
  async venueByTokenHash(tokenHash: string): Promise<string | null> {
    const row = this.q('SELECT id FROM venues WHERE token_hash = ? OR pending_token_hash = ?').get(tokenHash, tokenHash) as { id: string } | undefined;
    return row?.id ?? null;
  }

  /** The current token hash of a venue. */
  async tokenHashOf(venueId: string): Promise<string | null> {
    return (await this.tokenHashesOf(venueId))[0] ?? null;
  }

  /** Every token hash the venue accepts now (current, then pending); the server polls it to notice revocation by another process. */
  async tokenHashesOf(venueId: string): Promise<string[]> {
    const row = this.q('SELECT token_hash, pending_token_hash FROM venues WHERE id = ?').get(venueId) as
      { token_hash: string | null; pending_token_hash: string | null } | undefined;
    return row ? [row.token_hash, row.pending_token_hash].filter((h): h is string => h !== null) : [];
  }

  /** The pending token has connected: it becomes the venue's token and the old one stops working. No-op for any other hash. */
  async promoteToken(venueId: string, tokenHash: string): Promise<boolean> {
    // No token-change event: the registry promotes from a link's onReady and closes the retired links itself, with its own reason.
    return this.q('UPDATE venues SET token_hash = pending_token_hash, pending_token_hash = NULL WHERE id = ? AND pending_token_hash = ?')
      .run(venueId, tokenHash).changes > 0;
  }

  /** Forgets the venue's device token, so it is refused from now on. Returns false for an unknown venue. */
  async revoke(venueId: string, now: number): Promise<boolean> {
    const changed = this.db.transaction(() => {
      const r = this.q('UPDATE venues SET token_hash = NULL, pending_token_hash = NULL, revoked_at = ? WHERE id = ?').run(now, venueId);
      this.q('DELETE FROM pairing_codes WHERE venue_id = ? AND used_at IS NULL').run(venueId);
      return r.changes > 0;
    }).immediate();
    if (changed) this.tokenChanged(venueId);
    return changed;
  }

  /** Records a tunnel coming up. */
  async markConnected(venueId: string, companion: CompanionInfo, front: FrontStatus | null, now: number): Promise<void> {
    this.q(`UPDATE venues SET connected_at = ?, last_seen_at = ?, companion_version = ?, companion_hostname = ?,
                       front_json = COALESCE(?, front_json) WHERE id = ?`)
      .run(now, now, companion.version, companion.hostname, front ? JSON.stringify(front) : null, venueId);
  }

  async markSeen(venueId: string, now: number): Promise<void> {
    this.q('UPDATE venues SET last_seen_at = ? WHERE id = ?').run(now, venueId);
  }

  /** Last-seen times of many venues in one transaction (one fsync, one lock), not one each. */
  async markSeenMany(seen: Array<[venueId: string, at: number]>): Promise<void> {
    if (seen.length === 0) return;
    const st = this.q('UPDATE venues SET last_seen_at = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const [id, at] of seen) st.run(at, id);
    }).immediate();
  }

  async setFront(venueId: string, front: FrontStatus): Promise<void> {
    this.q('UPDATE venues SET front_json = ? WHERE id = ?').run(JSON.stringify(front), venueId);
  }
}

function toVenue(r: RawVenue): VenueRow {
  let front: FrontStatus | null = null;
  if (r.front_json) {
    try {
      const parsed = FrontStatusSchema.safeParse(JSON.parse(r.front_json));
      front = parsed.success ? parsed.data : null;
    } catch {
      front = null;
    }
  }
  return {
    id: r.id,
    name: r.name,
    createdAt: r.created_at,
    tokenHash: r.token_hash,
    pendingTokenHash: r.pending_token_hash,
    pairedAt: r.paired_at,
    revokedAt: r.revoked_at,
    companion: r.companion_version && r.companion_hostname ? { version: r.companion_version, hostname: r.companion_hostname } : null,
    connectedAt: r.connected_at,
    lastSeenAt: r.last_seen_at,
    front,
  };
}
