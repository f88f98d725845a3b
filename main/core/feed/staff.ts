/**
 * The staff poll: `/api/users` as the user contract shows them (no roles, no
 * rights, no PIN). Couriers are the venue's own list (feed.courierCodes); a
 * StaffUpdate is emitted when anything in the list changed.
 */
import type { CourierList } from '../iiko/rules.ts';
import { readStaff } from '../iiko/reader.ts';
import type { FeedCatalog } from './catalog.ts';
import type { PollSpec, Publish } from './poller.ts';

export interface StaffPollOptions {
  intervalMs: number;
  couriers: CourierList;
  catalog: FeedCatalog;
  publish: Publish;
}

export function createStaffPoll(o: StaffPollOptions): PollSpec {
  return {
    name: 'staff',
    intervalMs: o.intervalMs,
    async poll(client) {
      try {
        const staff = await readStaff(client, o.couriers);
        o.catalog.setStaff(staff);
        o.publish('staff', 'StaffUpdate', { staff }, 'staff');
      } finally {
        o.catalog.tried('staff');
      }
    },
  };
}
