/**
 * One-time login links for the UI in a browser. `run` prints one; opening it
 * sets the token as an HttpOnly, SameSite=Strict cookie and redirects, so the
 * token never sits in the address bar or the browser history.
 */
import crypto from 'node:crypto';
import type { Clock } from '../../../common/clock.ts';
import { COOKIE_NAME, safeEqual } from './guard.ts';

/** A link lives this long unused; after that a new one is needed. */
export const LOGIN_TTL_MS = 10 * 60_000;
/** Outstanding links kept at most; the oldest is dropped first. */
const MAX_OPEN = 8;

export interface Logins {
  /** A fresh one-time code; valid for LOGIN_TTL_MS, usable once. */
  issue(): string;
  /** True once per issued, unexpired code; the code is gone afterwards. */
  consume(code: string): boolean;
}

/** Keeps the issued codes in memory: a restart invalidates every link (the token changes too). */
export function createLogins(clock: Clock, ttlMs = LOGIN_TTL_MS): Logins {
  const open = new Map<string, number>();
  return {
    issue() {
      const code = crypto.randomBytes(24).toString('base64url');
      open.set(code, clock.mono() + ttlMs);
      while (open.size > MAX_OPEN) open.delete(open.keys().next().value as string);
      return code;
    },
    consume(code) {
      for (const [c, until] of open) {
        if (!safeEqual(c, code)) continue;
        open.delete(c);
        return clock.mono() <= until;
      }
      return false;
    },
  };
}

/** The Set-Cookie value that carries the token for this API's pages only. */
export function sessionCookie(token: string): string {
  return `${COOKIE_NAME}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
}
