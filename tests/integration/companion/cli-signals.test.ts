/**
 * The headless companion stops cleanly when its console goes
 * away (SIGHUP: the console window closed on Windows, the terminal elsewhere):
 * the plugin session is logged out and the data dir freed, as on Ctrl+C.
 * (SIGBREAK, Ctrl+Break, exists only on Windows and cannot be sent here.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startSim, type Sim } from '../../../sim/index.ts';
import { startBin, type Proc } from '../../helpers/proc.ts';

let sim: Sim | null = null;
let proc: Proc | null = null;
let dir = '';
afterEach(async () => {
  await proc?.stop('SIGKILL');
  await sim?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

it('stops cleanly on SIGHUP: the plugin session logged out, the lock and local-api.json gone', async () => {
  sim = await startSim({ port: 0, auto: false });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-hup-'));
  proc = startBin('evva-companion.js', ['run', '--front-url', sim.url, '--data-dir', dir, '--api-port', '0']);
  await proc.waitFor(/Компаньон запущен/);
  for (let i = 0; i < 100 && sim.liveTokens() === 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(sim.liveTokens()).toBe(1);
  proc.child.kill('SIGHUP');
  expect(await proc.exited, proc.output()).toBe(0);
  expect(proc.output()).toContain('SIGHUP received, stopping');
  expect(sim.liveTokens()).toBe(0);
  expect(fs.existsSync(path.join(dir, 'companion.lock'))).toBe(false);
  expect(fs.existsSync(path.join(dir, 'local-api.json'))).toBe(false);
}, 60_000);
