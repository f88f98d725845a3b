/**
 * The support console on the relay, in one mount: the page's files at
 * /console/, and its API at /console/api/ behind a session cookie.
 *
 * The door checks the origin rules and the session on every API call. The
 * console's own routes (relay/console/routes.ts) answer what only the console
 * asks; the support actions the relay's API already has (diagnostics, log
 * tail, bundle, a pairing code, revocation) are handed to that same API as
 * the signed-in key: the request's path is rewritten and the key, which never
 * left this process, is put in its Authorization header. So every rule of
 * those routes holds as it does for the CLI, and in a cluster they are
 * forwarded over the hop to the node holding the venue, audited under the
 * key's fingerprint there.
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import { sleep, type Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { SIGNIN_FAIL_DELAY_MS, SignInRequest, type SessionView } from '../../protocol/console.ts';
import type { Requester } from '../../protocol/diagnostics.ts';
import type { RelayStore } from '../db/store.ts';
import type { TunnelRegistry } from '../tunnels.ts';
import type { Webhooks } from '../webhooks.ts';
import { Faces } from './faces.ts';
import { clearedCookie, sameOrigin, sessionCookie, sessionCookieOf } from './guard.ts';
import { consoleRoutes, fail } from './routes.ts';
import { Sessions, type Caller } from './sessions.ts';

type Allowance = { ok: true } | { ok: false; retryAfterMs: number };

export interface ConsoleDeps {
  store: RelayStore;
  tunnels: TunnelRegistry;
  webhooks: Webhooks;
  clock: Clock;
  log: Logger;
  /** The relay's metrics registry (the sign-in counter joins it). */
  registry: Registry;
  /** The configured API keys: a session stands for one of them. */
  keys: string[];
  /** Sign-in limits: this process's own, or the cluster's shared ones. */
  limiter: { take(ip: string): Allowance | Promise<Allowance> };
  /** The caller's address as the relay trusts it (after its proxies). */
  client(req: IncomingMessage): string | null;
  /** Whether the caller reached the relay over https (the cookie is then Secure). */
  secure(req: IncomingMessage): boolean;
  publicUrl?: string | undefined;
  /** This node's name in a cluster; null on a single relay. */
  node: string | null;
}

export interface ConsoleMount {
  /** True when the request is the console's (it is then answered, or handed on to `next` as the signed-in key). */
  take(req: IncomingMessage, res: ServerResponse, next: (req: IncomingMessage, res: ServerResponse) => void): boolean;
  /** Audits a support action done through the relay's API (relay/support.ts calls it for the CLI's and the console's alike). */
  record(venueId: string, action: string, outcome: string, by: Requester): void;
  readonly faces: Faces;
  /** Before the relay listens: forgets this node's links from before a restart, starts judging. */
  start(): Promise<void>;
  stop(): void;
}

/** The console's support actions that the relay's API already has, and the API path each one is. */
const HANDED_ON: ReadonlyArray<{ method: string; re: RegExp; to(id: string, query: URLSearchParams): string; audit?: string }> = [
  { method: 'POST', re: /^\/console\/api\/venues\/(ven_[a-z0-9]{8,32})\/diagnostics$/, to: (id) => `/v1/venues/${id}/diagnostics` },
  {
    method: 'GET', re: /^\/console\/api\/venues\/(ven_[a-z0-9]{8,32})\/logs$/,
    to: (id, q) => `/v1/venues/${id}/logs${/^\d{1,5}$/.test(q.get('lines') ?? '') ? `?lines=${q.get('lines')}` : ''}`,
  },
  { method: 'GET', re: /^\/console\/api\/venues\/(ven_[a-z0-9]{8,32})\/bundle$/, to: (id) => `/v1/venues/${id}/bundle` },
  // These two are the backend's management calls; done from the console they are support actions, audited here.
  { method: 'POST', re: /^\/console\/api\/venues\/(ven_[a-z0-9]{8,32})\/pairing$/, to: (id) => `/v1/venues/${id}/pairing`, audit: 'pairing' },
  { method: 'POST', re: /^\/console\/api\/venues\/(ven_[a-z0-9]{8,32})\/revoke$/, to: (id) => `/v1/venues/${id}/revoke`, audit: 'revoke' },
];

/** The outcome an audit row names for an API answer. */
const OUTCOMES: Record<number, string> = { 400: 'bad_request', 403: 'refused', 404: 'unknown_venue', 409: 'conflict', 429: 'rate_limited', 503: 'venue_offline', 504: 'timeout' };

/** Where the built page is: next to the compiled relay (dist/cli → dist/console) or from the source tree. */
export function findConsoleDir(): string | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '../console'), path.join(here, '../../dist/console')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html'))) ?? null;
}

/** The page's CSP: its own scripts, styles and API only. */
export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

/** Builds the console over the relay's parts; the caller mounts `take` in front of everything else. */
export function mountConsole(d: ConsoleDeps): ConsoleMount {
  const db = d.store.console;
  const log = d.log;
  const sessions = new Sessions(db, d.clock, d.keys);
  const faces = new Faces(d.store, d.tunnels, d.clock, log.child({ part: 'faces' }), d.node);
  const signins = new Counter({ name: 'evva_relay_console_signins_total', help: 'Support console sign-ins, by result (ok, wrong_key, rate_limited, malformed).', labelNames: ['result'], registers: [d.registry] });
  const callers = new WeakMap<IncomingMessage, Caller>();
  const ipOf = (req: IncomingMessage) => (d.client(req) ?? req.socket.remoteAddress ?? '?').slice(0, 64);

  const record = (venueId: string, action: string, outcome: string, by: Requester) => {
    db.addAudit({ venueId, at: d.clock.now(), action, outcome, keyFp: by.key, ip: by.ip ?? '' })
      .catch((e: unknown) => log.error('console: could not write an audit row', { venueId, action, err: String(e) }));
  };
  const audit = (req: IncomingMessage, venueId: string, action: string, outcome: string) => {
    const c = callers.get(req);
    record(venueId, action, outcome, { key: c?.fp ?? 'unknown', ip: ipOf(req) });
    log.info('support action', { venueId, action, outcome, by: { key: c?.fp ?? 'unknown', ip: ipOf(req) }, via: 'console' });
  };

  const app = express();
  app.disable('x-powered-by');

  app.post('/console/api/session', express.json({ limit: '2kb' }), async (req: Request, res: Response, next: NextFunction) => {
    try {
      const ip = ipOf(req);
      const allowed = await d.limiter.take(ip);
      if (!allowed.ok) {
        signins.inc({ result: 'rate_limited' });
        res.setHeader('Retry-After', String(Math.max(1, Math.ceil(allowed.retryAfterMs / 1000))));
        return fail(res, 429, 'rate_limited', 'Слишком много попыток входа. Подождите минуту и попробуйте снова.', 'Too many sign-in attempts. Wait a minute and try again.');
      }
      const body = SignInRequest.safeParse(req.body);
      if (!body.success) {
        signins.inc({ result: 'malformed' });
        return fail(res, 400, 'bad_request', 'Введите ключ API.', 'Enter the API key.');
      }
      const caller = await sessions.signIn(body.data.key.trim(), ip);
      if (!caller) {
        signins.inc({ result: 'wrong_key' });
        log.warn('console sign-in refused: wrong key', { ip });
        // The answer waits: a guesser gets one try per second per connection, within the limits above.
        await sleep(d.clock, SIGNIN_FAIL_DELAY_MS);
        return fail(res, 401, 'wrong_key', 'Ключ не подошёл. Нужен ключ API этого сервера EVVA — тот же, что у команды evva-relay support.',
          'That key was not accepted. Use this EVVA relay\'s API key, the one evva-relay support uses.');
      }
      signins.inc({ result: 'ok' });
      log.info('console sign-in', { key: caller.fp, ip });
      res.setHeader('Set-Cookie', sessionCookie(caller.id, caller.expiresAt - d.clock.now(), d.secure(req)));
      const view: SessionView = { key: caller.fp, expiresAt: new Date(caller.expiresAt).toISOString() };
      res.json(view);
    } catch (e) { next(e); }
  });
  app.get('/console/api/session', (req, res) => {
    const c = callers.get(req)!;
    const view: SessionView = { key: c.fp, expiresAt: new Date(c.expiresAt).toISOString() };
    res.json(view);
  });
  app.delete('/console/api/session', async (req, res, next) => {
    try {
      const c = callers.get(req)!;
      await sessions.signOut(c.id);
      log.info('console sign-out', { key: c.fp, ip: ipOf(req) });
      res.setHeader('Set-Cookie', clearedCookie(d.secure(req)));
      res.status(204).end();
    } catch (e) { next(e); }
  });
  app.use(consoleRoutes({
    store: d.store, webhooks: d.webhooks, faces, clock: d.clock, log,
    callerOf: (req) => callers.get(req)!, audit,
  }));
  app.use('/console/api', (_req, res) => fail(res, 404, 'not_found', 'Нет такого адреса.', 'No such address.'));

  const dir = findConsoleDir();
  if (dir) {
    app.use('/console/assets', express.static(path.join(dir, 'assets'), { index: false, immutable: true, maxAge: '365d', fallthrough: false }));
    // The page's own paths: the list, a venue and its tabs (the page routes itself).
    app.get(/^\/console\/(?:venues\/ven_[a-z0-9]{8,32}(?:\/[a-z]+)?)?$/, (_req, res) => {
      res.setHeader('Content-Security-Policy', CONSOLE_CSP);
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('X-Frame-Options', 'DENY');
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(path.join(dir, 'index.html'));
    });
  } else {
    app.get('/console/', (_req, res) => {
      res.status(503).type('html').send('<!doctype html><html lang="ru"><meta charset="utf-8"><title>Консоль не собрана</title><p>Консоль поддержки не собрана: выполните <code>npm run build</code> и перезапустите relay. API relay работает.</p></html>');
    });
  }
  app.use((_req, res) => void res.status(404).type('text').send('not found'));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = typeof err === 'object' && err && 'status' in err && typeof err.status === 'number' ? err.status : 500;
    if (status >= 500) log.error('console request failed', { path: req.path, err: err instanceof Error ? err.message : String(err) });
    if (res.headersSent) return void res.destroy();
    if (status < 500) {
      if (req.path === '/console/api/session') signins.inc({ result: 'malformed' });
      return fail(res, status, 'bad_request', 'Непонятный запрос.', 'Malformed request.');
    }
    fail(res, 500, 'internal', 'Ошибка на сервере EVVA. Подробности в журнале relay.', 'Relay error. Details are in the relay log.');
  });

  /** An API call: origin rules, then the session, then one of the console's routes or the relay's API as the signed-in key. */
  const api = async (req: IncomingMessage, res: ServerResponse, next: (req: IncomingMessage, res: ServerResponse) => void, pathname: string, query: URLSearchParams) => {
    res.setHeader('Cache-Control', 'no-store');
    if (!sameOrigin(req, d.publicUrl)) {
      return void reply(res, 403, { error: 'bad_origin', message: 'Запрос пришёл не со страницы консоли.', messageEn: 'The request did not come from the console page.' });
    }
    if (pathname === '/console/api/session' && req.method === 'POST') return void app(req, res);
    const caller = await sessions.resolve(sessionCookieOf(req));
    if (!caller) {
      res.setHeader('Set-Cookie', clearedCookie(d.secure(req)));
      return void reply(res, 401, { error: 'signed_out', message: 'Нужно войти: сеанс закончился или ещё не начат.', messageEn: 'Please sign in: the session has ended or not begun.' });
    }
    callers.set(req, caller);
    for (const h of HANDED_ON) {
      const m = req.method === h.method ? h.re.exec(pathname) : null;
      if (!m) continue;
      const venueId = m[1] as string;
      if (h.audit) {
        const action = h.audit;
        res.once('finish', () => audit(req, venueId, action, res.statusCode < 400 ? 'done' : OUTCOMES[res.statusCode] ?? `http_${res.statusCode}`));
      }
      req.url = h.to(venueId, query);
      req.headers.authorization = `Bearer ${caller.key}`;
      delete req.headers.cookie;
      return next(req, res);
    }
    app(req, res);
  };

  return {
    faces,
    record,
    take(req, res, next) {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const pathname = q < 0 ? url : url.slice(0, q);
      if (pathname !== '/console' && !pathname.startsWith('/console/')) return false;
      res.setHeader('X-Content-Type-Options', 'nosniff');
      if (pathname === '/console') {
        res.writeHead(301, { location: '/console/' });
        res.end();
        return true;
      }
      if (!pathname.startsWith('/console/api/')) {
        app(req, res);
        return true;
      }
      api(req, res, next, pathname, new URLSearchParams(q < 0 ? '' : url.slice(q + 1))).catch((e: unknown) => {
        log.error('console request failed', { err: String(e) });
        if (!res.headersSent) reply(res, 503, { error: 'unavailable', message: 'Сервер EVVA сейчас не может проверить вход. Попробуйте через минуту.', messageEn: 'The relay cannot check the session right now. Try again in a minute.' });
        else res.destroy();
      });
      return true;
    },
    start: () => faces.start(),
    stop: () => faces.stop(),
  };
}

function reply(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
