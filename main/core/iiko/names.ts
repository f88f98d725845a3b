/**
 * The order staff names are listed in: what a Russian POS PC's collator
 * (`localeCompare` under Windows' ru-RU locale, ICU's Russian rules) gives,
 * without loading ICU's collation data. That collator, created once to sort
 * the staff list, cost the idle companion about 2-3 MB of RSS all day
 * (docs/performance.md, round two), for names made of Cyrillic and Latin
 * letters, digits, spaces and a little punctuation.
 *
 * The rules, checked against `Intl.Collator('ru')` by
 * tests/unit/companion/staff-order.test.ts:
 * - first the letters alone, case and accents aside: «ё» is «е», «й» is a letter
 *   of its own (after «и»), «é» is «e»; whitespace before punctuation, before
 *   digits, before Cyrillic, before Latin, before any other script;
 *   punctuation among itself in ICU's order (PUNCTUATION below);
 * - on a tie, the plain letter before its accented one («е» before «ё»);
 * - then lower case before upper case.
 * - «№» weighs as the Latin letters «No», as in ICU.
 * Punctuation and symbols not listed come after the listed ones, by code point:
 * the one place this may differ from ICU, and not in names.
 */

/** ICU's (CLDR root, which Russian keeps) order of the punctuation and symbols a name may hold. */
const PUNCTUATION = '_-–—,;:!?.…\'’"«»()[]{}@*/\\&#%`^+<=>|~$';

const enum Kind { Space, Mark, Digit, Cyrillic, Latin, Other }

/** The primary weight of one character (kind, then base letter), and its accent and case. */
function weigh(ch: string): { primary: number; accent: number; upper: number } {
  const lower = ch.toLowerCase();
  const upper = lower !== ch ? 1 : 0;
  let base = lower;
  let accent = 0;
  if (lower === 'ё') { base = 'е'; accent = 1; }
  const cp = lower.codePointAt(0)!;
  if (cp >= 0xc0 && cp <= 0x24f) {
    // Accented Latin: the base letter with an accent weight («é» ties with «e» until accents are compared).
    const plain = lower.normalize('NFD')[0]!;
    if (plain !== lower) { base = plain; accent = 1; }
  }
  const b = base.codePointAt(0)!;
  let kind: Kind;
  let order = b;
  if (/\s/.test(base)) { kind = Kind.Space; order = 0; }
  else if (b >= 0x30 && b <= 0x39) kind = Kind.Digit;
  else if (b >= 0x400 && b <= 0x4ff) kind = Kind.Cyrillic;
  else if ((b >= 0x61 && b <= 0x7a) || (b >= 0xdf && b <= 0x24f)) kind = Kind.Latin;
  else if (/\p{L}/u.test(base)) kind = Kind.Other;
  else {
    kind = Kind.Mark;
    const at = PUNCTUATION.indexOf(base);
    order = at >= 0 ? at : PUNCTUATION.length + b;
  }
  return { primary: kind * 0x200000 + order, accent, upper };
}

function keys(name: string): { primary: number[]; accent: number[]; upper: number[] } {
  const k = { primary: [] as number[], accent: [] as number[], upper: [] as number[] };
  for (const ch of name) {
    if (ch === '№') {
      // ICU weighs the numero sign as the letters «No» (a Latin N and o), told apart from them only by case.
      k.primary.push(weigh('n').primary, weigh('o').primary);
      k.accent.push(0, 0);
      k.upper.push(2, 2);
      continue;
    }
    const w = weigh(ch);
    k.primary.push(w.primary);
    k.accent.push(w.accent);
    k.upper.push(w.upper);
  }
  return k;
}

function compareList(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Compares two names as the staff list orders them (see above); a sort comparator. */
export function byName(a: string, b: string): number {
  if (a === b) return 0;
  const x = keys(a);
  const y = keys(b);
  return compareList(x.primary, y.primary) || compareList(x.accent, y.accent) || compareList(x.upper, y.upper);
}
