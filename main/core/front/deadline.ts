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

/** An abort listener as AbortSignal takes one: a function, or an object with `handleEvent` (no closure). */
export type AbortListener = (() => void) | { handleEvent(): void };

/** What may cancel a plugin call (wire.ts): an AbortSignal, or a Backstop, which is one without an AbortSignal of its own. */
export interface Cutoff {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: AbortListener, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: AbortListener): void;
}

/**
 * A deadline over a parent signal as `deadline()` makes one (it fires after `ms`, or with the parent, whichever
 * comes first; once cleared, neither reaches its listeners), for the tunnel's calls, one per call: it is itself
 * the Cutoff its call listens to, so it makes no AbortController and no second signal, and listens to the parent
 * as an object (no closure). Why: the two signals and their listeners were ~8% of the companion's samples per
 * small call (docs/performance.md, round two, sixteenth part).
 */
export class Backstop implements Cutoff {
  private fired = false;
  private done = false;
  private why: unknown = undefined;
  private timer: NodeJS.Timeout | undefined;
  private listeners: AbortListener[] | null = null;

  /** Guarantees an abort by `ms` from now unless cleared first, or at once when `parent` already has. */
  constructor(private readonly clock: Clock, private readonly ms: number, private readonly parent: AbortSignal) {
    if (parent.aborted) {
      this.done = true;
      this.why = parent.reason ?? abortError();
      return;
    }
    parent.addEventListener('abort', this);
    this.timer = clock.setTimeout(this.expire, ms);
  }

  get aborted(): boolean {
    return this.done && this.why !== undefined;
  }
  get reason(): unknown {
    return this.why;
  }
  /** True when the time ran out (not when the parent aborted). */
  timedOut(): boolean {
    return this.fired;
  }

  addEventListener(_type: 'abort', listener: AbortListener): void {
    if (this.done) return;
    (this.listeners ??= []).push(listener);
  }
  removeEventListener(_type: 'abort', listener: AbortListener): void {
    const l = this.listeners;
    const i = l ? l.indexOf(listener) : -1;
    if (i >= 0) l!.splice(i, 1);
  }

  /** Stops the timer and lets go of the parent; it stays as it is. Idempotent. */
  clear(): void {
    if (this.done) return;
    this.done = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.parent.removeEventListener('abort', this);
    this.listeners = null;
  }

  /** @internal the parent aborted. */
  handleEvent(): void {
    this.end(this.parent.reason);
  }

  private readonly expire = (): void => {
    this.fired = true;
    this.end(new DOMException(`deadline of ${this.ms} ms passed`, 'TimeoutError'));
  };

  private end(reason: unknown): void {
    if (this.done) return;
    const l = this.listeners;
    this.clear();
    this.why = reason ?? abortError();
    if (!l) return;
    for (const x of l) {
      if (typeof x === 'function') x();
      else x.handleEvent();
    }
  }
}

/** The reason an AbortSignal gives when aborted without one: `aborted` is true exactly when a reason is set. */
function abortError(): DOMException {
  return new DOMException('This operation was aborted', 'AbortError');
}
