/**
 * EVVA's support console in real Chromium, against the real relay bin with a
 * thousand venues, two real companions (one with remote diagnostics off) and
 * their simulators. Every screen is shot in Russian and English at 1366×768
 * (full page) into EVVA_SHOTS_DIR, or tests/ui/screenshots-console/.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../../common/clock.ts';
import type { Report } from '../../protocol/diagnostics.ts';
import { openStore } from '../../relay/db/store.ts';
import { Pairing } from '../../relay/pairing.ts';
import { ROOT, runBin, startBin, type Proc } from '../helpers/proc.ts';
import { unzip } from '../helpers/zip.ts';
import { keepFailure, launch } from './browser.ts';

const KEY = 'console-ui-key-0123456789abcdef';
const FINGERPRINT = createHash('sha256').update(KEY).digest('hex').slice(0, 12);
const VENUES = 1_000;
const SHOTS = process.env.EVVA_SHOTS_DIR || path.join(ROOT, 'tests', 'ui', 'screenshots-console');
const VIEW = { width: 1366, height: 768 };
const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

const procs: Proc[] = [];
const dirs: string[] = [];
const tmp = (p: string, base = os.tmpdir()) => { const d = fs.mkdtempSync(path.join(base, `evva-console-${p}-`)); dirs.push(d); return d; };
// The relay's database goes on tmpfs where there is one: it syncs every commit to disk (synchronous=FULL), and the
// thousand venues below are a thousand commits (999 POSTs took 26 s on this machine's disk at load 20, 14 s on
// /dev/shm). The console is what is tested here, not the disk.
const RAM = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const track = (p: Proc) => { procs.push(p); return p; };

let browser: Browser;
let relay: string;
let page: Page;
let context: BrowserContext;
interface Venue { venueId: string; name: string; dir: string; sim: Proc; companion: Proc; simUrl: string }
let a: Venue;
let b: Venue;
let lonely: { venueId: string; name: string };

async function post<T>(p: string, body: unknown): Promise<T> {
  const r = await fetch(`${relay}${p}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
  expect(r.status, `${p}: ${await r.clone().text()}`).toBeLessThan(300);
  return (await r.json()) as T;
}

/** A simulator, a venue and a companion paired with it, running. */
async function venue(name: string, settings: Record<string, unknown> = {}): Promise<Venue> {
  const sim = track(startBin('evva-sim.js', ['--port', '0', '--no-auto', '--quiet']));
  const [, simUrl] = await sim.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  const v = await post<{ venueId: string; pairingCode: string }>('/v1/venues', { name });
  const dir = tmp('companion');
  const paired = await runBin('evva-companion.js', ['pair', v.pairingCode, '--relay-url', relay, '--data-dir', dir]);
  expect(paired.code, paired.out).toBe(0);
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify(settings));
  const companion = track(startBin('evva-companion.js', ['run', '--data-dir', dir, '--front-url', simUrl!, '--api-port', '0']));
  await companion.waitFor(/Локальный API/, 30_000);
  return { venueId: v.venueId, name, dir, sim, companion, simUrl: simUrl! };
}

/**
 * The page in each language (the only thing the page keeps in the browser), reloaded and shot after `ready` says it
 * is drawn; then `leave` (closing what `ready` opened) and back to Russian by the page's own switch. Not by a third
 * reload: a reload of a console page costs about half a second of CPU, and there were eleven of them.
 */
async function shots(name: string, ready: () => Promise<unknown>, leave?: () => Promise<unknown>): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const lang of ['ru', 'en'] as const) {
    await page.evaluate(`localStorage.setItem('evva-console-lang', '${lang}')`);
    await page.reload();
    await page.locator(`button[lang="${lang}"][aria-pressed="true"]`).waitFor();
    await ready();
    await page.screenshot({ path: path.join(SHOTS, `${name}.${lang}.png`), fullPage: true });
  }
  await leave?.();
  await page.locator('button[lang="ru"]').click();
  await page.locator('button[lang="ru"][aria-pressed="true"]').waitFor();
}

/** The overview is drawn once both its lists have loaded (a list still loading shows "…"). */
const overviewDrawn = async () => {
  await page.getByTestId('events').waitFor();
  await expect.poll(() => page.locator('section[aria-labelledby="payments-h"]').textContent()).not.toMatch(/…$/);
};
const sentence = (text: string, timeout = 30_000) => page.getByTestId('sentence').filter({ hasText: text }).waitFor({ timeout });
const open = async (venueId: string, tab = '') => {
  await page.goto(`${relay}/console/venues/${venueId}${tab ? `/${tab}` : ''}`);
  await page.getByTestId('sentence').waitFor();
};

/**
 * `count` venues in the relay's data dir before the relay starts, made by the relay's own venue code (what `evva-relay
 * venue add` runs on a data dir) in this process. Through the API, 999 POSTs cost about 5 s of CPU (this process's
 * fetch, the relay's HTTP and a log line each) and 9-17 s of wall; the API's venue creation is tested in
 * tests/integration/relay, and the three venues this file acts on are still made through it.
 */
async function seed(dataDir: string, count: number): Promise<void> {
  const store = await openStore({ dataDir });
  try {
    const pairing = new Pairing(store, realClock);
    for (let i = 0; i < count; i++) await pairing.createVenue(`Кафе №${String(i).padStart(4, '0')}`);
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  fs.rmSync(SHOTS, { recursive: true, force: true });
  const relayDir = tmp('relay', RAM);
  [browser] = await Promise.all([launch(), seed(relayDir, VENUES - 1)]);
  const r = track(startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', relayDir, '--api-key', KEY, '--allow-loopback-webhooks']));
  relay = (await r.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;
  lonely = { name: 'Пельменная «Уралочка»', venueId: (await post<{ venueId: string }>('/v1/venues', { name: 'Пельменная «Уралочка»' })).venueId };
  // Side by side: each is a simulator, a pairing and a companion start, mostly waiting on their processes.
  [a, b] = await Promise.all([venue('Ресторан «Пушкин»'), venue('Бар «Берёза»', { allowRemoteDiagnostics: false })]);
  // A's venue gets a webhook whose URL carries credentials (never shown), and a receiver that is not there (a closed
  // port on this machine: the relay allows loopback receivers only with its test flag, and resolves no public names here).
  const hook = await fetch(`${relay}/v1/venues/${a.venueId}/webhook`, {
    method: 'PUT', headers: auth, body: JSON.stringify({ url: 'https://evva:s3cretpass@127.0.0.1:9/in?token=t0kenvalue', secret: 'hook-secret-0123456789' }),
  });
  expect(hook.status).toBe(200);
  context = await browser.newContext({ viewport: VIEW, locale: 'ru-RU', acceptDownloads: true });
  page = await context.newPage();
}, 300_000);

// A failed test leaves its pages' screenshot, HTML and console under .tmp/ui-failures/ (the path is printed).
afterEach((ctx) => keepFailure(browser, ctx));

afterAll(async () => {
  await browser?.close();
  await Promise.all(procs.map((p) => p.stop('SIGTERM', 5_000)));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('the support console', () => {
  it('signs in with the API key into an HttpOnly cookie, keeps the key nowhere, and refuses a wrong key after a delay', async () => {
    await page.goto(`${relay}/console/`);
    await page.getByRole('heading', { name: 'Вход в консоль поддержки' }).waitFor();
    await shots('01-signin', () => page.locator('#key').waitFor());
    await page.locator('#key').fill('not-the-right-key-0123456789');
    const t0 = Date.now();
    await page.locator('#key').press('Enter');
    await page.getByRole('alert').filter({ hasText: 'Ключ не подошёл' }).waitFor();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    await page.screenshot({ path: path.join(SHOTS, '02-signin-wrong.ru.png'), fullPage: true });
    // The refusal is worded in the language it was asked in: the English shot asks again in English.
    await page.locator('button[lang="en"]').click();
    await page.locator('#key').fill('not-the-right-key-0123456789');
    await page.locator('#key').press('Enter');
    await page.getByRole('alert').filter({ hasText: 'That key was not accepted' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, '02-signin-wrong.en.png'), fullPage: true });
    await page.locator('button[lang="ru"]').click();
    await page.locator('#key').fill(KEY);
    await page.getByRole('button', { name: 'Войти' }).click();
    await page.getByRole('heading', { name: 'Заведения' }).waitFor();
    await expect.poll(() => page.getByTestId('who').textContent()).toBe(`ключ ${FINGERPRINT}`);
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'evva_console', httpOnly: true, sameSite: 'Strict', path: '/console' });
    expect(cookie!.value).not.toContain(KEY);
    const kept = await page.evaluate<string>('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.documentElement.outerHTML + document.cookie');
    expect(kept).not.toContain(KEY);
    expect(await page.locator('#key').count()).toBe(0);
  }, 60_000);

  it('lists a thousand venues a page at a time, searches and filters them on the relay', async () => {
    await page.goto(`${relay}/console/`);
    await expect.poll(() => page.getByTestId('range').textContent(), { interval: 250, timeout: 20_000 }).toBe(`1–50 из ${VENUES + 2}`);
    expect(await page.locator('tbody tr').count()).toBe(50);
    await page.getByRole('button', { name: 'Дальше →' }).click();
    await expect.poll(() => page.getByTestId('range').textContent()).toBe(`51–100 из ${VENUES + 2}`);
    const second = await page.locator('tbody tr').first().getAttribute('data-venue');
    await page.getByRole('button', { name: '← Назад' }).click();
    await expect.poll(() => page.getByTestId('range').textContent()).toBe(`1–50 из ${VENUES + 2}`);
    expect(await page.locator('tbody tr').first().getAttribute('data-venue')).not.toBe(second);
    // B's plugin stops: the companion says so, the list shows it among the ones not working.
    await b.sim.stop('SIGTERM');
    await expect.poll(() => page.locator('[data-verdict="red"] .count').textContent(), { interval: 250, timeout: 40_000 }).toBe('1');
    await page.locator('[data-verdict="red"]').click();
    await expect.poll(() => page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-venue')))).toEqual([b.venueId]);
    await expect.poll(() => page.locator('tbody tr td.state').first().textContent()).toBe('Есть проблема: iikoFront не отвечает');
    await shots('04-venues-not-working', () => page.locator(`tr[data-venue="${b.venueId}"]`).waitFor());
    await page.locator('[data-verdict="green"]').click();
    await expect.poll(() => page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-venue'))), { interval: 250, timeout: 20_000 }).toEqual([a.venueId]);
    await page.locator('[data-verdict="grey"]').click();
    await expect.poll(() => page.getByTestId('range').textContent()).toBe(`1–50 из ${VENUES}`);
    await page.locator('[data-verdict="all"]').click();
    await page.getByTestId('search').fill('уралоч');
    await expect.poll(() => page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-venue')))).toEqual([lonely.venueId]);
    await shots('05-venues-search', () => page.locator(`tr[data-venue="${lonely.venueId}"]`).waitFor());
    await page.getByTestId('search').fill(a.venueId.slice(0, 12));
    await expect.poll(() => page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-venue')))).toEqual([a.venueId]);
    await page.getByTestId('search').fill('');
    await page.getByTestId('sort').selectOption('name');
    await expect.poll(() => page.locator('tbody tr a').first().textContent()).toBe('Бар «Берёза»');
    await page.getByTestId('sort').selectOption('verdict');
    await expect.poll(() => page.locator('tbody tr').first().getAttribute('data-venue')).toBe(b.venueId);
    await shots('03-venues', () => page.getByTestId('range').waitFor());
  }, 120_000);

  it('shows a venue\'s face and cards, and sees it go offline and come back live', async () => {
    await open(a.venueId);
    await sentence('Всё работает');
    expect(await page.locator('[data-card]').count()).toBe(4);
    await expect.poll(() => page.getByTestId('events').locator('li').count(), { interval: 250, timeout: 20_000 }).toBeGreaterThan(0);
    // The webhook's URL with its credentials masked.
    await expect.poll(() => page.getByTestId('webhook').textContent()).toContain('https://***@127.0.0.1:9/in?token=***');
    expect(await page.content()).not.toContain('s3cretpass');
    expect(await page.content()).not.toContain('t0kenvalue');
    await shots('06-venue', overviewDrawn);
    await a.companion.stop('SIGTERM');
    await expect.poll(() => page.getByTestId('link').textContent(), { interval: 250, timeout: 20_000 }).toMatch(/^нет связи с (\d\d\.\d\d )?\d\d:\d\d$/);
    await sentence('Есть проблема: нет связи с EVVA');
    await shots('07-venue-offline', async () => { await page.getByTestId('link').waitFor(); await overviewDrawn(); });
    a.companion = track(startBin('evva-companion.js', ['run', '--data-dir', a.dir, '--front-url', a.simUrl, '--api-port', '0']));
    await expect.poll(() => page.getByTestId('link').textContent(), { interval: 250, timeout: 30_000 }).toMatch(/^на связи с (\d\d\.\d\d )?\d\d:\d\d$/);
    await sentence('Всё работает');
  }, 120_000);

  it('runs the diagnostics at a paired venue and reads the report as the companion shows it', async () => {
    await open(a.venueId, 'diagnostics');
    await page.getByTestId('diag-run').click();
    await page.getByTestId('diag-summary').waitFor({ timeout: 30_000 });
    const checks = await page.locator('[data-check]').evaluateAll((els) => els.map((e) => e.getAttribute('data-check')));
    expect(checks).toEqual(expect.arrayContaining(['plugin', 'tunnel', 'machine']));
    expect(await page.locator('[data-check="plugin"] h2').textContent()).toContain('Плагин iikoFront Web API');
    expect(await page.locator('#report').inputValue()).toContain(a.venueId);
    await shots('08-diagnostics', async () => {
      await page.getByTestId('diag-run').click();
      await page.getByTestId('diag-summary').waitFor({ timeout: 30_000 });
    });
  }, 120_000);

  it('reads the companion\'s log tail and filters it', async () => {
    await open(a.venueId, 'logs');
    await page.getByTestId('logs-load').click();
    await page.getByTestId('loglines').waitFor({ timeout: 30_000 });
    const all = await page.locator('[data-testid="loglines"] li').count();
    expect(all).toBeGreaterThan(3);
    await page.getByTestId('logs-filter').fill('tunnel');
    await expect.poll(() => page.locator('[data-testid="loglines"] li').count()).toBeLessThan(all);
    const shown = await page.locator('[data-testid="loglines"] li').allTextContents();
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.every((l) => l.toLowerCase().includes('tunnel'))).toBe(true);
    await shots('09-logs', async () => {
      await page.getByTestId('logs-load').click();
      await page.getByTestId('loglines').waitFor({ timeout: 30_000 });
    });
  }, 120_000);

  it('downloads the support bundle, and it opens', async () => {
    await open(a.venueId, 'diagnostics');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.getByTestId('bundle').click()]);
    expect(download.suggestedFilename()).toMatch(/\.zip$/);
    const files = await unzip(fs.readFileSync((await download.path())!));
    const report = JSON.parse(files.get('report.json') ?? 'null') as Report | null;
    expect(report?.summary.venueId).toBe(a.venueId);
    expect([...files.keys()]).toEqual(expect.arrayContaining(['report.json', 'status.json', 'settings.json']));
  }, 120_000);

  it('says so when the venue has remote diagnostics off', async () => {
    await open(b.venueId, 'diagnostics');
    await page.getByTestId('diag-run').click();
    await page.getByTestId('diag-error').filter({ hasText: 'В заведении выключена удалённая диагностика' }).waitFor({ timeout: 30_000 });
    await shots('10-diagnostics-refused', async () => {
      await page.getByTestId('diag-run').click();
      await page.getByTestId('diag-error').waitFor({ timeout: 30_000 });
    });
    // The bundle is refused the same way, in words, not saved as a file.
    let downloaded = false;
    page.once('download', () => { downloaded = true; });
    await page.getByTestId('bundle').click();
    await page.getByTestId('diag-error').filter({ hasText: 'В заведении выключена удалённая диагностика' }).waitFor({ timeout: 30_000 });
    expect(downloaded).toBe(false);
    await open(b.venueId, 'logs');
    await page.getByTestId('logs-load').click();
    await page.getByTestId('logs-error').filter({ hasText: 'В заведении выключена удалённая диагностика' }).waitFor({ timeout: 30_000 });
  }, 120_000);

  it('lists the support actions with the caller\'s key fingerprint', async () => {
    await open(a.venueId, 'audit');
    await expect.poll(() => page.locator('[data-testid="audit"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action'))), { interval: 250, timeout: 20_000 })
      .toEqual(expect.arrayContaining(['diagnose', 'logs', 'bundle']));
    const keys = await page.locator('[data-testid="audit"] tbody td.mono:nth-child(4)').allTextContents();
    expect(new Set(keys)).toEqual(new Set([FINGERPRINT]));
    await shots('11-audit', () => page.getByTestId('audit').waitFor());
    await open(b.venueId, 'audit');
    await page.locator('[data-testid="audit"] tr[data-action="diagnose"]').filter({ hasText: 'отказано заведением' }).first().waitFor({ timeout: 20_000 });
  }, 60_000);

  it('retries a venue\'s webhook now, and audits it', async () => {
    await open(a.venueId);
    await page.getByTestId('webhook-retry').click();
    await page.getByRole('status').filter({ hasText: /Повтор запланирован|Ждущих попыток нет/ }).waitFor({ timeout: 20_000 });
    await open(a.venueId, 'audit');
    await page.locator('[data-testid="audit"] tr[data-action="webhook-retry"]').first().waitFor({ timeout: 20_000 });
  }, 60_000);

  it('issues a pairing code and revokes a device, each after a confirmation that says what happens', async () => {
    await open(lonely.venueId, 'pairing');
    await page.getByTestId('code-open').click();
    await page.getByRole('dialog').filter({ hasText: 'Прежний неиспользованный код перестанет действовать' }).waitFor();
    await shots('12-pairing-confirm', async () => {
      await page.getByTestId('code-open').click();
      await page.getByRole('dialog').waitFor();
    }, () => page.getByTestId('confirm-no').click());
    await page.getByTestId('code-open').click();
    await page.getByTestId('confirm-yes').click();
    // The time has the day before it when it is not today (ctx.ts `when`): a code issued at 23:58 lasts to «08.12 00:13».
    await expect.poll(() => page.getByTestId('code').textContent()).toMatch(/^Код [2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4} — действует до (\d\d\.\d\d )?\d\d:\d\d/);
    await page.screenshot({ path: path.join(SHOTS, '13-pairing-code.ru.png'), fullPage: true });
    // The code stays on screen when the language changes (no reload, which would drop it).
    await page.locator('button[lang="en"]').click();
    await expect.poll(() => page.getByTestId('code').textContent()).toMatch(/^Code [2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}/);
    await page.screenshot({ path: path.join(SHOTS, '13-pairing-code.en.png'), fullPage: true });
    await page.locator('button[lang="ru"]').click();
    await open(b.venueId, 'pairing');
    await page.getByTestId('revoke-open').click();
    await page.getByRole('dialog').filter({ hasText: 'сразу потеряет связь с EVVA' }).waitFor();
    await page.getByTestId('confirm-no').click();
    await shots('14-revoke-confirm', async () => {
      await page.getByTestId('revoke-open').click();
      await page.getByRole('dialog').waitFor();
    }, () => page.getByTestId('confirm-no').click());
    await page.getByTestId('revoke-open').click();
    await page.getByTestId('confirm-yes').click();
    await page.getByTestId('pairing-said').filter({ hasText: 'Устройство отозвано' }).waitFor({ timeout: 20_000 });
    await sentence('Привязка отозвана: получите новый код в EVVA');
    await open(b.venueId);
    await sentence('Привязка отозвана: получите новый код в EVVA');
    await shots('15-venue-revoked', overviewDrawn);
  }, 120_000);

  it('signs out, and the session is gone', async () => {
    await page.goto(`${relay}/console/`);
    const [cookie] = await context.cookies();
    await page.getByTestId('sign-out').click();
    await page.getByRole('heading', { name: 'Вход в консоль поддержки' }).waitFor();
    await page.getByText('Вы вышли из консоли.').waitFor();
    expect(await context.cookies()).toEqual([]);
    // The old cookie, sent again as it was, finds no session on the relay.
    const again = await fetch(`${relay}/console/api/venues`, { headers: { cookie: `${cookie!.name}=${cookie!.value}`, origin: relay, 'sec-fetch-site': 'same-origin' } });
    expect(again.status).toBe(401);
  }, 60_000);
});
