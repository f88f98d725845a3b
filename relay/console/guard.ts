/**
 * The console's door rules, the ones the companion's own UI keeps
 * (main/core/api/guard.ts) for a page on a public host: the cookie is
 * honoured only on requests the browser marks same-origin (or typed by the
 * person), a request that names an Origin must name this relay, and a state
 * change must come with one (or with fetch metadata saying same-origin).
 */
import type { IncomingMessage } from 'node:http';
import { CONSOLE_COOKIE } from '../../protocol/console.ts';

const SAFE = new Set(['GET', 'HEAD']);

/** The session id the request's cookie carries, or null. */
export function sessionCookieOf(req: IncomingMessage): string | null {
  const cookie = req.headers.cookie;
  if (!cookie) return null;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== CONSOLE_COOKIE) continue;
    return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/**
 * The host the page is served from: the public URL's when the relay has one
 * (behind a proxy), else the request's own Host.
 */
export function expectedHost(req: IncomingMessage, publicUrl: string | undefined): string {
  if (publicUrl) {
    try { return new URL(publicUrl).host.toLowerCase(); } catch { /* checked at start-up */ }
  }
  return String(req.headers.host ?? '').toLowerCase();
}

/** True when the request may act for the session its cookie names. */
export function sameOrigin(req: IncomingMessage, publicUrl: string | undefined): boolean {
  const origin = req.headers.origin;
  const host = expectedHost(req, publicUrl);
  if (origin !== undefined) {
    try {
      if (new URL(origin).host.toLowerCase() !== host) return false;
    } catch {
      return false; // "null" and anything unparsable
    }
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  // A browser without fetch metadata: a cookie-borne change must name its origin.
  return SAFE.has(req.method ?? 'GET') || origin !== undefined || site === 'same-origin';
}

/** The Set-Cookie value of a session (Secure when the page is served over https). */
export function sessionCookie(id: string, maxAgeMs: number, secure: boolean): string {
  return `${CONSOLE_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/console; Max-Age=${Math.max(0, Math.round(maxAgeMs / 1000))}${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that ends the session in the browser. */
export function clearedCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}
