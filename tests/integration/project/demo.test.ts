/**
 * `npm run demo` as a newcomer runs it: the simulator stays
 * quiet, and the banner with the API key and curl lines is also written to a
 * file the demo names, so it cannot scroll away. With --iiko-cloud its
 * receiver stands for EVVA's iiko Cloud handler.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cloudSchemas } from '../../helpers/openapi.ts';
import { ROOT } from '../../helpers/proc.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

/** Starts the demo in a temp dir and waits for its banner; the output so far is in `out()`. */
async function startDemo(args: string[] = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-demo-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], {
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
  return { dir, child, out: () => out };
}

describe('npm run demo', () => {
  it('keeps the simulator quiet, writes the banner to the file it names, prints one login link, and a second demo leaves it running', async () => {
    const demo = await startDemo();
    const out = demo.out();
    const named = /Эта памятка сохранена в (\S+)/.exec(out)?.[1];
    expect(named).toBeDefined();
    const file = path.resolve(ROOT, named!);
    expect(file).toBe(path.join(demo.dir, 'demo.txt'));
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
    const simLines = demo.out().split('\n').filter((l) => /sim\s+\S*│/.test(l));
    expect(simLines.length).toBeGreaterThan(0);
    for (const l of simLines) expect(l).toMatch(/evva-sim:/);

    // One login link in all of it: the banner repeats the one the companion printed.
    const links = new Set(demo.out().match(/http:\/\/127\.0\.0\.1:\d+\/login\?once=[A-Za-z0-9_-]+/g) ?? []);
    expect(links.size).toBe(1);
    expect(banner).toContain([...links][0]);

    // A second demo in the same folder leaves the first one's data alone and says so.
    const companionDir = path.join(demo.dir, 'companion');
    const before = fs.readdirSync(companionDir).sort();
    expect(before).toEqual(expect.arrayContaining(['companion.lock', 'local-api.json']));
    const second = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: ROOT, env: { ...process.env, VITEST: undefined, EVVA_DEMO_DIR: demo.dir } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let secondOut = '';
    second.stdout.on('data', (d) => { secondOut += d; });
    second.stderr.on('data', (d) => { secondOut += d; });
    const code = await new Promise<number | null>((r) => second.on('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(secondOut).toMatch(/Демо уже запущено .*процесс \d+/);
    expect(secondOut).toMatch(/EVVA_DEMO_DIR=/);
    expect(fs.readdirSync(companionDir).sort()).toEqual(before);
    expect(fs.readFileSync(file, 'utf8')).toBe(banner);
    // And the first still answers.
    const api = JSON.parse(fs.readFileSync(path.join(companionDir, 'local-api.json'), 'utf8')) as { url: string; token: string };
    expect((await fetch(`${api.url}/api/status`, { headers: { authorization: `Bearer ${api.token}` } })).status).toBe(200);
    expect(demo.child.exitCode).toBeNull();
  }, 180_000);

  it('with --iiko-cloud runs its receiver as an iiko Cloud handler, and every event it gets fits the iikoCloud OpenAPI schemas', async () => {
    const demo = await startDemo(['--iiko-cloud']);
    expect(demo.out()).toMatch(/Формат вебхуков:\s+iiko Cloud \(организация iiko [0-9a-f-]{36}/);
    const file = path.join(demo.dir, 'webhooks.jsonl');
    const events = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { eventType: string }) : []);
    // The seeded day: table orders, deliveries and pickups, staff, tables, the menu.
    const t0 = Date.now();
    const has = (t: string) => events().some((e) => e.eventType === t);
    while (!(has('TableOrderUpdate') && has('DeliveryOrderUpdate') && has('StaffUpdate')) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 500));
    const got = events();
    expect(has('TableOrderUpdate') && has('DeliveryOrderUpdate')).toBe(true);
    const schemas = cloudSchemas();
    const failures = got.map((e) => ({ type: e.eventType, r: schemas.validate(e) })).filter((x) => !x.r.ok).map((x) => `${x.type}: ${x.r.errors.slice(0, 3).join('; ')}`);
    expect(failures).toEqual([]);
    expect(demo.out()).not.toMatch(/неверным токеном/);
  }, 150_000);
});
