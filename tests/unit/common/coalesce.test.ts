/**
 * Write coalescing (common/coalesce.ts): the first frame a socket gets in a
 * turn of the event loop goes at once, the rest of that turn's wait corked and
 * leave together when the turn ends; a flush writes them early.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Coalescer, type Corkable } from '../../../common/coalesce.ts';

/** A socket that records what a real one would do: writes while uncorked go out, corked ones wait. */
class FakeSocket implements Corkable {
  corks = 0;
  /** Each entry is one write to the kernel (a batch of frames in one writev, or one frame). */
  out: string[][] = [];
  private waiting: string[] = [];
  cork(): void { this.corks++; }
  uncork(): void {
    if (this.corks === 0) return;
    if (--this.corks === 0 && this.waiting.length > 0) this.out.push(this.waiting.splice(0));
  }
  write(frame: string): void {
    if (this.corks > 0) this.waiting.push(frame);
    else this.out.push([frame]);
  }
}

function send(c: Coalescer, s: FakeSocket, frame: string): void {
  c.before();
  s.write(frame);
}

describe('write coalescing', () => {
  it('writes the first frame of a turn at once and the rest of the turn in one write at its end', async () => {
    const s = new FakeSocket();
    const c = new Coalescer(s);
    send(c, s, 'a');
    expect(s.out).toEqual([['a']]);
    send(c, s, 'b');
    send(c, s, 'c');
    expect(s.out).toEqual([['a']]);
    expect(c.holding).toBe(true);
    await nextTurn();
    expect(s.out).toEqual([['a'], ['b', 'c']]);
    expect(c.holding).toBe(false);
    expect(s.corks).toBe(0);
  });

  it('starts again in the next turn: its first frame is not held', async () => {
    const s = new FakeSocket();
    const c = new Coalescer(s);
    send(c, s, 'a');
    await nextTurn();
    send(c, s, 'b');
    expect(s.out).toEqual([['a'], ['b']]);
    await nextTurn();
    expect(s.out).toEqual([['a'], ['b']]);
  });

  it('keeps each socket apart: one shared end of turn flushes every socket that holds frames', async () => {
    const s1 = new FakeSocket();
    const s2 = new FakeSocket();
    const c1 = new Coalescer(s1);
    const c2 = new Coalescer(s2);
    send(c1, s1, 'a1');
    send(c2, s2, 'a2');
    send(c1, s1, 'b1');
    send(c2, s2, 'b2');
    send(c2, s2, 'c2');
    expect([s1.out, s2.out]).toEqual([[['a1']], [['a2']]]);
    await nextTurn();
    expect([s1.out, s2.out]).toEqual([[['a1'], ['b1']], [['a2'], ['b2', 'c2']]]);
  });

  it('flush writes what is held at once (before a socket is dropped), and later frames of the turn are held again', async () => {
    const s = new FakeSocket();
    const c = new Coalescer(s);
    send(c, s, 'a');
    send(c, s, 'b');
    c.flush();
    expect(s.out).toEqual([['a'], ['b']]);
    send(c, s, 'c');
    expect(s.out).toEqual([['a'], ['b']]);
    await nextTurn();
    expect(s.out).toEqual([['a'], ['b'], ['c']]);
    expect(s.corks).toBe(0);
  });

  it('writes frames sent after the end of a turn (in a later callback of the same phase) in their own turn', async () => {
    const s = new FakeSocket();
    const c = new Coalescer(s);
    send(c, s, 'a');
    send(c, s, 'b');
    // Queued after the shared end of turn: it runs once that has flushed.
    await nextTurn();
    send(c, s, 'c');
    send(c, s, 'd');
    expect(s.out).toEqual([['a'], ['b'], ['c']]);
    await nextTurn();
    expect(s.out).toEqual([['a'], ['b'], ['c'], ['d']]);
  });
});
