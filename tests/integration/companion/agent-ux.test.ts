/**
 * What the agent shows: the tunnel's round trip is
 * measured and exported, the live stream pushes changes a person would notice
 * (not each new latency), "plugin down" is a warning, and front.source says
 * where the plugin address came from.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../../main/core/agent.ts';
import type { Logger } from '../../../common/logger.ts';
import { silentLogger } from '../../../common/logger.ts';
import { loadSettings } from '../../../main/core/settings.ts';
import type { Status } from '../../../protocol/local.ts';
import { startSim } from '../../../sim/index.ts';
import { createVenue, startRelay, waitFor } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: { file?: object; env?: NodeJS.ProcessEnv; flagFront?: boolean; logger?: Logger } = {}) {
  const sim = await startSim({ port: 0, auto: false });
  cleanups.push(() => sim.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-agent-ux-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ ...(opts.flagFront === false ? { frontUrl: sim.url } : {}), ...opts.file }));
  const settings = loadSettings({ dataDir: dir, apiPort: '0', ...(opts.flagFront === false ? {} : { frontUrl: sim.url }) }, opts.env ?? {});
  const agent = await startAgent({ settings, logger: opts.logger ?? silentLogger });
  cleanups.push(() => agent.stop());
  return { sim, agent, dir };
}

async function apiStatus(a: Agent): Promise<Status> {
  const res = await fetch(`${a.api.url}/api/status`, { headers: { authorization: `Bearer ${a.api.token}` } });
  return (await res.json()) as Status;
}

describe('agent status', () => {
  it('measures the round trip to the relay and exports it', async () => {
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    const { agent } = await setup();
    const v = await createVenue(relay.url);
    await agent.pair(v.pairingCode, relay.url);
    await waitFor(async () => (await apiStatus(agent)).tunnel.state === 'connected', 'tunnel connected');
    // The companion pings every 3 s; the first pong gives the round trip.
    await waitFor(async () => (await apiStatus(agent)).tunnel.rttMs !== null, 'rttMs measured', 10_000);
    const s = await apiStatus(agent);
    expect(s.tunnel.rttMs).toBeGreaterThanOrEqual(0);
    expect(s.tunnel.rttMs).toBeLessThan(5_000);
    const metrics = await (await fetch(`${agent.api.url}/metrics`, { headers: { authorization: `Bearer ${agent.api.token}` } })).text();
    const line = /^evva_tunnel_rtt_ms (\S+)$/m.exec(metrics);
    expect(line, metrics).not.toBeNull();
    expect(Number(line![1])).toBeGreaterThanOrEqual(0);
  });

  it('pushes to live clients on changes a person notices, not on every new latency', async () => {
    const { agent, sim } = await setup({ file: { probeIntervalSec: 1 } });
    await waitFor(async () => (await apiStatus(agent)).front.state === 'up', 'plugin up');
    const u = new URL(agent.api.url);
    const ws = new WebSocket(`ws://${u.host}/api/live`, { headers: { authorization: `Bearer ${agent.api.token}`, origin: agent.api.url } });
    cleanups.push(() => ws.terminate());
    const pushed: Status[] = [];
    // Other live messages (activity items) are not status pushes.
    ws.on('message', (d) => { const m = JSON.parse(d.toString()) as { type: string; status?: Status }; if (m.type === 'status') pushed.push(m.status!); });
    await waitFor(() => pushed.length >= 1, 'the first push on connect');
    const checkedBefore = (await apiStatus(agent)).front.checkedAt;
    // Four checks of a steady plugin (one a second): each has a new latency and checkedAt.
    await new Promise((r) => setTimeout(r, 4_000));
    expect((await apiStatus(agent)).front.checkedAt).not.toBe(checkedBefore);
    expect(pushed).toHaveLength(1);
    await sim.stopListening();
    await waitFor(() => pushed.some((p) => p.front.state === 'down'), 'the plugin going down is pushed', 10_000);
  });

  it('logs the plugin going down as a warning', async () => {
    const lines: Array<{ level: string; message: string }> = [];
    const capture = (base: Record<string, unknown>): Logger => ({
      error: (message) => lines.push({ level: 'error', message }), warn: (message) => lines.push({ level: 'warn', message }),
      info: (message) => lines.push({ level: 'info', message }), debug: () => {}, child: (m) => capture({ ...base, ...m }),
    });
    const { agent, sim } = await setup({ file: { probeIntervalSec: 1 }, logger: capture({}) });
    await waitFor(async () => (await apiStatus(agent)).front.state === 'up', 'plugin up');
    await sim.stopListening();
    await waitFor(() => lines.some((l) => l.message === 'plugin down'), 'plugin down logged', 10_000);
    expect(lines.find((l) => l.message === 'plugin down')?.level).toBe('warn');
    expect(lines.find((l) => l.message === 'plugin up')?.level).toBe('info');
  });

  it('says whether the plugin address came from a flag, the environment or settings.json', async () => {
    const a = await setup();
    await waitFor(async () => (await apiStatus(a.agent)).front.state !== 'unknown', 'first check');
    expect((await apiStatus(a.agent)).front.source).toBe('flag');
    const b = await setup({ flagFront: false });
    expect((await apiStatus(b.agent)).front.source).toBe('settings');
  });
});
