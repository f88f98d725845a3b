/**
 * The chaos checker can fail: a deliberately broken outbox (the test-only
 * switch EVVA_TEST_BROKEN_OUTBOX=ack-on-send forgets each event once it is
 * sent, before the relay stored it) under a blackholed link loses events, and
 * `npm run chaos` must say so, name the loss, print the seed and exit 1.
 * The passing soak runs in CI (.ci/run) with a fixed seed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/proc.ts';

function chaos(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'chaos.ts'), ...args], {
      cwd: ROOT, env: { ...process.env, VITEST: undefined } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('the chaos checker', () => {
  it('fails a run whose outbox forgets events before the relay stored them, and prints the seed to replay', async () => {
    const r = await chaos(['--minutes', '0.4', '--seed', '7', '--faults', 'link-blackhole', '--broken-outbox', 'ack-on-send']);
    expect(r.out).toMatch(/BROKEN OUTBOX/);
    expect(r.out).toMatch(/— FAIL/);
    // Events written to the outbox never reached EVVA: their seqs are missing (and final order states with them).
    expect(r.out).toMatch(/\| gap \| [1-9]/);
    expect(r.out).toMatch(/replay with {2}npm run chaos -- --minutes 0\.4 --seed 7 --faults link-blackhole/);
    expect(r.code).toBe(1);
    // A failed run keeps its directory for a person to read; this one was meant to fail.
    const kept = r.out.match(/run directory kept: (\S+)/)?.[1];
    if (kept?.includes('evva-chaos-7-')) fs.rmSync(kept, { recursive: true, force: true });
  }, 300_000);
});
