/**
 * How big V8's young generation may get. The companion shares a POS PC, often
 * an old one, with iikoFront itself; a relay holds 10 000 mostly idle tunnels.
 * Neither should carry a nursery sized for a burst long after the burst.
 *
 * V8's young generation starts at 1 MB per semi-space and doubles whenever
 * much survives a scavenge, up to 16 MB each (33.6 MB of new space); start-up
 * (compiling every module) and a burst of tunnel calls take it there, and it
 * shrinks back only when V8's memory reducer gets round to it, a minute or
 * more later, if ever. Measured on the compiled bin: RSS 123-130 MB under
 * tunnel load with the default, 95-107 MB with the young generation held at
 * its first size. More frequent scavenges are the price; bench/ measures it.
 *
 * Node only takes `--max-semi-space-size` on its command line, which a bin
 * started by `npx`, a service manager or Electron does not control; the
 * growth factor is read by V8 each time the space would grow, so setting it
 * to 1 at run time keeps the space at its first size from here on.
 */
import v8 from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';

/** Stops the young generation from growing past its first size; call it before the heavy modules load. */
export function keepHeapSmall(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}

/**
 * Lets the young generation grow (it doubles when much survives a
 * scavenge) but not past `maxBytes`: after each collection, growth is
 * switched off once one more doubling would pass the cap, and on again once
 * V8 has shrunk it. For the relay, which serves bursts of calls (a nursery of
 * a few MB keeps most of a call's objects from surviving into the old
 * generation) and otherwise holds idle tunnels. Returns the stop function.
 */
export function capYoungGeneration(maxBytes: number): () => void {
  let growing: boolean | null = null;
  const check = () => {
    const grow = youngGenerationBytes() * 2 <= maxBytes;
    if (grow === growing) return;
    growing = grow;
    v8.setFlagsFromString(`--semi-space-growth-factor=${grow ? 2 : 1}`);
  };
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  check();
  return () => observer.disconnect();
}

/** The young generation's current size in bytes (tests, bench). */
export function youngGenerationBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}
