/**
 * HAProxy from Debian (/usr/sbin/haproxy) in front of relays on loopback, as
 * deploy/haproxy.cfg runs it in production but with test timings: the config
 * is written to a temp dir, HAProxy runs in the foreground (-db) on a free
 * port, and `stop()` kills it and removes the dir. Its runtime API (a unix
 * socket in the temp dir) tells the test which servers HAProxy sees as up.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, startBin, type Proc } from './proc.ts';
import { HAPROXY } from './programs.ts';
import { API_KEY, tempDir, waitFor } from './relay.ts';

export interface Backend {
  /** The server's name in HAProxy (and in `servers()`). */
  name: string;
  host: string;
  port: number;
}

export interface HaproxyOptions {
  backends: Backend[];
  /** The health check's path (default /readyz: a draining or cut-off node is taken out). */
  check?: string;
  /**
   * Health check interval in ms while a server is steady UP (default 500 for `relays` and 1 000 for `relays-live`,
   * deploy/haproxy.cfg's). Once a check has failed the next comes after 200 ms (fastinter), so with `fall` 2 a node
   * that goes away is out within 0.7 s (0.6 s when every check came each 300 ms, well inside the drain's 1.5 s
   * notice); a down server is checked every 300 ms. `fall` failed checks mark a server down, `rise` good ones up again.
   */
  inter?: number;
  fall?: number;
  rise?: number;
  /**
   * 'venue' (deploy/haproxy.cfg's): a venue's tunnel (`?venue=`) and its calls
   * (`/v1/venues/<id>/…`) hash to the same node; anything else round robin.
   */
  balance?: 'roundrobin' | 'leastconn' | 'venue';
  /** HAProxy's `http-reuse` (default: HAProxy's own, safe). */
  reuse?: 'safe' | 'always' | 'never';
}

export interface Haproxy {
  url: string;
  port: number;
  /** What HAProxy printed so far (warnings, alerts). */
  output(): string;
  /** Each server's state as HAProxy sees it now in a backend (default `relays`, the /readyz one; `relays-live` is the /healthz fallback): UP, DOWN, MAINT, `UP 1/2` while rising... */
  servers(backend?: 'relays' | 'relays-live'): Promise<Record<string, string>>;
  /** Kills HAProxy and removes its temp dir. */
  stop(): Promise<void>;
}

/**
 * Venue affinity, as deploy/haproxy.cfg has it: the venue named by the tunnel
 * URL or the call's path picks the node (consistent hashing: a node that goes
 * away moves only its own venues); calls without a venue go round robin.
 */
export const VENUE_HASH = `    http-request set-var(txn.venue) urlp(venue) if { path /v1/tunnel }
    http-request set-var(txn.venue) path,field(4,/) if { path_beg /v1/venues/ }
    http-request set-var(txn.venue) path,field(5,/) if { path_beg /console/api/venues/ }
    balance hash var(txn.venue)
    hash-type consistent sdbm avalanche`;

/**
 * The config the tests run: deploy/haproxy.cfg's rules with loopback addresses and its check intervals, but quicker
 * once a check fails. Each check is a /readyz on a node (a Postgres and a Redis round trip): at 300 ms on both
 * backends, three nodes answered 20 a second, a third of an idle cluster's CPU.
 */
export function haproxyConfig(o: HaproxyOptions & { port: number; socket: string }): string {
  const servers = o.backends.map((b) => `    server ${b.name} ${b.host}:${b.port} check`).join('\n');
  const balance = o.balance === 'venue' ? VENUE_HASH : `    balance ${o.balance ?? 'roundrobin'}`;
  return `global
    maxconn 4096
    stats socket ${o.socket} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # WebSocket tunnels live for hours; the companion pings inside them.
    timeout tunnel 1h
    timeout http-request 10s
    timeout queue 5s
    # Without it HAProxy gives a check only its inter (300 ms here once) to connect and answer: on a loaded test machine
    # a busy relay answered /readyz in 300-360 ms, HAProxy took all three nodes out and back within seconds, and the
    # venue hash moved under cluster-affinity's calls (hops it counted as a failure). A draining node answers 503 at
    # once and a killed one refuses the connection, so this delays no test's "taken out"; only a hung node is slower.
    timeout check 5s
    # The relay sees the client's address (pairing limits, the port probe-back): it runs with --trust-proxy.
    option forwardfor
    # A call whose node refused the connection or died before answering goes to another node...
    option redispatch 1
    retries 3
${o.reuse ? `    http-reuse ${o.reuse}
` : ''}    retry-on conn-failure empty-response response-timeout 503

frontend relay
    bind 127.0.0.1:${o.port}
    # No node ready (a shared Postgres or Redis is down): any live node still serves the tunnels it holds.
    use_backend relays-live if { nbsrv(relays) eq 0 }
    default_backend relays

backend relays
${balance}
    # ...but only a GET or HEAD is sent again once it reached a node: a POST may already have done its work.
    http-request disable-l7-retry unless METH_GET
    option httpchk GET ${o.check ?? '/readyz'}
    http-check expect status 200
    default-server inter ${o.inter ?? 500} fastinter 200 downinter 300 fall ${o.fall ?? 2} rise ${o.rise ?? 2}
${servers}

backend relays-live
${balance}
    http-request disable-l7-retry unless METH_GET
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter ${o.inter ?? 1_000} fastinter 200 downinter 300 fall ${o.fall ?? 2} rise ${o.rise ?? 2}
${servers}
`;
}

/** Starts HAProxy; resolves once it accepts connections on its port and its runtime API socket exists. */
export async function startHaproxy(o: HaproxyOptions): Promise<Haproxy> {
  const dir = tempDir('haproxy');
  const port = await freePort();
  const socket = path.join(dir.dir, 'admin.sock');
  const cfg = path.join(dir.dir, 'haproxy.cfg');
  fs.writeFileSync(cfg, haproxyConfig({ ...o, port, socket }));
  const child = spawn(HAPROXY, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  // A test process that dies without its afterAll leaves no HAProxy behind.
  const onExit = () => { if (!gone) child.kill('SIGKILL'); };
  process.on('exit', onExit);
  void exited.then(() => { gone = true; process.off('exit', onExit); });
  const stop = async () => {
    if (!gone) {
      child.kill('SIGKILL');
      await exited;
    }
    dir.remove();
  };
  try {
    for (let i = 0; ; i++) {
      if (gone) throw new Error(`haproxy exited at start-up:\n${out}`);
      // The runtime API's socket is bound separately from the frontend port, and under load
      // it can appear after the port accepts (a test read ENOENT once), and exist a moment
      // before it answers (ECONNREFUSED once, at load 30): wait until it answers a command.
      if (await accepts(port) && fs.existsSync(socket) && await answers(socket)) break;
      if (i >= 200) throw new Error(`haproxy did not listen on ${port} within 10 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: `http://127.0.0.1:${port}`, port, stop, output: () => out,
    async servers(backend = 'relays') {
      const csv = await command(socket, 'show stat');
      const head = (csv.split('\n')[0] ?? '').replace(/^# /, '').split(',');
      const [px, sv, st] = ['pxname', 'svname', 'status'].map((k) => head.indexOf(k)) as [number, number, number];
      const states: Record<string, string> = {};
      for (const line of csv.split('\n').slice(1)) {
        const f = line.split(',');
        if (f[px] === backend && f[sv] && f[sv] !== 'BACKEND' && f[sv] !== 'FRONTEND') states[f[sv]] = f[st] ?? '';
      }
      return states;
    },
  };
}

/** True when something accepts a TCP connection on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** True when HAProxy's runtime API answers `show info` on its socket. */
async function answers(socket: string): Promise<boolean> {
  try {
    return (await command(socket, 'show info')).includes('Pid:');
  } catch {
    return false;
  }
}

/** One command on HAProxy's runtime API; resolves with the whole answer. */
function command(socket: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    let got = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`haproxy runtime API: no answer to ${cmd}`)); }, 5_000);
    s.on('data', (d: Buffer) => { got += d.toString(); });
    s.once('error', (e) => { clearTimeout(timer); reject(e); });
    s.once('close', () => { clearTimeout(timer); resolve(got); });
    s.end(`${cmd}\n`);
  });
}

export interface PlainNode {
  name: string;
  port: number;
  /** Its own address, not through HAProxy. */
  url: string;
  /** Its data dir (its SQLite). */
  dir: string;
  proc: Proc | null;
}

/**
 * Plain single relays (`evva-relay serve`, each with its own SQLite, trusting
 * 127.0.0.1 as its proxy) behind HAProxy, resolved once HAProxy sees every one
 * UP. Their teardown goes onto `cleanups`; `start(n)` starts a stopped one again.
 */
export async function relaysBehindHaproxy(names: string[], cleanups: Array<() => Promise<unknown> | void>, o: Omit<HaproxyOptions, 'backends'> = {}) {
  const nodes: PlainNode[] = [];
  for (const name of names) {
    const d = tempDir(`lb-${name}`);
    cleanups.push(() => d.remove());
    const port = await freePort();
    nodes.push({ name, port, url: `http://127.0.0.1:${port}`, dir: d.dir, proc: null });
  }
  cleanups.push(async () => { for (const n of nodes) await n.proc?.stop('SIGKILL'); });
  const start = async (n: PlainNode) => {
    n.proc = startBin('evva-relay.js', ['serve', '--port', String(n.port), '--data-dir', n.dir, '--trust-proxy', '127.0.0.1'],
      { EVVA_RELAY_API_KEYS: API_KEY });
    await n.proc.waitFor(/\{"listening":/, 60_000); // setup: three starts at once passed 30 s twice at load 22-27, as cluster nodes had
  };
  await Promise.all(nodes.map(start));
  const lb = await startHaproxy({ ...o, backends: nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.port })) });
  cleanups.push(() => lb.stop());
  await waitFor(async () => Object.values(await lb.servers()).every((st) => st === 'UP'), 'every node UP in HAProxy', 20_000, 100);
  return { nodes, lb, start };
}
