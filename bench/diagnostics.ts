/**
 * How long a full diagnostics run takes (the target: ≤ 5 s even when
 * the plugin hangs), on a real venue on loopback: sim, relay, paired agent.
 * Runs the local API's POST /api/diagnostics a few times per scenario.
 */
import { fetch } from 'undici';
import { startAgent } from '../main/core/agent.ts';
import { silentLogger } from '../common/logger.ts';
import { loadSettings } from '../main/core/settings.ts';
import { pair } from '../main/core/tunnel/pair.ts';
import { createRelay } from '../relay/server.ts';
import { startSim } from '../sim/index.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions, BenchResult, BenchTable } from './run.ts';

/** Runs per scenario (`--rounds N` overrides). */
const RUNS = 5;
const KEY = 'bench-api-key-0123456789abcdef';

export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  const runs = opts.rounds ?? RUNS;
  const raw: Record<string, number[]> = {};
  const relayDir = mkdtempSync(join(tmpdir(), 'bench-relay-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-diag-'));
  const sim = await startSim({ port: 0, auto: false });
  const relay = await createRelay({ dataDir: relayDir, apiKeys: [KEY] });
  const relayUrl = await relay.listen(0);
  const venue = await relay.pairing.createVenue('bench');
  await pair({ code: venue.pairingCode, relayUrl, dataDir, companion: { version: 'bench', hostname: 'bench' } });
  const agent = await startAgent({ settings: loadSettings({ dataDir, apiPort: '0', frontUrl: sim.url }, {}), logger: silentLogger });
  const rows: BenchTable['rows'] = [];
  try {
    for (let i = 0; i < 200 && agent.status().tunnel.state !== 'connected'; i++) await new Promise((r) => setTimeout(r, 50));
    const scenarios: Array<[string, () => Promise<void> | void]> = [
      ['healthy venue', () => undefined],
      ['plugin stopped', () => sim.stopListening()],
      ['plugin hanging', async () => { await sim.startListening(); sim.setFaults({ hang: true }); }],
    ];
    for (const [name, setup] of scenarios) {
      await setup();
      const took: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const res = await fetch(`${agent.api.url}/api/diagnostics`, { method: 'POST', headers: { authorization: `Bearer ${agent.api.token}` } });
        await res.arrayBuffer();
        took.push(performance.now() - t0);
      }
      took.sort((a, b) => a - b);
      raw[name] = took;
      rows.push([name, runs, Math.round(took[Math.floor(runs / 2)]!), Math.round(took[runs - 1]!)]);
    }
  } finally {
    await agent.stop();
    await relay.close();
    await sim.close();
    rmSync(relayDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
  const table: BenchTable = {
    title: 'Diagnostics: full run over the local API (target ≤ 5000 ms)',
    columns: ['scenario', 'runs', 'median ms', 'max ms'],
    rows,
    notes: ['Every check runs at once under its own deadline (RUN_BUDGET_MS 4700); a hanging plugin costs its own check only.'],
  };
  return { tables: [table], data: raw };
}
