/**
 * A test-only hook for the chaos soak (scripts/chaos.ts): a wall clock that
 * jumps forward the way it does after a laptop or POS PC wakes from sleep,
 * injected into a real companion process. It is honoured only when BOTH
 * `EVVA_TEST_HOOKS=1` and `EVVA_TEST_CLOCK_FILE=<path>` are set; otherwise
 * there is no test clock and the agent uses the real one. The file holds a
 * number of milliseconds that `now()` is ahead of the machine's clock; it is
 * re-read every 500 ms. Only `now()` jumps: monotonic time and timers keep
 * running as they do after a real sleep (Linux's CLOCK_MONOTONIC stops while
 * suspended).
 */
import { readFileSync } from 'node:fs';
import type { AgentOptions } from './agent.ts';

type Clock = NonNullable<AgentOptions['clock']>;

/** The jumping test clock when the test hooks are switched on explicitly, else undefined (the agent's real clock). */
export function clockFromEnv(env: NodeJS.ProcessEnv): Clock | undefined {
  const file = env.EVVA_TEST_CLOCK_FILE;
  if (env.EVVA_TEST_HOOKS !== '1' || !file) return undefined;
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
  return {
    now: () => Date.now() + offset,
    mono: () => performance.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (t) => clearTimeout(t),
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (t) => clearInterval(t),
  };
}
