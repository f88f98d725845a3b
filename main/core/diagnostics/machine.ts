/**
 * Checks of this computer and of parts that may not be built in: free disk
 * in the data dir, the clock, versions, the local API port, and the feed's
 * outbox (a `skip` that says why while the feed is not part of the build).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../../../common/clock.ts';
import { feed, machine } from './catalogue.ts';
import type { CheckSpec } from './run.ts';

/** Below this much free space the log and the outbox are at risk. */
export const DISK_WARN_MB = 500;
export const DISK_FAIL_MB = 100;
/** A system clock before this is wrong for sure (the companion did not exist yet). */
const EARLIEST_SANE = Date.UTC(2025, 0, 1);

export interface MachineDeps {
  clock: Clock;
  dataDir: string;
  version: string;
  apiPort(): number;
  /** Free bytes on the disk holding `dir` (injected in tests). */
  freeBytes?(dir: string): number;
}

/** Reads only this computer (disk, clock, versions); never touches the network. */
export function machineCheck(d: MachineDeps): CheckSpec {
  return {
    id: 'machine',
    timeoutMs: 1_000,
    async run() {
      const free = Math.floor((d.freeBytes ?? freeBytes)(d.dataDir) / 1024 / 1024);
      const now = d.clock.now();
      const osName = `${os.type()} ${os.release()} ${os.arch()}`;
      const evidence = {
        freeMb: free, dataDir: d.dataDir, clock: new Date(now).toISOString(), os: osName, node: process.version,
        companion: d.version, apiPort: d.apiPort(), hostname: os.hostname(), uptimeSec: Math.round(os.uptime()),
      };
      if (now < EARLIEST_SANE) return { ...machine.clockWrong(new Date(now).toISOString()), evidence };
      if (free < DISK_FAIL_MB) return { ...machine.diskLow(free, d.dataDir, 'fail'), evidence };
      if (free < DISK_WARN_MB) return { ...machine.diskLow(free, d.dataDir, 'warn'), evidence };
      return { ...machine.ok(free, osName, d.version, d.apiPort()), evidence };
    },
  };
}

/** Free bytes on the disk of `dir`, or of its nearest existing parent (a data dir not made yet). */
function freeBytes(dir: string): number {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      const s = fs.statfsSync(d);
      return s.bavail * s.bsize;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(d) === d) throw e;
    }
  }
}

/** The outbox as diagnostics sees it (provided by the feed once it is built in). */
export interface FeedView { backlog: number; oldestAt: string | null }
/** A backlog this old means events are stuck, not just in flight. */
export const FEED_STUCK_MS = 5 * 60_000;

/** Answers `skip` with the reason when no running companion can read the outbox, never a fake ok. */
export function feedCheck(clock: Clock, view?: () => Promise<FeedView>): CheckSpec {
  return {
    id: 'feed',
    timeoutMs: 1_000,
    async run() {
      if (!view) return feed.absent();
      const v = await view();
      const evidence = { backlog: v.backlog, oldestAt: v.oldestAt };
      const stuck = v.oldestAt !== null && clock.now() - Date.parse(v.oldestAt) > FEED_STUCK_MS;
      return { ...(stuck ? feed.backlog(v.backlog, v.oldestAt) : feed.ok(v.backlog)), evidence };
    },
  };
}
