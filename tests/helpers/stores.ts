/**
 * The relay store on each dialect, for tests that must hold on both: the
 * embedded SQLite file in a temp dir, and a real Postgres (tests/helpers/postgres.ts)
 * emptied between tests. `open()` may be called more than once: each call is
 * another process or node on the same database.
 */
import pg from 'pg';
import { openStore, type RelayStore } from '../../relay/db/store.ts';
import { startPostgres, type RunningPostgres } from './postgres.ts';
import { tempDir } from './relay.ts';

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** Called once (beforeAll). */
  start(): Promise<void>;
  /** A fresh, empty database for one test. */
  fresh(): Promise<void>;
  open(): Promise<RelayStore>;
  /** Closes every store opened and stops the server (afterAll). */
  stop(): Promise<void>;
}

function tracking(openOne: () => Promise<RelayStore>) {
  const open: RelayStore[] = [];
  return {
    async open() { const s = await openOne(); open.push(s); return s; },
    async closeAll() { for (const s of open.splice(0)) await s.close().catch(() => undefined); },
  };
}

export function sqliteBackend(): StoreBackend {
  let dir: { dir: string; remove(): void } | null = null;
  const t = tracking(() => openStore({ dataDir: dir!.dir }));
  return {
    name: 'sqlite',
    async start() {},
    async fresh() {
      await t.closeAll();
      dir?.remove();
      dir = tempDir('store');
    },
    open: t.open,
    async stop() { await t.closeAll(); dir?.remove(); },
  };
}

/** Every table the migrations make, emptied (the schema and its migrations stay). */
const TABLES = 'venues, pairing_codes, feed_events, webhook_targets, webhook_state, venue_iiko, payments, feed_state, feed_refused, console_sessions, support_audit';

/** `own`: a server of its own (a test that kills or pauses it), else a database on the run's shared server. */
export function postgresBackend(o: { own?: boolean } = {}): StoreBackend & { server(): RunningPostgres } {
  let server: RunningPostgres | null = null;
  const t = tracking(() => openStore({ dataDir: '/nonexistent', url: server!.url, pool: 4 }));
  return {
    name: 'postgres',
    server: () => server!,
    async start() { server = await startPostgres(o); },
    async fresh() {
      await t.closeAll();
      // Migrate (once) by opening, then empty the tables.
      await (await openStore({ dataDir: '/nonexistent', url: server!.url, pool: 1 })).close();
      const c = new pg.Client({ connectionString: server!.url });
      await c.connect();
      await c.query(`TRUNCATE ${TABLES} RESTART IDENTITY`);
      await c.end();
    },
    open: t.open,
    async stop() { await t.closeAll(); await server?.stop(); },
  };
}
