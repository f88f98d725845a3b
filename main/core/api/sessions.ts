/**
 * Browser sessions of the UI that outlive a companion restart. The one-time
 * login link (login.ts) starts one: a random 256-bit id in an HttpOnly,
 * SameSite=Strict cookie, valid until logout or for `days`. Only the id's
 * SHA-256 is kept, in `<data-dir>/ui-sessions.json` (0600), so a headless PC
 * that reboots keeps its open UI without a new link from the command line.
 *
 * The API token stays what it was: new at every start, never in a browser.
 * The cookie passes the same door as the token (Host, Origin and Fetch
 * Metadata checks in guard.ts).
 */
import crypto from 'node:crypto';
import path from 'node:path';
import fs from 'node:fs';
import { z } from 'zod';
import type { Clock } from '../../../common/clock.ts';
import { readJsonFile, writePrivateFile } from '../files.ts';
import { SESSION_COOKIE } from './guard.ts';

export const UI_SESSIONS_FILE = 'ui-sessions.json';
/** Sessions kept at most; the oldest goes first (a PC has a few browsers, not hundreds). */
export const MAX_SESSIONS = 20;

const Saved = z.object({ sessions: z.array(z.object({ hash: z.string().regex(/^[0-9a-f]{64}$/), expiresAt: z.number() })).max(1000) });

export interface UiSessions {
  /** A new session id (for the cookie); valid for the configured days. */
  start(): string;
  /** True when `id` is a live session. */
  valid(id: string): boolean;
  /** Ends the session `id` (logout); unknown ids are ignored. */
  end(id: string): void;
  /** The Set-Cookie value that carries a new session id. */
  cookie(id: string): string;
}

const hashOf = (id: string) => crypto.createHash('sha256').update(id).digest('hex');

/** Sessions stored in `<dataDir>/ui-sessions.json`; a missing or damaged file is no session (a new login link helps). */
export function createUiSessions(opts: { dataDir: string; clock: Clock; days: number }): UiSessions {
  const file = path.join(opts.dataDir, UI_SESSIONS_FILE);
  const lifetimeMs = opts.days * 86_400_000;
  const read = () => {
    try {
      const saved = Saved.safeParse(readJsonFile(file));
      return saved.success ? saved.data.sessions.filter((s) => s.expiresAt > opts.clock.now()) : [];
    } catch {
      return [];
    }
  };
  const write = (sessions: Array<{ hash: string; expiresAt: number }>) => {
    if (sessions.length) writePrivateFile(file, `${JSON.stringify({ sessions })}\n`);
    else fs.rmSync(file, { force: true });
  };
  // Read once and kept in memory; the file is only for the next start.
  let sessions = read();
  return {
    start() {
      const id = crypto.randomBytes(32).toString('base64url');
      sessions = [...sessions.filter((s) => s.expiresAt > opts.clock.now()), { hash: hashOf(id), expiresAt: opts.clock.now() + lifetimeMs }].slice(-MAX_SESSIONS);
      write(sessions);
      return id;
    },
    valid(id) {
      if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return false;
      const h = Buffer.from(hashOf(id), 'hex');
      const now = opts.clock.now();
      // Compared as hashes, in constant time per entry.
      return sessions.some((s) => s.expiresAt > now && crypto.timingSafeEqual(Buffer.from(s.hash, 'hex'), h));
    },
    end(id) {
      const h = hashOf(id);
      const before = sessions.length;
      sessions = sessions.filter((s) => s.hash !== h);
      if (sessions.length !== before) write(sessions);
    },
    cookie(id) {
      return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(lifetimeMs / 1000)}`;
    },
  };
}
