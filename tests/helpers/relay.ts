/**
 * Helpers for tunnel and relay tests: a relay on a loopback port with a temp
 * data dir, venues and pairing over its real HTTP API, and a small Upstream
 * over fetch (what the lead's plugin client does, minus its session rules).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { realClock } from '../../common/clock.ts';
import { FrontError } from '../../main/core/front/errors.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { startTunnel, type TunnelHandle, type TunnelOptions } from '../../main/core/tunnel/client.ts';
import { pair } from '../../main/core/tunnel/pair.ts';
import { TunnelError } from '../../main/core/tunnel/problems.ts';
import type { Problem } from '../../protocol/local.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../../main/core/upstream.ts';
import type { CreateVenueResponse } from '../../protocol/relay.ts';
import { createRelay, type Relay, type RelayOptions } from '../../relay/server.ts';

export const API_KEY = 'test-api-key-0123456789abcdef';
export const COMPANION = { version: '0.1.0-test', hostname: 'pos-test' };

/** A logger that prints nothing unless EVVA_TEST_LOG is set (then JSON lines on stderr). */
export function testLogger(name: string): Logger {
  if (!process.env.EVVA_TEST_LOG) return silentLogger;
  const make = (base: Record<string, unknown>): Logger => {
    const emit = (level: string) => (message: string, meta?: Record<string, unknown>) =>
      console.error(JSON.stringify({ t: new Date().toISOString(), level, name, message, ...base, ...meta }));
    return { error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug'), child: (m) => make({ ...base, ...m }) };
  };
  return make({});
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningRelay {
  relay: Relay;
  url: string;
  port: number;
  dataDir: string;
  close(): Promise<void>;
}

/** A relay plus an empty companion data dir, both torn down by the caller's `cleanups` list. */
export async function relayWithDataDir(cleanups: Array<() => Promise<void> | void>, opts: Partial<RelayOptions> & { port?: number } = {}): Promise<{ relay: RunningRelay; dataDir: string }> {
  const relay = await startRelay(opts);
  cleanups.push(() => relay.close());
  const d = tempDir('companion');
  cleanups.push(() => d.remove());
  return { relay, dataDir: d.dir };
}

/** A relay listening on 127.0.0.1 (port 0 = a free one). The data dir is kept when given (restart tests). */
export async function startRelay(opts: Partial<RelayOptions> & { port?: number } = {}): Promise<RunningRelay> {
  const own = opts.dataDir ? null : tempDir('relay');
  const dataDir = opts.dataDir ?? own!.dir;
  const relay = await createRelay({ apiKeys: [API_KEY], logger: testLogger('relay'), ...opts, dataDir });
  const url = await relay.listen(opts.port ?? 0, '127.0.0.1');
  return {
    relay, url, dataDir, port: Number(new URL(url).port),
    async close() {
      await relay.close();
      own?.remove();
    },
  };
}

/** POST /v1/venues with the API key. */
export async function createVenue(relayUrl: string, name = 'Test venue'): Promise<CreateVenueResponse> {
  const res = await fetch(`${relayUrl}/v1/venues`, {
    method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ name }),
  });
  if (res.status !== 201) throw new Error(`create venue: ${res.status} ${await res.text()}`);
  return (await res.json()) as CreateVenueResponse;
}

/** Creates a venue and pairs a device with it; returns the token as the companion stored it. */
export async function pairedVenue(relayUrl: string, dataDir: string): Promise<{ venueId: string; deviceToken: string }> {
  const v = await createVenue(relayUrl);
  await pair({ code: v.pairingCode, relayUrl, dataDir, companion: COMPANION });
  const { loadDevice } = await import('../../main/core/tunnel/pair.ts');
  const d = loadDevice(dataDir);
  if (!d) throw new Error('device.json missing after pairing');
  return { venueId: d.venueId, deviceToken: d.deviceToken };
}

/** Calls the venue API with the API key; the answer's body is read as text. */
export async function venueCall(relayUrl: string, venueId: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await fetch(`${relayUrl}/v1/venues/${venueId}/front${path}`, {
    method: init.method ?? 'GET', headers: { authorization: `Bearer ${API_KEY}`, ...init.headers }, body: init.body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
}

/**
 * An Upstream over fetch to `origin` that behaves like the companion's plugin
 * client where the tunnel can see it: it drops any caller `key` (query or
 * cookie), adds its own session (logged in once, `GET /api/login/2050`), and
 * streams both bodies.
 */
export function fetchUpstream(origin: string, opts: { login?: boolean } = {}): Upstream & { close(): Promise<void>; calls: number } {
  const dispatcher = new Agent({ connections: 32, keepAliveTimeout: 4_000 });
  let token: Promise<string> | null = null;
  const session = () => {
    token ??= fetch(`${origin}/api/login/2050`, { dispatcher }).then(async (r) => {
      if (r.status !== 200) throw new FrontError('unlicensed', `login ${r.status}`);
      return JSON.parse(await r.text()) as string;
    }).catch((e) => {
      token = null;
      throw e;
    });
    return token;
  };
  const up = {
    calls: 0,
    async forward(req: UpstreamRequest): Promise<UpstreamResponse> {
      up.calls++;
      const u = new URL(req.path, origin);
      u.searchParams.delete('key');
      if (opts.login !== false) u.searchParams.set('key', await session());
      const headers = { ...req.headers };
      delete headers['cookie'];
      let res;
      try {
        res = await fetch(u, {
          method: req.method, headers, signal: req.signal, dispatcher,
          ...(req.body ? { body: req.body as AsyncIterable<Uint8Array>, duplex: 'half' as const } : {}),
        });
      } catch (e) {
        if (req.signal.aborted) throw new FrontError('timeout', 'aborted', { cause: e });
        throw new FrontError('unreachable', String((e as Error).cause ?? e), { cause: e });
      }
      const h: Record<string, string> = {};
      res.headers.forEach((v, k) => { h[k] = v; });
      const body = res.body;
      return { status: res.status, headers: h, body: body ? (body as unknown as AsyncIterable<Uint8Array>) : null };
    },
    close: () => dispatcher.close(),
  };
  return up;
}

/** Starts a tunnel with test defaults (real clock, quiet logs) and the given overrides. */
export function tunnelFor(relayUrl: string, venue: { venueId: string; deviceToken: string }, upstream: Upstream,
  more: Partial<TunnelOptions> = {}): TunnelHandle {
  return startTunnel({
    relayUrl, deviceToken: venue.deviceToken, venueId: venue.venueId, upstream, companion: COMPANION,
    frontOrigin: null, clock: realClock, logger: testLogger('tunnel'), proxy: null, ...more,
  });
}

/** The Problem a pairing (or any TunnelError-throwing call) failed with; throws if it succeeded or failed otherwise. */
export async function problemOf(p: Promise<unknown>): Promise<Problem> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TunnelError) return e.problem;
    throw e;
  }
  throw new Error('expected a TunnelError');
}

/** Polls `cond` every `everyMs` until it is true; throws after `timeoutMs`. Returns the ms it took. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 20): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; ; i++) {
    if (await cond()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
    if (i > 1_000_000) throw new Error('waitFor: loop bound');
  }
}
