/**
 * Debian's Chromium driven by playwright-core, for the UI tests: its headless shell (the Debian package
 * chromium-headless-shell, Chromium's old headless mode, which Playwright's own headless runs use too), the same
 * Blink and V8 as /usr/bin/chromium without the full browser around them. It cost about half the CPU of
 * /usr/bin/chromium on the same pages (docs/testing.md), and the UI tests are most of their CPU in Chromium. No
 * browser is downloaded: a missing one fails the tests (`npm test` installs it on Debian, tests/machine.ts);
 * EVVA_CHROMIUM=/usr/bin/chromium runs them in the full browser.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { TestContext } from 'vitest';
import { CHROMIUM } from '../helpers/programs.ts';
import { ROOT } from '../helpers/proc.ts';

/** Screenshots for people to look at; git ignores this folder. */
export const SHOTS = path.join(ROOT, 'tests', 'ui', 'screenshots');
/** What a failed UI test left on screen, one folder per failure (git ignores .tmp/). */
export const FAILURES = path.join(ROOT, '.tmp', 'ui-failures');

/** What each context's pages said (console, uncaught errors, failed requests, the live socket), for a failure's record. */
const said = new WeakMap<BrowserContext, string[]>();
const MAX_LINES = 2_000;

function listen(context: BrowserContext): void {
  const lines: string[] = [];
  said.set(context, lines);
  const note = (page: Page, text: string) => {
    if (lines.length >= MAX_LINES) lines.shift();
    lines.push(`${new Date().toISOString()} [${context.pages().indexOf(page)}] ${text}`);
  };
  const watch = (page: Page) => {
    page.on('console', (m) => note(page, `console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => note(page, `pageerror: ${e.stack ?? e.message}`));
    page.on('requestfailed', (r) => note(page, `requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) note(page, `navigated: ${f.url()}`); });
    // The pages re-draw when their live socket closes: when it did is often the answer.
    page.on('websocket', (ws) => {
      note(page, `websocket open: ${ws.url()}`);
      ws.on('socketerror', (e) => note(page, `websocket error: ${ws.url()} ${e}`));
      ws.on('close', () => note(page, `websocket closed: ${ws.url()}`));
    });
  };
  for (const page of context.pages()) watch(page);
  context.on('page', watch);
}

/**
 * Launches headless Chromium with a fresh profile (Playwright makes one per launch). Every context it opens records
 * what its pages say, for `keepFailure`.
 */
export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install the Debian package "chromium-headless-shell" (npm test does on Debian as root).`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const open = browser.newContext.bind(browser);
  browser.newContext = async (...args) => {
    const context = await open(...args);
    listen(context);
    return context;
  };
  return browser;
}

/**
 * For `afterEach`: when the test failed, keeps a screenshot, the HTML and what was said of every page still open in
 * `browser` under .tmp/ui-failures/, and names the folder on stderr and in the test's error, so that a flake seen
 * once in a loaded run can be read afterwards. Does nothing when the test passed.
 */
export async function keepFailure(browser: Browser | undefined, ctx: TestContext): Promise<void> {
  if (!browser || ctx.task.result?.state !== 'fail') return;
  const slug = `${path.basename(ctx.task.file.name, '.test.ts')}-${ctx.task.name}`.replace(/[^\p{L}\p{N}]+/gu, '-').slice(0, 80);
  const dir = path.join(FAILURES, `${new Date().toISOString().replace(/[:.]/g, '-')}-${slug}`);
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  for (const context of browser.contexts()) {
    fs.writeFileSync(path.join(dir, `context-${n}.log`), `${(said.get(context) ?? []).join('\n')}\n`);
    let p = 0;
    for (const page of context.pages()) {
      const name = `context-${n}-page-${p++}`;
      // Bounded: a page that hangs must not hold the run; what could be kept is kept.
      await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true, timeout: 10_000 }).catch((e: unknown) => fs.writeFileSync(path.join(dir, `${name}.png.error`), String(e)));
      await Promise.race([page.content(), new Promise<string>((r) => setTimeout(() => r('(no answer within 10 s)'), 10_000).unref())])
        .then((html) => fs.writeFileSync(path.join(dir, `${name}.html`), `<!-- ${page.url()} -->\n${html}`), (e: unknown) => fs.writeFileSync(path.join(dir, `${name}.html`), String(e)));
    }
    n++;
  }
  const where = `UI failure kept in ${dir}`;
  console.error(where);
  ctx.task.result.errors?.push({ name: 'UiFailure', message: where, stack: '' } as never);
}

/** Saves a full-page screenshot as `<name>.png`. */
export async function shoot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}
