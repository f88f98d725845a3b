/**
 * A poll whose plugin is not known yet (the companion started before iikoFront, or the address was set later) looks
 * again within a second, not after its own interval: the menu's is a day, the tables' five minutes.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../common/logger.ts';
import type { FrontClient } from '../../../main/core/front/client.ts';
import { NO_PLUGIN_RECHECK_MS, createPoller } from '../../../main/core/feed/poller.ts';
import { manualClock } from '../../helpers/clock.ts';

const DAY = 24 * 3_600_000;

describe('a poll waiting for the plugin', () => {
  it('polls within a second of the plugin being found, whatever its own interval', async () => {
    const clock = manualClock();
    let client: FrontClient | null = null;
    const polled: number[] = [];
    const poller = createPoller({
      spec: { name: 'menu', intervalMs: DAY, poll: async () => { polled.push(clock.now()); } },
      clock, logger: silentLogger, client: () => client,
    });
    const settle = () => new Promise((r) => setImmediate(r));
    poller.start();
    for (let i = 0; i < 100; i++) {
      await settle();
      clock.advance(100);
    }
    expect(polled).toEqual([]);
    client = {} as FrontClient;
    const found = clock.now();
    for (let i = 0; i < 50 && polled.length === 0; i++) {
      clock.advance(100);
      await settle();
    }
    poller.stop();
    expect(polled).toHaveLength(1);
    expect(polled[0]! - found).toBeLessThanOrEqual(NO_PLUGIN_RECHECK_MS);
  });
});
