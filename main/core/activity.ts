/**
 * The companion's recent activity, as the UI's status screen and Журнал show
 * it: changes of the plugin's and the link's state (not every check). Kept in
 * memory; the feed's orders and payments arrive through their own stream.
 */
import type { FrontStatus, Problem, TunnelStatus } from '../../protocol/local.ts';
import type { ActivityItem } from '../../protocol/local.ts';

/** Items kept; older ones drop off. */
export const ACTIVITY_MAX = 200;

export interface Activity {
  /** Newest first, at most `limit`. */
  list(limit?: number): ActivityItem[];
  /** Records the parts' states; adds an item only when a part's state changed. Returns the new items. */
  observe(front: FrontStatus, tunnel: TunnelStatus, at: string): ActivityItem[];
}

/** Starts empty; the first observation records where things stand. */
export function createActivity(): Activity {
  const items: ActivityItem[] = [];
  let last: { front?: string; tunnel?: string } = {};
  let seq = 0;
  const add = (item: Omit<ActivityItem, 'id'>): ActivityItem => {
    const full = { ...item, id: ++seq };
    items.unshift(full);
    if (items.length > ACTIVITY_MAX) items.pop();
    return full;
  };
  const problem = (p?: Problem) => (p ? { message: p.message, ...(p.messageEn ? { messageEn: p.messageEn } : {}) } : {});
  return {
    list: (limit = ACTIVITY_MAX) => items.slice(0, limit),
    observe(front, tunnel, at) {
      const out: ActivityItem[] = [];
      // 'unknown' is "still checking", not news.
      if (front.state !== 'unknown' && front.state !== last.front) {
        out.push(add({ at, part: 'front', state: front.state, ...problem(front.state === 'up' ? undefined : front.error) }));
      }
      if (tunnel.state !== last.tunnel) {
        out.push(add({ at, part: 'tunnel', state: tunnel.state, ...problem(tunnel.state === 'offline' ? tunnel.error : undefined) }));
      }
      last = { front: front.state === 'unknown' ? last.front : front.state, tunnel: tunnel.state };
      return out;
    },
  };
}
