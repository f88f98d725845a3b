/** Small SQLite helpers shared by the relay's stores. */
import type Database from 'better-sqlite3';

/** A statement cache for one connection: each SQL text is compiled once (every venue call and event batch reads the store). */
export function statementCache(db: Database.Database): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let st = cache.get(sql);
    if (!st) {
      st = db.prepare(sql);
      cache.set(sql, st);
    }
    return st;
  };
}
