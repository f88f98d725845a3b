import { describe, expect, it } from 'vitest';
import { realClock } from '../../../common/clock.ts';
import { deadline } from '../../../main/core/front/deadline.ts';

describe('deadline', () => {
  it('aborts its signal when the time is up, and says it timed out', async () => {
    const d = deadline(realClock, 30);
    await new Promise((r) => d.signal.addEventListener('abort', r));
    expect(d.timedOut()).toBe(true);
    expect((d.signal.reason as Error).name).toBe('TimeoutError');
  });

  it('fires even when nothing but the timer holds it (no reliance on a collectable AbortSignal.timeout)', async () => {
    let fired = false;
    (() => { deadline(realClock, 30).signal.addEventListener('abort', () => { fired = true; }); })();
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 150));
    expect(fired).toBe(true);
  });

  it('aborts with the parent, which is not a timeout', () => {
    const parent = new AbortController();
    const d = deadline(realClock, 10_000, parent.signal);
    parent.abort(new Error('cancelled'));
    expect(d.signal.aborted).toBe(true);
    expect(d.timedOut()).toBe(false);
  });

  it('is born aborted under an aborted parent, and a cleared one never fires', async () => {
    const parent = new AbortController();
    parent.abort();
    expect(deadline(realClock, 10_000, parent.signal).signal.aborted).toBe(true);
    const d = deadline(realClock, 20);
    d.clear();
    await new Promise((r) => setTimeout(r, 80));
    expect(d.signal.aborted).toBe(false);
  });
});
