/**
 * Plugin outages never cost a licence slot. The real
 * simulator and the real companion, each through its bin; the plugin's live
 * sessions are counted by the simulator's control API (which stays up on its
 * own port while the plugin's port is stopped). In discovery mode the
 * companion drops its client after three failed checks and finds the plugin
 * again; the logout it sends then cannot arrive, and the token must be logged
 * out before the next login instead of being forgotten.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Status } from '../../../protocol/local.ts';
import { freePort, startBin, type Proc } from '../../helpers/proc.ts';

const procs: Proc[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const OUTAGES = 10;

interface Plugin { proc: Proc; url: string; port: number; control: string }

async function startPlugin(): Promise<Plugin> {
  const port = await freePort();
  const controlPort = await freePort();
  const proc = startBin('evva-sim.js', ['--port', String(port), '--control-port', String(controlPort), '--no-auto', '--quiet']);
  procs.push(proc);
  // Generous: several companions and simulators start at once here, from source, on a loaded machine.
  await proc.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/, 60_000);
  return { proc, url: `http://127.0.0.1:${port}`, port, control: `http://127.0.0.1:${controlPort}/_sim` };
}

/** The plugin's live (unexpired, not logged out) sessions, as the simulator counts them. */
async function liveSessions(p: Plugin): Promise<number> {
  return ((await fetch(`${p.control}/state`).then((r) => r.json())) as { liveTokens: number }).liveTokens;
}
async function pluginDown(p: Plugin): Promise<void> {
  const r = await fetch(`${p.control}/stop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(r.status).toBe(200);
}
async function pluginUp(p: Plugin): Promise<void> {
  const r = await fetch(`${p.control}/start`, { method: 'POST' });
  expect(r.status).toBe(200);
}

interface Companion { proc: Proc; dir: string; status(): Promise<Status>; put(body: unknown): Promise<number> }

/**
 * A companion checking the plugin every 250 ms (a test hook: the settings allow 1 s
 * at least), so an outage in discovery mode (three failed checks, a search, a find)
 * takes about 1.5 s instead of 5, and the test's time goes to the outages, not to waiting.
 */
async function startCompanion(opts: { dir?: string; frontUrl?: string; discoverPorts?: number[] }): Promise<Companion> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'evva-licence-'));
  if (!opts.dir) dirs.push(dir);
  const args = ['run', '--data-dir', dir, '--api-port', '0', ...(opts.frontUrl ? ['--front-url', opts.frontUrl] : [])];
  const env = { EVVA_TEST_HOOKS: '1', EVVA_TEST_PROBE_INTERVAL_MS: '250', ...(opts.discoverPorts ? { EVVA_TEST_DISCOVERY_PORTS: opts.discoverPorts.join(',') } : {}) };
  const proc = startBin('evva-companion.js', args, env);
  procs.push(proc);
  await proc.waitFor(/Компаньон запущен/, 60_000);
  const api = JSON.parse(fs.readFileSync(path.join(dir, 'local-api.json'), 'utf8')) as { url: string; token: string };
  const headers = { authorization: `Bearer ${api.token}` };
  return {
    proc, dir,
    status: async () => Status.parse(await fetch(`${api.url}/api/status`, { headers }).then((r) => r.json())),
    put: async (body) => (await fetch(`${api.url}/api/settings`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) })).status,
  };
}

/** Waits (bounded) until the companion's status satisfies `ok`. */
async function until(c: Companion, what: string, ok: (s: Status) => boolean, ms = 60_000): Promise<Status> {
  const end = Date.now() + ms;
  let last: Status | null = null;
  while (Date.now() < end) {
    last = await c.status();
    if (ok(last)) return last;
    await sleep(100);
  }
  throw new Error(`companion never ${what}; last status: ${JSON.stringify(last?.front)}\n${c.proc.output().slice(-3000)}`);
}
const up = (s: Status) => s.front.state === 'up';

describe.concurrent('plugin outages and licence slots', () => {
  it(`discovery mode: ${OUTAGES} outages in a row leave the plugin with one live session`, async () => {
    const plugin = await startPlugin();
    // No --front-url: the companion finds the plugin itself (a closed port first, as 9042 would be).
    const c = await startCompanion({ discoverPorts: [await freePort(), plugin.port] });
    await until(c, 'found the plugin', up);
    expect(await liveSessions(plugin)).toBe(1);
    for (let i = 1; i <= OUTAGES; i++) {
      await pluginDown(plugin);
      // `not_found` comes only from discovery: the companion has given up the client (and its session) and is searching.
      await until(c, `gave up the plugin (outage ${i})`, (s) => s.front.error?.code === 'not_found');
      expect(await liveSessions(plugin), `during outage ${i}`).toBe(1);
      await pluginUp(plugin);
      await until(c, `found the plugin again (outage ${i})`, up);
      expect(await liveSessions(plugin), `after outage ${i}`).toBe(1);
    }
    expect(c.proc.output()).toContain('plugin session not closed');
    expect(await c.proc.stop('SIGTERM')).toBe(0);
    expect(await liveSessions(plugin)).toBe(0);
  }, 240_000);

  it(`fixed address: ${OUTAGES} outages in a row leave the plugin with one live session`, async () => {
    const plugin = await startPlugin();
    const c = await startCompanion({ frontUrl: plugin.url });
    await until(c, 'reached the plugin', up);
    expect(await liveSessions(plugin)).toBe(1);
    for (let i = 1; i <= OUTAGES; i++) {
      await pluginDown(plugin);
      await until(c, `saw the plugin down (outage ${i})`, (s) => s.front.state === 'down');
      await pluginUp(plugin);
      await until(c, `saw the plugin again (outage ${i})`, up);
      expect(await liveSessions(plugin), `after outage ${i}`).toBe(1);
    }
    expect(await c.proc.stop('SIGTERM')).toBe(0);
    expect(await liveSessions(plugin)).toBe(0);
  }, 240_000);

  it('a new plugin address, or a companion restart, while the plugin is down costs no slot either', async () => {
    const plugin = await startPlugin();
    const c = await startCompanion({ discoverPorts: [plugin.port] });
    await until(c, 'found the plugin', up);

    // Down; the sysadmin types the address (as localhost: the same plugin) while it is down.
    await pluginDown(plugin);
    await until(c, 'saw the plugin down', (s) => s.front.state === 'down');
    expect(await c.put({ frontUrl: `http://localhost:${plugin.port}` })).toBe(200);
    await pluginUp(plugin);
    await until(c, 'reached the plugin at its new address', (s) => up(s) && s.front.url === `http://localhost:${plugin.port}`);
    expect(await liveSessions(plugin), c.proc.output()).toBe(1);

    // Back to discovery while it is down.
    await pluginDown(plugin);
    await until(c, 'saw the plugin down', (s) => s.front.state === 'down');
    expect(await c.put({ frontUrl: null })).toBe(200);
    await pluginUp(plugin);
    await until(c, 'found the plugin again', (s) => up(s) && s.front.source === 'discovery');
    expect(await liveSessions(plugin)).toBe(1);

    // The companion stops (a reboot) while the plugin is down: its logout cannot arrive, so the token stays on disk.
    await pluginDown(plugin);
    await until(c, 'saw the plugin down', (s) => s.front.state === 'down');
    expect(await c.proc.stop('SIGTERM')).toBe(0);
    expect(fs.existsSync(path.join(c.dir, 'front-session.json'))).toBe(true);
    await pluginUp(plugin);
    expect(await liveSessions(plugin)).toBe(1);
    const again = await startCompanion({ dir: c.dir, discoverPorts: [plugin.port] });
    await until(again, 'found the plugin after the restart', up);
    expect(await liveSessions(plugin)).toBe(1);
    expect(await again.proc.stop('SIGTERM')).toBe(0);
    expect(await liveSessions(plugin)).toBe(0);
    expect(fs.existsSync(path.join(c.dir, 'front-session.json'))).toBe(false);
  }, 180_000);
});
