/**
 * `evva-companion` as a newcomer meets it: exit codes for monitoring, help and
 * version, and the effective settings with where each came from. Pairing
 * against a relay that never answers is in pair-timeout.test.ts (split off so
 * its 15 s wait runs beside this file, not in front of it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { judge } from '../../../face/verdict.ts';
import { LocalApiFile, Status } from '../../../protocol/local.ts';
import { freePort, ROOT, runBin, startBin } from '../../helpers/proc.ts';

const dirs: string[] = [];
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-cli-ux-')); dirs.push(d); return d; };

/**
 * Waits until the running companion's verdict (the one `status --check` turns into its exit code) is `level`, asking
 * its local API: a bin start per try cost a second of CPU each. The bin then runs once, for what it prints and exits.
 */
async function verdictBecomes(dir: string, level: 'ok' | 'warn' | 'error', ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  let last: string;
  for (;;) {
    try {
      const api = LocalApiFile.parse(JSON.parse(fs.readFileSync(path.join(dir, 'local-api.json'), 'utf8')));
      const s = Status.parse(await (await fetch(`${api.url}/api/status`, { headers: { authorization: `Bearer ${api.token}` } })).json());
      last = judge(s).level;
      if (last === level) return;
    } catch (e) { last = String(e); }
    if (Date.now() > end) throw new Error(`the companion's verdict never became ${level}; last: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('every bin', () => {
  const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  it.each(['evva-companion.js', 'evva-relay.js', 'evva-sim.js'])('%s has --version, help, and exits 2 on bad usage', async (bin) => {
    const [v, help, bad] = await Promise.all([runBin(bin, ['--version']), runBin(bin, ['help']), runBin(bin, ['--no-such-flag'])]);
    expect(v.code).toBe(0);
    expect(v.out.trim()).toBe(version);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--version/);
    expect(bad.code).toBe(2);
  }, 30_000);

  it('evva-sim: the plugin version is --plugin-version, and a stray argument is a usage error', async () => {
    const stray = await runBin('evva-sim.js', ['7.9.1.0']);
    expect(stray.code).toBe(2);
    expect(stray.out).toMatch(/--plugin-version/);
  });

  it('evva-relay serve without API keys is a usage error (exit 2) that says keys need 16+ characters', async () => {
    const r = await runBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', tmp()], { EVVA_RELAY_API_KEYS: '' });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/16\+ characters/);
  });
});

describe('evva-companion settings and status --check', () => {
  it('settings shows each effective value and where it came from, with the proxy password masked', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ apiPort: 9300 }));
    const r = await runBin('evva-companion.js', ['settings', '--json', '--data-dir', dir, '--log-level', 'debug'], { EVVA_PROXY: 'http://bob:s3cret@proxy.corp:3128' });
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out) as { dataDir: { value: string; source: string }; settings: Record<string, { value: unknown; source: string }> };
    expect(body.dataDir).toEqual({ value: dir, source: 'flag' });
    expect(body.settings.apiPort).toEqual({ value: 9300, source: 'file' });
    expect(body.settings.logLevel).toEqual({ value: 'debug', source: 'flag' });
    expect(body.settings.proxy).toEqual({ value: 'http://bob:***@proxy.corp:3128', source: 'env' });
    expect(body.settings.moduleId?.source).toBe('default');
    expect(r.out).not.toContain('s3cret');
    const text = await runBin('evva-companion.js', ['settings', '--data-dir', dir]);
    expect(text.out).toMatch(/apiPort\s+9300\s+\(settings\.json\)/);
    expect(text.out).toMatch(/docs\/settings\.md/);
  });

  it('settings asks the running companion, which runs with a flag this shell does not pass', async () => {
    const dir = tmp();
    const text = await runBin('evva-companion.js', ['settings', '--data-dir', dir]);
    expect(text.out).toMatch(/Компаньон не запущен/);
    expect(JSON.parse((await runBin('evva-companion.js', ['settings', '--json', '--data-dir', dir])).out)).toMatchObject({ running: false });
    const url = `http://127.0.0.1:${await freePort()}`;
    const run = startBin('evva-companion.js', ['run', '--data-dir', dir, '--api-port', '0', '--front-url', url, '--log-level', 'warn']);
    closers.push(() => run.stop());
    await run.waitFor(/Компаньон запущен/);
    const r = await runBin('evva-companion.js', ['settings', '--json', '--data-dir', dir]);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out) as { running: boolean; pid: number; settings: Record<string, { value: unknown; source: string }> };
    expect(body).toMatchObject({ running: true, pid: run.child.pid });
    expect(body.settings.frontUrl).toEqual({ value: url, source: 'flag' });
    expect(body.settings.logLevel).toEqual({ value: 'warn', source: 'flag' });
    const human = await runBin('evva-companion.js', ['settings', '--data-dir', dir]);
    expect(human.out).toMatch(/Настройки работающего компаньона/);
    expect(human.out).toMatch(new RegExp(`frontUrl\\s+${url.replace(/\./g, '\\.')}\\s+\\(параметр --front-url\\)`));
  }, 60_000);

  it('status --check exits like a Nagios check: 2 when the plugin is down, 3 when not running', async () => {
    const dir = tmp();
    expect((await runBin('evva-companion.js', ['status', '--check', '--data-dir', dir])).code).toBe(3);
    const closed = await freePort(); // nobody listens there: the plugin is down
    const run = startBin('evva-companion.js', ['run', '--data-dir', dir, '--api-port', '0', '--front-url', `http://127.0.0.1:${closed}`, '--log-level', 'error']);
    closers.push(() => run.stop());
    await run.waitFor(/Компаньон запущен/);
    await verdictBecomes(dir, 'error');
    const r = await runBin('evva-companion.js', ['status', '--check', '--data-dir', dir]);
    expect(r.code, r.out).toBe(2);
    expect(r.out).toMatch(/есть проблема/);
    // Without --check the status command itself succeeded: exit 0.
    expect((await runBin('evva-companion.js', ['status', '--data-dir', dir])).code).toBe(0);
  }, 60_000);

  it('status --check exits 1 (warn) while the plugin is up but the companion is not paired yet', async () => {
    const dir = tmp();
    const sim = startBin('evva-sim.js', ['--port', '0', '--no-auto', '--quiet']);
    closers.push(() => sim.stop());
    const [, simUrl] = await sim.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const run = startBin('evva-companion.js', ['run', '--data-dir', dir, '--api-port', '0', '--front-url', simUrl!, '--log-level', 'error']);
    closers.push(() => run.stop());
    await run.waitFor(/Компаньон запущен/);
    await verdictBecomes(dir, 'warn');
    const r = await runBin('evva-companion.js', ['status', '--check', '--data-dir', dir]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/требует внимания/);
  }, 60_000);
});
