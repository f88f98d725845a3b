/**
 * The local API on 127.0.0.1: status, live updates over WebSocket and
 * Prometheus metrics. The UI, the CLI, support scripts and tests all use it.
 * It sends no CORS headers, so other sites' pages cannot read it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { PairRequest, type PairResult, type Problem, type Status } from '../../../protocol/local.ts';
import type { Logger } from '../logger.ts';
import { admit, allowedHosts, originAllowed, PROOF_PATH } from './guard.ts';
import { Nonce, prove } from './proof.ts';

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
}

export interface Api {
  /** The address it listens on, e.g. http://127.0.0.1:9142. */
  readonly url: string;
  /** Sends the status to every live client. */
  publish(status: Status): void;
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
    const verdict = admit(req, port, opts.token);
    if (!verdict.ok) {
      res.status(verdict.status).json({ error: { code: verdict.error, message: verdict.message } });
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });

  app.get('/api/status', (_req, res) => { res.json(opts.status()); });
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
  app.get('/metrics', async (_req, res, next) => {
    try {
      const m = await opts.metrics();
      res.type(m.contentType).send(m.body);
    } catch (e) {
      next(e);
    }
  });
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
      const verdict = admit(req, port, opts.token);
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
      reject(e.code === 'EADDRINUSE'
        ? new Error(`Порт ${opts.port} уже занят: возможно, компаньон уже запущен. Закройте другую копию или укажите другой порт (--api-port).`)
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
    if (ws.bufferedAmount > LIVE_MAX_BUFFERED_BYTES) {
      ws.terminate();
      return;
    }
    ws.send(JSON.stringify({ type: 'status', status }));
  }

  return {
    url,
    publish(status) {
      for (const ws of wss.clients) if (ws.readyState === ws.OPEN) send(ws, status);
    },
    close: () => new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
