/**
 * The real built main bundle (dist/node/desktop.js, from scripts/build.mjs)
 * started under plain Node against the rule-keeping stand-in for Electron
 * (tests/standin/), on the win32 branch and on Linux. The core it forks is the
 * real dist/node/desktop-core.js in its own process, with the simulated plugin
 * and a tunnel peer (a stand-in relay) on loopback. This file: the start, the
 * page's permissions, a payment notice, Quit, a busy port; bundle-os.test.ts
 * has the window and tray, the sealed token and each platform's own rules.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESTART_MIN_MS } from '../../../main/desktop/core.ts';
import { ROOT } from '../../helpers/proc.ts';
import { STANDIN_BUNDLE_DIR } from '../../standin/bundle.ts';
import { dataDirOf } from '../../standin/harness.ts';
import { APP_ID, apiOf, closers, green, launch, machine, noDialog, paired, sim, until, useFixture } from './bundle-fixture.ts';

useFixture();

it('runs the product\'s bundle: the copy the stand-in starts differs from dist/node/desktop.js only in its electron import', () => {
  // tests/standin/bundle.ts: the copy imports the stand-in's module where the bundle imports `electron` (no resolve
  // hook), and loads the built chunks themselves through symlinks.
  const dir = path.join(ROOT, STANDIN_BUNDLE_DIR);
  const built = fs.readFileSync(path.join(ROOT, 'dist/node/desktop.js'), 'utf8');
  const copy = fs.readFileSync(path.join(dir, 'desktop.js'), 'utf8');
  expect(copy.split('from "../standin/electron-module.mjs"')).toHaveLength(2);
  expect(copy.replace('from "../standin/electron-module.mjs"', 'from "electron"')).toBe(built);
  expect(fs.existsSync(path.join(dir, '../standin/electron-module.mjs'))).toBe(true);
  // The bundle finds the app (icons, the core, the page) at `../..` from its own file, as from dist/node.
  expect(path.resolve(dir, '../..')).toBe(ROOT);
  const chunks = fs.readdirSync(dir).filter((n) => n !== 'desktop.js');
  expect(chunks.sort()).toEqual(fs.readdirSync(path.join(ROOT, 'dist/node')).filter((n) => n.endsWith('.js') && n !== 'desktop.js').sort());
  for (const n of chunks) expect(fs.realpathSync(path.join(dir, n)), n).toBe(path.join(ROOT, 'dist/node', n));
});

describe.each(['win32', 'linux'] as const)('the built main bundle on %s', (platform) => {
  it('starts: no rule broken, a tray shown, the core forked from a file that exists and serving, no default menu', async () => {
    const shell = launch(platform);
    await shell.ready;
    // Not paired yet: the tray says so (grey), which it can only say once the core's status reached it.
    const s = await shell.until((x) => (noDialog(x), x.trays.length === 1 && /не настроено/.test(x.trays[0]!.tooltip)), 30_000, 'the tray showing the core\'s state');
    expect(s.violations).toEqual([]);
    expect(fs.existsSync(s.children[0]!.modulePath)).toBe(true);
    expect(s.children).toHaveLength(1);
    expect(s.children[0]!.exitCode).toBeNull();
    expect(s.menu).toBeNull();
    expect(s.trays[0]!.image).toMatch(platform === 'win32' ? /tray-grey\.ico$/ : /tray-grey\.png$/);
    expect(s.name).toBe('EVVA Companion');
    expect(s.userData).toMatch(/EVVA Companion$/);
    if (platform === 'win32') {
      expect(s.identity).toBe(APP_ID);
      // Chromium's caches go to the local profile, not the roaming one.
      expect(s.sessionData).toContain(path.join('AppData', 'Local'));
      expect(s.children[0]!.args).toEqual(['--data-dir', dataDirOf(machine, 'win32')]);
    }
    // The window shows the UI served by that core (the wizard: not paired), not a blank page.
    const ui = s.windows.find((w) => w.kind === 'BrowserWindow')!;
    expect(ui.visible).toBe(true);
    expect(ui.loads.at(-1)).toMatchObject({ status: 200, error: null });
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/setup$/);
    expect(ui.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
  }, 60_000);

  it('answers the page\'s permission requests itself: only the clipboard write, only for its own UI', async () => {
    const shell = launch(platform, { argv: ['--hidden'] });
    const s = await shell.until((x) => (noDialog(x), x.trays[0]?.tooltip.includes('не настроено') === true), 30_000);
    const api = new URL(s.windows.find((w) => w.kind === 'BrowserWindow')?.url ?? (await apiOf(platform)).url).origin;
    expect(await shell.call('askPermission', 'clipboard-sanitized-write', `${api}/diagnostics`)).toBe(true);
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'hid']) expect(await shell.call('askPermission', p, `${api}/`)).toBe(false);
    expect(await shell.call('askPermission', 'clipboard-sanitized-write', 'http://127.0.0.1:9042/')).toBe(false);
    // Started hidden (the login item): nothing but the tray.
    expect(s.windows.filter((w) => w.kind === 'BrowserWindow' && w.visible)).toEqual([]);
  }, 60_000);

  it('shows a payment to close, and a click on it opens the journal even after the notification object was collected', async () => {
    const { peer } = await paired(platform);
    const shell = launch(platform, { argv: ['--hidden'] });
    await shell.until((x) => (noDialog(x), green(x)), 30_000, 'green');
    const order = sim.act.createOrder({ tableNum: 5, items: [{ productCode: sim.world.products.find((p) => p.active)!.code, amount: 1 }] });
    await until('the order in the feed', () => [...peer.events.values()].some((e) => JSON.stringify(e.eventInfo).includes(order.Id.toLowerCase())));
    const r = await peer.command('payment.notice', { paymentId: 'pay-1', orderId: order.Id, amount: order.ResultSum, paidAt: new Date().toISOString() });
    expect(r.ok).toBe(true);
    const s = await shell.until((x) => x.notifications.some((n) => /закройте заказ/.test(n.title)), 20_000, 'the payment notice');
    const i = s.notifications.findIndex((n) => /закройте заказ/.test(n.title));
    expect(s.notifications[i]!.body).toContain(`стол 5`);
    if (platform === 'win32') expect(s.notifications[i]!.aumid).toBe(APP_ID);
    // The toast stays in the Action Center; by the time it is clicked, V8 has collected whatever the app let go.
    await shell.call('collect');
    expect(await shell.call('clickNotification', i)).not.toBe('lost');
    const after = await shell.until((x) => x.windows.some((w) => w.visible && w.url?.endsWith('/journal') === true), 10_000, 'the journal shown');
    expect(after.violations).toEqual([]);
  }, 60_000);

  it('quits from the tray: the core logs out of the plugin and frees the data dir before the app exits', async () => {
    await paired(platform);
    const shell = launch(platform);
    await shell.until((x) => (noDialog(x), green(x)), 30_000, 'green');
    expect(sim.liveTokens()).toBe(1);
    await shell.call('menuClick', 'Выход');
    expect(await shell.exited).toBe(0);
    expect(sim.liveTokens()).toBe(0);
    expect(fs.existsSync(path.join(dataDirOf(machine, platform), 'companion.lock'))).toBe(false);
    expect(fs.existsSync(path.join(dataDirOf(machine, platform), 'local-api.json'))).toBe(false);
  }, 60_000);

  it('a core that cannot start because another program holds its port: one notice, a red tray saying why, no restart loop', async () => {
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => squatter.close(r)));
    const port = (squatter.address() as net.AddressInfo).port;
    const shell = launch(platform, { env: { EVVA_API_PORT: String(port) }, argv: ['--hidden'] });
    const s = await shell.until((x) => (noDialog(x), x.trays[0]?.image.includes('tray-red') === true), 30_000, 'a red tray');
    expect(s.trays[0]!.tooltip).toContain(`Порт ${port} уже занят`);
    // Three times the crash schedule's first pause (1 s; a port failure waits SLOW_RETRY_MS, a minute): were the
    // failure taken for a crash, the second core would have been forked by now (planted: two children at 3 s).
    await new Promise((r) => setTimeout(r, 3 * RESTART_MIN_MS));
    const later = await shell.state();
    expect(later.children).toHaveLength(1);
    expect(later.notifications.map((n) => n.title)).toEqual(['EVVA Companion не запущен']);
    // A tray click still shows a window at once, saying the companion does not answer yet.
    await shell.call('trayClick');
    const shown = await shell.until((x) => x.windows.some((w) => w.kind === 'BrowserWindow' && w.visible), 5_000, 'a window');
    const ui = shown.windows.find((w) => w.kind === 'BrowserWindow')!;
    expect(ui.url).toMatch(/^data:text\/html/);
    expect(decodeURIComponent(ui.url!)).toContain('EVVA Companion запускается');
  }, 60_000);
});
