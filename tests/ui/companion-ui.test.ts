/**
 * The companion's window in real Chromium, against the real companion, simulator and relay
 * started through their bins: the remote-diagnostics switch tells the truth
 * and works; the wizard keeps only a port where the plugin answers; the
 * Журнал is the companion's own, the same after a reload, in a second window
 * and after a restart; a stopped companion reads as stopped, and the browser
 * stays signed in across the restart.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LoginLink } from '../../protocol/local.ts';
import { freePort, runBin, startBin, type Proc } from '../helpers/proc.ts';
import { keepFailure, launch } from './browser.ts';

const KEY = 'ui20-test-api-key-0123456789abcdef';
const procs: Proc[] = [];
const dirs: string[] = [];
const tmp = (p: string) => { const d = fs.mkdtempSync(path.join(os.tmpdir(), `evva-ui20-${p}-`)); dirs.push(d); return d; };
const track = (p: Proc) => { procs.push(p); return p; };

let browser: Browser;
let sim: { url: string; port: number; control: string };
let relay: { url: string; dir: string };
let companion: { proc: Proc; dir: string; port: number; closed: number };
let venueId = '';

/** Starts the companion as a sysadmin would without --front-url; discovery is pointed at a port nothing listens on. */
async function startCompanion(): Promise<Proc> {
  const proc = track(startBin('evva-companion.js', ['run', '--data-dir', companion.dir, '--api-port', String(companion.port)],
    { EVVA_TEST_HOOKS: '1', EVVA_TEST_DISCOVERY_PORTS: String(companion.closed) }));
  await proc.waitFor(/login\?once=/);
  companion.proc = proc;
  return proc;
}
const api = () => `http://127.0.0.1:${companion.port}`;
const token = () => (JSON.parse(fs.readFileSync(path.join(companion.dir, 'local-api.json'), 'utf8')) as { token: string }).token;
const local = async (p: string, init: RequestInit = {}) => fetch(`${api()}${p}`, { ...init, headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json', ...init.headers } });

/**
 * Signs the browser in through a one-time link, asked of the running companion as `evva-companion login` asks it
 * (desktop-ui.test.ts runs the command itself; a bin start per test cost about a second of CPU). The tests share one
 * browser session (a context and its page are about a second of CPU to make); each signs in anew in it.
 */
let session: { context: BrowserContext; page: Page } | undefined;
async function loggedIn(): Promise<{ context: BrowserContext; page: Page }> {
  const r = await fetch(`${api()}/api/login-link`, { method: 'POST', headers: { authorization: `Bearer ${token()}` } });
  expect(r.status).toBe(200);
  const link = LoginLink.parse(await r.json()).url;
  if (!session) {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'ru-RU' });
    session = { context, page: await context.newPage() };
  }
  await session.page.goto(link);
  return session;
}
const sentence = (page: Page, text: string | RegExp, timeout = 30_000) => page.getByTestId('sentence').filter({ hasText: text }).waitFor({ timeout });
const nav = (page: Page, name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true }).click();

beforeAll(async () => {
  browser = await launch();
  const port = await freePort();
  const controlPort = await freePort();
  track(startBin('evva-sim.js', ['--port', String(port), '--control-port', String(controlPort), '--no-auto', '--quiet']));
  sim = { url: `http://127.0.0.1:${port}`, port, control: `http://127.0.0.1:${controlPort}/_sim` };
  await procs[0]!.waitFor(/listening on/);
  const relayDir = tmp('relay');
  const r = track(startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', relayDir, '--api-key', KEY]));
  relay = { url: (await r.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!, dir: relayDir };
  companion = { proc: null as unknown as Proc, dir: tmp('companion'), port: await freePort(), closed: await freePort() };
  await startCompanion();
  const venue = JSON.parse((await runBin('evva-relay.js', ['venue', 'add', 'Кафе «Двадцать»', '--json', '--data-dir', relay.dir])).stdout) as { venueId: string; pairingCode: string };
  venueId = venue.venueId;
  const paired = await local('/api/pair', { method: 'POST', body: JSON.stringify({ code: venue.pairingCode, relayUrl: relay.url }) });
  expect(paired.status, await paired.clone().text()).toBe(200);
}, 120_000);

// A failed test leaves its pages' screenshot, HTML and console under .tmp/ui-failures/ (the path is printed).
afterEach((ctx) => keepFailure(browser, ctx));

afterAll(async () => {
  await browser?.close();
  await Promise.all(procs.map((p) => p.stop('SIGTERM', 5_000)));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('what a sysadmin and a cashier meet', () => {
  it('Настройки shows the remote-diagnostics switch as it is, and it switches EVVA support off and on', async () => {
    const { page } = await loggedIn();
    await nav(page, 'Настройки');
    const box = page.getByLabel('Разрешить EVVA удалённую диагностику');
    await box.waitFor();
    expect(await box.isEnabled()).toBe(true);
    expect(await box.isChecked()).toBe(true);
    expect(await page.locator('.settings').innerText()).not.toContain('недоступно');
    const support = () => fetch(`${relay.url}/v1/venues/${venueId}/logs?lines=5`, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.status);
    await box.uncheck();
    await page.getByText('Удалённая диагностика запрещена').waitFor();
    expect(await support()).toBe(403);
    await page.reload();
    expect(await page.getByLabel('Разрешить EVVA удалённую диагностику').isChecked()).toBe(false);
    await page.getByLabel('Разрешить EVVA удалённую диагностику').check();
    await page.getByText('Удалённая диагностика разрешена.').waitFor();
    expect(await support()).toBe(200);
  }, 60_000);

  it('the wizard saves a typed port only after the plugin answered there', async () => {
    const { page } = await loggedIn();
    await nav(page, 'Настройка');
    await page.getByText('Компаньон уже привязан к заведению Кафе «Двадцать»').waitFor();
    await page.getByRole('button', { name: 'Дальше' }).click();
    await page.getByText('iikoFront не найден.').waitFor({ timeout: 30_000 });
    const settingsFile = path.join(companion.dir, 'settings.json');
    const stored = () => (fs.existsSync(settingsFile) ? JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as { frontUrl?: string } : {});
    const port = page.getByLabel('Порт плагина Front Web API');
    await port.fill(String(companion.closed));
    await page.getByRole('button', { name: 'Проверить этот порт' }).click();
    const problem = page.locator('#port-error');
    await problem.waitFor();
    expect(await problem.innerText()).toContain(`iikoFront не отвечает на порту ${companion.closed}`);
    expect(stored().frontUrl).toBeUndefined();
    await port.fill(String(sim.port));
    await page.getByRole('button', { name: 'Проверить этот порт' }).click();
    await page.getByText(`Нашли iikoFront на порту ${sim.port}`).waitFor({ timeout: 30_000 });
    expect(stored().frontUrl).toBe(sim.url);
  }, 90_000);

  it('the Журнал is the companion\'s: the same rows, at the times things happened, after a reload, in a second window and after a restart; a stopped companion reads as stopped and the browser stays signed in', async () => {
    const { context, page } = await loggedIn();
    await sentence(page, 'Всё работает');
    const made: number[] = [];
    for (let i = 0; i < 55; i++) {
      const r = await fetch(`${sim.control}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tableNum: (i % 12) + 1, items: [{ productCode: '02401', amount: 1 }] }) });
      expect(r.status).toBeLessThan(300);
      made.push(((await r.json()) as { Number: number }).Number);
    }
    await nav(page, 'Журнал');
    const table = page.getByTestId('journal');
    await table.getByText(`Заказ №${made.at(-1)},`).first().waitFor({ timeout: 60_000 });
    const rows = async (p: Page) => {
      await p.getByTestId('journal').getByText(`Заказ №${made.at(-1)},`).first().waitFor({ timeout: 60_000 });
      return p.getByTestId('journal').locator('tbody tr:not(.day)').allInnerTexts();
    };
    const before = await rows(page);
    for (const n of made) expect(before.some((r) => r.includes(`Заказ №${n},`)), `order ${n}`).toBe(true);

    await page.reload();
    expect(await rows(page)).toEqual(before);
    const second = await context.newPage();
    await second.goto(`${api()}/journal`);
    expect(await rows(second)).toEqual(before);
    await second.close();

    // The companion stops: the page says so, instead of a network problem and stale green cards.
    await nav(page, 'Статус');
    await sentence(page, 'Всё работает');
    expect(await companion.proc.stop('SIGTERM')).toBe(0);
    await sentence(page, 'Компаньон не отвечает');
    const shown = await page.locator('main').innerText();
    expect(shown).not.toMatch(/нет связи с EVVA|Проверьте интернет|Всё работает/);
    expect(await page.locator('[data-card]').count()).toBe(0);

    // It starts again (a reboot): the same browser is still signed in, and the Журнал has the same rows.
    await startCompanion();
    await sentence(page, 'Всё работает', 60_000);
    expect(await page.getByRole('heading', { name: 'Нужен вход' }).count()).toBe(0);
    await nav(page, 'Журнал');
    // The restart adds its own link and plugin rows; every order row is still there, unchanged.
    const after = await rows(page);
    expect(after.filter((r) => r.includes('Заказ №'))).toEqual(before.filter((r) => r.includes('Заказ №')));
  }, 240_000);
});
