/**
 * Hot queries built once: Kysely's builder costs tens of microseconds a query,
 * more than SQLite's own lookup, so the queries every tunnel upgrade, event
 * and poll runs are compiled at start and only their parameters change.
 */
import type { Compilable, CompiledQuery } from 'kysely';

/** The query compiled once; each call gives it new parameters, in the order they appear in its SQL. */
export function compiled<R>(q: Compilable<R>): (...parameters: unknown[]) => CompiledQuery<R> {
  const c = q.compile();
  return (...parameters) => ({ ...c, parameters });
}
