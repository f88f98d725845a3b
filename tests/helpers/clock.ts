/** A clock for tests whose time moves only when the test says so. */
import type { Clock } from '../../common/clock.ts';

/** A clock whose time moves only when the test says; timers fire in order as it moves. */
export function manualClock(): Clock & { advance(ms: number): void; scheduled: number[] } {
  let now = 1_700_000_000_000;
  let nextId = 1;
  const timers = new Map<number, { due: number; fn: () => void; every: number | null }>();
  const handle = (id: number) => ({ id, unref() { return this; }, ref() { return this; }, hasRef: () => false }) as unknown as NodeJS.Timeout;
  const idOf = (t: NodeJS.Timeout | undefined) => (t as unknown as { id?: number } | undefined)?.id;
  const scheduled: number[] = [];
  return {
    scheduled,
    now: () => now,
    mono: () => now,
    setTimeout(fn, ms) {
      scheduled.push(ms);
      const id = nextId++;
      timers.set(id, { due: now + ms, fn, every: null });
      return handle(id);
    },
    clearTimeout: (t) => { const id = idOf(t); if (id !== undefined) timers.delete(id); },
    setInterval(fn, ms) {
      const id = nextId++;
      timers.set(id, { due: now + ms, fn, every: ms });
      return handle(id);
    },
    clearInterval: (t) => { const id = idOf(t); if (id !== undefined) timers.delete(id); },
    advance(ms) {
      const target = now + ms;
      for (let guard = 0; guard < 1_000_000; guard++) {
        let first: [number, { due: number; fn: () => void; every: number | null }] | null = null;
        for (const e of timers) if (e[1].due <= target && (!first || e[1].due < first[1].due)) first = e;
        if (!first) break;
        const [id, t] = first;
        now = t.due;
        if (t.every === null) timers.delete(id);
        else t.due += t.every;
        t.fn();
      }
      now = target;
    },
  };
}
