/**
 * The companion shares a POS PC, often an old one, with iikoFront itself, so
 * its heap is kept small on purpose.
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

/** Stops the young generation from growing past its first size; call it before the heavy modules load. */
export function keepHeapSmall(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}

/** The young generation's current size in bytes (tests, bench). */
export function youngGenerationBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}
