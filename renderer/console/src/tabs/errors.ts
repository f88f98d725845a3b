/** A failed console call in words a support person can act on: the known codes from the catalogue, else the relay's own message. */
import type { Lang } from '../../../../face/strings.ts';
import type { Answer } from '../api.ts';
import type { ConsoleStrings } from '../strings.ts';

export function errorText(r: Extract<Answer<unknown>, { ok: false }>, c: ConsoleStrings, lang: Lang): string {
  if (r.status === 0) return c.errors.offline;
  const known = c.errors.byCode[r.error.error];
  if (typeof known === 'string') return known;
  return c.errors.other((lang === 'en' ? r.error.messageEn : r.error.message) || r.error.error);
}
