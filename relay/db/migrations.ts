/**
 * The relay's schema as versioned migrations in code, run at start-up by
 * Kysely's Migrator (on Postgres under its advisory lock, so nodes starting
 * together migrate once). Written with the schema builder, so both dialects
 * get the same tables; they differ only in the integer type (bigint on
 * Postgres, where ms times exceed int4) and the identity column.
 *
 * `0001_base` is exactly the schema the hand-written SQLite store made
 * (user_version 2, feed part 1), with IF NOT EXISTS everywhere: a relay.sqlite
 * from that version is adopted as it is, its data untouched. Never edit a
 * shipped migration; append.
 */
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect } from './schema.ts';

function migrations(dialect: Dialect): Record<string, Migration> {
  const int = dialect === 'postgres' ? 'bigint' : 'integer';
  // The storage-order id: `integer primary key` is SQLite's rowid; Postgres gets an identity column.
  const serial = (db: Kysely<unknown>, table: string) => db.schema.createTable(table).ifNotExists()
    .addColumn('id', int, (c) => (dialect === 'postgres' ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey()));
  return {
    '0001_base': {
      async up(db) {
        await db.schema.createTable('venues').ifNotExists()
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', int, (c) => c.notNull())
          .addColumn('token_hash', 'text')
          .addColumn('paired_at', int)
          .addColumn('revoked_at', int)
          .addColumn('companion_version', 'text')
          .addColumn('companion_hostname', 'text')
          .addColumn('connected_at', int)
          .addColumn('last_seen_at', int)
          .addColumn('front_json', 'text')
          .addColumn('pending_token_hash', 'text')
          .execute();
        // A file from before the two-phase token swap (user_version 1) lacks the pending column.
        const venues = (await db.introspection.getTables()).find((t) => t.name === 'venues');
        if (venues && !venues.columns.some((c) => c.name === 'pending_token_hash')) {
          await db.schema.alterTable('venues').addColumn('pending_token_hash', 'text').execute();
        }
        await db.schema.createIndex('venues_token_hash').ifNotExists().unique().on('venues').column('token_hash')
          .where(sql.ref('token_hash'), 'is not', null).execute();
        await db.schema.createIndex('venues_pending_token_hash').ifNotExists().unique().on('venues').column('pending_token_hash')
          .where(sql.ref('pending_token_hash'), 'is not', null).execute();
        await db.schema.createTable('pairing_codes').ifNotExists()
          .addColumn('code_hash', 'text', (c) => c.primaryKey())
          .addColumn('venue_id', 'text', (c) => c.notNull().references('venues.id'))
          .addColumn('created_at', int, (c) => c.notNull())
          .addColumn('expires_at', int, (c) => c.notNull())
          .addColumn('used_at', int)
          .execute();
        await db.schema.createIndex('pairing_codes_venue').ifNotExists().on('pairing_codes').column('venue_id').execute();

        await serial(db, 'feed_events')
          .addColumn('venue_id', 'text', (c) => c.notNull())
          .addColumn('event_id', 'text', (c) => c.notNull())
          .addColumn('seq', int, (c) => c.notNull())
          .addColumn('event_type', 'text', (c) => c.notNull())
          .addColumn('body', 'text', (c) => c.notNull())
          .addColumn('stored_at', int, (c) => c.notNull())
          .addUniqueConstraint('feed_events_venue_event', ['venue_id', 'event_id'])
          .execute();
        await db.schema.createIndex('feed_events_seq').ifNotExists().on('feed_events').columns(['venue_id', 'seq', 'id']).execute();
        await db.schema.createIndex('feed_events_order').ifNotExists().on('feed_events').columns(['venue_id', 'id']).execute();
        await db.schema.createTable('webhook_targets').ifNotExists()
          .addColumn('venue_id', 'text', (c) => c.primaryKey())
          .addColumn('url', 'text', (c) => c.notNull())
          .addColumn('secret', 'text', (c) => c.notNull())
          .addColumn('updated_at', int, (c) => c.notNull())
          .execute();
        await db.schema.createTable('webhook_state').ifNotExists()
          .addColumn('venue_id', 'text', (c) => c.primaryKey())
          .addColumn('delivered_id', int, (c) => c.notNull())
          .addColumn('delivered_at', int)
          .addColumn('batch_last_id', int)
          .addColumn('delivery_id', 'text')
          .addColumn('attempts', int, (c) => c.notNull())
          .addColumn('next_at', int)
          .addColumn('lease_owner', 'text')
          .addColumn('lease_until', int)
          .addColumn('last_error', 'text')
          .execute();
        await serial(db, 'payments')
          .addColumn('venue_id', 'text', (c) => c.notNull())
          .addColumn('payment_id', 'text', (c) => c.notNull())
          .addColumn('notice', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('view', 'text', (c) => c.notNull())
          .addColumn('updated_seq', int)
          .addColumn('created_at', int, (c) => c.notNull())
          .addUniqueConstraint('payments_venue_payment', ['venue_id', 'payment_id'])
          .execute();
        await db.schema.createIndex('payments_state').ifNotExists().on('payments').columns(['state', 'venue_id', 'id']).execute();
      },
    },
    // Replaces SQLite's data_version: a row every token change bumps in its own transaction, which
    // another process or node can poll on either dialect to notice a revocation it did not make.
    '0002_counters': {
      async up(db) {
        await db.schema.createTable('counters').ifNotExists()
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('value', int, (c) => c.notNull())
          .execute();
        await db.insertInto('counters' as never).values({ name: 'tokens', value: 0 } as never).execute();
      },
    },
    // Webhook receivers in iiko Cloud's format: the format and token per receiver, and each venue's iiko ids.
    '0003_iiko_cloud': {
      async up(db) {
        await db.schema.alterTable('webhook_targets').addColumn('format', 'text').execute();
        await db.schema.alterTable('webhook_targets').addColumn('auth_token', 'text').execute();
        await db.schema.createTable('venue_iiko').ifNotExists()
          .addColumn('venue_id', 'text', (c) => c.primaryKey())
          .addColumn('organization_id', 'text')
          .addColumn('terminal_group_id', 'text')
          .addColumn('updated_at', int, (c) => c.notNull())
          .execute();
      },
    },
    // Issue 18: a venue's numbering (a new event must follow its last seq), the events the relay refused
    // (recorded and acked so they never hold back the ones behind them), and an index for retention.
    '0004_feed_guard': {
      async up(db) {
        await db.schema.createTable('feed_state').ifNotExists()
          .addColumn('venue_id', 'text', (c) => c.primaryKey())
          .addColumn('last_seq', int, (c) => c.notNull())
          .addColumn('seq_base', int, (c) => c.notNull())
          .execute();
        await serial(db, 'feed_refused')
          .addColumn('venue_id', 'text', (c) => c.notNull())
          .addColumn('event_id', 'text', (c) => c.notNull())
          .addColumn('seq', int, (c) => c.notNull())
          .addColumn('event_type', 'text')
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('body', 'text')
          .addColumn('stored_at', int, (c) => c.notNull())
          .addUniqueConstraint('feed_refused_venue_event', ['venue_id', 'event_id'])
          .execute();
        await db.schema.createIndex('feed_refused_venue').ifNotExists().on('feed_refused').columns(['venue_id', 'id']).execute();
        await db.schema.createIndex('feed_refused_stored').ifNotExists().on('feed_refused').column('stored_at').execute();
        await db.schema.createIndex('feed_events_stored').ifNotExists().on('feed_events').column('stored_at').execute();
      },
    },
    // The support console (relay/console/): each venue's verdict as columns the list filters, sorts and pages on
    // (every list order has its index, also under a verdict filter, so a page costs the same at 10 or 10 000 venues),
    // sessions every node can check, and the audit of support actions.
    '0005_console': {
      async up(db) {
        const add = (name: string, type: 'text' | 'integer' | 'bigint', notNullDefault?: number) => db.schema.alterTable('venues')
          .addColumn(name, type === 'integer' ? 'integer' : type === 'bigint' ? int : 'text', (c) => (notNullDefault === undefined ? c : c.notNull().defaultTo(notNullDefault)))
          .execute();
        await add('status_json', 'text');
        await add('face_tone', 'text');
        await add('face_rank', 'integer', 9);
        await add('face_since', 'bigint', 0);
        await add('face_at', 'bigint');
        await add('online_link', 'text');
        await add('search_key', 'text');
        const index = (name: string, columns: string[]) => db.schema.createIndex(name).ifNotExists().on('venues').columns(columns).execute();
        await index('venues_by_verdict', ['face_rank', 'face_since', 'id']);
        await index('venues_by_name', ['name', 'id']);
        await index('venues_by_created', ['created_at', 'id']);
        await index('venues_tone_verdict', ['face_tone', 'face_since', 'id']);
        await index('venues_tone_name', ['face_tone', 'name', 'id']);
        await index('venues_tone_created', ['face_tone', 'created_at', 'id']);
        // What the judge looks for on every list and sweep: venues never judged, tunnels that may have died with their node.
        await db.schema.createIndex('venues_unjudged').ifNotExists().on('venues').column('id').where(sql.ref('face_at'), 'is', null).execute();
        await db.schema.createIndex('venues_online').ifNotExists().on('venues').column('last_seen_at').where(sql.ref('online_link'), 'is not', null).execute();
        // Paired or revoked lately (by the CLI, another process): found by range, not by reading every venue.
        await db.schema.createIndex('venues_paired_at').ifNotExists().on('venues').column('paired_at').execute();
        await db.schema.createIndex('venues_revoked_at').ifNotExists().on('venues').column('revoked_at').execute();
        await db.schema.createTable('console_sessions').ifNotExists()
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('key_fp', 'text', (c) => c.notNull())
          .addColumn('created_at', int, (c) => c.notNull())
          .addColumn('expires_at', int, (c) => c.notNull())
          .addColumn('ip', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('console_sessions_expiry').ifNotExists().on('console_sessions').column('expires_at').execute();
        await serial(db, 'support_audit')
          .addColumn('venue_id', 'text', (c) => c.notNull())
          .addColumn('at', int, (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('key_fp', 'text', (c) => c.notNull())
          .addColumn('ip', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('support_audit_venue').ifNotExists().on('support_audit').columns(['venue_id', 'id']).execute();
      },
    },
  };
}

/**
 * The names of the migrations this database has run, or null when it has run none (no migration table yet).
 * One query, where Kysely's Migrator reads the whole schema twice to find its own tables (SQLite: a query per table).
 */
async function applied(db: Kysely<unknown>, dialect: Dialect): Promise<string[] | null> {
  if (dialect === 'postgres') {
    // Asked first, so that a fresh database does not log a failed statement.
    const { rows } = await sql<{ t: string | null }>`select to_regclass('kysely_migration')::text as t`.execute(db);
    if (!rows[0]?.t) return null;
  }
  try {
    return (await sql<{ name: string }>`select name from kysely_migration`.execute(db)).rows.map((r) => r.name);
  } catch {
    return null; // no such table: the Migrator makes it
  }
}

/**
 * Brings the schema up to date; throws (with the failing migration's error) if any step fails.
 * A database that has run exactly these migrations is left as it is after one read: every start of a relay or
 * venue command opens the store, most of them on a current schema. On SQLite the migrations run in one
 * transaction, so a failed step leaves the file as it was, a second process opening a new file at the same time
 * waits for the first instead of racing it, and the file is synced once rather than at each of about fifty
 * statements (Kysely runs SQLite's DDL outside a transaction: its adapter says SQLite has none for DDL).
 */
export async function migrate(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const all = migrations(dialect);
  const done = await applied(db, dialect);
  if (done && done.length === Object.keys(all).length && Object.keys(all).every((name) => done.includes(name))) return;
  const provider: MigrationProvider = { getMigrations: async () => all };
  const sqlite = dialect === 'sqlite';
  // IMMEDIATE: the write lock up front, as the store's own transactions take it (relay/db/open.ts).
  if (sqlite) await sql`begin immediate`.execute(db);
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    if (sqlite) await sql`rollback`.execute(db).catch(() => undefined);
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`store migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (sqlite) await sql`commit`.execute(db);
}
