import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { realClock } from '../../../common/clock.ts';
import { Backstop, deadline } from '../../../main/core/front/deadline.ts';

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

describe('Backstop (the tunnel call\'s deadline, without a signal of its own)', () => {
  const counter = () => {
    const heard: string[] = [];
    return { heard, fn: () => { heard.push('fn'); }, obj: { handleEvent: () => { heard.push('obj'); } } };
  };

  it('aborts after its time with a TimeoutError, tells each listener once, and lets go of the parent', async () => {
    const parent = new AbortController();
    const b = new Backstop(realClock, 30, parent.signal);
    const c = counter();
    b.addEventListener('abort', c.fn);
    b.addEventListener('abort', c.obj);
    expect(b.aborted).toBe(false);
    await new Promise((r) => setTimeout(r, 120));
    expect(b.aborted).toBe(true);
    expect(b.timedOut()).toBe(true);
    expect((b.reason as Error).name).toBe('TimeoutError');
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    parent.abort(new Error('later'));
    expect((b.reason as Error).name).toBe('TimeoutError');
    expect(c.heard).toEqual(['fn', 'obj']);
  });

  it('aborts with the parent and its reason, which is not a timeout, and its timer no longer fires', async () => {
    const parent = new AbortController();
    const b = new Backstop(realClock, 30, parent.signal);
    const c = counter();
    b.addEventListener('abort', c.obj);
    const why = new Error('cancelled');
    parent.abort(why);
    expect(b.aborted).toBe(true);
    expect(b.reason).toBe(why);
    expect(b.timedOut()).toBe(false);
    await new Promise((r) => setTimeout(r, 80));
    expect(b.timedOut()).toBe(false);
    expect(c.heard).toEqual(['obj']);
  });

  it('is born aborted under an aborted parent, with its reason', () => {
    const parent = new AbortController();
    parent.abort();
    const b = new Backstop(realClock, 10_000, parent.signal);
    expect(b.aborted).toBe(true);
    expect((b.reason as Error).name).toBe('AbortError');
  });

  it('once cleared, neither its time nor the parent reaches a listener, and it stays unaborted', async () => {
    const parent = new AbortController();
    const b = new Backstop(realClock, 20, parent.signal);
    const c = counter();
    b.addEventListener('abort', c.fn);
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1);
    b.clear();
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 80));
    parent.abort(new Error('after the call'));
    expect(b.aborted).toBe(false);
    expect(b.reason).toBeUndefined();
    expect(c.heard).toEqual([]);
  });

  it('a listener removed before the abort is not told', () => {
    const parent = new AbortController();
    const b = new Backstop(realClock, 10_000, parent.signal);
    const c = counter();
    b.addEventListener('abort', c.fn);
    b.addEventListener('abort', c.obj);
    b.removeEventListener('abort', c.fn);
    parent.abort();
    expect(c.heard).toEqual(['obj']);
  });
});
