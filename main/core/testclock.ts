/**
 * A test-only hook for the chaos soak (scripts/chaos.ts): a wall clock that
 * jumps forward the way it does after a laptop or POS PC wakes from sleep,
 * injected into a real companion process. It is honoured only when BOTH
 * `EVVA_TEST_HOOKS=1` and `EVVA_TEST_CLOCK_FILE=<path>` are set; otherwise the
 * companion runs on the real clock. The file holds a number of milliseconds
 * that `now()` is ahead of the machine's clock; it is re-read every 500 ms.
 * Only `now()` jumps: monotonic time and timers keep running as they do after
 * a real sleep (Linux's CLOCK_MONOTONIC stops while suspended).
 */
import { readFileSync } from 'node:fs';
import { realClock, type Clock } from './clock.ts';

/** The real clock, or the jumping test clock when the test hooks are switched on explicitly. */
export function clockFromEnv(env: NodeJS.ProcessEnv): Clock {
  const file = env.EVVA_TEST_CLOCK_FILE;
  if (env.EVVA_TEST_HOOKS !== '1' || !file) return realClock;
  let offset = 0;
  const read = () => {
    try {
      const n = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(n)) offset = n;
    } catch {
      // No file yet: no jump.
    }
  };
  read();
  setInterval(read, 500).unref();
  return { ...realClock, now: () => Date.now() + offset };
}
