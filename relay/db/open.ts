/**
 * Opens the relay's database for either dialect: Postgres when the spec is a
 * `postgres://` URL (a pool shared by the node), else the embedded SQLite file
 * in the data dir. Migrates before returning, so every caller sees the latest schema.
 */
import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type Pg from 'pg';
import { DEFAULT_STORE_POOL } from '../../protocol/cluster.ts';
import { statementCache } from './sqlite.ts';
import { migrate } from './migrations.ts';
import type { Dialect, Tables } from './schema.ts';

export const STORE_FILE = 'relay.sqlite';
/** How long an SQLite writer waits for another process's lock before failing. */
const BUSY_TIMEOUT_MS = 5_000;
/** Postgres: a connection attempt, an idle pooled connection and one statement are each bounded. */
const CONNECT_TIMEOUT_MS = 5_000;
const IDLE_TIMEOUT_MS = 30_000;
export const STATEMENT_TIMEOUT_MS = 10_000;
/**
 * The client's own bound on one query, for a server that is there but does
 * not answer (paused VM, stalled disk: it cannot enforce its statement
 * timeout, and TCP keep-alive sees a live peer). A bit above the statement
 * timeout, so a slow statement is still ended by the server first.
 */
export const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 2_000;

export interface StoreSpec {
  /** The data dir (SQLite's file lives here). */
  dataDir: string;
  /** `postgres://…` or `postgresql://…` for Postgres; anything else (or none) is the SQLite file. */
  url?: string | undefined;
  /** Most Postgres connections (default DEFAULT_STORE_POOL). */
  pool?: number | undefined;
}

export interface Db {
  readonly db: Kysely<Tables>;
  readonly dialect: Dialect;
  /** Runs `fn` in one write transaction (SQLite: BEGIN IMMEDIATE, so it never fails half-way on a lock upgrade). */
  tx<T>(fn: (t: Kysely<Tables>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Whether the spec names a Postgres server. */
export function isPostgres(url: string | undefined): url is string {
  return !!url && /^postgres(?:ql)?:\/\//i.test(url);
}

/** Opens and migrates the database the spec names. */
export async function openDb(spec: StoreSpec): Promise<Db> {
  const db = isPostgres(spec.url) ? openPostgres(spec.url, spec.pool ?? DEFAULT_STORE_POOL) : openSqlite(spec.dataDir);
  try {
    await migrate(db.db as Kysely<unknown>, db.dialect);
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  return db;
}

const BEGIN = CompiledQuery.raw('begin immediate');
const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');

/**
 * The store holds webhook secrets and payment notices: only the relay's own
 * user may read it. SQLite gives its -wal and -shm files the main file's mode,
 * so the main file is made 0600 before SQLite opens it (created that way, or
 * tightened if an older relay left it 0644), and leftovers are tightened too.
 */
function privateFile(file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    try {
      chmodSync(f, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

function openSqlite(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, STORE_FILE);
  privateFile(file);
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  // FULL: an event is acked once stored and the companion then deletes it, so a commit must survive a power cut.
  raw.pragma('synchronous = FULL');
  raw.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  raw.pragma('foreign_keys = ON');
  // Kysely's driver prepares every query anew; the cache compiles each SQL text once per connection.
  const prepare = statementCache(raw);
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: { prepare, close: () => raw.close() } }) });
  return {
    db,
    dialect: 'sqlite',
    tx: (fn) => db.connection().execute(async (c) => {
      // One connection, held for the whole transaction by Kysely's mutex; IMMEDIATE takes the write lock up front.
      await c.executeQuery(BEGIN);
      try {
        const r = await fn(c);
        await c.executeQuery(COMMIT);
        return r;
      } catch (e) {
        await c.executeQuery(ROLLBACK).catch(() => undefined);
        throw e;
      }
    }),
    close: () => db.destroy(),
  };
}

/** pg returns int8 and numeric as strings; the relay's are ms times, ids and counts, all well inside 2^53. */
const typesOf = (pg: typeof Pg) => ({
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
});

function openPostgres(url: string, max: number): Db {
  // Loaded here: a relay on SQLite (one node) never carries pg (about 6 MB).
  const pg = createRequire(import.meta.url)('pg') as typeof Pg;
  const types = typesOf(pg);
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
    types,
    application_name: 'evva-relay',
  });
  // A server restart errors idle and busy connections alike; an unhandled 'error' event would end the process.
  // The busy one's query rejects on its own, and pg-pool drops a broken connection on release.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => { client.on('error', () => undefined); });
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    tx: (fn) => db.transaction().execute((t: Transaction<Tables>) => fn(t)),
    close: () => db.destroy(),
  };
}
