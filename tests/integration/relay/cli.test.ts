/** `evva-relay` as an operator runs it: real processes, a real data dir. */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { CreateVenueResponse, VenueList } from '../../../protocol/relay.ts';
import { SERVING_FILE } from '../../../relay/admin.ts';
import { tempDir } from '../../helpers/relay.ts';

const ROOT = new URL('../../..', import.meta.url).pathname;
const KEY = 'cli-test-api-key-0123456789';

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['bin/evva-relay.js', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

/**
 * A test that starts the CLI several times in a row. Each start transpiles the
 * relay's TypeScript (bin/launch.js): 7-18 s apiece measured on a shared 2-core
 * machine at load ~20, so four starts overrun vitest's 30 s default. Each start
 * is still killed after 20 s by run().
 */
const MANY_STARTS_MS = 90_000;

describe('evva-relay CLI', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });
  const dir = () => { const d = tempDir('relay-cli'); cleanups.push(() => d.remove()); return d.dir; };

  it('adds and lists venues as JSON', async () => {
    const d = dir();
    const add = await run(['venue', 'add', 'Кафе Пушкин', '--json', '--data-dir', d]);
    expect(add.code).toBe(0);
    // No relay runs on this data dir: the command says it wrote the database itself.
    expect(add.err).toMatch(/no relay is running on .*: written to the database directly/);
    const created = CreateVenueResponse.parse(JSON.parse(add.out));
    expect(created.pairingCode).toMatch(/^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/);
    const list = await run(['venues', '--json'], { EVVA_RELAY_DATA_DIR: d });
    expect(list.code).toBe(0);
    const venues = VenueList.parse(JSON.parse(list.out)).venues;
    expect(venues).toHaveLength(1);
    expect(venues[0]).toMatchObject({ venueId: created.venueId, name: 'Кафе Пушкин', revoked: false });
    const revoke = await run(['venue', 'revoke', created.venueId, '--data-dir', d]);
    expect(revoke.code).toBe(0);
    expect(revoke.out).toContain(`revoked ${created.venueId}`);
    expect(revoke.err).toMatch(/written to the database directly/);
    expect(VenueList.parse(JSON.parse((await run(['venues', '--json', '--data-dir', d])).out)).venues[0]?.revoked).toBe(true);
  }, MANY_STARTS_MS);

  it('adds a venue with its iiko organization id, and checks the iiko-cloud webhook flags', async () => {
    const d = dir();
    const org = '7f0b1c1e-4f6a-4d2b-9a51-0c9d3e2f1a10';
    const add = await run(['venue', 'add', 'Шаурма', '--iiko-organization-id', org.toUpperCase(), '--json', '--data-dir', d]);
    expect(add.code).toBe(0);
    expect(JSON.parse(add.out)).toMatchObject({ iikoOrganizationId: org });
    const text = await run(['venue', 'add', 'Шаурма 2', '--iiko-organization-id', org, '--data-dir', d]);
    expect(text.out).toContain(`iiko organization: ${org}`);
    const bad = await run(['venue', 'add', 'Шаурма 3', '--iiko-organization-id', '12345', '--data-dir', d]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/organization's UUID/);
    const env = { EVVA_RELAY_API_KEYS: KEY, EVVA_RELAY_WEBHOOK_SECRET: '', EVVA_RELAY_WEBHOOK_AUTH_TOKEN: '' };
    // Two serves refused at their flags, before either opens the data dir: side by side.
    const [noToken, badFormat] = await Promise.all([
      run(['serve', '--port', '0', '--data-dir', d, '--webhook-url', 'http://127.0.0.1:9/hook', '--allow-loopback-webhooks', '--webhook-format', 'iiko-cloud'], env),
      run(['serve', '--port', '0', '--data-dir', d, '--webhook-url', 'http://127.0.0.1:9/hook', '--allow-loopback-webhooks', '--webhook-format', 'cloud'], env),
    ]);
    expect(noToken.code).not.toBe(0);
    expect(noToken.out + noToken.err).toMatch(/iiko-cloud needs the authToken/);
    expect(badFormat.code).not.toBe(0);
    expect(badFormat.err).toMatch(/evva or iiko-cloud/);
  }, MANY_STARTS_MS);

  it('refuses bad flags and unknown commands with a message and a non-zero exit', async () => {
    // Four starts that share nothing (each its own data dir, or none): side by side.
    const [bad, unknown, noKey, badRevoke] = await Promise.all([
      run(['venues', '--bogus']),
      run(['fly']),
      run(['serve', '--port', '0', '--data-dir', dir()], { EVVA_RELAY_API_KEYS: '' }),
      run(['venue', 'revoke', 'ven_nope', '--data-dir', dir()]),
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/bogus/);
    expect(bad.err).toMatch(/usage/);
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toMatch(/unknown command: fly/);
    expect(noKey.code).not.toBe(0);
    expect(noKey.err).toMatch(/API keys/);
    expect(badRevoke.code).not.toBe(0);
  }, MANY_STARTS_MS);

  it('writes the database when the relay recorded in the data dir is gone (killed, its file left behind)', async () => {
    const d = dir();
    // A live pid (this one) and a port nobody listens on: what a killed relay whose pid was reused leaves.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)); });
    });
    writeFileSync(join(d, SERVING_FILE), JSON.stringify({ pid: process.pid, url: `http://127.0.0.1:${port}` }));
    const add = await run(['venue', 'add', 'Пельменная', '--json', '--data-dir', d], { EVVA_RELAY_API_KEYS: KEY });
    expect(add.code, add.err).toBe(0);
    expect(add.err).toMatch(/the relay recorded in serving\.json is not running: written to the database directly/);
    const venues = VenueList.parse(JSON.parse((await run(['venues', '--json', '--data-dir', d])).out)).venues;
    expect(venues.map((v) => v.name)).toEqual(['Пельменная']);
  }, MANY_STARTS_MS);

  it('serves on a free port, answers /healthz, and takes keys from the environment', async () => {
    const d = dir();
    const p = spawn(process.execPath, ['bin/evva-relay.js', 'serve', '--port', '0', '--data-dir', d], {
      cwd: ROOT, env: { ...process.env, EVVA_RELAY_API_KEYS: `other-key-000000000000,${KEY}` }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => p.kill('SIGKILL'));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no listening line')), 15_000);
      createInterface({ input: p.stdout }).on('line', (line) => {
        try {
          const j = JSON.parse(line) as { listening?: string };
          if (j.listening) { clearTimeout(timer); resolve(j.listening); }
        } catch { /* a log line */ }
      });
    });
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ ok: true, tunnels: 0 });
    expect((await fetch(`${url}/v1/venues`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
    expect((await fetch(`${url}/v1/venues`, { headers: { authorization: 'Bearer nope-nope-nope-nope' } })).status).toBe(403);
    // A venue command on its data dir finds it there and goes through its API (the key from the environment).
    expect(existsSync(join(d, SERVING_FILE))).toBe(true);
    const add = await run(['venue', 'add', 'Блинная', '--json', '--data-dir', d], { EVVA_RELAY_API_KEYS: KEY });
    expect(add.code, add.err).toBe(0);
    expect(add.err).toContain(`done through the running relay at ${url}`);
    const listed = VenueList.parse(await (await fetch(`${url}/v1/venues`, { headers: { authorization: `Bearer ${KEY}` } })).json());
    expect(listed.venues.map((v) => v.name)).toEqual(['Блинная']);
    // Without a key, adding still works (it acts the same written directly) and says where it went.
    const keyless = await run(['venue', 'add', 'Чебуречная', '--data-dir', d], { EVVA_RELAY_API_KEYS: '' });
    expect(keyless.code, keyless.err).toBe(0);
    expect(keyless.err).toContain(`a relay is running at ${url} but no API key was given`);
    expect(keyless.err).toContain('written to the database directly');
    p.kill('SIGTERM');
    const code = await new Promise((r) => p.on('close', r));
    expect(code).toBe(0);
    // Stopped: the file is gone, so the commands write the database directly again.
    expect(existsSync(join(d, SERVING_FILE))).toBe(false);
  }, MANY_STARTS_MS);
});
