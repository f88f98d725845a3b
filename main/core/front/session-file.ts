/**
 * The plugin session tokens kept in `<data-dir>/front-session.json` (0600):
 * the one the companion holds now, and every one whose logout has not reached
 * the plugin yet (it was down or unreachable at the time). Each licence slot
 * such a token holds is freed at the next login to that plugin, in this run or
 * the next one, instead of being held until the token expires.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readJsonFile, writePrivateFile } from '../files.ts';
import type { SessionStore } from './client.ts';

export const SESSION_FILE = 'front-session.json';
/**
 * An owed token older than this is dropped: the plugin has let it expire long
 * before (public clients log in again every 26–30 minutes; docs/iiko-front-web-api.md).
 */
export const OWED_MAX_AGE_MS = 24 * 3_600_000;
/** At most this many tokens are kept (a bound on the file, whatever happens). */
export const OWED_MAX = 16;

const Entry = z.object({ origin: z.string(), token: z.string().min(1).max(512), at: z.number().optional() });
/** The file of versions before issue 20 held one `{ origin, token }`; it is read as a list of one. */
const Saved = z.union([z.object({ tokens: z.array(Entry).max(1000) }), Entry.transform((e) => ({ tokens: [e] }))]);
type Entry = z.infer<typeof Entry>;

/**
 * The plugin a token belongs to: the port on loopback. Settings keep the plugin on
 * loopback, so `http://localhost:9042` and `http://127.0.0.1:9042` are the same
 * plugin, and a token taken through one is logged out through the other.
 */
function pluginOf(origin: string): string {
  try {
    const u = new URL(origin);
    return u.port || (u.protocol === 'https:' ? '443' : '80');
  } catch {
    return origin;
  }
}

/** A store for the sessions with the plugin at `origin`; never throws (a disk problem only costs the cleanup). */
export function sessionFile(dataDir: string, origin: string, now: () => number = Date.now): SessionStore {
  const file = path.join(dataDir, SESSION_FILE);
  const plugin = pluginOf(origin);
  const read = (): Entry[] => {
    try {
      const saved = Saved.safeParse(readJsonFile(file));
      return saved.success ? saved.data.tokens : [];
    } catch {
      return [];
    }
  };
  const write = (entries: Entry[]) => {
    try {
      const fresh = entries.filter((e) => e.at === undefined || now() - e.at < OWED_MAX_AGE_MS).slice(-OWED_MAX);
      if (fresh.length) writePrivateFile(file, `${JSON.stringify({ tokens: fresh })}\n`);
      else fs.rmSync(file, { force: true });
    } catch {
      // Best effort: without the file, a crash leaves the slot to expire, as before.
    }
  };
  return {
    load() {
      // Entries of a plugin on another port stay for a client of that port.
      return read().filter((e) => pluginOf(e.origin) === plugin && (e.at === undefined || now() - e.at < OWED_MAX_AGE_MS)).map((e) => e.token);
    },
    hold(token) {
      const entries = read().filter((e) => e.token !== token);
      write([...entries, { origin, token, at: now() }]);
    },
    release(token) {
      const entries = read();
      if (entries.some((e) => e.token === token)) write(entries.filter((e) => e.token !== token));
    },
  };
}
