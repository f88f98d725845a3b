/**
 * Reading the companion's own log files back, for the bundle and for remote
 * support. Lines were redacted when written; they go through the same
 * redaction again on the way out, so a line written by an older version (or
 * one that slipped past) cannot leak a secret through support.
 */
import fs from 'node:fs';
import path from 'node:path';
import { redactText } from '../../../common/redact.ts';

/** Reads at most this much of each file from its end: a day of logs on a POS, bounded. */
export const LOG_READ_CAP_BYTES = 8 * 1024 * 1024;

/** The log files in `<dataDir>/logs`, oldest first. */
export function logFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'logs');
  try {
    return fs.readdirSync(dir).filter((f) => /\.log$/.test(f)).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

function tailOf(file: string): string[] {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const start = Math.max(0, size - LOG_READ_CAP_BYTES);
    const buf = Buffer.alloc(size - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n').filter(Boolean);
    if (start > 0) lines.shift(); // cut mid-line
    return lines;
  } catch {
    return [];
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The newest `n` lines across the log files, oldest first, redacted. */
export function tailLines(dataDir: string, n: number): { lines: string[]; files: string[] } {
  const files = logFiles(dataDir);
  const out: string[] = [];
  const used: string[] = [];
  for (let i = files.length - 1; i >= 0 && out.length < n; i--) {
    const lines = tailOf(files[i] as string);
    out.unshift(...lines.slice(Math.max(0, lines.length - (n - out.length))));
    used.unshift(path.basename(files[i] as string));
  }
  return { lines: out.map(redactText), files: used };
}

/** Lines from the last `ms` (by each JSON line's timestamp), per file name, redacted. */
export function recentLines(dataDir: string, sinceMs: number): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of logFiles(dataDir)) {
    try {
      if (fs.statSync(file).mtimeMs < sinceMs) continue;
    } catch {
      continue;
    }
    const kept = tailOf(file).filter((line) => {
      const ts = /"timestamp":"([^"]+)"/.exec(line)?.[1];
      const t = ts ? Date.parse(ts) : NaN;
      return Number.isNaN(t) || t >= sinceMs;
    });
    if (kept.length) out.set(path.basename(file), kept.map(redactText));
  }
  return out;
}
