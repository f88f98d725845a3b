/**
 * The staff list keeps the order a Russian POS PC shows (ICU's Russian collator, which `localeCompare` used before),
 * without the companion loading ICU's collation data (main/core/iiko/names.ts says why).
 */
import { describe, expect, it } from 'vitest';
import { byName } from '../../../main/core/iiko/names.ts';

const russian = new Intl.Collator('ru');

const FIRST = ['Анна', 'Алёна', 'Алена', 'Ёлка', 'Елена', 'Егор', 'Йозеф', 'Иван', 'Ия', 'Игорь', 'Юлия', 'Яна', 'Эрик', 'Шамиль', 'Щукин', 'Ъ', 'Ьа',
  'John', 'Éric', 'Eric', 'Zoë', 'Zoe', 'ivan', 'Ivan', 'Ольга', 'оля', 'ОЛЯ', 'Фёдор', 'Федор', 'Хамид', 'Мария', 'Пётр', 'Петр'];
const LAST = ['', ' ', ' Петрова', ' Петров', '-Петров', ' Ёжиков', ' Ежов', ' (бар)', ' (кухня)', ' 2', '2', '-1', ' 10', ' 9', '.', ' О\'Нил', ' Смит',
  ' Smith', ' smith', ' мл.', ', старший', ' — менеджер', ' «VIP»', ' №1', ' _', ' Ли', ' ли', ' Лё', ' Ле'];

/** A fixed pseudo-random sequence, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

describe('the staff list order', () => {
  it('is the Russian collator\'s for every pair of these names', () => {
    const names = FIRST.flatMap((f) => LAST.map((l) => f + l));
    const sorted = [...names].sort(byName);
    expect(sorted).toEqual([...names].sort(russian.compare));
  });

  it('is the Russian collator\'s for mixed lists drawn at random', () => {
    const next = random(23);
    const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!;
    for (let round = 0; round < 200; round++) {
      const names = Array.from({ length: 12 }, () => pick(FIRST) + pick(LAST) + (next() < 0.3 ? pick(LAST) : ''));
      expect([...names].sort(byName), names.join(' | ')).toEqual([...names].sort(russian.compare));
    }
  });

  it('keeps «ё» with «е», «й» after «и», Cyrillic before Latin, lower before upper case', () => {
    expect(['Ежов', 'Ёжиков', 'Елена'].sort(byName)).toEqual(['Ёжиков', 'Ежов', 'Елена']);
    expect(['Алёна', 'Алена'].sort(byName)).toEqual(['Алена', 'Алёна']);
    expect(['Йод', 'Ия', 'Иок'].sort(byName)).toEqual(['Иок', 'Ия', 'Йод']);
    expect(['Bob', 'Яна', 'Анна'].sort(byName)).toEqual(['Анна', 'Яна', 'Bob']);
    expect(['ИВАН', 'иван', 'Иван'].sort(byName)).toEqual(['иван', 'Иван', 'ИВАН']);
    expect(byName('Мария', 'Мария')).toBe(0);
  });
});
