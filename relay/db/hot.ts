/**
 * Hot queries built once: Kysely's builder costs tens of microseconds a query,
 * more than SQLite's own lookup, so the queries every tunnel upgrade, event
 * and poll runs are compiled at start and only their parameters change.
 */
import type { Compilable, CompiledQuery } from 'kysely';

/**
 * The query compiled once; each call gives it new parameters, in the order
 * they appear in its SQL, and exactly as many as it has (a constant written as
 * a value is a parameter too: write it as sql`0` to keep it out).
 */
export function compiled<R>(q: Compilable<R>): (...parameters: unknown[]) => CompiledQuery<R> {
  const c = q.compile();
  const n = c.parameters.length;
  return (...parameters) => {
    if (parameters.length !== n) throw new Error(`compiled query takes ${n} parameters, got ${parameters.length}: ${c.sql}`);
    return { ...c, parameters };
  };
}
