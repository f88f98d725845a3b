/**
 * Side by side, in one run: the same GETs from a stand-in plugin made
 *   - directly (what port forwarding gives),
 *   - through the real relay and companion bins (EVVA → relay → tunnel →
 *     companion → plugin), each a process of its own with its real logging
 *     going to a file, as a venue runs them,
 *   - through an OpenSSH reverse tunnel (`ssh -R`) to Debian's sshd on a
 *     loopback port, with throwaway keys, started here.
 * Bodies of ~2.4 KB, 64 KiB and 5 MiB; sequential p50/p99, c=32 throughput,
 * one-stream MB/s, CPU µs per request of every process on the path (from
 * /proc/<pid>/stat) and RSS. Targets alternate round by round, so a noisy
 * neighbour on the machine hurts all of them alike; the tables show medians
 * over rounds (latency percentiles over all rounds' samples pooled).
 * Everything is bounded in count and time, and stays on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent, Pool, request, type Dispatcher } from 'undici';
import { balancedOrder } from './_order.ts';
import { BODY_SIZES, type BodySize } from './_plugin.ts';
import { STRACE, countSyscalls, cpuUs, freePort, minorFaults, rssMb, startLogged, type Started, type SyscallCounts } from './_proc.ts';
import type { Measured } from './_targets.ts';
import type { BenchOptions, BenchResult, BenchTable } from './run.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const API_KEY = 'bench-api-key-0123456789abcdef';
const SSHD = '/usr/sbin/sshd';

/** Per round and target: measured sequential requests (after WARMUP), 5 MiB streams, and the c=32 phase. */
const PLAN = { warmup: 20, seq2k: 300, seq64k: 60, streams5m: 3, concurrency: 32, c32Ms: 2_000, c32MaxRequests: 100_000 };
const QUICK = { warmup: 10, seq2k: 100, seq64k: 20, streams5m: 2, concurrency: 32, c32Ms: 1_000, c32MaxRequests: 100_000 };
type Plan = typeof PLAN;
/**
 * `--set only=5m`: the one-stream phase alone, more streams per round (the small-request phases,
 * and the idle and strace phases, skipped), for work on the big-answer path.
 */
const ONLY_5M: Plan = { warmup: 2, seq2k: 0, seq64k: 0, streams5m: 8, concurrency: 32, c32Ms: 0, c32MaxRequests: 0 };
/** The whole benchmark gives up after this long. */
const TIME_LIMIT_MS = 10 * 60_000;
/** Quiet time at the end to measure what an idle tunnel costs. */
const IDLE_MS = 15_000;
/** Requests (c=32) per path while `strace -c` counts the system calls of its processes. */
const STRACE_REQUESTS = 2_000;

/** 'direct', 'tunnel', 'ssh -R', and 'tunnel@<label>' for a second checkout's bins (--set baseline=DIR). */
type TargetName = string;

interface Target {
  name: TargetName;
  /** URL prefix the plugin path is appended to. */
  base: string;
  /** Query suffix carrying the plugin key (direct and ssh callers log in themselves, like port forwarding). */
  key: string;
  headers: Record<string, string>;
  /** Processes on the path, besides the bench client. */
  procs: Record<string, number>;
  /** Expected body length per size (the relay rewrites plugin links, so its answers are longer). */
  expect: Record<BodySize, number>;
  seq: Dispatcher;
  pool: Dispatcher;
}

interface RoundResult {
  seq2k: number[];
  seq64k: number[];
  mbps5m: number[];
  /** CPU µs per MiB of the 5 MiB answers, each process on the path (the whole phase over the bytes it carried). */
  cpu5m: Record<string, number>;
  /** Minor page faults per MiB of the 5 MiB answers, each process. */
  faults5m: Record<string, number>;
  c32: { reqs: number; ms: number; cpuUs: Record<string, number> };
  seqCpuUs: Record<string, number>;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
}
const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '—');
const signed = (n: number, d: number) => (n >= 0 ? `+${f(n, d)}` : f(n, d));

/**
 * The values of issue 23's targets from this run's rounds (bench/_targets.ts judges them): each a ratio
 * taken within a round (tunnel against ssh -R, both beside the same direct calls), then the median over
 * rounds, so a noisy round moves both sides of its ratio alike.
 */
function judged(results: Map<TargetName, RoundResult[]>, rounds: number, sshSkipped: string | null): Record<string, Measured> {
  const tun = results.get('tunnel')!;
  const dir = results.get('direct')!;
  const p50 = (xs: number[]) => median(xs);
  const rps = (r: RoundResult) => (r.c32.reqs / r.c32.ms) * 1000;
  const hop = (r: RoundResult) => (r.c32.cpuUs.relay ?? NaN) + (r.c32.cpuUs.companion ?? NaN);
  const cpus = tun.map(hop);
  const out: Record<string, Measured> = {
    cpu: { value: median(cpus), shown: `${f(median(cpus), 0)} µs (relay ${f(median(tun.map((r) => r.c32.cpuUs.relay!)), 0)} + companion ${f(median(tun.map((r) => r.c32.cpuUs.companion!)), 0)})`, beside: `rounds: ${cpus.map((c) => f(c, 0)).join(', ')}` },
  };
  const ssh = results.get('ssh -R');
  if (!ssh) {
    const why = `not measured: no ssh -R in this run (${sshSkipped ?? 'skipped'})`;
    return { ...out, addedP50: { notMeasured: why }, c32: { notMeasured: why }, mb5: { notMeasured: why } };
  }
  const sshCpu = median(ssh.map((r) => (r.c32.cpuUs.sshd ?? NaN) + (r.c32.cpuUs.ssh ?? NaN)));
  const cpu = out.cpu as { value: number; shown: string; beside: string };
  out.cpu = { ...cpu, beside: `${cpu.beside}; ssh + sshd ${f(sshCpu, 0)} µs` };
  const per = (fn: (i: number) => number) => Array.from({ length: rounds }, (_, i) => fn(i));
  const addT = per((i) => p50(tun[i]!.seq2k) - p50(dir[i]!.seq2k));
  const addS = per((i) => p50(ssh[i]!.seq2k) - p50(dir[i]!.seq2k));
  const added = median(per((i) => addT[i]! / addS[i]!));
  const c32 = median(per((i) => rps(tun[i]!) / rps(ssh[i]!)));
  const mb5 = median(per((i) => median(tun[i]!.mbps5m) / median(ssh[i]!.mbps5m)));
  out.addedP50 = { value: added, shown: `${f(added, 2)}x (+${f(median(addT), 3)} vs +${f(median(addS), 3)} ms)`, beside: `${rounds} rounds` };
  out.c32 = { value: c32, shown: `${f(c32, 2)}x (${f(median(tun.map(rps)), 0)} vs ${f(median(ssh.map(rps)), 0)} req/s)`, beside: `direct ${f(median(dir.map(rps)), 0)} req/s` };
  out.mb5 = { value: mb5, shown: `${f(mb5, 2)}x (${f(median(tun.flatMap((r) => r.mbps5m)), 0)} vs ${f(median(ssh.flatMap((r) => r.mbps5m)), 0)} MB/s)`, beside: '' };
  return out;
}

async function get(t: Target, size: BodySize, d: Dispatcher): Promise<number> {
  const res = await request(`${t.base}/api/bench/${size}?key=${t.key}`, { headers: t.headers, dispatcher: d });
  let n = 0;
  for await (const chunk of res.body) n += (chunk as Buffer).length;
  if (res.statusCode !== 200 || n !== t.expect[size]) throw new Error(`${t.name}: ${size} answered ${res.statusCode} with ${n} bytes, expected ${t.expect[size]}`);
  return n;
}

async function until(what: string, ms: number, fn: () => Promise<boolean>): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function cpuOf(procs: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = { client: process.cpuUsage().user + process.cpuUsage().system };
  for (const [k, pid] of Object.entries(procs)) out[k] = cpuUs(pid);
  return out;
}
function cpuDelta(a: Record<string, number>, b: Record<string, number>, per: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(a)) out[k] = ((b[k] ?? 0) - (a[k] ?? 0)) / per;
  return out;
}

/** Time for the last target's after-effects (collections in the client, the plugin and the bins, socket buffers) to pass. */
const SETTLE_MS = 300;
/** The bench client's own collector (made on first use: the flag changes this process's V8 for good). */
let collect: (() => void) | null | undefined;
/** Between two targets: the client's garbage is collected now, not in the next target's time, and the dust settles. */
async function settle(): Promise<void> {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  collect?.();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
}

async function round(t: Target, plan: Plan, deadline: number): Promise<RoundResult> {
  const check = () => { if (performance.now() > deadline) throw new Error(`bench exceeded ${TIME_LIMIT_MS} ms`); };
  for (let i = 0; i < plan.warmup; i++) await get(t, '2k', t.seq);
  const seq2k: number[] = [];
  const c0 = cpuOf(t.procs);
  for (let i = 0; i < plan.seq2k; i++) {
    check();
    const t0 = performance.now();
    await get(t, '2k', t.seq);
    seq2k.push(performance.now() - t0);
  }
  const seqCpuUs = cpuDelta(c0, cpuOf(t.procs), plan.seq2k);
  const seq64k: number[] = [];
  for (let i = 0; i < plan.seq64k; i++) {
    check();
    const t0 = performance.now();
    await get(t, '64k', t.seq);
    seq64k.push(performance.now() - t0);
  }
  const mbps5m: number[] = [];
  const m0 = cpuOf(t.procs);
  const faults = () => Object.fromEntries(Object.entries(t.procs).map(([k, pid]) => [k, minorFaults(pid)]));
  const g0 = faults();
  let mib = 0;
  for (let i = 0; i < plan.streams5m; i++) {
    check();
    const t0 = performance.now();
    const n = await get(t, '5m', t.seq);
    mbps5m.push(n / 1e6 / ((performance.now() - t0) / 1000));
    mib += n / 1024 / 1024;
  }
  const cpu5m = cpuDelta(m0, cpuOf(t.procs), mib);
  const faults5m = cpuDelta(g0, faults(), mib);
  delete faults5m.client;
  // c=32: `concurrency` callers, each sending its next request as soon as the last is answered.
  let reqs = 0;
  const p0 = cpuOf(t.procs);
  const t0 = performance.now();
  const stopAt = t0 + plan.c32Ms;
  await Promise.all(Array.from({ length: plan.concurrency }, async () => {
    while (performance.now() < stopAt && reqs < plan.c32MaxRequests) {
      await get(t, '2k', t.pool);
      reqs++;
    }
  }));
  const ms = performance.now() - t0;
  return { seq2k, seq64k, mbps5m, cpu5m, faults5m, c32: { reqs, ms, cpuUs: cpuDelta(p0, cpuOf(t.procs), Math.max(reqs, 1)) }, seqCpuUs };
}

/** sshd on a loopback port with throwaway keys, and `ssh -R` forwarding a loopback port on it to the plugin. */
async function startSsh(dir: string, pluginPort: number): Promise<{ sshd: Started; ssh: Started; port: number } | { skipped: string }> {
  if (!existsSync(SSHD) || !existsSync('/usr/bin/ssh')) return { skipped: 'openssh-server/openssh-client not installed (.ci/run installs them)' };
  try {
    // sshd insists on its privilege-separation directory.
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  } catch (e) {
    return { skipped: `cannot create /run/sshd: ${(e as Error).message}` };
  }
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_ed25519')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_ed25519')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_ed25519.pub')), { mode: 0o600 });
  const sshPort = await freePort();
  const fwdPort = await freePort();
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${sshPort}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_ed25519')}`, `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PubkeyAuthentication yes', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password',
    'AllowTcpForwarding remote', 'GatewayPorts no', 'X11Forwarding no', 'PermitTTY no', 'LogLevel ERROR', '',
  ].join('\n'));
  const sshd = startLogged(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], join(dir, 'sshd.log'));
  await until('sshd listening', 10_000, () => new Promise((r) => {
    const s = net.connect(sshPort, '127.0.0.1', () => { s.destroy(); r(true); });
    s.on('error', () => r(false));
  }));
  const ssh = startLogged('/usr/bin/ssh', [
    '-N', '-F', '/dev/null', '-i', join(dir, 'client_ed25519'), '-p', String(sshPort),
    '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
    '-o', 'ExitOnForwardFailure=yes', '-o', 'ServerAliveInterval=15',
    '-R', `127.0.0.1:${fwdPort}:127.0.0.1:${pluginPort}`, `${userInfo().username}@127.0.0.1`,
  ], join(dir, 'ssh.log'));
  return { sshd, ssh, port: fwdPort };
}

export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  const only5m = opts.set?.only === '5m';
  const plan = only5m ? ONLY_5M : opts.quick ? QUICK : PLAN;
  const rounds = opts.rounds ?? (opts.quick ? 2 : 5);
  const deadline = performance.now() + TIME_LIMIT_MS;
  const dir = mkdtempSync(join(tmpdir(), 'evva-bench-'));
  const started: Started[] = [];
  const dispatchers: Dispatcher[] = [];
  const node = process.execPath;
  // --set prof=1: CPU profiles of the relay and the companion (written on exit into the kept temp dir).
  // --set gc=1: V8's --trace-gc into each bin's log, and the collections of each bin counted under the 5 MiB table.
  // --set perfmap=1: V8 writes /tmp/perf-<pid>.map, so `perf record -p <pid>` names the bins' JavaScript (CPU time, kernel included).
  const prof = [
    ...(opts.set?.prof ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profiles')}`] : []),
    ...(opts.set?.gc ? ['--trace-gc'] : []),
    ...(opts.set?.perfmap ? ['--perf-basic-prof-only-functions'] : []),
  ];
  const notes: string[] = [];
  try {
    const plugin = startLogged(node, ['--import', 'tsx', join(ROOT, 'bench', '_plugin.ts')], join(dir, 'plugin.log'));
    started.push(plugin);
    const pluginUrl = (await plugin.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;

    /** Relay + companion bins of checkout `root`, paired, the companion on the plugin. */
    const startTunnelPair = async (root: string, tag: string) => {
      const bin = (b: string) => join(root, 'bin', b);
      const relayDir = join(dir, `relay${tag}`);
      const relay = startLogged(node, [...prof, bin('evva-relay.js'), 'serve', '--port', '0', '--data-dir', relayDir, '--api-key', API_KEY], join(dir, `relay${tag}.log`));
      started.push(relay);
      const relayUrl = (await relay.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;
      const venue = JSON.parse(execFileSync(node, [bin('evva-relay.js'), 'venue', 'add', 'Bench', '--json', '--data-dir', relayDir], { encoding: 'utf8' })) as { venueId: string; pairingCode: string };
      const companionDir = join(dir, `companion${tag}`);
      execFileSync(node, [bin('evva-companion.js'), 'pair', venue.pairingCode, '--relay-url', relayUrl, '--data-dir', companionDir], { encoding: 'utf8' });
      const companion = startLogged(node, [...prof, bin('evva-companion.js'), 'run', '--data-dir', companionDir, '--front-url', pluginUrl, '--api-port', String(await freePort())], join(dir, `companion${tag}.log`));
      started.push(companion);
      return { relay, companion, venueBase: `${relayUrl}/v1/venues/${venue.venueId}/front` };
    };
    const main = await startTunnelPair(ROOT, '');
    const { relay, companion } = main;
    // --set baseline=DIR: the same bins from another checkout (e.g. `git worktree add DIR <commit>` with node_modules), as one more target in the same rounds.
    const baselineDir = opts.set?.baseline;
    const baseline = baselineDir ? await startTunnelPair(resolve(baselineDir), '-baseline') : null;

    const pluginPort = Number(new URL(pluginUrl).port);
    const ssh = await startSsh(dir, pluginPort);
    if ('skipped' in ssh) notes.push(`ssh -R skipped: ${ssh.skipped}`);
    else started.push(ssh.sshd, ssh.ssh);

    // Direct and ssh callers log in themselves, as EVVA would through a forwarded port.
    const login = JSON.parse(await (await request(`${pluginUrl}/api/login/bench`)).body.text()) as string;
    const mk = (name: TargetName, base: string, key: string, headers: Record<string, string>, procs: Record<string, number>): Target => {
      const seq = new Agent({ connections: 1, keepAliveTimeout: 60_000 });
      const pool = new Pool(new URL(base).origin, { connections: plan.concurrency, keepAliveTimeout: 60_000, pipelining: 1 });
      dispatchers.push(seq, pool);
      const expect = {} as Record<BodySize, number>;
      for (const s of Object.keys(BODY_SIZES) as BodySize[]) expect[s] = 0;
      return { name, base, key, headers, procs, seq, pool, expect };
    };
    const targets: Target[] = [
      mk('direct', pluginUrl, login, {}, { plugin: plugin.pid }),
      mk('tunnel', main.venueBase, 'caller-key-dropped', { authorization: `Bearer ${API_KEY}` }, { relay: relay.pid, companion: companion.pid, plugin: plugin.pid }),
    ];
    if (baseline) {
      targets.push(mk(`tunnel@${opts.set?.label ?? 'baseline'}`, baseline.venueBase, 'caller-key-dropped', { authorization: `Bearer ${API_KEY}` },
        { relay: baseline.relay.pid, companion: baseline.companion.pid, plugin: plugin.pid }));
    }
    if (!('skipped' in ssh)) targets.push(mk('ssh -R', `http://127.0.0.1:${ssh.port}`, login, {}, { sshd: ssh.sshd.pid, ssh: ssh.ssh.pid, plugin: plugin.pid }));

    // Learn each path's answer lengths once (the tunnel's answers carry the relay's links) and check them.
    for (const t of targets) {
      await until(`${t.name} answering`, 30_000, async () => {
        const r = await request(`${t.base}/api/bench/2k?key=${t.key}`, { headers: t.headers, dispatcher: t.seq });
        await r.body.dump();
        return r.statusCode === 200;
      });
      for (const s of Object.keys(BODY_SIZES) as BodySize[]) {
        const r = await request(`${t.base}/api/bench/${s}?key=${t.key}`, { headers: t.headers, dispatcher: t.seq });
        const text = await r.body.text();
        if (t.name.startsWith('tunnel') && (text.includes(pluginUrl) || !text.includes('/front/api/orders/'))) throw new Error(`${t.name}: answer not rewritten`);
        t.expect[s] = Buffer.byteLength(text);
      }
    }

    // One unmeasured round first: the relay and companion are JIT-compiled under load before anything counts.
    for (const t of targets) await round(t, plan, deadline);
    if (opts.progress) opts.progress('warm-up round done');
    const results = new Map<TargetName, RoundResult[]>(targets.map((t) => [t.name, []]));
    for (let r = 0; r < rounds; r++) {
      // Each target follows each other one equally often (balancedOrder), and starts after the previous
      // one's after-effects have settled: the target run after another pays for its load otherwise.
      for (const i of balancedOrder(targets.length, r)) {
        const t = targets[i]!;
        await settle();
        results.get(t.name)!.push(await round(t, plan, deadline));
      }
      if (opts.progress) opts.progress(`round ${r + 1}/${rounds} done`);
    }
    // Idle: no calls for IDLE_MS; what the relay and the companion cost just holding the tunnel (heartbeats, plugin checks).
    const idlePids: Record<string, number> = { relay: relay.pid, companion: companion.pid };
    const i0 = Object.fromEntries(Object.entries(idlePids).map(([k, pid]) => [k, cpuUs(pid)]));
    if (!only5m) await new Promise((r) => setTimeout(r, IDLE_MS));
    const idleCpu = Object.fromEntries(Object.entries(idlePids).map(([k, pid]) => [k, ((cpuUs(pid) - i0[k]!) / (IDLE_MS * 1000)) * 100]));
    const rss = Object.fromEntries(Object.entries({
      plugin: plugin.pid, relay: relay.pid, companion: companion.pid,
      ...(baseline ? { 'relay@baseline': baseline.relay.pid, 'companion@baseline': baseline.companion.pid } : {}),
      ...('skipped' in ssh ? {} : { sshd: ssh.sshd.pid, ssh: ssh.ssh.pid }),
    })
      .map(([k, pid]) => [k, rssMb(pid)]));

    // System calls per request of each process on each path, counted by strace (slow under strace: counts only, no times).
    const syscalls = new Map<TargetName, Record<string, SyscallCounts>>();
    if (opts.set?.strace !== '0' && !only5m) {
      if (!existsSync(STRACE)) notes.push('syscall counts skipped: strace is not installed (apt-get install strace)');
      else {
        for (const t of targets) {
          const pids = Object.fromEntries(Object.entries(t.procs).filter(([k]) => k !== 'plugin'));
          if (Object.keys(pids).length === 0) continue;
          let sent = 0;
          syscalls.set(t.name, await countSyscalls(pids, dir, async () => {
            await Promise.all(Array.from({ length: plan.concurrency }, async () => {
              while (sent < STRACE_REQUESTS && performance.now() < deadline) { sent++; await get(t, '2k', t.pool); }
            }));
          }));
          if (opts.progress) opts.progress(`syscalls counted for ${t.name}`);
        }
      }
    }

    // ---- tables --------------------------------------------------------------
    const summary = targets.map((t) => {
      const rs = results.get(t.name)!;
      const s2 = rs.flatMap((x) => x.seq2k).sort((a, b) => a - b);
      const s64 = rs.flatMap((x) => x.seq64k).sort((a, b) => a - b);
      const procs = Object.keys(rs[0]!.c32.cpuUs);
      return {
        name: t.name,
        p50: pct(s2, 50), p99: pct(s2, 99), p50_64k: pct(s64, 50), p99_64k: pct(s64, 99),
        rps: median(rs.map((x) => (x.c32.reqs / x.c32.ms) * 1000)),
        mbps: median(rs.flatMap((x) => x.mbps5m)),
        cpuC32: Object.fromEntries(procs.map((p) => [p, median(rs.map((x) => x.c32.cpuUs[p]!))])),
        cpuSeq: Object.fromEntries(procs.map((p) => [p, median(rs.map((x) => x.seqCpuUs[p]!))])),
      };
    });
    const direct = summary[0]!;
    const lat: BenchTable = {
      title: `Latency and throughput, ${rounds} rounds alternating (2.4 KB: ${plan.seq2k}×${rounds} sequential; 64 KiB: ${plan.seq64k}×${rounds}; c=${plan.concurrency} for ${plan.c32Ms} ms per round; 5 MiB: ${plan.streams5m}×${rounds})`,
      columns: ['path', '2.4 KB p50 ms', 'added', '2.4 KB p99 ms', 'added', `req/s c=${plan.concurrency}`, 'vs direct', '64 KiB p50 ms', '64 KiB p99 ms', '5 MiB MB/s', 'vs direct'],
      rows: summary.map((s) => [
        s.name, f(s.p50, 3), s === direct ? '' : signed(s.p50 - direct.p50, 3), f(s.p99, 2), s === direct ? '' : signed(s.p99 - direct.p99, 2),
        f(s.rps, 0), `${f(s.rps / direct.rps, 2)}x`, f(s.p50_64k, 2), f(s.p99_64k, 2), f(s.mbps, 0), `${f(s.mbps / direct.mbps, 2)}x`,
      ]),
    };
    const cpu: BenchTable = {
      title: 'CPU µs per 2.4 KB request, each process on the path (median over rounds; c=32 phase, and sequential in brackets)',
      columns: ['path', 'relay', 'companion', 'sshd', 'ssh', 'plugin', 'bench client', 'path total (excl. client, plugin)'],
      rows: summary.map((s) => {
        const c = (p: string) => (s.cpuC32[p] === undefined ? '' : `${f(s.cpuC32[p]!, 0)} (${f(s.cpuSeq[p]!, 0)})`);
        const hop = ['relay', 'companion', 'sshd', 'ssh'].reduce((a, p) => a + (s.cpuC32[p] ?? 0), 0);
        return [s.name, c('relay'), c('companion'), c('sshd'), c('ssh'), c('plugin'), c('client'), f(hop, 0)];
      }),
      notes: ['CPU from /proc/<pid>/stat (utime+stime, 10 ms ticks) of each process and its children, sampled around each phase.'],
    };
    const mem: BenchTable = {
      title: `Resident memory after the run (MB; peak in brackets), and CPU while idle for ${IDLE_MS / 1000} s at the end`,
      columns: ['process', 'RSS MB', 'idle CPU % of a core'],
      rows: Object.entries(rss).map(([k, v]) => [k, `${f(v.rss, 0)} (${f(v.peak, 0)})`, idleCpu[k] === undefined ? '' : f(idleCpu[k]!, 2)]),
      notes: [
        `node ${process.version}, ${(await import('node:os')).cpus().length} cores (${(await import('node:os')).cpus()[0]?.model ?? '?'}), load average at the end ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`,
        'relay and companion: the real bins (bin/evva-relay.js serve, bin/evva-companion.js run) with their default logging to files; ssh: OpenSSH defaults (cipher negotiated by client and server).',
        ...notes,
      ],
    };
    const kinds: Array<[string, string[]]> = [
      ['read', ['read', 'readv', 'recvfrom', 'recvmsg']], ['write', ['write', 'writev', 'sendto', 'sendmsg']],
      ['epoll_wait', ['epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'poll', 'ppoll', 'select', 'pselect6']],
    ];
    const sys: BenchTable = {
      title: `System calls per 2.4 KB request (strace -c -f, ${STRACE_REQUESTS} requests at c=${plan.concurrency}, after the rounds)`,
      columns: ['path', 'process', 'reads', 'writes', 'epoll waits', 'other', 'all', 'largest others'],
      rows: [...syscalls].flatMap(([name, per]) => Object.entries(per).map(([proc, c]) => {
        const of = (names: string[]) => names.reduce((a, n) => a + (c.calls[n] ?? 0), 0);
        const known = new Set(kinds.flatMap(([, n]) => n));
        const other = Object.entries(c.calls).filter(([n]) => !known.has(n)).sort((a, b) => b[1] - a[1]);
        const per1 = (n: number) => f(n / STRACE_REQUESTS, 2);
        return [name, proc, ...kinds.map(([, n]) => per1(of(n))), per1(other.reduce((a, [, n]) => a + n, 0)), per1(c.total),
          other.slice(0, 3).map(([n, k]) => `${n} ${per1(k)}`).join(', ')];
      })),
      notes: ['Counted while the path served the requests; includes every thread (libuv pool, V8) and the idle work in that time (heartbeats, plugin checks).'],
    };
    // One big stream: MB/s, time to last byte and CPU per MiB of each process, and each tunnel against ssh -R and
    // against the baseline checkout round by round (a ratio within a round, then the median: a noisy round moves both sides).
    const sshRounds = results.get('ssh -R');
    const baseName = targets.find((t) => t.name.startsWith('tunnel@'))?.name;
    const baseRounds = baseName ? results.get(baseName) : undefined;
    const procs5m = ['relay', 'companion', 'sshd', 'ssh', 'plugin', 'client'];
    const hop5m = (r: RoundResult) => ['relay', 'companion', 'sshd', 'ssh'].reduce((a, p) => a + (r.cpu5m[p] ?? 0), 0);
    const perRound = (rs: RoundResult[], other: RoundResult[] | undefined, fn: (r: RoundResult) => number) =>
      (other ? median(rs.map((x, i) => fn(x) / fn(other[i]!))) : NaN);
    const big: BenchTable = {
      title: `One 5 MiB answer at a time (${plan.streams5m} per round × ${rounds} rounds): throughput, CPU µs per MiB of each process (medians over rounds), and ratios within each round (median over rounds)`,
      columns: ['path', 'MB/s', 'ms per answer', ...(sshRounds ? ['MB/s vs ssh -R'] : []), ...(baseRounds ? [`MB/s vs ${baseName}`, `path CPU vs ${baseName}`] : []),
        ...procs5m.map((p) => (p === 'client' ? 'bench client' : p)), 'path total (excl. client, plugin)'],
      rows: targets.map((t) => {
        const rs = results.get(t.name)!;
        const mbps = median(rs.flatMap((x) => x.mbps5m));
        const mb = (r: RoundResult) => median(r.mbps5m);
        const c = (p: string) => (rs[0]!.cpu5m[p] === undefined ? NaN : median(rs.map((x) => x.cpu5m[p]!)));
        const tunnelish = t.name.startsWith('tunnel');
        return [t.name, f(mbps, 0), f(t.expect['5m'] / 1e3 / mbps, 1),
          ...(sshRounds ? [t.name === 'ssh -R' ? '' : `${f(perRound(rs, sshRounds, mb), 2)}x`] : []),
          ...(baseRounds ? (tunnelish && t.name !== baseName ? [`${f(perRound(rs, baseRounds, mb), 2)}x`, `${f(perRound(rs, baseRounds, hop5m), 2)}x`] : ['', '']) : []),
          ...procs5m.map((p) => (Number.isNaN(c(p)) ? '' : f(c(p), 0))), t.name === 'direct' ? '' : f(median(rs.map(hop5m)), 0)];
      }),
      notes: [`ms per answer from the median MB/s. CPU from /proc/<pid>/stat (10 ms ticks) around the ${plan.streams5m} answers of a round, over the MiB they carried; load average now ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}.`,
        `Minor page faults per MiB (median over rounds; one per 4 KiB page touched afresh, 256 per MiB if every byte lands on new memory): ${targets.filter((t) => t.name.startsWith('tunnel')).map((t) => {
          const rs = results.get(t.name)!;
          return `${t.name} relay ${f(median(rs.map((x) => x.faults5m.relay!)), 0)}, companion ${f(median(rs.map((x) => x.faults5m.companion!)), 0)}`;
        }).join('; ')}.`,
        ...(opts.set?.gc ? [`Collections over the whole run (--trace-gc, every isolate of the process): ${started.filter((p) => /(relay|companion)[^/]*\.log$/.test(p.log)).map((p) => {
          const text = readFileSync(p.log, 'utf8');
          const count = (re: RegExp) => text.match(re)?.length ?? 0;
          return `${p.log.split('/').pop()!.replace(/\.log$/, '')} ${count(/: Scavenge /g)} scavenges, ${count(/: Mark-Compact/g)} mark-compacts`;
        }).join('; ')}.`] : [])],
    };
    const tables = only5m ? [big] : [lat, cpu, big, mem, ...(syscalls.size ? [sys] : [])];
    const judgedNow = judged(results, rounds, 'skipped' in ssh ? ssh.skipped : null);
    if (only5m) for (const k of ['addedP50', 'c32', 'cpu']) judgedNow[k] = { notMeasured: 'not measured: --set only=5m ran the 5 MiB phase alone' };
    return { tables, targets: judgedNow, data: { plan, rounds, summary, rss, idleCpu, syscalls: Object.fromEntries(syscalls), loadavg: (await import('node:os')).loadavg(), raw: Object.fromEntries(results) } };
  } finally {
    await Promise.all(dispatchers.map((d) => d.close().catch(() => undefined)));
    await Promise.all(started.reverse().map((s) => s.stop()));
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else console.error(`bench files kept in ${dir}`);
  }
}
