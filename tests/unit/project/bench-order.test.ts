import { describe, expect, it } from 'vitest';
import { balancedOrder } from '../../../bench/_order.ts';

/** How often each target ran right after each other one in `rounds` rounds of `n` targets ("a>b": b right after a). */
function followers(n: number, rounds: number): Map<string, number> {
  const seen = new Map<string, number>();
  for (let r = 0; r < rounds; r++) {
    const row = balancedOrder(n, r);
    for (let i = 1; i < row.length; i++) {
      const k = `${row[i - 1]}>${row[i]}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
  }
  return seen;
}

describe('the side-by-side bench runs its targets in a balanced order (bench/_order.ts)', () => {
  it('runs every target once per round', () => {
    for (const n of [2, 3, 4, 5]) {
      for (let r = 0; r < 2 * n; r++) expect([...balancedOrder(n, r)].sort()).toEqual(Array.from({ length: n }, (_, i) => i));
    }
  });

  it('puts every target right after every other one exactly once in n rounds, 2n for an odd n', () => {
    for (const [n, rounds] of [[2, 2], [3, 6], [4, 4], [5, 10]] as const) {
      const seen = followers(n, rounds);
      expect(seen.size).toBe(n * (n - 1));
      for (const count of seen.values()) expect(count).toBe(rounds / n);
    }
  });

  it('does not put one target after the same one in most rounds, as the plain rotation did', () => {
    // The rotation it replaced: 0 1 2 3, 1 2 3 0, ... ran 1 right after 0 in three rounds of four.
    const seen = followers(4, 4);
    expect(Math.max(...seen.values())).toBe(1);
  });
});
