/**
 * The relay's persistent state behind one async interface, on SQLite (the
 * embedded default, a file in the data dir) or Postgres (shared by the nodes
 * of a cluster): venues, their device-token hashes and pairing codes here,
 * events, webhook delivery and payments in `feed` (relay/db/feed.ts).
 *
 * Token changes made through this store are told to its own listeners after
 * the commit; those made by another process or node show in `tokenMark()`.
 */
import { sql, type CompiledQuery, type Kysely } from 'kysely';
import type { FrontStatus } from '../../protocol/local.ts';
import { FrontStatus as FrontStatusSchema } from '../../protocol/local.ts';
import type { CompanionInfo } from '../../protocol/relay.ts';
import { ConsoleStore } from './console.ts';
import { FeedStore } from './feed.ts';
import { compiled } from './hot.ts';
import { openDb, type Db, type StoreSpec } from './open.ts';
import type { Dialect, Tables, VenuesTable } from './schema.ts';

/** Venues per last-seen UPDATE: two parameters each, far under either dialect's limit. */
const SEEN_CHUNK = 500;

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

/** Opens (creating and migrating as needed) the store the spec names: Postgres for a postgres:// URL, else SQLite in `dataDir`. */
export async function openStore(spec: StoreSpec): Promise<RelayStore> {
  return new RelayStore(await openDb(spec));
}

export class RelayStore {
  private readonly db: Kysely<Tables>;
  readonly dialect: Dialect;
  /** Events, webhook delivery and payments, in the same database. */
  readonly feed: FeedStore;
  /** The support console's queries (relay/console/), in the same database. */
  readonly console: ConsoleStore;
  private readonly tokenListeners = new Set<(venueId: string) => void | Promise<void>>();

  constructor(private readonly base: Db) {
    this.db = base.db;
    this.dialect = base.dialect;
    this.feed = new FeedStore(base);
    this.console = new ConsoleStore(base);
    const db = this.db;
    this.hot = {
      byToken: compiled(db.selectFrom('venues').select('id')
        .where((eb) => eb.or([eb('token_hash', '=', '$token'), eb('pending_token_hash', '=', '$token')]))),
      hashesOf: compiled(db.selectFrom('venues').select(['token_hash', 'pending_token_hash']).where('id', '=', '$venue')),
      mark: compiled(db.selectFrom('counters').select('value').where('name', '=', 'tokens')),
    };
  }

  /** What every tunnel upgrade (authentication) and the revocation poll run. */
  private readonly hot: {
    byToken: (token: string, again: string) => CompiledQuery<{ id: string }>;
    hashesOf: (venueId: string) => CompiledQuery<{ token_hash: string | null; pending_token_hash: string | null }>;
    mark: (name: string) => CompiledQuery<{ value: number }>;
  };

  /**
   * Calls `fn` after this store committed a change of a venue's device token
   * (paired anew, revoked); the change's call resolves only after `fn` has
   * (so when `revoke` resolves, this process's tunnels on the old token are
   * closed). Returns the unsubscribe.
   */
  onTokenChange(fn: (venueId: string) => void | Promise<void>): () => void {
    this.tokenListeners.add(fn);
    return () => this.tokenListeners.delete(fn);
  }

  private async tokenChanged(venueId: string): Promise<void> {
    // A listener's failure is its own: the change is committed either way.
    await Promise.allSettled([...this.tokenListeners].map(async (fn) => fn(venueId)));
  }

  /** Closes the connection (SQLite) or drains the pool (Postgres). */
  async close(): Promise<void> {
    await this.base.close();
  }

  /** Round-trip time of a trivial query in ms; throws when the database cannot be reached. */
  async ping(): Promise<number> {
    const t = performance.now();
    await sql`select 1`.execute(this.db);
    return performance.now() - t;
  }

  /**
   * A number that goes up with every device-token change (claim, revoke,
   * promote), by any process or node on this database: polled (one row read)
   * to notice revocations made elsewhere.
   */
  async tokenMark(): Promise<number> {
    const r = await this.db.executeQuery(this.hot.mark('tokens'));
    return r.rows[0]?.value ?? 0;
  }

  /** Inserts a venue; the id must be new. */
  async addVenue(id: string, name: string, now: number): Promise<void> {
    await this.db.insertInto('venues').values({ id, name, created_at: now }).execute();
  }

  async getVenue(id: string): Promise<VenueRow | null> {
    const row = await this.db.selectFrom('venues').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toVenue(row) : null;
  }

  async listVenues(): Promise<VenueRow[]> {
    return (await this.db.selectFrom('venues').selectAll().orderBy('created_at').orderBy('id').execute()).map(toVenue);
  }

  /**
   * One page of venues in a stable order (created_at, id), starting after the
   * venue `after` (a cursor: the last id of the previous page), at most `limit`.
   */
  async pageVenues(after: string | null, limit: number): Promise<VenueRow[]> {
    const rows = await this.db.selectFrom('venues').selectAll()
      .$if(after !== null, (q) => q.where(sql<boolean>`(created_at, id) > (select created_at, id from venues where id = ${after})`))
      .orderBy('created_at').orderBy('id').limit(limit).execute();
    return rows.map(toVenue);
  }

  /** How many venues there are. */
  async countVenues(): Promise<number> {
    const r = await this.db.selectFrom('venues').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Every venue's accepted token hashes (current, then pending; none when revoked or unpaired), in one query. */
  async tokenHashes(): Promise<Map<string, string[]>> {
    const rows = await this.db.selectFrom('venues').select(['id', 'token_hash', 'pending_token_hash']).execute();
    return new Map(rows.map((r) => [r.id, hashesOf(r)]));
  }

  /** Stores a new pairing code for the venue, replacing its unused ones. */
  async addPairingCode(venueId: string, codeHash: string, now: number, expiresAt: number): Promise<void> {
    await this.base.tx(async (t) => {
      await t.deleteFrom('pairing_codes').where('venue_id', '=', venueId).where('used_at', 'is', null).execute();
      await t.insertInto('pairing_codes').values({ code_hash: codeHash, venue_id: venueId, created_at: now, expires_at: expiresAt }).execute();
    });
  }

  /**
   * Uses a pairing code at most once, even when two nodes race for it: one
   * conditional UPDATE marks it used, and in the same transaction the new
   * device-token hash is installed. A venue that has a working token keeps it
   * valid until the new one connects (`promoteToken`): if the companion cannot
   * keep the new token, its running tunnel is not stranded. A venue without
   * one (new, revoked) takes the new token at once.
   */
  async claimPairingCode(codeHash: string, tokenHash: string, companion: CompanionInfo, now: number): Promise<ClaimResult> {
    const r = await this.base.tx(async (t): Promise<ClaimResult> => {
      const used = await t.updateTable('pairing_codes').set({ used_at: now })
        .where('code_hash', '=', codeHash).where('used_at', 'is', null).where('expires_at', '>', now)
        .returning('venue_id').executeTakeFirst();
      if (!used) {
        const code = await t.selectFrom('pairing_codes').select(['used_at']).where('code_hash', '=', codeHash).executeTakeFirst();
        if (!code) return { ok: false, reason: 'invalid' };
        return { ok: false, reason: code.used_at !== null ? 'used' : 'expired' };
      }
      // In one statement, so no read-then-write gap: the current token stays and the new one waits, or it becomes current.
      await t.updateTable('venues').set((eb) => ({
        token_hash: eb.fn.coalesce('token_hash', eb.val(tokenHash)),
        pending_token_hash: eb.case().when('token_hash', 'is', null).then(sql<string | null>`null`).else(eb.val(tokenHash)).end(),
        paired_at: now, revoked_at: null, companion_version: companion.version, companion_hostname: companion.hostname,
      })).where('id', '=', used.venue_id).execute();
      await bumpTokens(t);
      return { ok: true, venueId: used.venue_id };
    });
    if (r.ok) await this.tokenChanged(r.venueId);
    return r;
  }

  /** The venue a device-token hash belongs to (current or pending), or null (unknown, replaced or revoked). */
  async venueByTokenHash(tokenHash: string): Promise<string | null> {
    const r = await this.db.executeQuery(this.hot.byToken(tokenHash, tokenHash));
    return r.rows[0]?.id ?? null;
  }

  /** The current token hash of a venue. */
  async tokenHashOf(venueId: string): Promise<string | null> {
    return (await this.tokenHashesOf(venueId))[0] ?? null;
  }

  /** Every token hash the venue accepts now (current, then pending); the server polls it to notice revocation by another process. */
  async tokenHashesOf(venueId: string): Promise<string[]> {
    const row = (await this.db.executeQuery(this.hot.hashesOf(venueId))).rows[0];
    return row ? hashesOf(row) : [];
  }

  /** The pending token has connected: it becomes the venue's token and the old one stops working. No-op for any other hash. */
  async promoteToken(venueId: string, tokenHash: string): Promise<boolean> {
    // No token-change event: the registry promotes from a link's onReady and closes the retired links itself, with its own reason.
    return this.base.tx(async (t) => {
      const r = await t.updateTable('venues').set((eb) => ({ token_hash: eb.ref('pending_token_hash'), pending_token_hash: null }))
        .where('id', '=', venueId).where('pending_token_hash', '=', tokenHash).executeTakeFirst();
      const changed = Number(r.numUpdatedRows) > 0;
      if (changed) await bumpTokens(t);
      return changed;
    });
  }

  /** Forgets the venue's device token, so it is refused from now on. Returns false for an unknown venue. */
  async revoke(venueId: string, now: number): Promise<boolean> {
    const changed = await this.base.tx(async (t) => {
      const r = await t.updateTable('venues').set({ token_hash: null, pending_token_hash: null, revoked_at: now }).where('id', '=', venueId).executeTakeFirst();
      await t.deleteFrom('pairing_codes').where('venue_id', '=', venueId).where('used_at', 'is', null).execute();
      const found = Number(r.numUpdatedRows) > 0;
      if (found) await bumpTokens(t);
      return found;
    });
    if (changed) await this.tokenChanged(venueId);
    return changed;
  }

  /** Records a tunnel coming up. */
  async markConnected(venueId: string, companion: CompanionInfo, front: FrontStatus | null, now: number): Promise<void> {
    await this.db.updateTable('venues').set((eb) => ({
      connected_at: now, last_seen_at: now, companion_version: companion.version, companion_hostname: companion.hostname,
      front_json: front ? JSON.stringify(front) : eb.ref('front_json'),
    })).where('id', '=', venueId).execute();
  }

  async markSeen(venueId: string, now: number): Promise<void> {
    await this.db.updateTable('venues').set({ last_seen_at: now }).where('id', '=', venueId).execute();
  }

  /** Last-seen times of many venues in one transaction (one commit, one lock), a few hundred per statement, not one each. */
  async markSeenMany(seen: Array<[venueId: string, at: number]>): Promise<void> {
    if (seen.length === 0) return;
    await this.base.tx(async (t) => {
      for (let i = 0; i < seen.length; i += SEEN_CHUNK) {
        const rows = sql.join(seen.slice(i, i + SEEN_CHUNK).map(([id, at]) => sql`(${id}, ${at})`));
        // VALUES columns are column1, column2 on both dialects; Postgres reads the untyped parameters as text.
        await sql`update venues set last_seen_at = cast(v.column2 as bigint) from (values ${rows}) as v where venues.id = v.column1`.execute(t);
      }
    });
  }

  async setFront(venueId: string, front: FrontStatus): Promise<void> {
    await this.db.updateTable('venues').set({ front_json: JSON.stringify(front) }).where('id', '=', venueId).execute();
  }
}

function bumpTokens(t: Kysely<Tables>): Promise<unknown> {
  return t.updateTable('counters').set((eb) => ({ value: eb('value', '+', 1) })).where('name', '=', 'tokens').execute();
}

function hashesOf(r: { token_hash: string | null; pending_token_hash: string | null }): string[] {
  return [r.token_hash, r.pending_token_hash].filter((h): h is string => h !== null);
}

function toVenue(r: VenuesTable): VenueRow {
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
