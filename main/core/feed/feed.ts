/**
 * The feed of one venue: the pollers (orders and deliveries, staff, tables,
 * menu) through the probe's one plugin client, every change written to the
 * outbox before anything else learns of it, and the feed's part of the
 * status. A disk that refuses writes shows as a Russian problem; the poll that
 * found the change fails and finds it again next time, so nothing is lost.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import type { Envelope } from '../../../protocol/events.ts';
import type { FeedOrder, FeedSection, FeedStaff, FeedTable } from '../../../protocol/feed.ts';
import type { PollerStatus, Problem } from '../../../protocol/local.ts';
import type { Clock } from '../../../common/clock.ts';
import type { FrontClient } from '../front/client.ts';
import { isFrontError } from '../front/errors.ts';
import type { Logger } from '../../../common/logger.ts';
import type { Batch, Outbox } from '../outbox/store.ts';
import { buildMenu, hashOf, normaliseSection, normaliseStaff, normaliseTable, type PaymentRule } from './normalise.ts';
import { createOrdersPoll, type OrdersPoll } from './orders.ts';
import { createPoller, type Poller } from './poller.ts';
import { splitList, splitMenu } from './size.ts';

export interface FeedSettings {
  ordersMs: number;
  staffMs: number;
  tablesMs: number;
  menuMs: number;
  /** Revision mode lists every open order this often. */
  sweepMs?: number;
  rule: PaymentRule;
}

/** Intervals from the issue: orders 1 s, staff 60 s, tables 5 min, menu daily. */
export const DEFAULT_FEED_SETTINGS: FeedSettings = {
  ordersMs: 1_000, staffMs: 60_000, tablesMs: 5 * 60_000, menuMs: 24 * 3_600_000, rule: { nameContains: 'EVVA' },
};

export interface FeedOptions {
  venueId: string;
  dataDir: string;
  outbox: Outbox;
  /** The probe's client (the one plugin session), or null while no plugin is known. */
  client(): FrontClient | null;
  clock: Clock;
  logger: Logger;
  settings: FeedSettings;
  /** Called after events are on disk (send them, stream them). */
  onWritten(events: Envelope[]): void;
  /** Called with every order whose state changed, after its event is on disk (payments watch these). */
  onOrders?(orders: FeedOrder[]): void;
}

export interface Feed {
  start(): void;
  stop(): Promise<void>;
  /** Takes a fresh menu snapshot soon and sends it even if unchanged. */
  syncMenu(reason: 'request' | 'daily'): void;
  /** Writes a batch through the feed's disk-error handling (payments use it); throws when the disk refuses. */
  write(batch: Batch): Envelope[];
  order(id: string): FeedOrder | null;
  /** Fetches one order from the plugin now; null when there is no plugin or no such order. */
  fetchOrder(id: string): Promise<FeedOrder | null>;
  pollers(): PollerStatus[];
  /** The disk problem, while there is one. */
  problem(): Problem | null;
  /** Tests and the bench: change the orders interval. */
  setOrdersInterval(ms: number): void;
}

const List = z.array(z.unknown());

export function createFeed(o: FeedOptions): Feed {
  const log = o.logger.child({ part: 'feed', venueId: o.venueId });
  const { outbox, venueId } = o;
  let problem: Problem | null = null;

  function write(batch: Batch): Envelope[] {
    let out: Envelope[];
    try {
      out = outbox.append(venueId, batch);
    } catch (e) {
      const next = diskProblem(e, o.dataDir);
      if (next.code !== problem?.code) log.error('feed events cannot be written', { code: (e as { code?: string }).code, err: (e as Error).message });
      problem = next;
      throw e;
    }
    if (problem) log.info('feed events are written again');
    problem = null;
    // The events are on disk: whatever a listener does wrong must not make the poll retry them as new.
    if (out.length) guard('onWritten', () => o.onWritten(out));
    return out;
  }

  function guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      log.error(`feed listener ${what} failed`, { err: e instanceof Error ? e.message : String(e) });
    }
  }

  const orders: OrdersPoll = createOrdersPoll({
    venueId, outbox, rule: o.settings.rule, now: () => o.clock.mono(), logger: log, sweepMs: o.settings.sweepMs,
    write: (batch, changed) => {
      write(batch);
      if (changed.length) guard('onOrders', () => o.onOrders?.(changed));
    },
  });

  const need = (): FrontClient => {
    const c = o.client();
    if (!c) throw new Error('no plugin client');
    return c;
  };

  /** Emits `type` with `info` when its hash differs from the last one emitted under `key` (or when forced). */
  function emitIfChanged(key: string, type: 'StaffUpdate' | 'TablesUpdate', info: Record<string, unknown>, listKey: string): void {
    const seenKey = `${venueId}|${key}`;
    const hash = hashOf(info);
    if (outbox.seen(seenKey)?.hash === hash) return;
    // A list too large for one frame goes as parts (rare: hundreds of staff), never as an event that cannot be sent.
    write({ events: splitList(info, listKey).map((part) => ({ type, info: part })), seen: [{ key: seenKey, hash }] });
  }

  let menuReason: 'request' | 'daily' | null = null;
  let menuRuns = 0;

  const pollers: Poller[] = [
    createPoller({
      name: 'orders', intervalMs: o.settings.ordersMs, clock: o.clock, logger: log, ready: () => o.client() !== null,
      poll: () => orders.poll(need()),
    }),
    createPoller({
      name: 'staff', intervalMs: o.settings.staffMs, clock: o.clock, logger: log, ready: () => o.client() !== null,
      async poll() {
        const staff = (await need().get('/api/users', List)).map(normaliseStaff).filter((s): s is FeedStaff => s !== null)
          .sort((a, b) => a.name.localeCompare(b.name));
        emitIfChanged('staff', 'StaffUpdate', { staff }, 'staff');
      },
    }),
    createPoller({
      name: 'tables', intervalMs: o.settings.tablesMs, clock: o.clock, logger: log, ready: () => o.client() !== null,
      async poll() {
        const client = need();
        const tables = (await client.get('/api/tables', List)).map(normaliseTable).filter((t): t is FeedTable => t !== null)
          .sort((a, b) => a.number - b.number);
        const sectionsRaw = await client.get('/api/sections', List).catch((e: unknown) => {
          if (isFrontError(e) && e.code === 'http' && e.status === 404) return [];
          throw e;
        });
        const sections = sectionsRaw.map((s) => normaliseSection(s, tables)).filter((s): s is FeedSection => s !== null);
        emitIfChanged('tables', 'TablesUpdate', { tables, sections }, 'tables');
      },
    }),
    createPoller({
      name: 'menu', intervalMs: o.settings.menuMs, clock: o.clock, logger: log, ready: () => o.client() !== null,
      async poll() {
        const client = need();
        const products = await client.get('/api/products', List);
        const groups = await client.get('/api/productgroups', List).catch((e: unknown) => {
          if (isFrontError(e) && e.code === 'http' && e.status === 404) return [];
          throw e;
        });
        const menu = buildMenu(products, groups);
        const seenKey = `${venueId}|menu`;
        const hash = hashOf(menu);
        const prev = outbox.seen(seenKey);
        // The first run after start sends only a change; later runs are the daily snapshot or a request.
        const reason = menuReason ?? (menuRuns > 0 ? 'daily' : prev ? 'change' : 'start');
        menuRuns++;
        if (reason === 'change' && prev?.hash === hash) return;
        const infos = splitMenu(crypto.randomUUID(), reason, menu.sections, menu.warnings);
        write({ events: infos.map((info) => ({ type: 'MenuSnapshot' as const, info })), seen: [{ key: seenKey, hash }] });
        menuReason = null;
      },
    }),
  ];

  return {
    start() {
      for (const p of pollers) p.start();
      log.info('feed started', { orders: o.settings.ordersMs });
    },
    async stop() {
      await Promise.all(pollers.map((p) => p.stop()));
    },
    syncMenu(reason) {
      menuReason = reason;
      pollers[3]!.now();
    },
    write,
    order: (id) => orders.order(id),
    async fetchOrder(id) {
      const c = o.client();
      return c ? orders.fetch(c, id) : null;
    },
    pollers: () => pollers.map((p) => p.status()),
    problem: () => problem,
    setOrdersInterval: (ms) => pollers[0]!.setInterval(ms),
  };
}

/** The Russian explanation of an outbox write failure. */
export function diskProblem(e: unknown, dataDir: string): Problem {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_FULL' || /ENOSPC|disk is full/i.test(`${code} ${(e as Error).message}`)) {
    return {
      code: 'disk_full',
      message: 'Диск заполнен: компаньон не может сохранить изменения заказов для EVVA.',
      hint: `Освободите место на диске с папкой ${dataDir}. Пока места нет, новые изменения ждут; как только оно появится, компаньон продолжит сам и ничего не потеряет.`,
      messageEn: 'Disk full: feed events cannot be written.',
    };
  }
  return {
    code: 'outbox_failed',
    message: `Компаньон не может записать изменения заказов на диск (${code || 'ошибка записи'}).`,
    hint: `Проверьте диск и права на папку ${dataDir}. Компаньон повторяет попытку сам; изменения не теряются, пока он работает.`,
    messageEn: `Feed events cannot be written: ${(e as Error).message}`,
  };
}
