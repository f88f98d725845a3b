/**
 * A real Postgres for tests, from Debian's `postgresql` package (installed by
 * tests/machine.ts when missing): a cluster in a temp dir on a free loopback
 * port, trust auth for loopback only.
 *
 * Under vitest, `startPostgres()` gives the file its own database (CREATE
 * DATABASE, dropped by `stop()`) on the one server tests/servers.ts starts for
 * the whole run: an initdb and a server start cost seconds of CPU, a database
 * a few milliseconds, and nothing a relay keeps in Postgres (tables, advisory
 * locks, LISTEN channels) is seen across databases. A test that kills, restarts
 * or pauses the server asks for its own with `startPostgres({ own: true })`.
 * Outside vitest (the benches) every call starts its own server.
 *
 * fsync stays on: the store tests make a few hundred commits, and a test of
 * durability against a Postgres that does not sync would prove less.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface RunningPostgres {
  /** postgres://postgres@127.0.0.1:PORT/evva (or the file's database on the shared server) */
  url: string;
  port: number;
  /** Clean shutdown (SIGINT: fast), data removed; on the shared server, the file's database dropped. */
  stop(): Promise<void>;
  /** Fast shutdown and start again on the same port, keeping the data. */
  restart(): Promise<void>;
  /** SIGKILL, as a crash; `restart()` brings it back (crash recovery). */
  kill(): Promise<void>;
  /** SIGSTOP to the postmaster and every backend: a server that is there but answers nothing (a paused VM). */
  pause(): void;
  /** SIGCONT to them all. */
  resume(): void;
}

const DB = 'evva';

/** Debian's newest installed server version dir, e.g. /usr/lib/postgresql/15/bin. */
export function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'postgres'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('Postgres is not installed: apt-get install postgresql (.ci/run does)');
  return join(base, versions[0] as string, 'bin');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Root may not run Postgres: as root, its binaries run as the `postgres` user (spawn's uid/gid, like
 * `runuser -u postgres --` but without a process in between, so signals reach the postmaster itself).
 */
const asRoot = process.getuid?.() === 0;
function account(): { uid: number; gid: number } | Record<string, never> {
  if (!asRoot) return {};
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

const running = new Set<ChildProcess>();
let hooked = false;
function killAllOnExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => { for (const c of running) try { c.kill('SIGKILL'); } catch { /* gone */ } });
}

async function accepts(port: number, bin: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const r = spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-t', '1']);
    if (r.status === 0) return;
    if (Date.now() > until) throw new Error(`Postgres did not accept connections on port ${port} within ${ms} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Whether any process of the killed server still has its data dir open as its cwd (backends run in it). */
function backendsAlive(data: string): boolean {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) === data) return true;
    } catch { /* gone or not ours to read */ }
  }
  return false;
}

/** Where tests/servers.ts's shared server listens (vitest's provide/inject). */
export interface SharedPostgres {
  port: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    evvaPostgres: SharedPostgres | null;
  }
}

/**
 * A database of its own for the calling test file; the caller stops it (afterAll). `own: true` (or outside
 * vitest, or when no shared server was started): a whole server of its own, for a test that kills, restarts
 * or pauses it.
 */
export async function startPostgres(o: { own?: boolean } = {}): Promise<RunningPostgres> {
  if (!o.own && process.env.VITEST) {
    const { inject } = await import('vitest');
    const shared = inject('evvaPostgres');
    if (shared) return databaseOn(shared.port);
  }
  return launchPostgres();
}

let databases = 0;

/** A new database on the shared server (which tests/servers.ts may still be starting). */
async function databaseOn(port: number): Promise<RunningPostgres> {
  await accepts(port, postgresBin(), 60_000);
  const name = `evva_${process.pid}_${++databases}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await c.connect();
    try { await c.query(sql); } finally { await c.end(); }
  };
  await admin(`CREATE DATABASE ${name}`);
  const ownOnly = (what: string) => () => {
    throw new Error(`${what}: this is a database on the run's shared Postgres; a test that ${what}s the server asks for its own: startPostgres({ own: true })`);
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${name}`,
    port,
    // FORCE: a relay killed with SIGKILL may leave its connections for the server to notice.
    async stop() { await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); },
    restart: async () => ownOnly('restart')(),
    kill: async () => ownOnly('kill')(),
    pause: ownOnly('pause'),
    resume: ownOnly('resume'),
  };
}

/**
 * Starts a fresh Postgres server on loopback and creates the test database; the caller stops it.
 * `port` and `maxConnections` for tests/servers.ts's shared server (announced before it is up).
 */
export async function launchPostgres(o: { port?: number; maxConnections?: number } = {}): Promise<RunningPostgres> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'evva-pg-'));
  const data = join(dir, 'data');
  chmodSync(dir, 0o700);
  const as = account();
  if (asRoot) chownSync(dir, as.uid as number, as.gid as number);
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '-N'],
    { encoding: 'utf8', cwd: dir, ...as });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  // Loopback only, no password: nothing else can reach this server.
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
  const port = o.port ?? await freePort();
  let child: ChildProcess | null = null;
  let log = '';

  const start = async (): Promise<void> => {
    const p = spawn(join(bin, 'postgres'), ['-D', data, '-k', dir, '-h', '127.0.0.1', '-p', String(port),
      '-c', `max_connections=${o.maxConnections ?? 60}`, '-c', 'shared_buffers=16MB', '-c', 'logging_collector=off'],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, ...as });
    child = p;
    running.add(p);
    killAllOnExit();
    p.stdout!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-4000); });
    p.stderr!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-4000); });
    p.on('exit', () => running.delete(p));
    try {
      await accepts(port, bin, 30_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${log}`, { cause: e });
    }
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const p = child;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    // A paused server (a test that failed before it resumed it) must be able to take the signal and let its backends go.
    if (paused) signalAll('SIGCONT');
    const exited = new Promise<void>((res) => p.once('exit', () => res()));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
    child = null;
  };

  /** The postmaster and its children (backends, background workers). */
  let paused = false;
  const signalAll = (signal: NodeJS.Signals) => {
    const pid = child?.pid;
    if (!pid) throw new Error('postgres is not running');
    paused = signal === 'SIGSTOP';
    const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
    // Stop the postmaster first, so it starts no new backend meanwhile; wake it last.
    const order = signal === 'SIGSTOP' ? [pid, ...kids] : [...kids, pid];
    for (const p of order) {
      try { process.kill(p, signal); } catch { /* exited meanwhile */ }
    }
  };

  await start();
  const created = spawnSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', DB], { encoding: 'utf8', cwd: dir, ...as });
  if (created.status !== 0) {
    await halt('SIGINT');
    throw new Error(`createdb failed: ${created.stderr}`);
  }

  return {
    url: `postgres://postgres@127.0.0.1:${port}/${DB}`,
    port,
    async stop() {
      await halt('SIGINT');
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await halt('SIGINT');
      await start();
    },
    pause() { signalAll('SIGSTOP'); },
    resume() { signalAll('SIGCONT'); },
    async kill() {
      await halt('SIGKILL');
      // The killed postmaster's backends notice its death and exit; a restart must wait for them (shared memory).
      const until = Date.now() + 10_000;
      while (Date.now() < until && backendsAlive(data)) {
        await new Promise((res) => setTimeout(res, 100));
      }
    },
  };
}
