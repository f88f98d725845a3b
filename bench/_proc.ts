/**
 * Process plumbing for benchmarks: start a process with its output in a file
 * (as a service manager would), and read what a process tree has cost so far
 * from /proc (Linux only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Pool } from 'undici';
import { realClock } from '../common/clock.ts';
import { Pairing } from '../relay/pairing.ts';
import { type StoreSpec } from '../relay/db/open.ts';
import { openStore } from '../relay/db/store.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export interface Started {
  child: ChildProcess;
  pid: number;
  log: string;
  /** Resolves with the first match of `re` in the output file; rejects after `ms` or if the process exits. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

/** Starts `cmd args` with stdout and stderr appended to `log` (nothing is piped through this process). */
export function startLogged(cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv = process.env): Started {
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  let exited = false;
  const gone = new Promise<void>((r) => child.once('exit', () => { exited = true; r(); }));
  return {
    child, pid: child.pid ?? -1, log,
    async waitFor(re, ms = 30_000) {
      const t0 = performance.now();
      for (;;) {
        const m = readFileSync(log, 'utf8').match(re);
        if (m) return m;
        if (exited) throw new Error(`${cmd} exited before ${re}:\n${readFileSync(log, 'utf8').slice(-2000)}`);
        if (performance.now() - t0 > ms) throw new Error(`${cmd}: no ${re} within ${ms} ms:\n${readFileSync(log, 'utf8').slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(t);
    },
  };
}

const TICK_US = 1e6 / 100; // USER_HZ is 100 on every Linux Node supports

/** The pid and all its descendants now. */
export function tree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i] as number;
    let tasks: string[];
    try { tasks = readdirSync(`/proc/${p}/task`); } catch { continue; }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
      } catch { /* gone */ }
    }
  }
  return out;
}

/** CPU time (user + system, µs) used so far by `pid` and every live descendant (/proc/<pid>/stat fields 14 and 15). */
export function cpuUs(pid: number): number {
  let total = 0;
  for (const p of tree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // The command name may contain spaces and parentheses: fields start after the last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) * TICK_US;
    } catch { /* exited between the listing and the read */ }
  }
  return total;
}

/**
 * Minor page faults so far of `pid` and every live descendant (/proc/<pid>/stat field 10): each is a page the
 * process touched for the first time since it was mapped (malloc handing out memory it had given back, say).
 */
export function minorFaults(pid: number): number {
  let total = 0;
  for (const p of tree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      total += Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
    } catch { /* exited between the listing and the read */ }
  }
  return total;
}

/** Resident set size (MB) of `pid` and its descendants, and the peak of each summed. */
export function rssMb(pid: number): { rss: number; peak: number } {
  let rss = 0;
  let peak = 0;
  for (const p of tree(pid)) {
    try {
      const s = readFileSync(`/proc/${p}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024;
      peak += Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024;
    } catch { /* gone */ }
  }
  return { rss, peak };
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as net.AddressInfo; s.close(() => res(port)); });
  });
}

/** The p-th percentile of an ascending list. */
export const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Processes of bench/_tunnels.ts holding the tunnels of `count` venues of `tokensFile` between them. With
 * `spreadSources` helper h connects from 127.0.0.(h+2), so 10 000 and more links never exhaust one address's ephemeral ports;
 * with `maxHandshakes` each helper has at most that many links between connect and welcome.
 */
export interface TunnelHelpers {
  /** Links welcomed and up now, over every helper. */
  up(): number;
  /** Welcomes ever (reconnections count), over every helper. */
  welcomes(): number;
  stop(): void;
}

export function tunnelHelpers(relayUrl: string, tokensFile: string, count: number, processes: number, spreadSources = false, maxHandshakes?: number): TunnelHelpers {
  const per = Math.ceil(count / processes);
  const helpers: Array<{ child: ChildProcess; up: number; welcomes: number }> = [];
  for (let h = 0; h < processes; h++) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, '_tunnels.ts'), relayUrl, tokensFile, String(h * per), String(Math.max(0, Math.min(per, count - h * per))), spreadSources ? `127.0.0.${(h % 250) + 2}` : '-', ...(maxHandshakes ? [String(maxHandshakes)] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    const helper = { child, up: 0, welcomes: 0 };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const m = JSON.parse(line) as { up?: number; welcomes?: number };
        if (typeof m.up === 'number') helper.up = m.up;
        if (typeof m.welcomes === 'number') helper.welcomes = m.welcomes;
      } catch { /* not ours */ }
    });
    helpers.push(helper);
  }
  return {
    up: () => helpers.reduce((a, h) => a + h.up, 0),
    welcomes: () => helpers.reduce((a, h) => a + h.welcomes, 0),
    stop: () => { for (const h of helpers) h.child.kill('SIGTERM'); },
  };
}

/** What a paced run of venue calls gave: latencies (ascending, from when each call was due), failures, calls sent > 100 ms late, duration. */
export interface PacedRun { lat: number[]; errors: number; late: number; secs: number }

/**
 * `total` venue calls (`GET /v1/venues/<id>/front/api/orders`, 1 KB answers),
 * open loop at `perSecond`: call i is due at start + i/perSecond whatever the
 * earlier ones did, so a generator or relay that falls behind shows up in the
 * latency instead of hiding. `send(i)` says which venue and which pool.
 */
export async function pacedCalls(total: number, perSecond: number, apiKey: string, send: (i: number) => { venueId: string; pool: Pool }, bounded: () => void): Promise<PacedRun> {
  const gapMs = 1000 / perSecond;
  const lat: number[] = [];
  let errors = 0;
  let late = 0;
  const start = performance.now();
  const inflight = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    bounded();
    const due = start + i * gapMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    else if (wait < -100) late++;
    const { venueId, pool } = send(i);
    const p = (async () => {
      const s = performance.now();
      try {
        const r = await pool.request({ path: `/v1/venues/${venueId}/front/api/orders`, method: 'GET', headers: { authorization: `Bearer ${apiKey}` } });
        await r.body.dump();
        if (r.statusCode !== 200) errors++;
        lat.push(performance.now() - Math.min(s, due));
      } catch {
        errors++;
      }
    })();
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }
  await Promise.all(inflight);
  lat.sort((x, y) => x - y);
  return { lat, errors, late, secs: (performance.now() - start) / 1000 };
}

/**
 * `count` venues, each paired with a device token, written straight into the
 * store a relay will open (pairing N times over HTTP adds nothing to a bench);
 * the tokens also go to `file` (0600) for the tunnel helpers.
 */
export async function seedVenues(where: StoreSpec, count: number, file: string, label: string): Promise<Array<{ venueId: string; token: string }>> {
  const store = await openStore(where);
  const pairing = new Pairing(store, realClock);
  const tokens: Array<{ venueId: string; token: string }> = [];
  for (let i = 0; i < count; i++) {
    const v = await pairing.createVenue(`${label} ${i}`);
    const p = await pairing.pair(v.pairingCode, { version: label.toLowerCase(), hostname: label.toLowerCase() });
    if (!p.ok) throw new Error(`pairing ${i}: ${p.reason}`);
    tokens.push({ venueId: p.venueId, token: p.deviceToken });
  }
  await store.close();
  writeFileSync(file, JSON.stringify(tokens), { mode: 0o600 });
  return tokens;
}

/** System calls counted by `strace -c` while something ran: calls per syscall name, summed over the traced processes. */
export interface SyscallCounts { calls: Record<string, number>; total: number }

/** `strace -c` is Debian's strace (apt-get install strace); without it the syscall tables are skipped with a note. */
export const STRACE = '/usr/bin/strace';

/**
 * Counts the system calls of each process tree in `pids` (every thread, and
 * children such as sshd's per-connection process) while `run` runs, with one
 * `strace -c -f` per tree. strace slows what it traces a lot, so callers use
 * the counts only (never the times) and run it outside the timed rounds.
 */
export async function countSyscalls(pids: Record<string, number>, dir: string, run: () => Promise<void>): Promise<Record<string, SyscallCounts>> {
  const tracers = Object.entries(pids).map(([name, pid]) => {
    const out = join(dir, `strace-${name}-${pid}.txt`);
    const child = spawn(STRACE, ['-c', '-f', '-o', out, ...tree(pid).flatMap((p) => ['-p', String(p)])], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    return { name, out, child, exited, attached: () => /attached/i.test(err) || err.includes('Process') };
  });
  // strace says "Process N attached" for each thread once it holds it; the run must not start before.
  const t0 = performance.now();
  while (!tracers.every((t) => t.attached()) && performance.now() - t0 < 5_000) await sleep(20);
  await sleep(100);
  try {
    await run();
  } finally {
    for (const t of tracers) t.child.kill('SIGINT');
    await Promise.race([Promise.all(tracers.map((t) => t.exited)), sleep(10_000)]);
  }
  const result: Record<string, SyscallCounts> = {};
  for (const t of tracers) {
    const calls: Record<string, number> = {};
    let total = 0;
    // Lines of the summary: "% time seconds usecs/call calls [errors] syscall".
    for (const line of readFileSync(t.out, 'utf8').split('\n')) {
      const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line);
      if (!m || m[2] === 'total') continue;
      calls[m[2]!] = (calls[m[2]!] ?? 0) + Number(m[1]);
      total += Number(m[1]);
    }
    result[t.name] = { calls, total };
  }
  return result;
}
