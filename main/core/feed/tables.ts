/**
 * The tables poll: tables and the halls they stand in. Kitchens and bars are
 * sections as well; they go out by name in `kitchens`, never as halls.
 */
import { readHalls } from '../iiko/reader.ts';
import type { FeedCatalog } from './catalog.ts';
import type { PollSpec, Publish } from './poller.ts';

export interface TablesPollOptions {
  intervalMs: number;
  catalog: FeedCatalog;
  publish: Publish;
}

export function createTablesPoll(o: TablesPollOptions): PollSpec {
  return {
    name: 'tables',
    intervalMs: o.intervalMs,
    async poll(client) {
      try {
        const { tables, sections, kitchens } = await readHalls(client);
        o.catalog.setTables(tables);
        o.publish('tables', 'TablesUpdate', { tables, sections, kitchens }, 'tables');
      } finally {
        o.catalog.tried('tables');
      }
    },
  };
}
