import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const HELPER = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../helpers/youngheap.ts');
const young = (mode: string) => new Promise<number>((resolve, reject) => {
  execFile(process.execPath, ['--import', 'tsx', HELPER, mode], { encoding: 'utf8', timeout: 60_000 }, (e, out) => {
    if (e) reject(e);
    else resolve((JSON.parse(out.trim().split('\n').pop()!) as { most: number }).most);
  });
});

describe("the companion's heap", () => {
  it('keeps the young generation at its first size, or lets it grow to a cap, under a burst that grows it tenfold by default', async () => {
    const [kept, capped, grown] = await Promise.all([young('keep'), young('cap'), young('default')]);
    // V8 starts at 1 MB per semi-space (about 2 MB of new space) and grows to 16 MB each.
    expect(kept).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(grown).toBeGreaterThan(16 * 1024 * 1024);
    // The relay's cap: it grows (more room than the first size) but stops at 8 MB of new space.
    expect(capped).toBeGreaterThan(kept);
    expect(capped).toBeLessThanOrEqual(8.5 * 1024 * 1024);
  }, 90_000);
});
