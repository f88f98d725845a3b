/**
 * The Журнал as the agent writes it: best effort. Storage that cannot be
 * opened costs the history, never the relaying; a row that cannot be written
 * costs that line, never the caller's work.
 */
import type { JournalPage, JournalRow } from '../../protocol/local.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { openJournal, type Journal, type JournalQuery } from './journal.ts';

export interface History {
  /** Writes rows through `write`; the rows added or folded go to onRows. Never throws. */
  record(write: (j: Journal) => JournalRow[]): void;
  /** A page of rows, newest first; null when the Журнал's storage is unusable. */
  list(query: JournalQuery): JournalPage | null;
  keepDays(days: number): void;
  close(): void;
}

/** Opens the Журнал now; never throws (without its storage, record() does nothing and list() answers null). */
export function openHistory(d: { dataDir: string; days: number; clock: Clock; logger: Logger; onRows(rows: JournalRow[]): void }): History {
  let journal: Journal | null = null;
  try {
    journal = openJournal({ dataDir: d.dataDir, now: () => d.clock.now(), days: d.days });
  } catch (e) {
    d.logger.error('journal storage unusable; the Журнал shows no history', { err: e instanceof Error ? e.message : String(e) });
  }
  return {
    record(write) {
      if (!journal) return;
      try {
        d.onRows(write(journal));
      } catch (e) {
        d.logger.warn('journal row not written', { err: e instanceof Error ? e.message : String(e) });
      }
    },
    list: (query) => (journal ? journal.list(query) : null),
    keepDays: (days) => journal?.keepDays(days),
    close: () => journal?.close(),
  };
}
