/**
 * Child process of integration/companion/front-read-caps.test.ts: the plugin client alone, in a fresh
 * Node, reads `/api/orders` from PLUGIN_URL and prints what it got and the
 * process's peak RSS (VmHWM) before and after, so the test sees the memory
 * one answer cost without the test runner's own heap in the way.
 *
 *   node --import tsx tests/helpers/readhuge.ts PLUGIN_URL [MAX_ANSWER_BYTES]
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { realClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { createFrontClient } from '../../main/core/front/client.ts';

const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) * 1024;
const maxAnswerBytes = process.argv[3] ? Number(process.argv[3]) : undefined;
const client = createFrontClient({ baseUrl: process.argv[2]!, moduleId: '2050', clock: realClock, logger: silentLogger, timeoutMs: 60_000, ...(maxAnswerBytes ? { maxAnswerBytes } : {}) });
const List = z.array(z.object({ Id: z.string() }).passthrough());
// A first call loads and compiles everything the second one uses.
await client.get('/api/sections', z.array(z.unknown()));
const before = hwm();
const orders = await client.get('/api/orders', List);
console.log(JSON.stringify({ ids: orders.map((o) => o.Id), before, after: hwm() }));
await client.close();
