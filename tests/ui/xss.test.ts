/**
 * Cross-site scripting through plugin data, in real Chromium: every string the
 * plugin controls (its version header, product, staff, table and hall names,
 * order and item comments, waiter, discount and payment type names, delivery
 * customers) is set to markup and script in the simulator, flows through the
 * real companion (and the real relay, for a payment), and each screen
 * (Статус, Журнал, Диагностика) and the tray tooltip is read. Nothing may run
 * (no script, no handler, no CSP violation, no dialog), no element may be made
 * from it, and where a screen shows such a string it shows it as text.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { faceOf, tooltipOf } from '../../face/face.ts';
import { LoginLink, type Status } from '../../protocol/local.ts';
import { startSim, type Sim } from '../../sim/index.ts';
import { runBin, startBin, type Proc } from '../helpers/proc.ts';
import { keepFailure, launch } from './browser.ts';

const KEY = 'ui-xss-api-key-0123456789abcdef';
/** Each payload marks anything it manages to create with data-xss, and sets window.__xss if it ever runs. */
const VERSION = '<img src=x data-xss onerror=window.__xss=1>';
const HOSTILE = [
  '<img src=x data-xss onerror="window.__xss=(window.__xss||0)+1">',
  '<script data-xss>window.__xss=1</script>',
  '"><svg data-xss onload="window.__xss=1"></svg>',
  '<a data-xss href="javascript:window.__xss=1">открыть</a>',
  "'); window.__xss=1; ('",
  '<iframe data-xss srcdoc="<script>parent.__xss=1</script>"></iframe>',
];
const CASH = `Наличные ${HOSTILE[0]}`;

const procs: Proc[] = [];
const dirs: string[] = [];
const tmp = (p: string) => { const d = fs.mkdtempSync(path.join(os.tmpdir(), `evva-xss-${p}-`)); dirs.push(d); return d; };
let browser: Browser;
let sim: Sim;
let api: string;
let companionDir: string;
let relayUrl: string;
let venueId: string;

const token = () => (JSON.parse(fs.readFileSync(path.join(companionDir, 'local-api.json'), 'utf8')) as { token: string }).token;
const status = async () => (await (await fetch(`${api}/api/status`, { headers: { authorization: `Bearer ${token()}` } })).json()) as Status;

beforeAll(async () => {
  browser = await launch();
  // The plugin, hostile wherever it names something.
  sim = await startSim({ port: 0, auto: false, version: VERSION, evvaPayment: { name: `EVVA ${HOSTILE[2]}`, code: 'EVVAP' } });
  sim.world.paymentTypes.find((p) => p.code === 'CASH')!.name = CASH;
  sim.world.products.forEach((p, i) => { p.name = `${p.name} ${HOSTILE[i % HOSTILE.length]}`; });
  sim.world.sections.forEach((s, i) => { s.name = `${s.name} ${HOSTILE[(i + 1) % HOSTILE.length]}`; });
  sim.act.addStaff({ name: HOSTILE[1]!, role: HOSTILE[3], phone: HOSTILE[4] });
  sim.act.addTable({ number: 77, name: HOSTILE[5], section: sim.world.sections[0]!.id });

  const relayDir = tmp('relay');
  const relay = startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', relayDir, '--api-key', KEY]);
  procs.push(relay);
  relayUrl = (await relay.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;
  const venue = JSON.parse((await runBin('evva-relay.js', ['venue', 'add', 'Кафе', '--json', '--data-dir', relayDir])).stdout) as { venueId: string; pairingCode: string };
  venueId = venue.venueId;
  companionDir = tmp('companion');
  const paired = await runBin('evva-companion.js', ['pair', venue.pairingCode, '--relay-url', relayUrl, '--data-dir', companionDir]);
  expect(paired.code, paired.out).toBe(0);
  fs.writeFileSync(path.join(companionDir, 'settings.json'), JSON.stringify({ feed: { ordersIntervalMs: 250, staffIntervalSec: 1, tablesIntervalSec: 1, paymentCloseAfterMin: 0.1 } }));
  const companion = startBin('evva-companion.js', ['run', '--data-dir', companionDir, '--front-url', sim.url, '--api-port', '0']);
  procs.push(companion);
  api = (await companion.waitFor(/Локальный API: (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
}, 120_000);

// A failed test leaves its pages' screenshot, HTML and console under .tmp/ui-failures/ (the path is printed).
afterEach((ctx) => keepFailure(browser, ctx));

afterAll(async () => {
  await browser?.close();
  await Promise.all(procs.map((p) => p.stop('SIGTERM', 5_000)));
  await sim?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A logged-in page that records every sign of script running: dialogs, CSP violations, page errors. */
async function watchedPage(): Promise<{ page: Page; incidents: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: 'ru-RU' });
  const page = await context.newPage();
  const incidents: string[] = [];
  page.on('dialog', (d) => { incidents.push(`dialog: ${d.message()}`); void d.dismiss(); });
  page.on('pageerror', (e) => incidents.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) incidents.push(`console: ${m.text()}`); });
  // A one-time link asked of the running companion as `evva-companion login` asks it (a bin start is a second of CPU).
  const link = await fetch(`${api}/api/login-link`, { method: 'POST', headers: { authorization: `Bearer ${token()}` } });
  expect(link.status).toBe(200);
  await page.goto(LoginLink.parse(await link.json()).url);
  return { page, incidents };
}

/** Nothing the plugin sent became an element or ran, on this page. */
async function clean(page: Page, incidents: string[], where: string): Promise<void> {
  const made = await page.evaluate<number>("document.querySelectorAll('[data-xss]').length");
  const ran = await page.evaluate<unknown>('window.__xss ?? null');
  expect({ where, made, ran, incidents }).toEqual({ where, made: 0, ran: null, incidents: [] });
}

const nav = (page: Page, name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true }).click();

describe('plugin data with markup and script', () => {
  it('is shown as text, and never run, on every screen and in the tray tooltip', async () => {
    // Orders, a discount, a delivery, and a payment closed with the hostile cash type (a mismatch the Журнал explains).
    const code = sim.world.products.find((p) => p.active)!.code;
    const order = sim.act.createOrder({ tableNum: 77, waiterName: HOSTILE[1], items: [{ productCode: code, amount: 1, comment: HOSTILE[1] }] });
    sim.act.discount(order.Id, 10, HOSTILE[2]);
    sim.act.createDelivery({ items: [{ productCode: code, amount: 1, comment: HOSTILE[3] }], customerName: HOSTILE[4], comment: HOSTILE[5] });
    const { page, incidents } = await watchedPage();
    // Статус: the plugin's version is shown on its card, as typed.
    await page.getByTestId('sentence').waitFor();
    const frontCard = page.locator('[data-card="front"]');
    await frontCard.getByText('версия', { exact: false }).waitFor({ timeout: 30_000 });
    await clean(page, incidents, 'Статус');
    expect(await frontCard.innerText()).toContain(`версия ${VERSION}`);

    // The payment: EVVA posts it, the cashier closes the order in cash (a type whose name is hostile).
    await page.getByTestId('sentence').filter({ hasText: 'Всё работает' }).waitFor({ timeout: 60_000 });
    const posted = await fetch(`${relayUrl}/v1/venues/${venueId}/payments`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ paymentId: 'xss-pay-1', orderId: order.Id, amount: order.ResultSum, paidAt: new Date().toISOString() }),
    });
    expect(posted.status, await posted.clone().text()).toBeLessThan(300);
    sim.act.close(order.Id, 'CASH');

    // Журнал: the mismatch line names the payment type as iiko has it, markup and all, as text.
    await nav(page, 'Журнал');
    const log = page.locator('table.log');
    const line = log.getByText('оплаты в iiko', { exact: false }).first();
    await line.waitFor({ timeout: 60_000 });
    await clean(page, incidents, 'Журнал');
    expect(await line.innerText()).toContain(CASH);

    // Диагностика: the checks read the plugin (its version, its answers).
    await nav(page, 'Диагностика');
    await page.getByRole('button', { name: 'Запустить проверку' }).click();
    await page.getByTestId('diag-summary').waitFor({ timeout: 60_000 });
    await clean(page, incidents, 'Диагностика');

    // Back to Статус once everything above has been seen (live updates re-render it).
    await nav(page, 'Статус');
    await page.getByTestId('sentence').waitFor();
    await clean(page, incidents, 'Статус again');

    // The tray tooltip: plain text from the status, the plugin's strings never in it.
    const s = await status();
    expect(s.front.version).toBe(VERSION);
    const tip = tooltipOf(s, 'ru');
    expect(tip.toLowerCase().startsWith(`evva: ${faceOf(s, 'ru').sentence.toLowerCase()}`.slice(0, 40))).toBe(true);
    for (const h of [VERSION, ...HOSTILE, CASH]) expect(tip).not.toContain(h);
    await page.context().close();
  }, 240_000);
});
