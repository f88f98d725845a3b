/**
 * Vitest global setup: one Postgres server for the whole run, after
 * tests/machine.ts has made sure Postgres is installed. Each test file that
 * calls startPostgres() gets a database of its own on it
 * (tests/helpers/postgres.ts); before, each such file ran initdb and started a
 * server of its own (seconds of CPU, ten files).
 *
 * The server starts in the background: the port is announced at once, and the
 * first file that needs it waits until it accepts. A run of files that never
 * need it (one unit test file, say) does not wait for it.
 *
 * Redis and HAProxy stay one per file: each starts in milliseconds, and
 * Redis's pub/sub channels are shared across its numbered databases, so two
 * files' nodes named alike would hear each other.
 */
import type { TestProject } from 'vitest/node';
import { freePort, launchPostgres } from './helpers/postgres.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const port = await freePort();
  // Room for several files at once, each with up to three relay nodes pooling up to ten connections.
  const starting = launchPostgres({ port, maxConnections: 300 });
  // A failure shows in the test that waits for the server; say it here too, with the server's output.
  starting.catch((e: unknown) => { process.stderr.write(`tests/servers.ts: the shared Postgres did not start: ${(e as Error).message}\n`); });
  project.provide('evvaPostgres', { port });
  return async () => {
    const pg = await starting.catch(() => null);
    await pg?.stop();
  };
}
