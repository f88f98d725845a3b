/**
 * The menu poll: EVVA's three-level menu from `/api/products` and
 * `/api/productgroups`, sent as MenuSnapshot events once a day, on request
 * (menu.sync), and when it changed; and the products' GUIDs for the catalog.
 */
import crypto from 'node:crypto';
import { readMenu } from '../iiko/reader.ts';
import type { Batch, Outbox } from '../outbox/store.ts';
import type { FeedCatalog } from './catalog.ts';
import { hashOf } from './hash.ts';
import type { PollSpec } from './poller.ts';
import { splitMenu } from './size.ts';

export interface MenuPollOptions {
  venueId: string;
  intervalMs: number;
  outbox: Outbox;
  catalog: FeedCatalog;
  /** Writes the events and seen rows atomically (throws on a disk error). */
  write(batch: Batch): void;
}

export interface MenuPoll extends PollSpec {
  /** The next run sends a snapshot for this reason even if the menu did not change. */
  request(reason: 'request' | 'daily'): void;
}

export function createMenuPoll(o: MenuPollOptions): MenuPoll {
  const seenKey = `${o.venueId}|menu`;
  let reason: 'request' | 'daily' | null = null;
  let runs = 0;
  return {
    name: 'menu',
    intervalMs: o.intervalMs,
    request(r) {
      reason = r;
    },
    async poll(client) {
      let read: Awaited<ReturnType<typeof readMenu>>;
      try {
        read = await readMenu(client);
        o.catalog.setProducts(read.productIds);
      } finally {
        o.catalog.tried('menu');
      }
      const { sections, warnings } = read.menu;
      const menu = { sections, warnings };
      const hash = hashOf(menu);
      const prev = o.outbox.seen(seenKey);
      // The first run after start sends only a change; later runs are the daily snapshot or a request.
      const why = reason ?? (runs > 0 ? 'daily' : prev ? 'change' : 'start');
      runs++;
      if (why === 'change' && prev?.hash === hash) return;
      const infos = splitMenu(crypto.randomUUID(), why, sections, warnings);
      o.write({ events: infos.map((info) => ({ type: 'MenuSnapshot' as const, info })), seen: [{ key: seenKey, hash }] });
      reason = null;
    },
  };
}
