/**
 * Serves the built UI (dist/renderer) and the one-time login link. The files
 * are public (they hold no secret); every /api call still needs the token.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Logins } from './login.ts';
import { sessionCookie } from './login.ts';
import type { UiSessions } from './sessions.ts';

/** Where the built UI is: next to the compiled core (dist/node or dist/cli → dist/renderer) or from the source tree. */
export function findUiDir(): string | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '../renderer'), path.join(here, '../../../dist/renderer'), path.join(here, '../../dist/renderer')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html'))) ?? null;
}

/** The page's CSP: its own scripts and styles only, and the API (HTTP and WebSocket) of this origin. */
export function csp(port: number): string {
  const ws = [`ws://127.0.0.1:${port}`, `ws://localhost:${port}`].join(' ');
  return [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    `connect-src 'self' ${ws}`, "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; ');
}

const page = (title: string, text: string) => `<!doctype html><html lang="ru"><meta charset="utf-8"><title>${title}</title>
<style>body{font:16px/1.5 "Segoe UI",system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1d2430}</style>
<h1>${title}</h1><p>${text}</p></html>`;

/** Routes for the UI: GET /login?once=…, the built files, and index.html for the app's own paths. */
export function uiRoutes(opts: { token: string; logins: Logins; sessions?: UiSessions; port: () => number; uiDir: string | null }): express.Router {
  const r = express.Router();
  r.get('/login', (req, res) => {
    const code = typeof req.query.once === 'string' ? req.query.once : '';
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (!code || !opts.logins.consume(code)) {
      res.status(401).type('html').send(page('Ссылка для входа недействительна',
        'Эта ссылка уже использована или устарела (она действует один раз, 10 минут). Откройте компаньон из значка в трее рядом с часами. '
        + 'Если на этом компьютере компаньон работает без значка, новую ссылку для входа выдаёт тот, кто его настраивал (инструкция по установке, раздел «Вход в окно компаньона»).'));
      return;
    }
    // A browser session that outlives a restart; the token itself never goes to the browser then.
    res.setHeader('Set-Cookie', opts.sessions ? opts.sessions.cookie(opts.sessions.start()) : sessionCookie(opts.token));
    // 303: the browser replaces /login?once=… with / in its history.
    res.redirect(303, '/');
  });
  if (!opts.uiDir) {
    r.get('/', (_req, res) => {
      res.status(503).type('html').send(page('Интерфейс не собран', 'Соберите его командой <code>npm run build</code> и перезапустите компаньон. Локальный API работает.'));
    });
    return r;
  }
  const dir = opts.uiDir;
  const html = (res: express.Response) => {
    res.setHeader('Content-Security-Policy', csp(opts.port()));
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.sendFile(path.join(dir, 'index.html'));
  };
  r.use('/assets', express.static(path.join(dir, 'assets'), { index: false, immutable: true, maxAge: '365d' }));
  r.get(['/', '/setup', '/settings', '/journal', '/diagnostics'], (_req, res) => html(res));
  r.use(express.static(dir, { index: false }));
  return r;
}
