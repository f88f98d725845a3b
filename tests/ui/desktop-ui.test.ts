/**
 * The UI in real Chromium against the real headless companion, the real
 * plugin simulator and the real relay, each started through its bin. Saves a
 * screenshot of every screen in Russian and English under tests/ui/screenshots/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page, Request, WebSocketRoute } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runBin, startBin, type Proc } from '../helpers/proc.ts';
import type { Report } from '../../protocol/diagnostics.ts';
import { LoginLink } from '../../protocol/local.ts';
import { unzip } from '../helpers/zip.ts';
import { keepFailure, launch, shoot } from './browser.ts';

const KEY = 'ui-test-api-key-0123456789abcdef';
const procs: Proc[] = [];
const dirs: string[] = [];
const tmp = (p: string) => { const d = fs.mkdtempSync(path.join(os.tmpdir(), `evva-ui-${p}-`)); dirs.push(d); return d; };
const track = (p: Proc) => { procs.push(p); return p; };

let browser: Browser;
let sim: { proc: Proc; url: string; port: number };
let relay: { url: string; dir: string };
let companion: { proc: Proc; api: string; dir: string };

async function startSim(port = 0) {
  const proc = track(startBin('evva-sim.js', ['--port', String(port), '--no-auto', '--quiet']));
  const [, url] = await proc.waitFor(/listening on (http:\/\/127\.0\.0\.1:(\d+))/);
  return { proc, url: url!, port: Number(new URL(url!).port) };
}

/** A fresh one-time login link from `evva-companion login`, which prints what the running companion answers. */
async function cliLoginLink(): Promise<string> {
  const r = await runBin('evva-companion.js', ['login', '--data-dir', companion.dir]);
  expect(r.code, r.out).toBe(0);
  return /(http:\/\/127\.0\.0\.1:\d+\/login\?once=\S+)/.exec(r.out)![1]!;
}

/**
 * A fresh one-time login link, asked of the running companion as `evva-companion login` asks it (the first test runs
 * the command itself; a bin start per test cost a second or more of CPU each).
 */
async function loginLink(): Promise<string> {
  const r = await fetch(`${companion.api}/api/login-link`, { method: 'POST', headers: { authorization: `Bearer ${token()}` } });
  expect(r.status).toBe(200);
  return LoginLink.parse(await r.json()).url;
}

/** Requests each page has sent and has not had answered yet, for `settled`. */
const unanswered = new WeakMap<Page, number>();
function countRequests(context: BrowserContext): void {
  const add = (r: Request, n: number) => { const page = r.frame().page(); unanswered.set(page, (unanswered.get(page) ?? 0) + n); };
  context.on('request', (r) => add(r, 1));
  context.on('requestfinished', (r) => add(r, -1));
  context.on('requestfailed', (r) => add(r, -1));
}

/**
 * Before a screenshot: the screen has what it loads (no "…" placeholder, no request of the page unanswered) and has
 * drawn it (a frame has passed). It waits for that, not for a fixed time, so a loaded machine only makes it longer.
 */
async function settled(page: Page): Promise<void> {
  await page.locator('main p.muted').filter({ hasText: /^…$/ }).waitFor({ state: 'detached' });
  await expect.poll(() => unanswered.get(page) ?? 0, { interval: 20, timeout: 30_000 }).toBe(0);
  await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => resolve(null)))');
}

/** A browser session with no cookie yet, at the size the screenshots are taken at. */
async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, locale: 'ru-RU' });
  countRequests(context);
  return context;
}

async function loggedIn(before?: (context: BrowserContext) => Promise<void>): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext();
  await before?.(context);
  const page = await context.newPage();
  await page.goto(await loginLink());
  return { context, page };
}

/**
 * A signed-in page whose live socket passes through the test, so the test can drop it as a companion restart would:
 * the page then shows nothing of a companion that does not answer and draws the screen anew when it returns.
 * `drop()` resolves once the page has its next live socket. The tests that drop it share one such browser session (a
 * context and page are about a second of CPU to make), each signing in anew through a fresh one-time link.
 */
let routed: { page: Page; live: WebSocketRoute[] } | undefined;
async function droppable(): Promise<{ page: Page; drop(): Promise<void> }> {
  // Sockets of the pages signed in before this one are not this page's: only one opened since counts.
  const before = routed?.live.length ?? 0;
  if (!routed) {
    const live: WebSocketRoute[] = [];
    const { page } = await loggedIn((c) => c.routeWebSocket(/\/api\/live$/, (ws) => { ws.connectToServer(); live.push(ws); }));
    routed = { page, live };
  } else {
    await routed.page.goto(await loginLink());
  }
  const { page, live } = routed;
  const drop = async () => {
    await expect.poll(() => live.length).toBeGreaterThan(before);
    const had = live.length;
    await live[had - 1]!.close();
    await expect.poll(() => live.length, { timeout: 30_000 }).toBe(had + 1);
  };
  return { page, drop };
}

/**
 * One browser session for the tests that need nothing of their own (a context and its page cost about two seconds of
 * CPU to make, and there were thirteen): each such test still signs in through a fresh one-time link in it.
 */
let session: { context: BrowserContext; page: Page } | undefined;
async function signedIn(): Promise<Page> {
  if (!session) session = await loggedIn();
  else await session.page.goto(await loginLink());
  return session.page;
}

/** Drives the simulator like a waiter would (its /_sim control API). */
async function control<T = { Id: string; Number: number; ResultSum: number }>(method: string, route: string, body?: unknown): Promise<T> {
  const r = await fetch(`${sim.url}/_sim/${route}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  expect(r.status, `${method} ${route}: ${await r.clone().text()}`).toBeLessThan(300);
  return (await r.json()) as T;
}

/** The venue the companion is paired with (the setup test pairs it). */
async function venueId(): Promise<string> {
  const r = await fetch(`${companion.api}/api/status`, { headers: { authorization: `Bearer ${token()}` } });
  const id = ((await r.json()) as { tunnel: { venueId: string | null } }).tunnel.venueId;
  expect(id).toBeTruthy();
  return id!;
}
const token = () => (JSON.parse(fs.readFileSync(path.join(companion.dir, 'local-api.json'), 'utf8')) as { token: string }).token;

const sentence = (page: Page, text: string, timeout = 30_000) => page.getByTestId('sentence').filter({ hasText: text }).waitFor({ timeout });
const nav = (page: Page, name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true }).click();

beforeAll(async () => {
  // The companion (run from source here) serves dist/renderer, built fresh by tests/build.ts.
  fs.rmSync(path.join(ROOT, 'tests/ui/screenshots'), { recursive: true, force: true });
  browser = await launch();
  sim = await startSim();
  const relayDir = tmp('relay');
  const r = track(startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', relayDir, '--api-key', KEY]));
  const [, relayUrl] = await r.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/);
  relay = { url: relayUrl!, dir: relayDir };
  const dir = tmp('companion');
  const proc = track(startBin('evva-companion.js', ['run', '--data-dir', dir, '--front-url', sim.url, '--api-port', '0']));
  const [, api] = await proc.waitFor(/Локальный API: (http:\/\/127\.0\.0\.1:\d+)/);
  await proc.waitFor(/login\?once=/);
  companion = { proc, api: api!, dir };
}, 120_000);

// A failed test leaves its pages' screenshot, HTML and console under .tmp/ui-failures/ (the path is printed).
afterEach((ctx) => keepFailure(browser, ctx));

afterAll(async () => {
  await browser?.close();
  await Promise.all(procs.map((p) => p.stop('SIGTERM', 5_000)));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('the UI served by the companion', () => {
  it('logs in once through the printed link, with an HttpOnly SameSite=Strict cookie and no token in the address; `evva-companion login` prints a fresh one', async () => {
    const printed = /(http:\/\/127\.0\.0\.1:\d+\/login\?once=\S+)/.exec(companion.proc.output())![1]!;
    const a = await newContext();
    const page = await a.newPage();
    await page.goto(printed);
    expect(new URL(page.url()).pathname).toBe('/');
    expect(page.url()).not.toContain('once=');
    await sentence(page, 'Не настроено: введите код привязки');
    // A browser session, not the API token: it outlives a restart of the companion.
    const [cookie] = await a.cookies();
    expect(cookie).toMatchObject({ name: 'evva_session', httpOnly: true, sameSite: 'Strict' });
    expect(cookie!.value).not.toBe(token());

    const b = await browser.newContext();
    const again = await b.newPage();
    const second = await again.goto(printed);
    expect(second!.status()).toBe(401);
    await again.getByText('уже использована или устарела').waitFor();
    // Without the cookie the app itself asks for a login instead of showing anything.
    await again.goto(`${companion.api}/`);
    await again.getByRole('heading', { name: 'Нужен вход' }).waitFor();
    // `evva-companion login` prints a fresh link that does open it.
    await again.goto(await cliLoginLink());
    expect(new URL(again.url()).pathname).toBe('/');
    await sentence(again, 'Не настроено: введите код привязки');
    await b.close();
    // The signed-in session is kept for the tests that need nothing of their own (`signedIn`).
    session = { context: a, page };
  });

  it('refuses the cookie on calls from a page of another origin, even on the same host', async () => {
    const page = await signedIn();
    const context = session!.context;
    await sentence(page, 'Не настроено');
    const probe = (p: Page, method: string, apiPath: string) => Promise.all([
      p.waitForResponse((r) => r.url() === `${companion.api}${apiPath}`),
      p.evaluate(([url, m]) => fetch(url!, { method: m, mode: 'no-cors', credentials: 'include', ...(m === 'POST' ? { body: 'x' } : {}) }).then(() => 0, () => 0), [`${companion.api}${apiPath}`, method]),
    ]).then(async ([res]) => ({ status: res.status(), cookie: (await res.request().allHeaders()).cookie ?? '' }));

    // Control: from the UI's own page the same calls pass the door (the body is still wrong: 400).
    expect((await probe(page, 'POST', '/api/pair')).status).toBe(400);
    // The simulator's page: 127.0.0.1 on another port is the same site, so the browser sends the cookie along.
    const foreign = await context.newPage();
    await foreign.goto(sim.url);
    expect((await probe(foreign, 'POST', '/api/pair')).status).toBe(403);
    // A read carries no Origin; 403 (not 401) shows the cookie arrived and was refused for where it came from.
    expect((await probe(foreign, 'GET', '/api/status')).status).toBe(403);
    // Control: the same page in a browser without the cookie gets 401.
    const stranger = await browser.newContext();
    const bare = await stranger.newPage();
    await bare.goto(sim.url);
    expect((await probe(bare, 'GET', '/api/status')).status).toBe(401);
    await Promise.all([stranger.close(), foreign.close()]);
  });

  it('pairs a venue in three steps; a wrong code is explained in Russian and what was typed stays, also when the page loses the companion', async () => {
    const { page, drop } = await droppable();
    await nav(page, 'Настройка');
    await page.getByTestId('step').filter({ hasText: 'Шаг 1 из 3' }).waitFor();
    const code = page.getByLabel('Код привязки', { exact: true });
    await code.fill('zzzz-zzzz');
    await page.getByLabel('Адрес сервера EVVA').fill(relay.url);
    // The live channel drops and returns (a companion restart): Настройка is drawn anew with what was typed.
    await drop();
    await code.waitFor();
    expect(await code.inputValue()).toBe('ZZZZ-ZZZZ');
    expect(await page.getByLabel('Адрес сервера EVVA').inputValue()).toBe(relay.url);
    await shoot(page, 'ru-setup-1');
    await page.getByRole('button', { name: 'Привязать' }).click();
    const problem = page.getByRole('alert');
    await problem.waitFor();
    expect(await problem.innerText()).toMatch(/код/i);
    expect(await code.inputValue()).toBe('ZZZZ-ZZZZ');
    await shoot(page, 'ru-setup-1-error');

    const venue = JSON.parse((await runBin('evva-relay.js', ['venue', 'add', 'Кафе «Тест»', '--json', '--data-dir', relay.dir])).stdout) as { venueId: string; pairingCode: string };
    // Typed in lower case without the dash: accepted as the same code.
    await code.fill(venue.pairingCode.replace('-', '').toLowerCase());
    await page.getByRole('button', { name: 'Привязать' }).click();
    await page.getByTestId('step').filter({ hasText: 'Шаг 2 из 3' }).waitFor({ timeout: 30_000 });
    await page.getByText(`Нашли iikoFront на порту ${sim.port}`).waitFor({ timeout: 30_000 });
    // Halfway through, the same: the sysadmin is still at step 2, not sent back to the code.
    await drop();
    await page.getByTestId('step').filter({ hasText: 'Шаг 2 из 3' }).waitFor({ timeout: 30_000 });
    await page.getByText(`Нашли iikoFront на порту ${sim.port}`).waitFor({ timeout: 30_000 });
    await shoot(page, 'ru-setup-2');
    await page.getByRole('button', { name: 'Дальше' }).click();
    await page.getByTestId('done-sentence').filter({ hasText: 'Всё работает' }).waitFor({ timeout: 30_000 });
    await shoot(page, 'ru-setup-3');
    await page.getByRole('button', { name: 'Готово' }).click();
    await sentence(page, 'Всё работает');
    // The venue by the name EVVA gave it, not ven_….
    expect(await page.locator('[data-card="tunnel"]').innerText()).toContain('Кафе «Тест»');
    await shoot(page, 'ru-status');
    // A finished setup starts at step 1 again, with nothing typed.
    await nav(page, 'Настройка');
    await page.getByTestId('step').filter({ hasText: 'Шаг 1 из 3' }).waitFor();
    expect(await code.inputValue()).toBe('');
  }, 120_000);

  it('turns red within seconds when the plugin stops and green when it returns, and logs both', async () => {
    const page = await signedIn();
    await sentence(page, 'Всё работает');
    await sim.proc.stop('SIGKILL');
    await sentence(page, 'Есть проблема: iikoFront не отвечает', 30_000);
    expect(await page.locator('.hero').innerText()).toContain('Открыть диагностику');
    await shoot(page, 'ru-status-red');
    sim = await startSim(sim.port);
    await sentence(page, 'Всё работает', 40_000);
    await page.locator('.recent').getByText('iikoFront перестал отвечать').waitFor();
    // Back up within minutes of the last time: folded into that row with a count.
    await page.locator('.recent').getByText(/^iikoFront отвечает( — \d+ раза? с \d\d:\d\d)?$/).first().waitFor();
  }, 120_000);

  it('saves settings through the API, refusing a bad value by its name; what was typed outlives the page losing the companion', async () => {
    const { page, drop } = await droppable();
    await nav(page, 'Настройки');
    const proxy = page.getByLabel('Прокси для связи с EVVA');
    await proxy.fill('не адрес');
    // The live channel drops and comes back: the page shows nothing of a companion that does not answer, then draws
    // Настройки anew, with what the sysadmin had typed still there.
    await drop();
    await proxy.waitFor();
    expect(await proxy.inputValue()).toBe('не адрес');
    await page.getByRole('button', { name: 'Сохранить' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    // Named by the field's own label, never by its settings key.
    const why = page.locator('#e-proxy');
    expect(await why.innerText()).toContain('Прокси для связи с EVVA: нужен адрес HTTP-прокси');
    expect(await page.locator('.settings').innerText()).not.toMatch(/frontUrl|probeIntervalSec|relayUrl|EVVA_PROXY|--proxy|settings\.json/);
    expect(await proxy.getAttribute('aria-invalid')).toBe('true');
    await shoot(page, 'ru-settings-error');
    await proxy.fill('');
    await page.getByLabel('Проверять iikoFront каждые, секунд').fill('5');
    await page.getByRole('button', { name: 'Сохранить' }).click();
    await page.getByText('Сохранено и применено.').waitFor();
    const stored = JSON.parse(fs.readFileSync(path.join(companion.dir, 'settings.json'), 'utf8')) as Record<string, unknown>;
    expect(stored).toMatchObject({ probeIntervalSec: 5 });
    expect(stored.proxy ?? null).toBeNull();
  }, 60_000);

  it('shows every screen in Russian and switches to English and back', async () => {
    const page = await signedIn();
    await sentence(page, 'Всё работает');
    for (const [name, shot] of [['Статус', 'status'], ['Журнал', 'journal'], ['Диагностика', 'diagnostics'], ['Настройки', 'settings'], ['Настройка', 'setup']] as const) {
      await nav(page, name);
      if (shot === 'status') await sentence(page, 'Всё работает');
      else await page.getByRole('heading', { level: 1, name }).waitFor();
      if (shot === 'diagnostics') {
        await page.getByRole('button', { name: 'Запустить проверку' }).click();
        await page.getByTestId('diag-summary').waitFor({ timeout: 60_000 });
      }
      await settled(page);
      await shoot(page, `ru-${shot}`);
    }
    await nav(page, 'Статус');
    await page.getByRole('button', { name: /^EN/ }).click();
    await sentence(page, 'Everything works');
    expect(await page.evaluate<string>('document.documentElement.lang')).toBe('en');
    for (const [name, shot] of [['Status', 'status'], ['Journal', 'journal'], ['Diagnostics', 'diagnostics'], ['Settings', 'settings'], ['Setup', 'setup']] as const) {
      await nav(page, name);
      if (shot === 'status') await sentence(page, 'Everything works');
      else await page.getByRole('heading', { level: 1, name }).waitFor();
      if (shot === 'diagnostics') {
        await page.getByRole('button', { name: 'Run the checks' }).click();
        await page.getByTestId('diag-summary').waitFor({ timeout: 60_000 });
        // The English page shows the report's English twin of each check.
        await page.locator('[data-check="plugin"]').getByRole('heading', { name: /iikoFront Web API plugin/ }).waitFor();
      }
      await settled(page);
      await shoot(page, `en-${shot}`);
    }
    // The language is the companion's setting: a new page opens in English too.
    const other = await session!.context.newPage();
    await other.goto(`${companion.api}/`);
    await sentence(other, 'Everything works');
    await other.getByRole('button', { name: /^RU/ }).click();
    await sentence(other, 'Всё работает');
    await other.close();
  }, 90_000);

  it('is usable from the keyboard: Tab reaches the navigation and Enter opens a screen', async () => {
    const page = await signedIn();
    await sentence(page, 'Всё работает');
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate<boolean>("document.activeElement?.textContent === 'Журнал'");
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Журнал' }).waitFor();
    expect(await page.evaluate<string>('document.activeElement?.tagName')).toBe('H1');
  });
  it('runs the diagnostics: each check with its explanation, the report copied, the bundle saved with report.json', async () => {
    const page = await signedIn();
    await nav(page, 'Диагностика');
    await page.getByText('ещё не проверялось').waitFor();
    await page.getByRole('button', { name: 'Запустить проверку' }).click();
    await page.getByTestId('diag-summary').waitFor({ timeout: 60_000 });
    // The same checks the API returns, each shown with its Russian explanation (and fix when there is one).
    const api = (await (await fetch(`${companion.api}/api/diagnostics`, { method: 'POST', headers: { authorization: `Bearer ${token()}` } })).json()) as Report;
    const items = page.locator('li.check');
    expect(await items.count()).toBe(api.checks.length);
    for (const c of api.checks) {
      const item = page.locator(`[data-check="${c.id}"]`);
      expect(await item.getByRole('heading').innerText()).toContain(c.title);
      expect((await item.innerText()).length).toBeGreaterThan(c.title.length + 10);
    }
    expect(await page.locator('[data-check="plugin"]').innerText()).toContain(String(sim.port));
    await shoot(page, 'ru-diagnostics-run');

    await session!.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: companion.api });
    await page.getByRole('button', { name: 'Скопировать отчёт' }).click();
    await page.getByText('Отчёт скопирован.').waitFor();
    const copied = await page.evaluate<string>('navigator.clipboard.readText()');
    expect(copied).toContain(api.summary.companion);
    // Results in words and the time as the venue writes it, not [ok] tags and ISO.
    expect(copied).toMatch(/^- (в порядке|требует внимания|не работает|не проверялось): Плагин iikoFront Web API — /m);
    expect(copied).not.toMatch(/\[(ok|warn|fail|skip)\]|\d{4}-\d\d-\d\dT/);
    expect(copied.split('\n').filter((l) => l.startsWith('- '))).toHaveLength(api.checks.length);

    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.getByRole('link', { name: 'Сохранить архив для поддержки' }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.zip$/);
    const files = await unzip(fs.readFileSync((await download.path())!));
    const report = JSON.parse(files.get('report.json') ?? 'null') as Report | null;
    expect(report?.checks.map((c) => c.id)).toEqual(api.checks.map((c) => c.id));
  }, 120_000);

  it('shows the port check the diagnostics ran on the status card, and «ещё не проверялось» before', async () => {
    // The previous test ran the checks on this companion; the status now carries the port check's verdict.
    const r = await fetch(`${companion.api}/api/status`, { headers: { authorization: `Bearer ${token()}` } });
    const port = ((await r.json()) as { port?: { explanation: string; exposed: boolean | null } }).port;
    expect(port).toBeDefined();
    const page = await signedIn();
    await sentence(page, 'Всё работает');
    const card = await page.locator('[data-card="port"]').innerText();
    expect(card).not.toContain('ещё не проверялось');
    expect(card).toMatch(/проверено в \d\d:\d\d/);
  }, 60_000);

  it('lists orders in the Журнал as they change in the simulator', async () => {
    const page = await signedIn();
    await nav(page, 'Журнал');
    await page.getByRole('heading', { level: 1, name: 'Журнал' }).waitFor();
    const o = await control('POST', 'orders', { tableNum: 7, items: [{ productCode: '02401', amount: 2 }] });
    const log = page.locator('table.log');
    await log.getByText(`Заказ №${o.Number}, стол 7: новый`).first().waitFor({ timeout: 60_000 });
    await control('POST', `orders/${o.Id}/close`, { paymentType: 'Наличные' });
    await log.getByText(new RegExp(`Заказ №${o.Number}, стол 7: закрыт`)).first().waitFor({ timeout: 60_000 });
    await page.getByText('Заказы', { exact: true }).click();
    expect(await log.getByText(/^iikoFront/).count()).toBe(0);
    await shoot(page, 'ru-journal-orders');
    await page.getByRole('button', { name: /^EN/ }).click();
    await log.getByText(new RegExp(`Order #${o.Number}, table 7: closed`)).first().waitFor();
    await shoot(page, 'en-journal-orders');
    await page.getByRole('button', { name: /^RU/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Журнал' }).waitFor();
  }, 120_000);

  it('shows a payment EVVA posted to the relay on the status and in the Журнал, with the EVVAP instruction', async () => {
    const page = await signedIn();
    await sentence(page, 'Всё работает');
    const o = await control('POST', 'orders', { tableNum: 5, items: [{ productCode: '02401', amount: 1 }] });
    const venue = await venueId();
    // As in life, the companion has seen the order (the guest saw the bill) before EVVA takes the money.
    await nav(page, 'Журнал');
    await page.locator('table.log').getByText(`Заказ №${o.Number}, стол 5: новый`).first().waitFor({ timeout: 60_000 });
    await nav(page, 'Статус');
    const posted = await fetch(`${relay.url}/v1/venues/${venue}/payments`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ paymentId: `ui-pay-${o.Number}`, orderId: o.Id, amount: o.ResultSum, paidAt: new Date().toISOString() }),
    });
    expect(posted.status, await posted.clone().text()).toBeLessThan(300);
    await sentence(page, 'Оплат ждут закрытия: 1');
    expect(await page.locator('.hero').innerText()).toContain('EVVAP');
    expect(await page.locator('[data-card="feed"]').innerText()).toContain('Ждут закрытия: 1');
    await shoot(page, 'ru-status-payment');
    await nav(page, 'Журнал');
    const line = page.locator('table.log').getByText(`Заказ №${o.Number}, стол 5: закройте заказ типом оплаты EVVAP`).first();
    await line.waitFor({ timeout: 30_000 }).catch(async (e: unknown) => { throw new Error(`${String(e)}\n${await page.locator('.journal').innerText()}`); });
    await shoot(page, 'ru-journal-payment');
    await page.getByRole('button', { name: /^EN/ }).click();
    await page.locator('table.log').getByText(`Order #${o.Number}, table 5: close the order with payment type EVVAP`).first().waitFor();
    await shoot(page, 'en-journal-payment');
    await page.getByRole('button', { name: /^RU/ }).click();
    // Closed with EVVA's payment type, it reconciles and the status is green again.
    await control('POST', `orders/${o.Id}/close`, { paymentType: 'EVVAP' });
    await nav(page, 'Статус');
    await sentence(page, 'Всё работает', 60_000);
  }, 180_000);
});
