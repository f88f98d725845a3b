/**
 * How many tunnels one relay process may hold. Every tunnel is a file
 * descriptor; at the process's limit the kernel refuses accept() and the
 * relay would drop the connections of its own venue API and health checks.
 * So tunnels are capped below the limit, leaving headroom for those.
 */
import { readFileSync } from 'node:fs';

/** Descriptors kept free of tunnels: the venue API's callers, health checks, SQLite, logs. */
export const FD_HEADROOM_MIN = 256;
/** …or this share of the limit, whichever is larger. */
export const FD_HEADROOM_SHARE = 0.1;
/** Listen backlog: connections the kernel queues while the process is busy (e.g. 10 000 companions reconnecting after a restart); Linux clamps it to net.core.somaxconn. */
export const LISTEN_BACKLOG = 8_192;

/** The soft limit on open files of this process (Linux /proc), or null where unknown. */
export function fdLimit(limitsFile = '/proc/self/limits'): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(limitsFile, 'utf8'));
    if (!m || m[1] === 'unlimited') return null;
    return Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Most sockets tunnels may take: the fd limit minus the headroom; null (no
 * cap from the limit) when the limit is unknown. Guarantees headroom ≥
 * FD_HEADROOM_MIN whenever it returns a number.
 */
export function tunnelCap(limit: number | null): number | null {
  if (limit === null) return null;
  const headroom = Math.max(FD_HEADROOM_MIN, Math.ceil(limit * FD_HEADROOM_SHARE));
  return Math.max(0, limit - headroom);
}
