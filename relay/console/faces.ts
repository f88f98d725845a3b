/**
 * Keeps each venue's verdict in the store, so the console's list filters and
 * sorts on it (relay/db/console.ts). The node holding a venue's tunnel writes
 * what happens to it: the link comes up, the companion reports its status,
 * the link goes. Every node also sweeps for what changed behind its back:
 * venues made since, paired or revoked by another node or written into the
 * database directly (the CLI with no relay running), and tunnels whose node
 * died (not heard of for STALE_MS).
 */
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Verdict } from '../../protocol/console.ts';
import type { FrontStatus, Status } from '../../protocol/local.ts';
import type { ConsoleStore, FaceRow } from '../db/console.ts';
import type { RelayLink } from '../link.ts';
import type { RelayStore } from '../db/store.ts';
import { LAST_SEEN_PERSIST_MS, type TunnelRegistry, type WatchHooks } from '../tunnels.ts';
import { factsOf, searchKeyOf, toneOf } from './verdict.ts';

/** How often every node looks for verdicts changed behind its back. */
export const FACE_SWEEP_MS = 5_000;
/** An online venue not heard of for this long lost its node (the holder writes last-seen every LAST_SEEN_PERSIST_MS). */
export const STALE_MS = 3 * LAST_SEEN_PERSIST_MS;
/** A report that leaves the tone as it was is written at most this often per venue (the companion sends at most one per 30 s anyway). */
export const REPORT_WRITE_MS = 5_000;
/**
 * A venue paired or revoked by another process this recently (and after it was judged) is judged again: wide
 * enough for a missed sweep or two and for clocks of other processes or nodes a little off.
 */
export const CHANGED_WITHIN_MS = 60_000;
/** Venues judged per sweep round (a round continues at once while there are more). */
const SWEEP_BATCH = 500;

interface Pending { link: RelayLink; status: Status | undefined; front: FrontStatus; timer?: NodeJS.Timeout }

export class Faces implements WatchHooks {
  private readonly db: ConsoleStore;
  private readonly last = new Map<string, { at: number; tone: Verdict; link: string }>();
  private readonly pending = new Map<string, Pending>();
  /** Links whose coming up is recorded: a report that arrives before that waits for it (it would find the venue not yet theirs). */
  private readonly ready = new WeakSet<RelayLink>();
  /** Links whose companion sends its whole status. */
  private readonly reporting = new WeakSet<RelayLink>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | null = null;
  private readonly unsubscribe: () => void;
  private stopped = false;

  /** `node`: this node's name in link keys (`<node>/<link id>`); null on a single relay. */
  constructor(
    store: RelayStore,
    private readonly tunnels: TunnelRegistry,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly node: string | null,
  ) {
    this.db = store.console;
    // Paired or revoked in this process (its API, which the CLI uses while it runs): judged at once; the rest waits for the sweep.
    this.unsubscribe = store.onTokenChange((venueId) => this.judge([venueId]));
  }

  /** Before the node takes tunnels: forgets the links it held before a restart, then sweeps every FACE_SWEEP_MS. */
  async start(): Promise<void> {
    const n = await this.db.forgetLinks(this.node);
    if (n > 0) this.log.info('console: venues whose tunnel was held by this node before it restarted are judged again', { venues: n });
    this.timer = this.clock.setInterval(() => void this.sweep().catch((e: unknown) => this.log.warn('console: verdict sweep failed; next round', { err: String(e) })), FACE_SWEEP_MS);
    this.timer.unref?.();
    void this.sweep().catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearInterval(this.timer);
    for (const p of this.pending.values()) this.clock.clearTimeout(p.timer);
    this.pending.clear();
    this.unsubscribe();
  }

  private key(l: RelayLink): string {
    return `${this.node ?? 'relay'}/${l.id}`;
  }

  up(l: RelayLink): void {
    const key = this.key(l);
    this.last.delete(l.venueId);
    void this.db.linkUp(l.venueId, key).then(() => {
      this.ready.add(l);
      // Gone while it was being recorded: its down() found it not ready and left it to this.
      if (l.closed) return void this.down(l);
      const p = this.pending.get(l.venueId);
      if (p && p.link === l && !p.timer) {
        this.pending.delete(l.venueId);
        return this.report(p);
      }
      return this.judge([l.venueId]);
    }).catch((e: unknown) => this.log.warn('console: could not record a tunnel up', { venueId: l.venueId, err: String(e) }));
  }

  status(l: RelayLink, front: FrontStatus, status: Status | undefined): void {
    if (this.tunnels.live(l.venueId) !== l || this.stopped) return;
    // A companion that reports its whole status follows every plugin change with a report: its plugin-only frames add nothing.
    if (status) this.reporting.add(l);
    else if (this.reporting.has(l)) return;
    const p = this.pending.get(l.venueId);
    if (p) {
      // Coalesced: the latest report wins.
      p.link = l;
      p.status = status;
      p.front = front;
      return;
    }
    const entry: Pending = { link: l, status, front };
    if (!this.ready.has(l)) return void this.pending.set(l.venueId, entry);
    const last = this.last.get(l.venueId);
    const tone = this.toneOf(l, front, status);
    const wait = last && last.link === this.key(l) && last.tone === tone ? last.at + REPORT_WRITE_MS - this.clock.mono() : 0;
    if (wait <= 0) return void this.report(entry);
    this.pending.set(l.venueId, entry);
    entry.timer = this.clock.setTimeout(() => {
      this.pending.delete(l.venueId);
      if (!entry.link.closed) void this.report(entry);
    }, wait);
  }

  down(l: RelayLink): void {
    // A link that never came up held nothing; a relay that is closing leaves its links to the next start (forgetLinks).
    if (this.stopped || !this.ready.has(l)) return;
    const p = this.pending.get(l.venueId);
    // The last report of a link that closes is still written: it is the venue's last word.
    const flush = p && p.link === l ? (this.clock.clearTimeout(p.timer), this.pending.delete(l.venueId), this.report(p)) : Promise.resolve();
    void flush.then(async () => {
      const key = this.key(l);
      const [row] = await this.db.faceRows([l.venueId]);
      if (!row || row.onlineLink !== key) return; // another link (here or elsewhere) holds the venue now
      const f = factsOf(row, false);
      await this.db.writeFace(l.venueId, key, { tone: toneOf(f), searchKey: searchKeyOf(row.name, row.id), onlineLink: null, lastSeenAt: l.lastSeenAt }, this.clock.now());
    }).catch((e: unknown) => this.log.warn('console: could not record a tunnel down', { venueId: l.venueId, err: String(e) }));
  }

  /** Judges never-judged venues now (the list calls this first, so a venue made a moment ago is listed with its verdict). */
  async judgeNew(): Promise<void> {
    if (await this.db.anyUnjudged()) await this.sweep();
  }

  /** Judges the venues that may be out of date, SWEEP_BATCH at a time (bounded: 100 batches a round). */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        for (let i = 0; i < 100 && !this.stopped; i++) {
          const now = this.clock.now();
          const rows = await this.db.dirtyRows(now - STALE_MS, now - CHANGED_WITHIN_MS, SWEEP_BATCH);
          await this.write(rows);
          if (rows.length < SWEEP_BATCH) return;
          // SQLite answers synchronously: between batches the event loop serves tunnels and calls.
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        this.sweeping = null;
      }
    })();
    return this.sweeping;
  }

  /** Judges these venues from the store now. */
  async judge(ids: string[]): Promise<void> {
    try {
      await this.write(await this.db.faceRows(ids));
    } catch (e) {
      this.log.warn('console: could not judge a venue', { err: String(e) });
    }
  }

  private async write(rows: FaceRow[]): Promise<void> {
    const staleBefore = this.clock.now() - STALE_MS;
    const writes = rows.map((r) => {
      const mine = this.tunnels.live(r.id);
      // Online by its link column, unless that link went silent long ago (its node died); one held here is alive.
      const stale = r.onlineLink !== null && (r.lastSeenAt ?? 0) < staleBefore && !(mine && this.key(mine) === r.onlineLink);
      const f = factsOf(r, r.onlineLink !== null && !stale);
      return { venueId: r.id, expectLink: r.onlineLink, w: { tone: toneOf(f), searchKey: searchKeyOf(r.name, r.id), ...(stale ? { onlineLink: null } : {}) } };
    });
    await this.db.writeFaces(writes, this.clock.now());
  }

  private toneOf(l: RelayLink, front: FrontStatus, status: Status | undefined): Verdict {
    return toneOf({
      venueId: l.venueId, createdAt: l.connectedAt, pairedAt: l.connectedAt, revokedAt: null, online: true, connectedAt: l.connectedAt,
      lastSeenAt: l.lastSeenAt, companionVersion: l.hello?.companion.version ?? null, front, status: status ?? null,
    });
  }

  /** Writes a report of the venue's current link: its status (when sent) and the verdict it gives. */
  private async report(p: Pending): Promise<void> {
    const l = p.link;
    const key = this.key(l);
    const tone = this.toneOf(l, p.front, p.status);
    this.last.set(l.venueId, { at: this.clock.mono(), tone, link: key });
    if (this.last.size > 100_000) this.last.clear();
    try {
      // Only while the venue is still this link's (the write's condition): one statement, no read.
      await this.db.writeFace(l.venueId, key, { tone, ...(p.status ? { statusJson: JSON.stringify(p.status) } : {}) }, this.clock.now());
    } catch (e) {
      this.log.warn('console: could not record a venue\'s status', { venueId: l.venueId, err: String(e) });
    }
  }
}
