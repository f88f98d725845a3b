import { describe, expect, it } from 'vitest';
import { Backoff, BACKOFF_BASE_MS, BACKOFF_CAP_MS, REFUSED_CAP_MS } from '../../../main/core/tunnel/backoff.ts';

describe('full-jitter backoff', () => {
  it('draws each delay uniformly under a ceiling that doubles up to the cap', () => {
    const b = new Backoff(() => 0.999999);
    const delays = Array.from({ length: 12 }, () => b.next());
    const ceilings = delays.map((_, i) => Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** i));
    delays.forEach((d, i) => {
      expect(d).toBeLessThan(ceilings[i] as number);
      expect(d).toBeGreaterThanOrEqual((ceilings[i] as number) - 1);
    });
    expect(Math.max(...delays)).toBeLessThan(BACKOFF_CAP_MS);
  });

  it('can return zero (full jitter, not equal jitter)', () => {
    const b = new Backoff(() => 0);
    for (let i = 0; i < 5; i++) expect(b.next()).toBe(0);
  });

  it('spreads many clients over the whole window instead of a storm', () => {
    // 1000 companions at their 5th attempt: delays cover [0, ceiling) with no pile-up.
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** 5);
    const buckets = new Array(10).fill(0);
    for (let c = 0; c < 1000; c++) {
      const b = new Backoff();
      for (let i = 0; i < 5; i++) b.next();
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(ceiling);
      buckets[Math.floor((d / ceiling) * 10)]++;
    }
    for (const n of buckets) expect(n).toBeLessThan(200); // uniform would be ~100 each
  });

  it('reset starts again from the base', () => {
    const b = new Backoff(() => 0.5);
    for (let i = 0; i < 8; i++) b.next();
    expect(b.ceiling()).toBe(Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** 8));
    b.reset();
    expect(b.ceiling()).toBe(BACKOFF_BASE_MS);
    expect(b.next()).toBe(BACKOFF_BASE_MS / 2);
  });

  it('retries a refused connect (the relay restarting) within REFUSED_CAP_MS however long it has been failing', () => {
    const b = new Backoff(() => 0.999_999, 500, 10_000);
    for (let i = 0; i < 10; i++) b.next();
    expect(b.next()).toBeGreaterThan(9_000);
    expect(b.next(true)).toBeLessThan(REFUSED_CAP_MS);
    expect(b.next(true)).toBeGreaterThan(REFUSED_CAP_MS - 10);
    // Early on, the ordinary (smaller) ceiling still applies.
    expect(new Backoff(() => 0.999_999, 500, 10_000).next(true)).toBeLessThan(500);
  });
});
