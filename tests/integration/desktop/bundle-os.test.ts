/**
 * The real built main bundle against the Electron stand-in, as in
 * bundle.test.ts (split from it so the two can run side by side): hiding to
 * the tray, a second launch, a crashed core, the support report, the token
 * sealed with safeStorage, the Windows session end, one companion per PC,
 * start at login, and the packaged app's resources.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../../standin/child.ts';
import { APP_ID, apiOf, green, launch, machine, noDialog, paired, sim, until, useFixture } from './bundle-fixture.ts';

useFixture();

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
    // The window's URL changes when it starts loading the new address; wait for that load to end before reading it
    // (the load before it, of the dead core's address, failed).
    const back = await shell.until((x) => x.children.length === 2 && /не настроено/.test(x.trays[0]!.tooltip)
      && x.windows.some((w) => w.kind === 'BrowserWindow' && w.url?.startsWith('http') === true && w.url !== before && w.loads.at(-1)?.url === w.url), 30_000, 'the new core');
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
