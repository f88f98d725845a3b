/**
 * Plugin logins never leak a licence slot. A login answered after the
 * caller gave up is used (and logged out on close), not abandoned; and after
 * kill -9 the next start logs the old token out before taking a new one, and
 * is not stopped by the lock the killed run left behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../../common/clock.ts';
import { createFrontClient } from '../../../main/core/front/client.ts';
import { silentLogger } from '../../../common/logger.ts';
import { Section } from '../../../protocol/front.ts';
import { Status } from '../../../protocol/local.ts';
import { startFakePlugin, type FakePlugin } from '../../helpers/plugin.ts';
import { freePort, startBin, type Proc } from '../../helpers/proc.ts';

const procs: Proc[] = [];
const dirs: string[] = [];
const plugins: FakePlugin[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
  for (const p of plugins.splice(0)) await p.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-sess-')); dirs.push(d); return d; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('plugin logins', () => {
  it('a login answered after the caller\'s timeout is kept and logged out on close, never abandoned', async () => {
    const plugin = await startFakePlugin();
    plugins.push(plugin);
    plugin.loginDelayMs = 1_500;
    const client = createFrontClient({ baseUrl: plugin.url, moduleId: '2050', clock: realClock, logger: silentLogger, timeoutMs: 400 });
    const results: string[] = [];
    // Callers keep coming for 4 s, each giving up after 400 ms, as the probe does against a slow plugin.
    for (let i = 0; i < 8; i++) {
      results.push(await client.get('/api/sections', z.array(Section)).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error'));
      await sleep(100);
    }
    expect(results[0]).toBe('timeout');
    expect(results).toContain('ok');
    await client.close();
    expect(plugin.issued).toHaveLength(1);
    expect(plugin.loggedOut).toEqual(plugin.issued);
  }, 30_000);
});

describe('after kill -9', () => {
  async function liveTokens(simUrl: string): Promise<number> {
    return ((await fetch(`${simUrl}/_sim/state`).then((r) => r.json())) as { liveTokens: number }).liveTokens;
  }

  async function startUp(dir: string, simUrl: string): Promise<Proc> {
    const p = startBin('evva-companion.js', ['run', '--front-url', simUrl, '--data-dir', dir, '--api-port', String(await freePort())]);
    procs.push(p);
    await p.waitFor(/Компаньон запущен/);
    const api = JSON.parse(fs.readFileSync(path.join(dir, 'local-api.json'), 'utf8')) as { url: string; token: string };
    for (let i = 0; i < 100; i++) {
      const s = Status.parse(await fetch(`${api.url}/api/status`, { headers: { authorization: `Bearer ${api.token}` } }).then((r) => r.json()));
      if (s.front.state === 'up') return p;
      await sleep(200);
    }
    throw new Error(`plugin never up:\n${p.output()}`);
  }

  it('the next start logs the killed run\'s token out, so one slot stays held, the token file is 0600, and the lock left behind stops nobody', async () => {
    const sim = startBin('evva-sim.js', ['--port', '0', '--no-auto', '--quiet']);
    procs.push(sim);
    const simUrl = (await sim.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const dir = tmp();
    const first = await startUp(dir, simUrl);
    expect(await liveTokens(simUrl)).toBe(1);
    const file = path.join(dir, 'front-session.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    await first.stop('SIGKILL');
    expect(await liveTokens(simUrl)).toBe(1); // the killed run's token still holds its slot
    // The killed run cleaned nothing up: its single-instance lock is still there (single-instance.test.ts).
    const lock = path.join(dir, 'companion.lock');
    expect(fs.existsSync(lock)).toBe(true);

    const second = await startUp(dir, simUrl);
    expect(await liveTokens(simUrl)).toBe(1);
    const code = await second.stop('SIGTERM');
    expect(code, second.output()).toBe(0);
    expect(await liveTokens(simUrl)).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.existsSync(lock)).toBe(false);
  }, 60_000);
});
