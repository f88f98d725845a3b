/**
 * The plugin session token kept in `<data-dir>/front-session.json` (0600), so a
 * companion killed without its logout (kill -9, power loss) frees the licence
 * slot at its next start instead of holding it until the token expires.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readJsonFile, writePrivateFile } from '../files.ts';
import type { SessionStore } from './client.ts';

export const SESSION_FILE = 'front-session.json';
const Saved = z.object({ origin: z.string(), token: z.string().min(1).max(512) });

/** A store for the session with the plugin at `origin`; never throws (a disk problem only costs the cleanup). */
export function sessionFile(dataDir: string, origin: string): SessionStore {
  const file = path.join(dataDir, SESSION_FILE);
  return {
    load() {
      try {
        const saved = Saved.safeParse(readJsonFile(file));
        // A token of a plugin on another port cannot be logged out here; it expires there.
        return saved.success && saved.data.origin === origin ? saved.data.token : null;
      } catch {
        return null;
      }
    },
    save(token) {
      try {
        if (token) writePrivateFile(file, `${JSON.stringify({ origin, token })}\n`);
        else fs.rmSync(file, { force: true });
      } catch {
        // Best effort: without the file, a crash leaves the slot to expire, as before.
      }
    },
  };
}
