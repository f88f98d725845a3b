/**
 * The local API on 127.0.0.1: status, live updates over WebSocket and
 * Prometheus metrics. The UI, the CLI, support scripts and tests all use it.
 * It sends no CORS headers, so other sites' pages cannot read it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { z } from 'zod';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Readable } from 'node:stream';
import type { AuditEntry, Report } from '../../../protocol/diagnostics.ts';
import { FrontCheckRequest, JournalKind, PairRequest, type ActivityItem, type FrontCheck, type JournalPage, type LiveMessage, type LoginLink, type PairResult, type PaymentsList, type Problem, type Status } from '../../../protocol/local.ts';
import { realClock, type Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import { SettingsError } from '../settings.ts';
import { admit, allowedHosts, originAllowed, presentedSession, PROOF_PATH, SESSION_COOKIE } from './guard.ts';
import type { UiSessions } from './sessions.ts';
import { createLogins, LOGIN_TTL_MS } from './login.ts';
import { Nonce, prove } from './proof.ts';
import { findUiDir, uiRoutes } from './ui.ts';

/** Live clients that stop reading are dropped once this much is queued for them. */
export const LIVE_MAX_BUFFERED_BYTES = 1024 * 1024;

export interface ApiOptions {
  host?: string;
  port: number;
  token: string;
  logger: Logger;
  status(): Status;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Pairs with a venue; rejects with an error carrying `problem` (a Problem) when it fails. */
  pair?(code: string, relayUrl?: string): Promise<PairResult>;
  /** Runs every diagnostic check (≤ 5 s). */
  diagnose?(): Promise<Report>;
  /** Starts a diagnostics bundle (a zip stream). */
  bundle?(): Promise<{ name: string; stream: Readable }>;
  /** Remote support actions, newest first. */
  audit?(limit: number): AuditEntry[];
  /** The payment ledger for `GET /api/payments`. */
  payments?(): PaymentsList;
  /** `GET/PUT /api/settings`: the stored and effective settings; update validates and applies (throws SettingsError). */
  settings?: { read(): unknown; update(patch: unknown): Promise<unknown> };
  /** `POST /api/front/check`: whether the plugin answers on a port (nothing is saved). */
  checkFront?(port: number): Promise<FrontCheck>;
  /** `GET /api/settings/effective`: every setting in force and where it came from. */
  effectiveSettings?(): unknown;
  /** `GET /api/journal`: the Журнал's rows, newest first; null when its storage is unusable. */
  journal?(query: { limit?: number; kinds?: JournalKind[]; before?: string }): JournalPage | null;
  /** `GET /api/activity`: recent state changes, newest first. */
  activity?(limit: number): ActivityItem[];
  /** Browser sessions that outlive a restart (the login link starts one); without them the link sets the token cookie. */
  sessions?: UiSessions;
  /** The built UI's folder; undefined finds it next to the code, null serves none. */
  uiDir?: string | null;
  clock?: Clock;
}

export interface Api {
  /** The address it listens on, e.g. http://127.0.0.1:9142. */
  readonly url: string;
  /** Sends the status to every live client. */
  publish(status: Status): void;
  /** Sends any other live message (`{ type, … }`) to every live client. */
  broadcast(message: { type: string; [field: string]: unknown }): void;
  /** A new one-time link that logs a browser into the UI. */
  loginLink(): LoginLink;
  close(): Promise<void>;
}

/** Listens on loopback; rejects with a Russian message when the port is taken. */
export async function startApi(opts: ApiOptions): Promise<Api> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.logger.child({ part: 'api' });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  let port = opts.port;
  const logins = createLogins(opts.clock ?? realClock);
  const session = opts.sessions ? (id: string) => opts.sessions!.valid(id) : undefined;
  // The UI's files and the login link are open; everything under /api and /metrics needs the token.
  const isOpen = (req: express.Request) => (req.method === 'GET' || req.method === 'HEAD') && !req.path.startsWith('/api/') && req.path !== '/metrics';

  // The one door without the token: it proves this server holds it (the CLI asks before sending it).
  app.get(PROOF_PATH, (req, res, next) => {
    if (!allowedHosts(port).has((req.headers.host ?? '').toLowerCase())) return next();
    const nonce = Nonce.safeParse(req.query.nonce);
    if (!nonce.success) {
      res.status(400).json({ error: { code: 'bad_request', message: 'Нужен параметр nonce: 64 шестнадцатеричных символа.' } });
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.json({ pid: process.pid, proof: prove(opts.token, nonce.data) });
  });

  app.use((req, res, next) => {
    const verdict = admit(req, port, opts.token, isOpen(req), session);
    if (!verdict.ok) {
      res.status(verdict.status).json({ error: { code: verdict.error, message: verdict.message } });
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });

  app.get('/api/status', (_req, res) => { res.json(opts.status()); });
  app.get('/api/payments', (_req, res) => { res.json(opts.payments?.() ?? { payments: [] }); });
  app.post('/api/login-link', (_req, res) => { res.json(loginLink()); });
  // Ends this browser's session (its cookie); the desktop window and scripts have nothing to end.
  app.post('/api/logout', (req, res) => {
    const sid = presentedSession(req);
    if (sid) opts.sessions?.end(sid);
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    res.json({ ok: true });
  });
  if (opts.activity) {
    const list = opts.activity;
    app.get('/api/activity', (req, res) => {
      const limit = Math.min(Math.max(Number.parseInt(String(req.query.limit ?? '50'), 10) || 50, 1), 200);
      res.json({ items: list(limit) });
    });
  }
  if (opts.journal) {
    const journal = opts.journal;
    app.get('/api/journal', (req, res) => {
      const kinds = String(req.query.kind ?? '').split(',').filter(Boolean);
      const parsed = z.array(JournalKind).max(5).safeParse(kinds);
      const limit = Number.parseInt(String(req.query.limit ?? '100'), 10);
      const before = typeof req.query.before === 'string' && /^\d{1,16}:\d{1,16}$/.test(req.query.before) ? req.query.before : undefined;
      if (!parsed.success || (req.query.before !== undefined && !before)) {
        res.status(400).json({ error: { code: 'bad_request', message: 'Параметры журнала: kind — link, front, orders, payments, staff через запятую; before — из поля next предыдущей страницы.' } });
        return;
      }
      const page = journal({ limit: Number.isFinite(limit) ? limit : 100, kinds: parsed.data, ...(before ? { before } : {}) });
      if (!page) {
        res.status(503).json({ error: { code: 'journal_unavailable', message: 'Журнал недоступен: его файл не открылся. Подробности в журнале компаньона.', messageEn: 'The journal is unavailable: its file could not be opened.' } });
        return;
      }
      res.json(page);
    });
  }
  if (opts.settings) {
    const settings = opts.settings;
    app.get('/api/settings', (_req, res) => { res.json(settings.read()); });
    app.put('/api/settings', express.json({ limit: '16kb' }), async (req, res) => {
      try {
        res.json(await settings.update(req.body));
      } catch (e) {
        if (!(e instanceof SettingsError)) throw e;
        res.status(e.code === 'locked' ? 409 : 400).json({ error: { code: e.code, message: e.message, fields: e.fields, problems: e.problems } });
      }
    });
  }
  if (opts.checkFront) {
    const checkFront = opts.checkFront;
    app.post('/api/front/check', express.json({ limit: '1kb' }), async (req, res, next) => {
      const body = FrontCheckRequest.safeParse(req.body);
      if (!body.success) {
        res.status(400).json({ error: { code: 'bad_request', message: 'Нужен JSON вида {"port": 9042}: порт — число от 1 до 65535.', messageEn: 'Expected {"port": 9042}: a port is a number from 1 to 65535.' } });
        return;
      }
      try {
        res.json(await checkFront(body.data.port));
      } catch (e) {
        next(e);
      }
    });
  }
  if (opts.effectiveSettings) {
    const effective = opts.effectiveSettings;
    app.get('/api/settings/effective', (_req, res) => { res.json(effective()); });
  }
  app.post('/api/pair', express.json({ limit: '4kb' }), async (req, res) => {
    const body = PairRequest.safeParse(req.body);
    if (!body.success || !opts.pair) {
      res.status(400).json({ error: { code: 'bad_request', message: 'Нужен JSON вида {"code": "K7QF-2MXD", "relayUrl": "https://…"}.' } });
      return;
    }
    try {
      res.json(await opts.pair(body.data.code, body.data.relayUrl));
    } catch (e) {
      const problem = (e as { problem?: Problem }).problem;
      if (!problem) throw e;
      res.status(problem.code.startsWith('code_') || problem.code === 'relay_url_missing' || problem.code === 'insecure_url' || problem.code === 'bad_relay_url' ? 400 : 502)
        .json({ error: problem });
    }
  });
  app.post('/api/diagnostics', async (_req, res, next) => {
    if (!opts.diagnose) return next();
    try {
      res.json(await opts.diagnose());
    } catch (e) {
      next(e);
    }
  });
  app.get('/api/diagnostics/bundle', async (_req, res, next) => {
    if (!opts.bundle) return next();
    try {
      const { name, stream } = await opts.bundle();
      res.setHeader('Content-Type', 'application/zip');
      res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
      stream.on('error', (e) => { log.error('bundle failed', { error: e }); res.destroy(e); });
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    } catch (e) {
      next(e);
    }
  });
  app.get('/api/audit', (req, res, next) => {
    if (!opts.audit) return next();
    const raw = typeof req.query.limit === 'string' ? Number(req.query.limit) : 200;
    const limit = Number.isInteger(raw) && raw >= 1 && raw <= 1000 ? raw : 200;
    res.json({ entries: opts.audit(limit) });
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      const m = await opts.metrics();
      res.type(m.contentType).send(m.body);
    } catch (e) {
      next(e);
    }
  });
  app.use(uiRoutes({ token: opts.token, logins, ...(opts.sessions ? { sessions: opts.sessions } : {}), port: () => port, uiDir: opts.uiDir === undefined ? findUiDir() : opts.uiDir }));
  app.use((_req, res) => { res.status(404).json({ error: { code: 'not_found', message: 'Нет такого адреса в локальном API.' } }); });
  app.use((err: Error & { type?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    if (err.type === 'entity.parse.failed' || err.type === 'entity.too.large') {
      res.status(400).json({ error: { code: 'bad_request', message: 'Тело запроса не является корректным JSON или слишком велико.' } });
      return;
    }
    log.error('local API error', { error: err });
    res.status(500).json({ error: { code: 'internal', message: 'Внутренняя ошибка компаньона. Подробности в журнале.' } });
  });

  const server = http.createServer(app);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  server.on('upgrade', (req, socket, head) => {
    // No input may end the process: whatever throws here costs this one socket only.
    socket.on('error', () => socket.destroy());
    try {
      const verdict = admit(req, port, opts.token, false, session);
      const path = (req.url ?? '').split('?')[0];
      if (!verdict.ok || !originAllowed(req, port) || path !== '/api/live') {
        const status = !verdict.ok ? verdict.status : path !== '/api/live' ? 404 : 403;
        socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        send(ws, opts.status());
        // The live channel is one-way; anything a client sends is ignored.
        ws.on('message', () => undefined);
        ws.on('error', () => ws.terminate());
      });
    } catch (e) {
      log.warn('live upgrade failed', { error: e });
      socket.destroy();
    }
  });
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      // The code stays on the error: the desktop shell tells a busy port (retrying cannot fix it) from a crash.
      reject(e.code === 'EADDRINUSE'
        ? Object.assign(new Error(`Порт ${opts.port} уже занят: возможно, компаньон уже запущен. Закройте другую копию или укажите другой порт (--api-port).`), { code: 'EADDRINUSE' })
        : e);
    };
    const onListening = () => { server.off('error', onError); resolve(); };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(opts.port, host);
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;
  log.info('local API listening', { url });

  function send(ws: WebSocket, status: Status): void {
    deliver(ws, JSON.stringify({ type: 'status', status } satisfies LiveMessage));
  }
  function deliver(ws: WebSocket, text: string): void {
    if (ws.bufferedAmount > LIVE_MAX_BUFFERED_BYTES) {
      ws.terminate();
      return;
    }
    ws.send(text);
  }

  function loginLink(): LoginLink {
    return { url: `${url}/login?once=${logins.issue()}`, expiresInSec: LOGIN_TTL_MS / 1000 };
  }

  return {
    url,
    loginLink,
    publish(status) {
      for (const ws of wss.clients) if (ws.readyState === ws.OPEN) send(ws, status);
    },
    broadcast(message) {
      const text = JSON.stringify(message);
      for (const ws of wss.clients) {
        if (ws.readyState !== ws.OPEN) continue;
        if (ws.bufferedAmount > LIVE_MAX_BUFFERED_BYTES) ws.terminate();
        else ws.send(text);
      }
    },
    close: () => new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
