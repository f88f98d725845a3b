/**
 * What the two files on the built main bundle share (bundle.test.ts, bundle-os.test.ts): a fake PC per test, the
 * simulated plugin, shells started against the Electron stand-in and killed after each test, and a paired data dir.
 * Each file calls `useFixture()` once at its top: the per-test hooks are registered by that call, not by the import,
 * because test files share a worker's module graph (vitest.config.ts, project `shared`): a module imported by the
 * second file of a worker is not evaluated again, so hooks registered on import would run for the first file only,
 * and the second would start its shells against the first file's closed simulator.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { startSim, type Sim } from '../../../sim/index.ts';
import { startPeer, type Peer } from '../../helpers/peer.ts';
import { dataDirOf, fakeMachine, startShell, type Machine, type Shell, type ShellOptions } from '../../standin/harness.ts';
import type { Snapshot } from '../../standin/child.ts';

export const APP_ID = 'ru.evva.companion';
export const TOKEN = 'device-token-0123456789abcdef';
export const VENUE = 'venue-desktop-test';
const shells: Shell[] = [];
export const closers: Array<() => Promise<unknown> | unknown> = [];
export let machine: Machine;
export let sim: Sim;
/** Registers the per-test hooks in the calling file: a fresh fake PC and simulator before each test, all cleaned after. */
export function useFixture(): void {
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
}

/** The companion's environment for these tests: the simulated plugin, any free API port. */
export const coreEnv = () => ({ EVVA_FRONT_URL: sim.url, EVVA_API_PORT: '0', EVVA_LOG_LEVEL: 'info' });

export function launch(platform: NodeJS.Platform, extra: Partial<ShellOptions> = {}): Shell {
  const shell = startShell({ platform, machine, shortcutAumid: platform === 'win32' ? APP_ID : undefined, ...extra, env: { ...coreEnv(), ...extra.env } });
  shells.push(shell);
  return shell;
}

/** A data dir already paired with a tunnel peer (the relay's side), with a fast feed. */
export async function paired(platform: NodeJS.Platform, user?: string): Promise<{ peer: Peer; dir: string }> {
  const peer = await startPeer({ token: TOKEN, venueId: VENUE });
  closers.push(() => peer.close());
  const dir = dataDirOf(machine, platform, user);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ feed: { ordersIntervalMs: 150, staffIntervalSec: 1, tablesIntervalSec: 1 } }));
  fs.writeFileSync(path.join(dir, 'device.json'), JSON.stringify({ relayUrl: peer.url, venueId: VENUE, deviceToken: TOKEN, pairedAt: new Date().toISOString() }));
  return { peer, dir };
}

export const green = (s: Snapshot) => s.trays.length === 1 && /всё работает/.test(s.trays[0]!.tooltip);
export const noDialog = (s: Snapshot) => { if (s.dialogs.length) throw new Error(`the app showed an error dialog: ${s.dialogs.join('; ')}`); };
export const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** The local API of the core serving `platform`'s data dir. */
export async function apiOf(platform: NodeJS.Platform, user?: string): Promise<{ url: string; token: string }> {
  return JSON.parse(fs.readFileSync(path.join(dataDirOf(machine, platform, user), 'local-api.json'), 'utf8')) as { url: string; token: string };
}
