import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Status } from '../../../protocol/local.ts';
import { startSim, type Sim } from '../../../sim/index.ts';
import { startAgent, type Agent } from '../../../main/core/agent.ts';
import { loadSettings } from '../../../main/core/settings.ts';
import { silentLogger } from '../../../common/logger.ts';
import { discover } from '../../../main/core/front/discovery.ts';
import { freePort } from '../../helpers/proc.ts';

let sim: Sim | null = null;
let agent: Agent | null = null;
let dir = '';
afterEach(async () => {
  await agent?.stop();
  await sim?.close();
  agent = null;
  sim = null;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function setup(opts: { frontUrl?: string | null; simOpts?: Parameters<typeof startSim>[0]; ports?: number[]; file?: object; device?: string; probeTimeoutMs?: number } = {}) {
  sim ??= await startSim({ port: 0, auto: false, ...opts.simOpts });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-agent-'));
  if (opts.file) fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify(opts.file));
  if (opts.device !== undefined) fs.writeFileSync(path.join(dir, 'device.json'), opts.device);
  const settings = loadSettings({ dataDir: dir, apiPort: '0', ...(opts.frontUrl !== null ? { frontUrl: opts.frontUrl ?? sim.url } : {}) }, {});
  agent = await startAgent({
    settings, logger: silentLogger,
    probe: {
      ...(opts.ports ? { discover: () => discover({ ports: opts.ports! }) } : {}),
      ...(opts.probeTimeoutMs ? { timeoutMs: opts.probeTimeoutMs } : {}),
    },
  });
  return { sim, agent };
}

/** The status as any client sees it: over the local API, with the token. */
async function apiStatus(a: Agent): Promise<Status> {
  const res = await fetch(`${a.api.url}/api/status`, { headers: { authorization: `Bearer ${a.api.token}` } });
  return Status.parse(await res.json());
}

async function until(a: Agent, pred: (s: Status) => boolean, ms: number): Promise<{ status: Status; afterMs: number }> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    const s = await apiStatus(a);
    if (pred(s)) return { status: s, afterMs: performance.now() - t0 };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`status did not change within ${ms} ms: ${JSON.stringify(await apiStatus(a))}`);
}

describe('agent', () => {
  it('reports the plugin up with latency and version, and writes local-api.json for the owner only', async () => {
    const { agent } = await setup({ simOpts: { version: '7.4.6012.0' } });
    const { status } = await until(agent, (s) => s.front.state === 'up', 5_000);
    expect(status.front).toMatchObject({ url: sim!.url, version: '7.4.6012.0', source: 'flag' });
    expect(status.front.latencyMs).toBeGreaterThanOrEqual(0);
    expect(status.level).toBe('warn'); // up, but not yet paired with EVVA
    const file = path.join(dir, 'local-api.json');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ url: agent.api.url, token: agent.api.token });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('goes red within 10 s of the plugin stopping, and back after it returns', async () => {
    const { sim, agent } = await setup();
    await until(agent, (s) => s.front.state === 'up', 5_000);
    await sim.stopListening();
    const down = await until(agent, (s) => s.level === 'error', 10_000);
    expect(down.status.front.state).toBe('down');
    expect(down.status.front.error?.code).toBe('unreachable');
    expect(down.status.front.error?.message).toMatch(/iikoFront не отвечает на порту \d+/);
    console.log(`red after ${Math.round(down.afterMs)} ms`);
    await sim.startListening();
    const up = await until(agent, (s) => s.front.state === 'up', 10_000);
    expect(up.status.level).not.toBe('error');
    console.log(`back up after ${Math.round(up.afterMs)} ms`);
  });

  it('finds the plugin by itself when no URL is set', async () => {
    const closed = await freePort();
    sim = await startSim({ port: 0, auto: false });
    const { agent } = await setup({ frontUrl: null, ports: [closed, sim.port] });
    const { status } = await until(agent, (s) => s.front.state === 'up', 5_000);
    expect(status.front.source).toBe('discovery');
  });

  it('ends every plugin fault in the right status, and keeps running', async () => {
    // Checks every second with a 600 ms check deadline here (a hanging plugin would otherwise cost the 4 s default);
    // the 3 s interval is proven by the test above.
    const { sim, agent } = await setup({ file: { probeIntervalSec: 1 }, probeTimeoutMs: 600 });
    await until(agent, (s) => s.front.state === 'up', 5_000);
    const cases: [Parameters<Sim['setFaults']>[0], string][] = [
      [{ errorRate: 1 }, 'http'],
      [{ malformed: true }, 'bad_response'],
      [{ html: true }, 'bad_response'],
      [{ reset: true }, 'unreachable'],
      [{ hang: true }, 'timeout'],
    ];
    for (const [fault, code] of cases) {
      sim.clearFaults();
      await until(agent, (s) => s.front.state === 'up', 10_000);
      sim.setFaults(fault);
      const { status } = await until(agent, (s) => s.front.state === 'down', 10_000);
      expect(status.front.error?.code, JSON.stringify(fault)).toBe(code);
      expect(status.front.error?.message).toMatch(/[а-я]/);
      expect(status.front.error?.hint).toMatch(/[а-я]/);
    }
    sim.clearFaults();
    await until(agent, (s) => s.front.state === 'up', 10_000);
  });

  it('says the plugin is unlicensed when every slot is taken', async () => {
    // Checks every second: the next check after the restart is what finds the slot taken (the 3 s default is proven above).
    const { agent, sim } = await setup({ simOpts: { licenceSlots: 1 }, file: { probeIntervalSec: 1 } });
    await until(agent, (s) => s.front.state === 'up', 5_000);
    await sim.restart();
    await fetch(`${sim.url}/api/login/2050`); // someone else takes the only slot
    const { status } = await until(agent, (s) => s.front.state === 'unlicensed', 10_000);
    expect(status.level).toBe('error');
    expect(status.front.error?.message).toMatch(/лиценз/);
  });

  it('keeps running with a damaged pairing file and says, in Russian, to pair again', async () => {
    const { agent } = await setup({ device: '{"venueId": 42' });
    const { status } = await until(agent, (s) => s.front.state === 'up', 5_000);
    expect(status.tunnel.state).toBe('unpaired');
    expect(status.tunnel.error?.code).toBe('device_file_invalid');
    expect(status.tunnel.error?.hint).toMatch(/привяжите компаньон заново/);
    expect(status.tunnel.error?.command).toMatch(/evva-companion pair/);
    expect(status.level).toBe('error'); // EVVA cannot reach the venue until someone acts
  });

  it('logs the plugin session out on stop and removes local-api.json', async () => {
    const { agent, sim } = await setup();
    await until(agent, (s) => s.front.state === 'up', 5_000);
    expect(sim.liveTokens()).toBe(1);
    await agent.stop();
    expect(sim.liveTokens()).toBe(0);
    expect(fs.existsSync(path.join(dir, 'local-api.json'))).toBe(false);
  });
});
