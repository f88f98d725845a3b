/**
 * `npm run shots -- --out DIR`: a screenshot of every screen and state of the
 * companion's UI, in Russian and English, at 1366×768 and 800×600, for a
 * person to look at (not a test: nothing is asserted). Starts the real
 * simulator, relay and companion through their bins on free ports, drives
 * them into each state, and shoots Debian's Chromium (tests/ui/browser.ts).
 * The files (`<state>-<lang>-<width>.png`) are not for git.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { freePort, runBin, startBin, type Proc } from '../tests/helpers/proc.ts';
import { launch } from '../tests/ui/browser.ts';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = path.resolve(values.out ?? path.join(os.tmpdir(), 'evva-shots'));
fs.mkdirSync(out, { recursive: true });

const SIZES = [{ width: 1366, height: 768 }, { width: 800, height: 600 }] as const;
const LANGS = ['ru', 'en'] as const;
const KEY = 'shots-api-key-0123456789abcdef';
const procs: Proc[] = [];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-shots-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const simPort = await freePort();
  const controlPort = await freePort();
  const sim = startBin('evva-sim.js', ['--port', String(simPort), '--control-port', String(controlPort), '--no-auto', '--quiet']);
  procs.push(sim);
  await sim.waitFor(/listening on/);
  const control = async (method: string, route: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${controlPort}/_sim/${route}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return r.json() as Promise<{ Id: string; Number: number; ResultSum: number }>;
  };
  const relayDir = path.join(work, 'relay');
  const relay = startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', relayDir, '--api-key', KEY]);
  procs.push(relay);
  const relayUrl = (await relay.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;
  const dir = path.join(work, 'companion');
  fs.mkdirSync(dir);
  const apiPort = await freePort();
  const closed = await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  let companion = await startCompanion();
  async function startCompanion(): Promise<Proc> {
    const p = startBin('evva-companion.js', ['run', '--data-dir', dir, '--api-port', String(apiPort)], { EVVA_TEST_HOOKS: '1', EVVA_TEST_DISCOVERY_PORTS: String(closed) });
    procs.push(p);
    await p.waitFor(/login\?once=/, 30_000);
    return p;
  }
  const token = () => (JSON.parse(fs.readFileSync(path.join(dir, 'local-api.json'), 'utf8')) as { token: string }).token;
  const local = (p: string, method = 'GET', body?: unknown) => fetch(`${api}${p}`, { method, headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const setLang = (lang: string) => local('/api/settings', 'PUT', { language: lang });

  const browser: Browser = await launch();
  const link = async () => /(http:\/\/127\.0\.0\.1:\d+\/login\?once=\S+)/.exec((await runBin('evva-companion.js', ['login', '--data-dir', dir])).out)![1]!;
  // One signed-in page per size; they stay signed in across the companion's restart.
  const pages: Page[] = [];
  for (const size of SIZES) {
    const context = await browser.newContext({ viewport: size, locale: 'ru-RU' });
    const page = await context.newPage();
    await page.goto(await link());
    pages.push(page);
  }
  const go = (p: Page, route: string) => p.goto(`${api}${route}`);
  /** Shoots every page in both languages after `prepare` puts it in the state (run once per page and language). */
  async function shoot(name: string, prepare: (p: Page, lang: string) => Promise<void>): Promise<void> {
    for (const lang of LANGS) {
      await setLang(lang);
      for (const [i, p] of pages.entries()) {
        const file = path.join(out, `${name}-${lang}-${SIZES[i]!.width}.png`);
        try {
          await prepare(p, lang);
          await sleep(400);
        } catch (e) {
          // Shot anyway, as it stands: a state that did not come is worth seeing too.
          console.error(`${name} (${lang}, ${SIZES[i]!.width}): ${(e as Error).message.split('\n')[0]}`);
        }
        await p.screenshot({ path: file, fullPage: true });
      }
    }
    await setLang('ru');
    console.log(`shot: ${name}`);
  }
  const text = (p: Page, re: RegExp, timeout = 30_000) => p.getByText(re).first().waitFor({ timeout });

  // Not set up: grey, the wizard's first step, a wrong code.
  await shoot('status-unpaired', async (p) => { await go(p, '/'); await text(p, /Не настроено|Not set up/); });
  await shoot('setup-1', async (p) => { await go(p, '/setup'); await text(p, /Шаг 1 из 3|Step 1 of 3/); });
  await shoot('setup-1-error', async (p, lang) => {
    await go(p, '/setup');
    await p.locator('#code').fill('ZZZZ-ZZZZ');
    if (await p.locator('#relay').count()) await p.locator('#relay').fill(relayUrl);
    await p.getByRole('button', { name: lang === 'ru' ? 'Привязать' : 'Pair' }).click();
    await p.getByRole('alert').waitFor();
  });
  const venue = JSON.parse((await runBin('evva-relay.js', ['venue', 'add', 'Кафе «Скриншот»', '--json', '--data-dir', relayDir])).stdout) as { venueId: string; pairingCode: string };
  await local('/api/pair', 'POST', { code: venue.pairingCode, relayUrl });
  // Paired, the plugin not found: step 2 with a port that fails its check.
  await shoot('setup-2-missing', async (p, lang) => {
    await go(p, '/setup');
    await p.getByRole('button', { name: lang === 'ru' ? 'Дальше' : 'Next' }).click();
    await text(p, /iikoFront не найден|iikoFront was not found/);
    await p.locator('#port').fill(String(closed));
    await p.getByRole('button', { name: lang === 'ru' ? 'Проверить этот порт' : 'Check this port' }).click();
    await p.locator('#port-error').waitFor();
  });
  await local('/api/settings', 'PUT', { frontUrl: `http://127.0.0.1:${simPort}` });
  await shoot('setup-2-found', async (p, lang) => {
    await go(p, '/setup');
    await p.getByRole('button', { name: lang === 'ru' ? 'Дальше' : 'Next' }).click();
    await text(p, /Нашли iikoFront|Found iikoFront/);
  });
  await shoot('setup-3', async (p, lang) => {
    await go(p, '/setup');
    await p.getByRole('button', { name: lang === 'ru' ? 'Дальше' : 'Next' }).click();
    await text(p, /Нашли iikoFront|Found iikoFront/);
    await p.getByRole('button', { name: lang === 'ru' ? 'Дальше' : 'Next' }).click();
    await p.getByTestId('done-sentence').waitFor();
  });

  // A working venue with some orders.
  for (let i = 0; i < 8; i++) await control('POST', 'orders', { tableNum: i + 1, items: [{ productCode: '02401', amount: 1 + (i % 3) }] });
  await sleep(4_000);
  await shoot('status-green', async (p) => { await go(p, '/'); await text(p, /Всё работает|Everything works/); });
  await shoot('journal', async (p) => { await go(p, '/journal'); await p.getByTestId('journal').waitFor(); });
  await shoot('diagnostics-new', async (p) => { await go(p, '/diagnostics'); await text(p, /ещё не проверялось|not checked yet/); });
  await shoot('diagnostics-run', async (p, lang) => {
    await go(p, '/diagnostics');
    await p.getByRole('button', { name: lang === 'ru' ? 'Запустить проверку' : 'Run the checks' }).click();
    await p.getByTestId('diag-summary').waitFor({ timeout: 60_000 });
  });
  await shoot('settings', async (p) => { await go(p, '/settings'); await p.locator('#f-remote').waitFor(); });
  await shoot('settings-error', async (p, lang) => {
    await go(p, '/settings');
    await p.locator('#f-proxy').fill(lang === 'ru' ? 'не адрес' : 'not an address');
    await p.locator('#f-journalDays').fill('0');
    await p.getByRole('button', { name: lang === 'ru' ? 'Сохранить' : 'Save' }).click();
    await p.getByRole('alert').first().waitFor();
  });

  // A payment waiting to be closed: amber.
  const o = await control('POST', 'orders', { tableNum: 5, items: [{ productCode: '02401', amount: 2 }] });
  await sleep(3_000);
  await fetch(`${relayUrl}/v1/venues/${venue.venueId}/payments`, {
    method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ paymentId: `shot-${o.Number}`, orderId: o.Id, amount: o.ResultSum, paidAt: new Date().toISOString() }),
  });
  await shoot('status-payment', async (p) => { await go(p, '/'); await text(p, /Оплат ждут закрытия|Payments waiting/); });
  await shoot('journal-payment', async (p) => { await go(p, '/journal'); await text(p, /EVVAP/); });
  await control('POST', `orders/${o.Id}/close`, { paymentType: 'EVVAP' });

  // The plugin stops: red.
  await control('POST', 'stop', {});
  await shoot('status-plugin-down', async (p) => { await go(p, '/'); await text(p, /iikoFront не отвечает|iikoFront does not answer/, 40_000); });
  await control('POST', 'start');
  await sleep(3_000);

  // The companion stops: the page says so (in the language it had); after the restart it needs no new login.
  for (const lang of LANGS) {
    await setLang(lang);
    for (const p of pages) { await go(p, '/'); await text(p, /Всё работает|Everything works/); }
    companion.child.kill('SIGTERM');
    await companion.exited;
    for (const [i, p] of pages.entries()) {
      await text(p, /Компаньон не отвечает|The companion does not answer/);
      await p.screenshot({ path: path.join(out, `companion-down-${lang}-${SIZES[i]!.width}.png`), fullPage: true });
    }
    companion = await startCompanion();
  }
  await setLang('ru');
  console.log('shot: companion-down');
  await shoot('status-after-restart', async (p) => { await go(p, '/'); await text(p, /Всё работает|Everything works/, 60_000); });

  // A browser that never signed in, and a used link.
  for (const size of SIZES) {
    const context = await browser.newContext({ viewport: size, locale: 'ru-RU' });
    const p = await context.newPage();
    await go(p, '/');
    await text(p, /Нужен вход|Sign-in needed/);
    await p.screenshot({ path: path.join(out, `login-needed-ru-${size.width}.png`), fullPage: true });
    await p.goto(`${api}/login?once=used`);
    await p.screenshot({ path: path.join(out, `login-link-used-ru-${size.width}.png`), fullPage: true });
    await context.close();
  }
  console.log('shot: login-needed, login-link-used');
  await browser.close();
}

main().then(() => 0, (e: unknown) => { console.error(e); return 1; }).then(async (code) => {
  await Promise.all(procs.map((p) => p.stop('SIGTERM', 5_000)));
  fs.rmSync(work, { recursive: true, force: true });
  console.log(`screenshots in ${out}`);
  process.exit(code);
});
