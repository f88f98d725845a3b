/**
 * Child process of tests/unit/heap.test.ts: allocates like a busy companion
 * (short-lived objects, a working set that survives a few scavenges), with or
 * without keepHeapSmall(), and prints the young generation's size after.
 *
 *   node --import tsx tests/helpers/youngheap.ts keep|default
 */
import { keepHeapSmall, youngGenerationBytes } from '../../main/core/heap.ts';

if (process.argv[2] === 'keep') keepHeapSmall();
let live: Array<{ i: number; s: string }> = [];
for (let i = 0; i < 2_000_000; i++) {
  live.push({ i, s: `order ${i}` });
  if (live.length > 20_000) live = [];
}
console.log(JSON.stringify({ young: youngGenerationBytes(), kept: live.length }));
