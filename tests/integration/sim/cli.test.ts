import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { VERSION_HEADER } from '../../../protocol/front.ts';
import { runBin, startBin } from '../../helpers/proc.ts';
import type { Proc } from '../../helpers/proc.ts';

let proc: Proc | null = null;
let blocker: net.Server | null = null;
afterEach(async () => {
  await proc?.stop('SIGKILL');
  proc = null;
  await new Promise((r) => (blocker ? blocker.close(r) : r(null)));
  blocker = null;
});

describe('evva-sim CLI', () => {
  it('prints where it listens, serves the plugin page, and exits 0 on SIGTERM', async () => {
    proc = startBin('evva-sim.js', ['--port', '0', '--no-auto', '--plugin-version', '7.9.1.0', '--seed', '3', '--quiet']);
    const [, url] = await proc.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get(VERSION_HEADER)).toBe('7.9.1.0');
    expect(await res.text()).toContain('iikoFront.WebApi 7.9.1.0');
    const state = await fetch(`${url}/_sim/state`).then((r) => r.json()) as { auto: boolean; config: { licenceSlots: number } };
    expect(state.auto).toBe(false);
    expect(await proc.stop('SIGTERM')).toBe(0);
    expect(proc.output()).toMatch(/SIGTERM, stopping/);
  });

  it('exits non-zero with a clear message on a bad flag or value', async () => {
    const [unknown, badPort, badSpeed] = await Promise.all([
      runBin('evva-sim.js', ['--bogus']),
      runBin('evva-sim.js', ['--port', 'abc']),
      runBin('evva-sim.js', ['--speed', '0']),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toMatch(/bogus/);
    expect(badPort.code).toBe(2);
    expect(badPort.out).toMatch(/--port must be a whole number from 0 to 65535, got 'abc'/);
    expect(badSpeed.code).toBe(2);
    expect(badSpeed.out).toMatch(/--speed must be a number above 0/);
  });

  it('exits 1 when the port is taken', async () => {
    blocker = net.createServer();
    await new Promise<void>((r) => blocker!.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const r = await runBin('evva-sim.js', ['--port', String(port), '--no-auto']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`Port ${port} .*already in use`));
  });

  it('shows usage with --help', async () => {
    const r = await runBin('evva-sim.js', ['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--licence-slots/);
  });
});
