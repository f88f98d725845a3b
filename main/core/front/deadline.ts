/**
 * A deadline the caller owns: a timer held by the event loop that aborts a
 * signal, and a parent signal that aborts it too. Not AbortSignal.timeout()
 * inside AbortSignal.any(): on Node 20 the inner timeout can be garbage-
 * collected before it fires (nodejs/node#57736), so a backstop built that way
 * may never stop anything.
 */
import type { Clock } from '../../../common/clock.ts';

export interface Deadline {
  /** Aborts when the time is up or the parent aborts, whichever comes first. */
  readonly signal: AbortSignal;
  /** True when the time ran out (not when the parent aborted). */
  timedOut(): boolean;
  /** Stops the timer and lets go of the parent; the signal stays as it is. Idempotent. */
  clear(): void;
}

/** Starts a deadline `ms` from now; guarantees the signal aborts by then unless cleared first. */
export function deadline(clock: Clock, ms: number, parent?: AbortSignal): Deadline {
  const ctl = new AbortController();
  let fired = false;
  let timer: NodeJS.Timeout | undefined;
  const onParent = () => { clear(); ctl.abort(parent?.reason); };
  function clear(): void {
    clock.clearTimeout(timer);
    timer = undefined;
    parent?.removeEventListener('abort', onParent);
  }
  if (parent?.aborted) {
    ctl.abort(parent.reason);
  } else {
    parent?.addEventListener('abort', onParent, { once: true });
    timer = clock.setTimeout(() => {
      fired = true;
      clear();
      ctl.abort(new DOMException(`deadline of ${ms} ms passed`, 'TimeoutError'));
    }, ms);
  }
  return { signal: ctl.signal, timedOut: () => fired, clear };
}
