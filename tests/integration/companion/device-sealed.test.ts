/**
 * The device token sealed by the desktop app's sealer: device.json stops
 * holding it in clear, the tunnel still connects with it, and a companion
 * without the sealer says so in Russian instead of failing silently.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../../main/core/agent.ts';
import { SEALED_PREFIX, type Sealer } from '../../../main/core/device.ts';
import { silentLogger } from '../../../common/logger.ts';
import { loadSettings } from '../../../main/core/settings.ts';
import { pairedVenue, relayWithDataDir } from '../../helpers/relay.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

/** Stands in for DPAPI: reversible only with this object's key. */
function xorSealer(key = 0x2b): Sealer {
  const x = (b: Buffer) => Buffer.from([...b].map((v) => v ^ key));
  return { seal: async (p) => x(Buffer.from(p)).toString('base64'), open: async (s) => x(Buffer.from(s, 'base64')).toString() };
}

async function agentFor(dataDir: string, sealer?: Sealer): Promise<Agent> {
  const agent = await startAgent({
    settings: loadSettings({ dataDir, apiPort: '0', frontUrl: 'http://127.0.0.1:1' }, {}), logger: silentLogger,
    ...(sealer ? { sealer } : {}), tunnel: { backoff: { baseMs: 50, capMs: 200 } },
  });
  cleanups.push(() => agent.stop());
  return agent;
}

const waitFor = async (ok: () => boolean, ms = 15_000) => { const until = Date.now() + ms; while (!ok() && Date.now() < until) await new Promise((r) => setTimeout(r, 50)); return ok(); };

describe('device token sealed by the desktop app', () => {
  it('is sealed in device.json on first start and the tunnel connects with it', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    const { deviceToken } = await pairedVenue(relay.url, dataDir);
    const agent = await agentFor(dataDir, xorSealer());
    const file = fs.readFileSync(path.join(dataDir, 'device.json'), 'utf8');
    expect(file).not.toContain(deviceToken);
    expect(JSON.parse(file).deviceToken.startsWith(SEALED_PREFIX)).toBe(true);
    expect(await waitFor(() => agent.status().tunnel.state === 'connected')).toBe(true);
    // A later start opens the sealed token again.
    await agent.stop();
    const again = await agentFor(dataDir, xorSealer());
    expect(await waitFor(() => again.status().tunnel.state === 'connected')).toBe(true);
  });

  it('tells a companion without the sealer, or with another key, to use the app or pair again', async () => {
    const { relay, dataDir } = await relayWithDataDir(cleanups);
    await pairedVenue(relay.url, dataDir);
    await (await agentFor(dataDir, xorSealer())).stop();
    const headless = await agentFor(dataDir);
    expect(headless.status().tunnel).toMatchObject({ state: 'unpaired', error: { code: 'device_sealed' } });
    expect(headless.status().tunnel.error!.message).toContain('зашифрован');
    await headless.stop();
    const other = await agentFor(dataDir, { seal: async () => 'x', open: async () => { throw new Error('DPAPI: wrong user'); } });
    expect(other.status().tunnel).toMatchObject({ state: 'unpaired', error: { code: 'device_sealed' } });
  });
});
