/**
 * The order in which a side-by-side bench runs its targets in each round.
 *
 * A target run right after another pays for that one's after-effects: the
 * bench client's and the plugin's garbage collected in its time, the previous
 * path's processes still finishing their work on the same two cores. A plain
 * rotation (0 1 2 3, 1 2 3 0, …) put `tunnel` right after `direct` in three
 * rounds of four, and the second tunnel right after the first: the same bins
 * as both targets measured 0.55x each other (docs/performance.md, round two,
 * ninth part).
 */

/**
 * The order of `n` targets in round `r`: a Williams design. Row 0 is
 * 0, 1, n-1, 2, n-2, …; row r adds r to each (mod n); for an odd n the rows
 * of the second n rounds are reversed. Over n rounds (2n for an odd n) every
 * target runs right after every other one exactly once.
 */
export function balancedOrder(n: number, r: number): number[] {
  const first: number[] = [];
  for (let k = 0, lo = 1, hi = n - 1; k < n; k++) first.push(k === 0 ? 0 : k % 2 === 1 ? lo++ : hi--);
  const row = first.map((x) => (x + r) % n);
  return n % 2 === 1 && Math.floor(r / n) % 2 === 1 ? row.reverse() : row;
}
