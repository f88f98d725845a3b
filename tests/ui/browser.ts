/**
 * Debian's Chromium driven by playwright-core, for the UI tests. No browser is
 * downloaded: a missing /usr/bin/chromium fails the tests (CI installs it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../helpers/proc.ts';

export const CHROMIUM = process.env.EVVA_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots for people to look at; git ignores this folder. */
export const SHOTS = path.join(ROOT, 'tests', 'ui', 'screenshots');

/** Launches headless Chromium with a fresh profile (Playwright makes one per launch). */
export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install the Debian package "chromium" (.ci/run does).`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** Saves a full-page screenshot as `<name>.png`. */
export async function shoot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}
