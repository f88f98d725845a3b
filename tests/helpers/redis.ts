/**
 * A real Redis for tests: Debian's redis-server on 127.0.0.1 and a free port,
 * without persistence (so a restart comes back empty, as a production Redis
 * without AOF/RDB does). Started and stopped by the test itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REDIS_SERVER } from './programs.ts';

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, SIGKILL after a bound) and removes its directory. */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port with empty data. */
  restart(): Promise<void>;
  /** kill -9: the server vanishes without closing anything. */
  kill(): Promise<void>;
  /** Starts it again on the same port after `kill` (empty data). */
  start(): Promise<void>;
  /** SIGSTOP: the server hangs (connections stay open, nothing answers) until `resume`. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
}

const running = new Set<ChildProcess>();
// Nothing outlives the test process, even when a test forgets to stop its Redis.
process.once('exit', () => { for (const c of running) c.kill('SIGKILL'); });

/** Starts redis-server on a free loopback port and resolves once it answers PING. */
export async function startRedis(): Promise<TestRedis> {
  if (!fs.existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is missing: apt-get install redis-server (.ci/run does)`);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-redis-'));
  let child: ChildProcess | null = null;
  let out = '';

  const up = async () => {
    out = '';
    const c = spawn(REDIS_SERVER, [
      '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes',
      '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', '',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    running.add(c);
    c.once('exit', () => running.delete(c));
    child = c;
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (c.exitCode !== null || Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`redis-server did not answer on port ${port}:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const down = async (signal: NodeJS.Signals) => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGCONT'); // a paused server cannot act on SIGTERM
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  };

  await up();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await down('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await down('SIGTERM');
      await up();
    },
    async kill() {
      await down('SIGKILL');
    },
    start: up,
    pause() { child?.kill('SIGSTOP'); },
    resume() { child?.kill('SIGCONT'); },
  };
}

/** True when a RESP PING on 127.0.0.1:port gets +PONG within a second. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok: boolean) => { clearTimeout(t); s.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), 1_000);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
    s.on('error', () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
