/**
 * The feed of one venue: the pollers (orders and deliveries, staff, tables,
 * menu) through the probe's one plugin client, every change written to the
 * outbox before anything else learns of it, and the feed's part of the
 * status. A disk that refuses writes shows as a Russian problem; the poll that
 * found the change fails and finds it again next time, so nothing is lost.
 */
import type { Envelope } from '../../../protocol/events.ts';
import type { FeedOrder } from '../../../protocol/feed.ts';
import type { PollerStatus, Problem } from '../../../protocol/local.ts';
import type { Clock } from '../../../common/clock.ts';
import type { FrontClient } from '../front/client.ts';
import type { Logger } from '../../../common/logger.ts';
import type { CourierList } from '../iiko/rules.ts';
import type { Batch, Outbox } from '../outbox/store.ts';
import { DEFAULTS, MS_PER, type SettingValues } from '../table.ts';
import { createCatalog } from './catalog.ts';
import { hashOf } from './hash.ts';
import { createMenuPoll } from './menu.ts';
import { createOrdersPoll } from './orders.ts';
import { createPoller, type PollName, type Poller, type Publish } from './poller.ts';
import { splitList } from './size.ts';
import { createStaffPoll } from './staff.ts';
import { createTablesPoll } from './tables.ts';

/**
 * The feed's part of settings.json's `feed` section, under the same names and
 * units (intervals become milliseconds only here, where the pollers get them);
 * `evvaPaymentName` is the payment rule, `courierCodes` the venue's couriers
 * (empty: the venue has not said).
 */
export type FeedSettings = Pick<SettingValues['feed'], 'ordersIntervalMs' | 'staffIntervalSec' | 'tablesIntervalSec' | 'menuIntervalHours' | 'evvaPaymentName'> & {
  courierCodes: CourierList;
  /** Revision mode lists every open order this often. */
  sweepMs?: number;
};

/** The table's defaults (orders 1 s, staff 60 s, tables 5 min, menu daily), for a feed started without settings (tests, tools). */
export const DEFAULT_FEED_SETTINGS: FeedSettings = DEFAULTS.feed;

/** An order naming an unknown product asks for the menu again, at most this often. */
export const MENU_REFRESH_MS = 5 * 60_000;

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
  /**
   * Asked with every order whose state changed, before its event is written: what goes in the same transaction
   * (the payments these orders settle), and what to call once it is on disk.
   */
  alongOrders?(orders: FeedOrder[]): AlongOrders | null;
}

/** Writes that go in the same transaction as a chunk of orders, and what to call once they are on disk. */
export interface AlongOrders {
  batch: Required<Pick<Batch, 'events' | 'also'>>;
  written(): void;
}

/** Both batches' extra writes, in order, in the one transaction (neither replaces the other). */
function alsoBoth(first: Batch['also'], then: NonNullable<Batch['also']>): NonNullable<Batch['also']> {
  return first ? (db) => { first(db); then(db); } : then;
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

  function guard<T>(what: string, fn: () => T): T | null {
    try {
      return fn();
    } catch (e) {
      log.error(`feed listener ${what} failed`, { err: e instanceof Error ? e.message : String(e) });
      return null;
    }
  }

  /** Emits `type` with `info` when its hash differs from the last one emitted under `key`. */
  const publish: Publish = (key, type, info, listKey) => {
    const seenKey = `${venueId}|${key}`;
    const hash = hashOf(info);
    if (outbox.seen(seenKey)?.hash === hash) return;
    // A list too large for one frame goes as parts (rare: hundreds of staff), never as an event that cannot be sent.
    write({ events: splitList(info, listKey).map((part) => ({ type, info: part })), seen: [{ key: seenKey, hash }] });
  };

  const catalog = createCatalog();
  let menuAskedAt = -Infinity;
  const specs = {
    orders: createOrdersPoll({
      venueId, intervalMs: o.settings.ordersIntervalMs, outbox, rule: { nameContains: o.settings.evvaPaymentName }, catalog, now: () => o.clock.mono(), logger: log,
      sweepMs: o.settings.sweepMs,
      write: (batch, changed) => {
        // A bug in working out the payments' moves costs those moves, never the orders' write.
        const along = changed.length ? guard('alongOrders', () => o.alongOrders?.(changed) ?? null) : null;
        write(along ? { ...batch, events: [...batch.events, ...along.batch.events], also: alsoBoth(batch.also, along.batch.also) } : batch);
        if (along) guard('alongOrders written', () => along.written());
      },
      unknownProduct: () => {
        // A product added to the menu since its last poll: fetch the menu again so its GUID is known.
        if (o.clock.mono() - menuAskedAt < MENU_REFRESH_MS) return;
        menuAskedAt = o.clock.mono();
        polls.menu.now();
      },
    }),
    staff: createStaffPoll({ intervalMs: o.settings.staffIntervalSec * MS_PER.s, couriers: o.settings.courierCodes, catalog, publish }),
    tables: createTablesPoll({ intervalMs: o.settings.tablesIntervalSec * MS_PER.s, catalog, publish }),
    menu: createMenuPoll({ venueId, intervalMs: o.settings.menuIntervalHours * MS_PER.h, outbox, catalog, write: (batch) => { write(batch); } }),
  };
  const poller = (name: PollName): Poller => createPoller({ spec: specs[name], clock: o.clock, logger: log, client: o.client });
  const polls: Record<PollName, Poller> = { orders: poller('orders'), staff: poller('staff'), tables: poller('tables'), menu: poller('menu') };
  const all = Object.values(polls);

  return {
    start() {
      for (const p of all) p.start();
      log.info('feed started', { orders: o.settings.ordersIntervalMs });
    },
    async stop() {
      await Promise.all(all.map((p) => p.stop()));
    },
    syncMenu(reason) {
      specs.menu.request(reason);
      polls.menu.now();
    },
    write,
    order: (id) => specs.orders.order(id),
    async fetchOrder(id) {
      const c = o.client();
      return c ? specs.orders.fetch(c, id) : null;
    },
    pollers: () => all.map((p) => p.status()),
    problem: () => problem,
    setOrdersInterval: (ms) => polls.orders.setInterval(ms),
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
