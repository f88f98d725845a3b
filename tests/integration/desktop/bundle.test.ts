/**
 * The real built main bundle (dist/node/desktop.js, from scripts/build.mjs)
 * started under plain Node against the rule-keeping stand-in for Electron
 * (tests/standin/), on the win32 branch and on Linux. The core it forks is the
 * real dist/node/desktop-core.js in its own process, with the simulated plugin
 * and a tunnel peer (a stand-in relay) on loopback.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSim, type Sim } from '../../../sim/index.ts';
import { startPeer, type Peer } from '../../helpers/peer.ts';
import { dataDirOf, fakeMachine, startShell, type Machine, type Shell, type ShellOptions } from '../../standin/harness.ts';
import type { Snapshot } from '../../standin/child.ts';

const APP_ID = 'ru.evva.companion';
const TOKEN = 'device-token-0123456789abcdef';
const VENUE = 'venue-desktop-test';
const shells: Shell[] = [];
const closers: Array<() => Promise<unknown> | unknown> = [];
let machine: Machine;
let sim: Sim;
beforeEach(async () => {
  machine = fakeMachine();
  sim = await startSim({ port: 0, auto: false });
});
afterEach(async () => {
  await Promise.all(shells.splice(0).map((s) => s.kill()));
  for (const c of closers.splice(0).reverse()) await c();
  await sim.close();
  machine.remove();
});

/** The companion's environment for these tests: the simulated plugin, any free API port. */
const coreEnv = () => ({ EVVA_FRONT_URL: sim.url, EVVA_API_PORT: '0', EVVA_LOG_LEVEL: 'info' });

function launch(platform: NodeJS.Platform, extra: Partial<ShellOptions> = {}): Shell {
  const shell = startShell({ platform, machine, shortcutAumid: platform === 'win32' ? APP_ID : undefined, ...extra, env: { ...coreEnv(), ...extra.env } });
  shells.push(shell);
  return shell;
}

/** A data dir already paired with a tunnel peer (the relay's side), with a fast feed. */
async function paired(platform: NodeJS.Platform, user?: string): Promise<{ peer: Peer; dir: string }> {
  const peer = await startPeer({ token: TOKEN, venueId: VENUE });
  closers.push(() => peer.close());
  const dir = dataDirOf(machine, platform, user);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ feed: { ordersIntervalMs: 150, staffIntervalSec: 1, tablesIntervalSec: 1 } }));
  fs.writeFileSync(path.join(dir, 'device.json'), JSON.stringify({ relayUrl: peer.url, venueId: VENUE, deviceToken: TOKEN, pairedAt: new Date().toISOString() }));
  return { peer, dir };
}

const green = (s: Snapshot) => s.trays.length === 1 && /всё работает/.test(s.trays[0]!.tooltip);
const noDialog = (s: Snapshot) => { if (s.dialogs.length) throw new Error(`the app showed an error dialog: ${s.dialogs.join('; ')}`); };
const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

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
    // Well past the crash schedule's first restarts (1 s, 2 s, 4 s): still one attempt, one notice.
    await new Promise((r) => setTimeout(r, 7_500));
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

describe.each(['win32', 'linux'] as const)('the built main bundle on %s, as the old shell tests had it', (platform) => {
  it('hides to the tray when closed; a second launch brings the window back, and a second copy quits at once', async () => {
    const shell = launch(platform);
    await shell.until((x) => (noDialog(x), x.windows.some((w) => w.kind === 'BrowserWindow' && w.visible && w.url?.startsWith('http') === true)), 30_000);
    await shell.call('closeWindow');
    const hidden = await shell.state();
    expect(hidden.windows.find((w) => w.kind === 'BrowserWindow')!.visible).toBe(false);
    expect(hidden.quitting).toBe(false);
    await shell.call('secondLaunch', ['--hidden']);
    await shell.until((x) => x.windows.find((w) => w.kind === 'BrowserWindow')!.visible, 5_000, 'the window back');
    const second = launch(platform, { secondInstance: true });
    expect(await second.exited).toBe(0);
    expect(second.output()).not.toMatch(/Error/);
  }, 60_000);

  it('restarts a crashed core with one notice, and the window follows it to its new address', async () => {
    const shell = launch(platform);
    const first = await shell.until((x) => (noDialog(x), /не настроено/.test(x.trays[0]?.tooltip ?? '') && x.windows.some((w) => w.url?.startsWith('http') === true)), 30_000);
    const before = first.windows.find((w) => w.kind === 'BrowserWindow')!.url!;
    await shell.call('killCore');
    const back = await shell.until((x) => x.children.length === 2 && /не настроено/.test(x.trays[0]!.tooltip) && x.windows.some((w) => w.kind === 'BrowserWindow' && w.url?.startsWith('http') === true && w.url !== before), 30_000, 'the new core');
    expect(back.notifications.map((n) => n.title)).toEqual(['Служба компаньона перезапущена после сбоя.']);
    expect(back.windows.find((w) => w.kind === 'BrowserWindow')!.loads.at(-1)).toMatchObject({ status: 200 });
  }, 60_000);

  it('copies the support report from the tray', async () => {
    await paired(platform);
    const shell = launch(platform, { argv: ['--hidden'] });
    await shell.until((x) => (noDialog(x), green(x)), 30_000, 'green');
    await shell.call('menuClick', 'Скопировать отчёт для поддержки');
    const s = await shell.state();
    expect(s.clipboard).toContain('Всё работает');
    expect(s.clipboard).toContain(`iikoFront: Отвечает · порт ${new URL(sim.url).port}`);
  }, 60_000);
});

describe('Linux (and macOS): the device token sealed with safeStorage', () => {
  it('is sealed at the first start, and sealed again when safeStorage says the key changed (shouldReEncrypt)', async () => {
    const { dir } = await paired('linux');
    const box = () => (JSON.parse(fs.readFileSync(path.join(dir, 'device.json'), 'utf8')) as { deviceToken: string }).deviceToken;
    const first = launch('linux', { argv: ['--hidden'], keyVersion: 1 });
    await first.until((x) => (noDialog(x), green(x)), 30_000, 'green');
    expect(box()).toMatch(/^sealed:v1:/);
    expect(Buffer.from(box().slice('sealed:v1:'.length), 'base64').toString()).toMatch(/^v1:/);
    await first.call('menuClick', 'Выход');
    await first.exited;
    const second = launch('linux', { argv: ['--hidden'], keyVersion: 2 });
    await second.until((x) => (noDialog(x), green(x)), 30_000, 'green again');
    await until('sealed with the new key', () => Buffer.from(box().slice('sealed:v1:'.length), 'base64').toString().startsWith('v2:'));
  }, 60_000);
});

/** The local API of the core serving `platform`'s data dir. */
async function apiOf(platform: NodeJS.Platform, user?: string): Promise<{ url: string; token: string }> {
  return JSON.parse(fs.readFileSync(path.join(dataDirOf(machine, platform, user), 'local-api.json'), 'utf8')) as { url: string; token: string };
}

describe('Windows: the session end', () => {
  it('logs out of the plugin and closes the stores before Windows ends the process, within the time it gives', async () => {
    const { dir } = await paired('win32');
    const shell = launch('win32', { argv: ['--hidden'] });
    await shell.until((x) => (noDialog(x), green(x)), 30_000, 'green');
    expect(sim.liveTokens()).toBe(1);
    const ended = await shell.call<{ vetoed: boolean; handlersMs: number; snapshot: Snapshot }>('endSession', ['shutdown']);
    expect(ended.vetoed).toBe(false);
    // Windows shows "this app is preventing shutdown" after about 5 s.
    expect(ended.handlersMs).toBeLessThan(4_500);
    // No before-quit came, and the stand-in ended the core right after the handlers: what is done was done in time.
    await shell.exited;
    expect(sim.liveTokens()).toBe(0);
    expect(fs.existsSync(path.join(dir, 'companion.lock'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'local-api.json'))).toBe(false);
    // The outbox (SQLite in WAL mode) was closed: the last connection's close folds the WAL back and deletes it.
    expect(fs.existsSync(path.join(dir, 'feed.sqlite'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'feed.sqlite-wal'))).toBe(false);
  }, 60_000);
});

describe('Windows: the session end with a plugin that hangs', () => {
  it('does not hold Windows past the deadline: the handlers return within the time Windows gives', async () => {
    await paired('win32');
    const shell = launch('win32', { argv: ['--hidden'] });
    await shell.until((x) => (noDialog(x), green(x)), 30_000, 'green');
    // The plugin stops answering: the logout would wait for it.
    sim.setFaults({ hang: true });
    const ended = await shell.call<{ vetoed: boolean; handlersMs: number }>('endSession', ['shutdown']);
    expect(ended.vetoed).toBe(false);
    expect(ended.handlersMs).toBeGreaterThan(1_000);
    expect(ended.handlersMs).toBeLessThan(4_500);
    await shell.exited;
    sim.clearFaults();
  }, 60_000);
});

describe('Windows: one companion per PC', () => {
  it('a second user\'s app shows the first one\'s companion instead of starting another, and takes over when the first logs off', async () => {
    await paired('win32');
    const admin = launch('win32', { user: 'Администратор', argv: ['--hidden'] });
    await admin.until((x) => (noDialog(x), green(x)), 30_000, 'the admin\'s tray green');
    const cashier = launch('win32', { user: 'Кассир' });
    const attached = await cashier.until((x) => (noDialog(x), green(x)), 30_000, 'the cashier\'s tray green');
    // The cashier's own core found the machine's companion running and left; the window shows the running one.
    expect(attached.children).toHaveLength(1);
    expect(attached.children[0]!.exitCode).toBe(3);
    expect(new URL(attached.windows.find((w) => w.kind === 'BrowserWindow')!.url!).origin).toBe(new URL((await apiOf('win32')).url).origin);
    expect(sim.liveTokens()).toBe(1);
    expect(attached.notifications).toEqual([]);
    expect(attached.userData).toContain(path.join('Users', 'Кассир'));

    // The admin logs off: their companion stops cleanly, the cashier's app starts its own and carries on.
    const seen: number[] = [];
    const watch = setInterval(() => seen.push(sim.liveTokens()), 25);
    await admin.call('endSession', ['logoff']);
    await admin.exited;
    const took = await cashier.until((x) => x.children.length === 2 && x.children[1]!.exitCode === null && green(x), 30_000, 'the cashier\'s own core green');
    clearInterval(watch);
    expect(Math.max(...seen)).toBeLessThanOrEqual(1);
    expect(sim.liveTokens()).toBe(1);
    expect(took.notifications).toEqual([]);
  }, 90_000);
});

describe('Windows: start at login', () => {
  const exe = 'C:\\Program Files\\EVVA Companion\\EVVA Companion.exe';
  const machineEntry: [string, string] = [APP_ID, `"${exe}" --hidden`];

  it('shows the installer\'s machine-wide entry as on, for everyone, and leaves it to an admin', async () => {
    const shell = launch('win32', { exePath: exe, registry: { hklmRun: [machineEntry] }, argv: ['--hidden'] });
    const s = await shell.until((x) => (noDialog(x), x.trays.length === 1 && x.trays[0]!.menu.length > 0), 20_000);
    const item = s.trays[0]!.menu.find((i) => i.label?.startsWith('Запускать при входе'))!;
    expect(item).toMatchObject({ checked: true, enabled: false, label: 'Запускать при входе (для всех, задано при установке)' });
    expect(s.registry.hkcuRun).toEqual([]);
  }, 60_000);

  it('reads an entry an admin disabled in Task Manager as off, and lets the person add their own, named after the app', async () => {
    const disabled = [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const shell = launch('win32', { exePath: exe, registry: { hklmRun: [machineEntry], hklmApproved: [[APP_ID, disabled]] }, argv: ['--hidden'] });
    const s = await shell.until((x) => (noDialog(x), x.trays.length === 1 && x.trays[0]!.menu.length > 0), 20_000);
    expect(s.trays[0]!.menu.find((i) => i.label === 'Запускать при входе')).toMatchObject({ checked: false, enabled: true });
    await shell.call('menuClick', 'Запускать при входе');
    const after = await shell.state();
    expect(after.registry.hkcuRun).toEqual([[APP_ID, `"${exe}" --hidden`]]);
    expect(after.trays[0]!.menu.find((i) => i.label === 'Запускать при входе')).toMatchObject({ checked: true });
    expect(after.violations).toEqual([]);
  }, 60_000);
});

describe('the packaged app (resources outside the asar, as electron-builder.yml copies them)', () => {
  it('finds its tray and window icons in resources/ and keeps DevTools off', async () => {
    const resources = path.join(machine.root, 'Program Files', 'EVVA Companion', 'resources');
    fs.mkdirSync(path.join(resources, 'resources'), { recursive: true });
    // electron-builder.yml extraResources: from resources, filter tray-*, icon.ico, icon.png.
    for (const f of fs.readdirSync(path.join(process.cwd(), 'resources'))) {
      if (/^tray-|^icon\.(ico|png)$/.test(f)) fs.copyFileSync(path.join(process.cwd(), 'resources', f), path.join(resources, 'resources', f));
    }
    const shell = launch('win32', { isPackaged: true, resourcesPath: resources });
    const s = await shell.until((x) => (noDialog(x), x.trays[0]?.tooltip.includes('не настроено') === true && x.windows.some((w) => w.kind === 'BrowserWindow')), 30_000);
    expect(s.trays[0]!.image.startsWith(path.join(resources, 'resources'))).toBe(true);
    expect(s.violations).toEqual([]);
    expect(s.windows.find((w) => w.kind === 'BrowserWindow')!.webPreferences).toMatchObject({ devTools: false });
  }, 60_000);
});
