/**
 * The audit log of remote support actions, which the venue reads at
 * `GET /api/audit`: one JSON line per action in `<data-dir>/audit.jsonl`,
 * refused ones included. Appends are synchronous so an entry is on disk
 * before the action's answer leaves.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AuditEntry } from '../../../protocol/diagnostics.ts';

export const AUDIT_FILE = 'audit.jsonl';
/** Past this size the file is cut to its newer half: years of support calls fit easily. */
export const AUDIT_MAX_BYTES = 1024 * 1024;

export interface Audit {
  /** Appends one entry; never throws (a full disk must not stop support from working, it is logged instead). */
  record(entry: AuditEntry): void;
  /** The newest `limit` entries, newest first; unreadable lines are skipped. */
  list(limit?: number): AuditEntry[];
}

/** Opens the audit log in `dataDir`; entries survive restarts and are never lost to a failing append silently (onError hears it). */
export function createAudit(dataDir: string, onError: (e: Error) => void): Audit {
  const file = path.join(dataDir, AUDIT_FILE);
  return {
    record(entry) {
      try {
        fs.appendFileSync(file, `${JSON.stringify(AuditEntry.parse(entry))}\n`, { mode: 0o600 });
        if (fs.statSync(file).size > AUDIT_MAX_BYTES) {
          const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
          fs.writeFileSync(file, `${lines.slice(Math.floor(lines.length / 2)).join('\n')}\n`, { mode: 0o600 });
        }
      } catch (e) {
        onError(e as Error);
      }
    },
    list(limit = 200) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        return [];
      }
      const out: AuditEntry[] = [];
      const lines = text.split('\n').filter(Boolean);
      for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
        try {
          const parsed = AuditEntry.safeParse(JSON.parse(lines[i] as string));
          if (parsed.success) out.push(parsed.data);
        } catch {
          // A torn last line (power cut mid-write) is skipped, not fatal.
        }
      }
      return out;
    },
  };
}
