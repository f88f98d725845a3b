/** The console's language context: the shared catalogue (through the renderer's LangContext) and the console's own words. */
import { createContext, useContext } from 'react';
import { consoleStrings, type ConsoleStrings } from './strings.ts';

export const ConsoleContext = createContext<ConsoleStrings>(consoleStrings('ru'));

/** The console's own words in the page's language. */
export const useC = () => useContext(ConsoleContext);

/** HH:MM today, else DD.MM HH:MM (the reader's clock). */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return hm;
  return `${String(d.getDate()).padStart(2, '0')}.${String(d.getMonth() + 1).padStart(2, '0')}${d.getFullYear() === now.getFullYear() ? '' : `.${d.getFullYear()}`} ${hm}`;
}

/** HH:MM:SS now, for "updated at". */
export function clock(d = new Date()): string {
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}
