/**
 * The relay's persistent state: venues, device-token hashes, pairing codes,
 * and (in `feed`) events, webhook delivery and payments. One query layer
 * (relay/db/, Kysely) on the embedded SQLite file in the data dir or on
 * Postgres (`--store postgres://…`). The CLI and the server may use the same
 * database at once: a token change is told to the changing store's own
 * listeners, and shows everywhere else in `tokenMark()`.
 */
export { Store as RelayStore, openStore, type ClaimResult, type VenueRow } from './db/store.ts';
export { STORE_FILE, type StoreSpec } from './db/open.ts';
