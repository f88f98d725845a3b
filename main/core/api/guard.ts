/**
 * The local API's door: requests must name this machine in Host (so DNS
 * rebinding fails) and carry the token, as `Authorization: Bearer` or the
 * UI's cookie. Comparisons are constant-time.
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const COOKIE_NAME = 'evva_token';
/** A browser session from the login link (sessions.ts): outlives a restart, unlike the token. */
export const SESSION_COOKIE = 'evva_session';

/** Hosts a browser or client on this PC may name in the Host header for `port`. */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

/** Constant-time string equality (lengths may leak; the token's length is public). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}

/** The token the request carries, from the bearer header or the cookie; null (never a throw) for anything malformed. */
export function presentedToken(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    return m?.[1] ?? null;
  }
  return cookieValue(req, COOKIE_NAME);
}

/** The browser session id the request carries (never from a request that also sends a bearer token). */
export function presentedSession(req: IncomingMessage): string | null {
  return req.headers.authorization ? null : cookieValue(req, SESSION_COOKIE);
}

function cookieValue(req: IncomingMessage, wanted: string): string | null {
  const cookie = req.headers.cookie;
  if (cookie) {
    for (const part of cookie.split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name !== wanted) continue;
      // A malformed escape (`evva_token=%`) is a wrong token, not an exception in a listener.
      try {
        return decodeURIComponent(rest.join('='));
      } catch {
        return null;
      }
    }
  }
  return null;
}

export type Verdict = { ok: true } | { ok: false; status: number; error: string; message: string };

/**
 * Decides whether `req` may use the API at all; `open` paths (the UI's files, the login link) need no token.
 * `session` tells a live browser session id (the login link's cookie) from a dead one.
 */
export function admit(req: IncomingMessage, port: number, token: string, open = false, session?: (id: string) => boolean): Verdict {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!allowedHosts(port).has(host)) {
    return { ok: false, status: 421, error: 'bad_host', message: 'Локальный API отвечает только на адрес 127.0.0.1 или localhost этого компьютера.' };
  }
  if (open) return { ok: true };
  if (!crossOriginFree(req, port)) {
    return { ok: false, status: 403, error: 'bad_origin', message: 'Запрос пришёл со страницы другого сайта; локальный API принимает изменения только от своего интерфейса.' };
  }
  const given = presentedToken(req);
  const byToken = given !== null && safeEqual(given, token);
  const sid = byToken || !session ? null : presentedSession(req);
  if (!byToken && !(sid !== null && session!(sid))) {
    return { ok: false, status: 401, error: 'unauthorized', message: `Нужен токен локального API (Authorization: Bearer …). Он лежит в файле local-api.json в папке данных компаньона.` };
  }
  return { ok: true };
}

/** Browsers send Origin on WebSocket upgrades; only pages served by this API may open one. */
export function originAllowed(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  if (!origin) return true; // not a browser (CLI, scripts, tests)
  try {
    return allowedHosts(port).has(new URL(origin).host);
  } catch {
    return false;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A browser carries the cookie to this API from any page of the same site
 * (127.0.0.1 on another port counts), so: a state-changing call must come
 * from this API's own origin, and a cookie is honoured only for requests the
 * browser marks as same-origin (or user-typed). Scripts with a Bearer token
 * send no Origin and pass.
 */
export function crossOriginFree(req: IncomingMessage, port: number): boolean {
  const hasOrigin = req.headers.origin !== undefined;
  if (hasOrigin && !originAllowed(req, port)) return false;
  const byCookie = !req.headers.authorization && (presentedToken(req) !== null || presentedSession(req) !== null);
  if (!byCookie) return true;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  // Older browsers without Fetch Metadata: a cookie-borne change must name its origin.
  return SAFE_METHODS.has(req.method ?? 'GET') || hasOrigin;
}

/** Where an unauthenticated caller asks the companion to prove it holds the token (see proof.ts). */
export const PROOF_PATH = '/api/proof';
