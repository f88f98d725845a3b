/**
 * The local API's door: requests must name this machine in Host (so DNS
 * rebinding fails) and carry the token, as `Authorization: Bearer` or the
 * UI's cookie. Comparisons are constant-time.
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const COOKIE_NAME = 'evva_token';

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
  const cookie = req.headers.cookie;
  if (cookie) {
    for (const part of cookie.split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name !== COOKIE_NAME) continue;
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

/** Decides whether `req` may use the API at all. */
export function admit(req: IncomingMessage, port: number, token: string): Verdict {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!allowedHosts(port).has(host)) {
    return { ok: false, status: 421, error: 'bad_host', message: 'Локальный API отвечает только на адрес 127.0.0.1 или localhost этого компьютера.' };
  }
  const given = presentedToken(req);
  if (!given || !safeEqual(given, token)) {
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

/** Where an unauthenticated caller asks the companion to prove it holds the token (see proof.ts). */
export const PROOF_PATH = '/api/proof';
