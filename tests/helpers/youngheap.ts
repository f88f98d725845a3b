/**
 * Child process of tests/integration/common/heap.test.ts: allocates like a busy companion
 * (short-lived objects, a working set that survives a few scavenges), with
 * keepHeapSmall(), capYoungGeneration(8 MB) or neither, and prints the young
 * generation's size at the end and at its largest.
 *
 *   node --import tsx tests/helpers/youngheap.ts keep|cap|default
 */
import { capYoungGeneration, keepHeapSmall, youngGenerationBytes } from '../../common/heap.ts';

if (process.argv[2] === 'keep') keepHeapSmall();
if (process.argv[2] === 'cap') capYoungGeneration(8 * 1024 * 1024);
let live: Array<{ i: number; s: string }> = [];
let most = 0;
// In slices with a turn of the event loop between them, as a server's work comes: the cap's check runs after collections.
for (let slice = 0; slice < 200; slice++) {
  for (let i = 0; i < 10_000; i++) {
    live.push({ i, s: `order ${i}` });
    if (live.length > 20_000) live = [];
  }
  most = Math.max(most, youngGenerationBytes());
  await new Promise((r) => setImmediate(r));
}
console.log(JSON.stringify({ young: youngGenerationBytes(), most, kept: live.length }));
