/**
 * The commands people type: `evva-companion diagnose` at the venue and
 * `evva-relay support` at EVVA, as real processes against the real sim,
 * relay and agent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Report } from '../../../protocol/diagnostics.ts';
import { startSim } from '../../../sim/index.ts';
import { runBin } from '../../helpers/proc.ts';
import { API_KEY, tempDir } from '../../helpers/relay.ts';
import { startVenue } from '../../helpers/venue.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('evva-companion diagnose', () => {
  it('runs the checks itself when no companion runs, and exits 1 only when a check fails', async () => {
    const sim = await startSim({ port: 0, auto: false });
    cleanups.push(() => sim.close());
    const d = tempDir('diag-cli');
    cleanups.push(() => d.remove());
    const json = await runBin('evva-companion.js', ['diagnose', '--json', '--data-dir', d.dir, '--front-url', sim.url]);
    const report = Report.parse(JSON.parse(json.out));
    expect(report.checks.find((c) => c.id === 'plugin')?.result).toBe('ok');
    expect(report.checks.find((c) => c.id === 'tunnel')?.result).toBe('warn'); // not paired
    expect(json.code).toBe(0);
    expect(sim.liveTokens()).toBe(0); // its own session was logged out

    await sim.stopListening();
    const table = await runBin('evva-companion.js', ['diagnose', '--data-dir', d.dir, '--front-url', sim.url]);
    expect(table.code).toBe(1);
    expect(table.out).toMatch(/^- не работает: Плагин iikoFront Web API — /m);
    expect(table.out).toMatch(/^ {2}Что делать: /m);
    expect(table.out).toMatch(/Итог: Есть проблемы/);
  });

  it('asks the running companion, so the tunnel is checked too', async () => {
    const v = await startVenue(cleanups);
    const r = await runBin('evva-companion.js', ['diagnose', '--json', '--data-dir', v.dataDir]);
    const report = Report.parse(JSON.parse(r.out));
    expect(report.checks.find((c) => c.id === 'tunnel')).toMatchObject({ result: 'ok', evidence: { venueId: v.venueId } });
  });
});

describe('evva-relay support', () => {
  it('prints the venue\'s report as a table, tails its log and saves its bundle', async () => {
    const v = await startVenue(cleanups);
    v.log.info('support cli marker line');
    await new Promise((r) => setTimeout(r, 300));
    const env = { EVVA_RELAY_URL: v.relay.url, EVVA_RELAY_API_KEYS: API_KEY };
    const diag = await runBin('evva-relay.js', ['support', v.venueId, 'diagnose'], env);
    expect(diag.out).toMatch(/Проверка EVVA Companion .* заведение ven_/);
    expect(diag.out).toMatch(/^- в порядке: Связь с EVVA \(туннель\) — /m);
    expect(diag.code).toBe(0);
    const en = await runBin('evva-relay.js', ['support', v.venueId, 'diagnose', '--en'], env);
    expect(en.out).toMatch(/^- fine: Link to EVVA \(tunnel\) — /m);
    const logs = await runBin('evva-relay.js', ['support', v.venueId, 'logs', '--lines', '50'], env);
    expect(logs.code).toBe(0);
    expect(logs.out).toContain('support cli marker line');
    const out = path.join(v.dataDir, 'b.zip');
    const bundle = await runBin('evva-relay.js', ['support', v.venueId, 'bundle', '--out', out], env);
    expect(bundle.code).toBe(0);
    expect(fs.readFileSync(out).subarray(0, 2).toString()).toBe('PK');
    // Four CLI starts, each transpiling the relay's TypeScript (7-18 s apiece on a shared 2-core machine at load ~20).
  }, 90_000);

  it('says why and exits 1 when the venue switched remote support off, and 2 on bad usage', async () => {
    const v = await startVenue(cleanups, { settings: { allowRemoteDiagnostics: false } });
    const env = { EVVA_RELAY_URL: v.relay.url, EVVA_RELAY_API_KEYS: API_KEY };
    const r = await runBin('evva-relay.js', ['support', v.venueId, 'diagnose'], env);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/403 remote_support_disabled: the venue has switched remote diagnostics off/);
    expect((await runBin('evva-relay.js', ['support', v.venueId, 'reboot'], env)).code).toBe(2);
  });
});
