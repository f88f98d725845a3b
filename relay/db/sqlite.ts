/** Small SQLite helpers for the relay's store. */
import type Database from 'better-sqlite3';

/** Most statements kept compiled per connection; multi-row inserts of every size would otherwise grow it without bound. */
const CACHE_MAX = 1024;

/** A statement cache for one connection: each SQL text is compiled once while in use (every venue call and event batch reads the store). */
export function statementCache(db: Database.Database): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let st = cache.get(sql);
    if (st) {
      // Most recently used last, so the first key is the one to drop.
      cache.delete(sql);
    } else {
      st = db.prepare(sql);
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    }
    cache.set(sql, st);
    return st;
  };
}
