/**
 * The sim's composition root: builds the world from the seed, the sessions,
 * the faults and the automatic day, and serves them on loopback. Nothing in
 * sim/ is a module-level singleton, so a test can run several sims at once.
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { actions } from './actions.ts';
import type { Actions } from './actions.ts';
import { apiReply, message } from './api.ts';
import { Sessions } from './auth.ts';
import { handleControl } from './control.ts';
import type { ControlHost, SimConfig, SimState } from './control.ts';
import { Day } from './day.ts';
import { FAULT_HTML_PAGE, FaultState, breakJson } from './faults.ts';
import type { Faults } from './faults.ts';
import { baseUrl, send } from './http.ts';
import { rootPage } from './page.ts';
import { Rng } from './random.ts';
import { kitchenOrders } from './render.ts';
import type { View } from './render.ts';
import { SEED_SPAN_MIN, seedWorld } from './seed.ts';
import { SimClock } from './time.ts';
import { World } from './world.ts';

export type { Faults } from './faults.ts';
export type { SimConfig, SimState } from './control.ts';
export type { Actions } from './actions.ts';
export { World, SimError } from './world.ts';

export const DEFAULT_VERSION = '7.4.6012.0';
export const DEFAULT_TOKEN_TTL_MS = 30 * 60_000;
export const DEFAULT_LICENCE_SLOTS = 2;
/** Moscow time, the POS's zone unless told otherwise. */
export const DEFAULT_UTC_OFFSET_MIN = 180;

export interface SimOptions {
  /** 0 = ephemeral (the default here; the CLI defaults to 9042). */
  port?: number;
  /** Default 127.0.0.1. The control API rides on this port too: keep it on loopback. */
  host?: string;
  seed?: number;
  /** Restaurant time and automatic activity multiplier, default 1. */
  speed?: number;
  /** Automatic restaurant activity, default true. */
  auto?: boolean;
  /** Simulated plugin version, default 7.4.6012.0. */
  version?: string;
  /** Token lifetime, absolute from login (use does not extend it). Default 30 min. */
  tokenTtlMs?: number;
  /** Concurrent live tokens allowed, default 2. */
  licenceSlots?: number;
  /** A separate listener for /_sim/ only, which stays up while the main port is stopped. 0 = ephemeral. */
  controlPort?: number;
  log?: (line: string) => void;
  /** Show `Code` on payment types (a guess of ours), default true. false exercises the name-only EVVA rule. */
  paymentCodes?: boolean;
  /** The restaurant's "now" at start (ISO string or epoch ms); default the wall clock. Fix it for byte-identical worlds. */
  start?: string | number;
  /** Offset the plugin shows times in, minutes east of UTC; default 180 (+03:00). */
  utcOffsetMinutes?: number;
  /** Wall clock, for tests; default Date.now. */
  now?: () => number;
  /** Menu group levels at most (deeper groups are folded up); default the seed's full four. */
  menuLevels?: number;
  /** EVVA's payment type (default name EVVA, code EVVAP); null: the venue has none. */
  evvaPayment?: { name: string; code: string } | null;
}

export interface Sim {
  /** e.g. http://127.0.0.1:40123 (main port). */
  url: string;
  port: number;
  /** = url unless controlPort was given. */
  controlUrl: string;
  /** Live (unexpired, not logged out) tokens. */
  liveTokens(): number;
  /** Successful logins so far. */
  logins(): number;
  /** Closes the main port and destroys open sockets, like the plugin host crashing. */
  stopListening(): Promise<void>;
  /** Listens again on the same port. */
  startListening(): Promise<void>;
  /** Plugin restart: every token is dropped, so clients get 401 and must log in again. */
  restart(): Promise<void>;
  setFaults(f: Partial<Faults>): void;
  clearFaults(): void;
  /** Stops everything: listeners, sockets, the day's timer. Idempotent. */
  close(): Promise<void>;

  /** Current faults. */
  faults(): Faults;
  /** The summary GET /_sim/state answers. */
  state(): SimState;
  /** Turns automatic activity on or off. */
  setAuto(on: boolean): void;
  /** Makes `count` automatic events happen now (deterministic from the seed); returns what happened. */
  tick(count?: number): string[];
  /** Changes token lifetime (new tokens), licence slots, payment codes, speed. */
  configure(c: Partial<SimConfig>): void;
  /** The control API's operations, in process; records are rendered with links to `url`. */
  act: Actions;
  /** The sim's own model, for tests that need to look or reach inside. Changes through it bypass the rules. */
  world: World;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`evva-sim: ${what}`);
}

export async function startSim(opts: SimOptions = {}): Promise<Sim> {
  const host = opts.host ?? '127.0.0.1';
  const seed = opts.seed ?? 1;
  const speed = opts.speed ?? 1;
  const version = opts.version ?? DEFAULT_VERSION;
  const log = opts.log ?? (() => {});
  const wall = opts.now ?? Date.now;
  const wantPort = opts.port ?? 0;
  check(Number.isInteger(wantPort) && wantPort >= 0 && wantPort <= 65535, `port must be 0..65535, got ${opts.port}`);
  check(opts.controlPort === undefined || (Number.isInteger(opts.controlPort) && opts.controlPort >= 0 && opts.controlPort <= 65535), `controlPort must be 0..65535, got ${opts.controlPort}`);
  check(Number.isFinite(seed), `seed must be a number, got ${opts.seed}`);
  check(Number.isFinite(speed) && speed > 0, `speed must be above 0, got ${opts.speed}`);
  check(version.length > 0 && !/[\r\n]/.test(version), 'version must be a non-empty single line');
  const start = opts.start === undefined ? wall() : typeof opts.start === 'number' ? opts.start : Date.parse(opts.start);
  check(Number.isFinite(start), `start must be an ISO date-time or epoch ms, got ${String(opts.start)}`);
  const config: SimConfig = {
    tokenTtlMs: opts.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS,
    licenceSlots: opts.licenceSlots ?? DEFAULT_LICENCE_SLOTS,
    paymentCodes: opts.paymentCodes ?? true,
    speed,
  };
  check(config.tokenTtlMs > 0, 'tokenTtlMs must be above 0');
  check(Number.isInteger(config.licenceSlots) && config.licenceSlots >= 0, 'licenceSlots must be a whole number >= 0');

  // The world, built with restaurant time held so the seed alone decides it.
  const clock = new SimClock(wall, start - SEED_SPAN_MIN * 60_000, speed, opts.utcOffsetMinutes ?? DEFAULT_UTC_OFFSET_MIN);
  clock.hold();
  let seeding = true; // the seeded morning is not news: log only what happens after start
  const world = new World(Rng.derive(seed, 'world'), clock, (line) => { if (!seeding) log(line); });
  check(opts.menuLevels === undefined || (Number.isInteger(opts.menuLevels) && opts.menuLevels >= 1), `menuLevels must be a whole number >= 1, got ${opts.menuLevels}`);
  seedWorld(world, { menuLevels: opts.menuLevels, evvaPayment: opts.evvaPayment });
  seeding = false;
  clock.release();

  const sessions = new Sessions(wall, config.tokenTtlMs, config.licenceSlots);
  const faults = new FaultState(seed);
  const day = new Day(world, seed, () => clock.speed);
  const apiCtx = { world, sessions, paymentCodes: () => config.paymentCodes };

  let port = wantPort;
  let main: http.Server | null = null;
  let control: http.Server | null = null;
  let closed = false;
  const sockets = new Map<Socket, http.Server>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
    return t;
  };
  const fmtHost = host.includes(':') ? `[${host}]` : host;
  const viewFor = (base: string): View => ({ world, base, paymentCodes: config.paymentCodes });

  async function serveApi(req: IncomingMessage, res: ServerResponse, url: URL, base: string): Promise<void> {
    const f = faults.get();
    if (f.reset) { req.socket.destroy(); return; }
    if (f.hang) return; // never answered; the socket goes when the client gives up or the port closes
    if (f.latencyMs > 0) await new Promise<void>((r) => later(r, f.latencyMs));
    if (res.destroyed || closed) return;
    if (faults.rollError()) return send(res, 500, JSON.stringify({ Message: 'An error has occurred.' }), 'application/json; charset=utf-8', version);
    const now = faults.get();
    if (now.html) return send(res, 200, FAULT_HTML_PAGE, 'text/html; charset=utf-8', version);
    const r = apiReply(apiCtx, req, url, base);
    if (now.malformed) return send(res, 200, breakJson(r.body), r.type, version);
    send(res, r.status, r.body, r.type, version);
  }

  function handler(onMain: boolean) {
    return (req: IncomingMessage, res: ServerResponse) => {
      const t0 = performance.now();
      // Session keys stay out of the log, as they must in any log of ours.
      const shown = (req.url ?? '').replace(/([?&]key=)[^&]*/gi, '$1***').replace(/(\/api\/logout\/)[^/?]+/i, '$1***');
      res.on('finish', () => log(`${req.method} ${shown} ${res.statusCode} ${Math.round(performance.now() - t0)}ms`));
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://sim.invalid');
      } catch {
        return send(res, 400, JSON.stringify({ Message: 'Bad request URL.' }), 'application/json; charset=utf-8', version);
      }
      const base = baseUrl(req, host, port);
      const path = url.pathname;
      const lower = path.toLowerCase();
      if (path === '/_sim' || path.startsWith('/_sim/')) {
        void handleControl(controlHost, req, res, url, base, onMain);
        return;
      }
      if (!onMain) return send(res, 404, JSON.stringify({ error: 'This port serves only /_sim/.' }), 'application/json; charset=utf-8', version);
      if (path === '/') {
        if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, JSON.stringify({ Message: 'Method not allowed.' }), 'application/json; charset=utf-8', version);
        return send(res, 200, rootPage(version), 'text/html; charset=utf-8', version);
      }
      if (lower === '/api' || lower.startsWith('/api/')) {
        serveApi(req, res, url, base).catch((e: unknown) => {
          const r = message(500, `An error has occurred: ${(e as Error).message}`);
          send(res, r.status, r.body, r.type, version);
        });
        return;
      }
      const r = message(404, `No HTTP resource was found that matches the request URI '${path}'.`);
      send(res, r.status, r.body, r.type, version);
    };
  }

  function listen(onMain: boolean, p: number): Promise<http.Server> {
    return new Promise((resolve, reject) => {
      // No Host header is not refused here: links then fall back to the listen address.
      const server = http.createServer({ requireHostHeader: false }, handler(onMain));
      server.on('connection', (s) => {
        sockets.set(s, server);
        s.on('close', () => sockets.delete(s));
      });
      server.on('clientError', (_e, s) => {
        if (s.writable) s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        else s.destroy();
      });
      const onError = (e: NodeJS.ErrnoException) => {
        reject(e.code === 'EADDRINUSE'
          ? new Error(`Port ${p} on ${host} is already in use: another program (or another sim) listens there.`)
          : e);
      };
      server.once('error', onError);
      server.listen(p, host, () => {
        server.off('error', onError);
        resolve(server);
      });
    });
  }

  function shut(server: http.Server | null): Promise<void> {
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      for (const [s, owner] of sockets) if (owner === server) s.destroy();
    });
  }

  async function stopListening(): Promise<void> {
    const s = main;
    main = null;
    await shut(s);
  }

  let starting: Promise<void> | null = null;
  /** Listens again on the same port; concurrent calls share one attempt. */
  function startListening(): Promise<void> {
    if (closed) return Promise.reject(new Error('evva-sim: closed; start a new sim'));
    if (main) return Promise.resolve();
    starting ??= listen(true, port)
      .then(async (server) => {
        if (closed) { await shut(server); return; }
        main = server;
      })
      .finally(() => { starting = null; });
    return starting;
  }

  function state(): SimState {
    const o = world.orders;
    return {
      version,
      listening: main !== null,
      auto: day.running,
      speed: clock.speed,
      now: clock.format(clock.now()),
      liveTokens: sessions.live(),
      logins: sessions.logins(),
      revision: world.revision,
      autoEvents: day.events(),
      config: { ...config },
      faults: faults.get(),
      counts: {
        orders: o.length,
        openOrders: o.filter((x) => world.isOpen(x)).length,
        closedOrders: o.filter((x) => x.status === 'Closed').length,
        deletedOrders: o.filter((x) => x.status === 'Deleted').length,
        deliveries: world.deliveries.length,
        kitchenOrders: kitchenOrders(world).length,
        users: world.staff.length,
        tables: world.tables.length,
        sections: world.sections.length,
        products: world.products.length,
        productGroups: world.groups.length,
      },
    };
  }

  function setAuto(on: boolean): void {
    if (closed) return;
    if (on) day.start();
    else day.stop();
  }

  function configure(c: Partial<SimConfig>): void {
    if (c.tokenTtlMs !== undefined) { config.tokenTtlMs = c.tokenTtlMs; sessions.ttlMs = c.tokenTtlMs; }
    if (c.licenceSlots !== undefined) { config.licenceSlots = c.licenceSlots; sessions.slots = c.licenceSlots; }
    if (c.paymentCodes !== undefined) config.paymentCodes = c.paymentCodes;
    if (c.speed !== undefined) {
      config.speed = c.speed;
      clock.setSpeed(c.speed);
      if (day.running) { day.stop(); day.start(); }
    }
  }

  const controlHost: ControlHost = {
    version,
    actionsFor: (base) => actions(world, () => viewFor(base)),
    state,
    setAuto,
    tick: (count) => {
      const out: string[] = [];
      for (let i = 0; i < count; i++) {
        const what = day.step();
        if (what !== null) out.push(what);
      }
      return out;
    },
    setFaults: (f) => faults.set(f),
    clearFaults: () => faults.clear(),
    restart: async () => {
      sessions.dropAll();
      log('plugin restarted: every token dropped');
    },
    stopListening,
    startListening,
    startAfter: (ms) => { later(() => { void startListening().catch((e: unknown) => log(`could not listen again: ${(e as Error).message}`)); }, ms); },
    configure,
    history: (after, limit) => {
      const h = world.history;
      // Entries are numbered 1, 2, ... without gaps, so the first one past `after` is found by index.
      const from = Math.max(0, after - world.historyDropped);
      const entries = h.slice(from, from + limit);
      return { entries, dropped: world.historyDropped, last: world.historyDropped + h.length };
    },
  };

  main = await listen(true, wantPort);
  port = (main.address() as AddressInfo).port;
  const url = `http://${fmtHost}:${port}`;
  let controlUrl = url;
  if (opts.controlPort !== undefined) {
    try {
      control = await listen(false, opts.controlPort);
    } catch (e) {
      await shut(main);
      throw e;
    }
    controlUrl = `http://${fmtHost}:${(control.address() as AddressInfo).port}`;
  }
  if (opts.auto ?? true) day.start();

  const sim: Sim = {
    url,
    port,
    controlUrl,
    liveTokens: () => sessions.live(),
    logins: () => sessions.logins(),
    stopListening,
    startListening,
    restart: controlHost.restart,
    setFaults: controlHost.setFaults,
    clearFaults: controlHost.clearFaults,
    async close() {
      if (closed) return;
      closed = true;
      day.stop();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const m = main, c = control;
      main = null;
      control = null;
      await Promise.all([shut(m), shut(c)]);
    },
    faults: () => faults.get(),
    state,
    setAuto,
    tick: controlHost.tick,
    configure,
    act: actions(world, () => viewFor(url)),
    world,
  };
  return sim;
}
