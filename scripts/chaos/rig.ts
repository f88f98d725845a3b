/**
 * The soak's rig: the sim on a busy day, the relay, the fault proxy on the
 * companion↔relay link, the companion and EVVA's receiver, all real and all
 * on 127.0.0.1, with the handles the faults and the checker need. `close()`
 * tears everything down, whatever state it is in.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../tests/helpers/proc.ts';
import { startTcpProxy, type TcpProxy } from '../../tests/helpers/tcp-proxy.ts';
import { check as checkFaketime, faketimeEnv, findLibfaketime, INSTALL, writeOffset } from './faketime.ts';
import { runBin, startBin, type Proc } from './procs.ts';
import { startReceiver, type Receiver } from './receiver.ts';

export const API_KEY = 'chaos-api-key-0123456789abcdef';
/** When a paid order still open counts as pending-close (feed.paymentCloseAfterMin), short so a soak sees it. */
export const CLOSE_AFTER_MS = 15_000;

export interface RigOptions {
  dir: string;
  seed: number;
  /** The sim's speed: 6 makes about 1.5 changes a second. */
  speed: number;
}

export interface Rig {
  simUrl: string;
  relayUrl: string;
  venueId: string;
  proxy: TcpProxy;
  receiver: Receiver;
  secret: string;
  relay(): Proc;
  companion(): Proc;
  startRelay(): Promise<void>;
  startCompanion(): Promise<void>;
  /** Moves the companion's wall clock forward by `ms` more (libfaketime, from outside the process: faketime.ts). */
  jumpClock(ms: number): void;
  clockOffset(): number;
  /** Calls the sim's control API; throws on a status ≥ 300 unless `ok` says otherwise. */
  sim<T = unknown>(method: string, p: string, body?: unknown, ok?: (status: number) => boolean): Promise<{ status: number; body: T }>;
  /** GET on the plugin API with a token of the rig's own. */
  plugin<T = unknown>(p: string): Promise<{ status: number; body: T }>;
  /** Calls the relay's venue API with the API key. */
  api<T = unknown>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

async function json<T>(res: Response): Promise<{ status: number; body: T }> {
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* keep the text */ }
  return { status: res.status, body: body as T };
}

/** Builds the rig; on any failure everything already started is torn down before the error is thrown. */
export async function startRig(o: RigOptions): Promise<Rig> {
  const logs = path.join(o.dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const relayDir = path.join(o.dir, 'relay');
  const companionDir = path.join(o.dir, 'companion');
  mkdirSync(relayDir, { recursive: true });
  mkdirSync(companionDir, { recursive: true });
  const secret = randomBytes(24).toString('hex');
  const secretFile = path.join(relayDir, 'webhook.secret');
  writeFileSync(secretFile, secret, { mode: 0o600 });
  // The companion's wall clock is moved from outside, by libfaketime; a machine where that does not work stops here.
  const lib = findLibfaketime();
  if (!lib) throw new Error(`the clock jumps need Debian's libfaketime, not found; install it once: ${INSTALL}`);
  const clockFile = path.join(o.dir, 'clock-offset');
  const clockEnv = faketimeEnv(lib, clockFile);
  const broken = checkFaketime(clockEnv);
  if (broken) throw new Error(`libfaketime (${lib}) cannot move the companion's clock here: ${broken}`);
  writeOffset(clockFile, 0);
  let offset = 0;

  const closers: Array<() => Promise<void>> = [];
  let sim: Proc | null = null;
  let relay: Proc | null = null;
  let companion: Proc | null = null;
  const close = async () => {
    for (const p of [companion, relay, sim]) await p?.stop('SIGKILL', 2_000).catch(() => {});
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const receiver = await startReceiver(secret);
    closers.push(() => receiver.close());
    // A companion killed with -9 never logs out: its token holds a licence slot, so the sim has many.
    sim = startBin('sim', 'evva-sim.js', ['--port', '0', '--seed', String(o.seed), '--speed', String(o.speed), '--licence-slots', '500', '--quiet'], logs);
    const simUrl = (await sim.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1] as string;
    const relayPort = await freePort();
    const relayUrl = `http://127.0.0.1:${relayPort}`;
    const startRelay = async () => {
      relay = startBin('relay', 'evva-relay.js', ['serve', '--port', String(relayPort), '--data-dir', relayDir,
        '--webhook-url', receiver.url, '--webhook-secret-file', secretFile, '--allow-loopback-webhooks'], logs, { EVVA_RELAY_API_KEYS: API_KEY });
      await relay.waitFor(/\{"listening":"[^"]+"\}/);
    };
    await startRelay();
    const proxy = await startTcpProxy(relayPort);
    closers.push(() => proxy.close());

    const api = async <T>(method: string, p: string, body?: unknown) => json<T>(await fetch(`${relayUrl}/v1/venues${p}`, {
      method, headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(20_000),
    }));
    const created = await api<{ venueId: string; pairingCode: string }>('POST', '', { name: 'Хаос' });
    if (created.status !== 201) throw new Error(`creating the venue: ${created.status} ${JSON.stringify(created.body)}`);
    // The companion reaches the relay only through the fault proxy: that is the address it pairs with.
    const paired = await runBin('evva-companion.js', ['pair', created.body.pairingCode, '--relay-url', proxy.url, '--data-dir', companionDir], logs);
    if (paired.code !== 0) throw new Error(`pairing failed (${paired.code}): ${paired.out}`);
    writeFileSync(path.join(companionDir, 'settings.json'), JSON.stringify({
      feed: { ordersIntervalMs: 1000, staffIntervalSec: 1, tablesIntervalSec: 5, paymentCloseAfterMin: CLOSE_AFTER_MS / 60_000 },
    }));
    // Only the companion runs under libfaketime: the sim, the relay and the receiver keep the machine's clock.
    const companionEnv: NodeJS.ProcessEnv = clockEnv;
    const startCompanion = async () => {
      companion = startBin('companion', 'evva-companion.js', ['run', '--data-dir', companionDir, '--front-url', simUrl, '--api-port', '0'], logs, companionEnv);
      await companion.waitFor(/Локальный API/, 60_000);
    };
    await startCompanion();

    const simCall = async <T>(method: string, p: string, body?: unknown, ok = (s: number) => s < 300) => {
      const r = await json<T>(await fetch(`${simUrl}/_sim/${p}`, {
        method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(20_000),
      }));
      if (!ok(r.status)) throw new Error(`sim ${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
      return r;
    };
    let token: string | null = null;
    const plugin = async <T>(p: string) => {
      // The rig's own session; faults apply to /api, so the caller retries when it must.
      token ??= JSON.parse(await (await fetch(`${simUrl}/api/login/2050`, { signal: AbortSignal.timeout(10_000) })).text()) as string;
      const r = await json<T>(await fetch(`${simUrl}${p}${p.includes('?') ? '&' : '?'}key=${encodeURIComponent(token)}`, { signal: AbortSignal.timeout(10_000) }));
      if (r.status === 401) token = null;
      return r;
    };
    return {
      simUrl, relayUrl, venueId: created.body.venueId, proxy, receiver, secret,
      relay: () => relay as Proc,
      companion: () => companion as Proc,
      startRelay, startCompanion,
      jumpClock(ms) { offset += ms; writeOffset(clockFile, offset); },
      clockOffset: () => offset,
      sim: simCall,
      plugin,
      api,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
