/** The chaos soak's clock jump reaches a companion only when the test hooks are switched on explicitly. */
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { clockFromEnv } from '../../main/core/testclock.ts';
import { tempDir } from '../helpers/relay.ts';

const dirs: Array<{ remove(): void }> = [];
afterEach(() => { for (const d of dirs.splice(0)) d.remove(); });

describe('the test clock hook', () => {
  it('is absent (the agent keeps its real clock) unless both EVVA_TEST_HOOKS=1 and a clock file are given', () => {
    const d = tempDir('clock');
    dirs.push(d);
    writeFileSync(`${d.dir}/offset`, '3600000');
    expect(clockFromEnv({})).toBeUndefined();
    expect(clockFromEnv({ EVVA_TEST_CLOCK_FILE: `${d.dir}/offset` })).toBeUndefined();
    expect(clockFromEnv({ EVVA_TEST_HOOKS: '1' })).toBeUndefined();
  });

  it('jumps now() forward by the file\'s milliseconds, and only now()', async () => {
    const d = tempDir('clock');
    dirs.push(d);
    const file = `${d.dir}/offset`;
    const clock = clockFromEnv({ EVVA_TEST_HOOKS: '1', EVVA_TEST_CLOCK_FILE: file })!;
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(1000);
    writeFileSync(file, String(15 * 60_000));
    await new Promise((r) => setTimeout(r, 1_200));
    expect(clock.now() - Date.now()).toBeGreaterThan(14 * 60_000);
    // Monotonic time and timers do not jump.
    expect(Math.abs(clock.mono() - performance.now())).toBeLessThan(1000);
    const fired = await new Promise<number>((resolve) => { const t0 = performance.now(); clock.setTimeout(() => resolve(performance.now() - t0), 50); });
    expect(fired).toBeGreaterThanOrEqual(40);
  });
});
