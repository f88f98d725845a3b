/**
 * `npm run demo` as a newcomer runs it (issue 6, item 24): the simulator stays
 * quiet, and the banner with the API key and curl lines is also written to a
 * file the demo names, so it cannot scroll away.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/proc.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

describe('npm run demo', () => {
  it('keeps the simulator quiet and writes the banner to the file it names', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-demo-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: ROOT, env: { ...process.env, VITEST: undefined, EVVA_DEMO_DIR: dir } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const t0 = Date.now();
    while (!/демо запущено/.test(out) && child.exitCode === null && Date.now() - t0 < 90_000) await new Promise((r) => setTimeout(r, 200));
    expect(out).toMatch(/демо запущено/);
    const named = /Эта памятка сохранена в (\S+)/.exec(out)?.[1];
    expect(named).toBeDefined();
    const file = path.resolve(ROOT, named!);
    expect(file).toBe(path.join(dir, 'demo.txt'));
    const banner = fs.readFileSync(file, 'utf8');
    const key = /ключ API: (\S+)\)/.exec(banner)?.[1];
    expect(key).toMatch(/^demo-/);
    expect(banner).toContain(`curl -s -H 'Authorization: Bearer ${key}'`);
    expect(banner).toMatch(/втором окне терминала/);
    // The support console's link, and it answers with the page (the key above signs in).
    const consoleUrl = /(http:\/\/127\.0\.0\.1:\d+\/console\/)/.exec(banner)?.[1];
    expect(consoleUrl).toBeDefined();
    const page = await fetch(consoleUrl!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // Give the simulator (speed 10, automatic activity) a few seconds to prove it stays quiet.
    await new Promise((r) => setTimeout(r, 3_000));
    const simLines = out.split('\n').filter((l) => /sim\s+\S*│/.test(l));
    expect(simLines.length).toBeGreaterThan(0);
    for (const l of simLines) expect(l).toMatch(/evva-sim:/);
  }, 120_000);
});
