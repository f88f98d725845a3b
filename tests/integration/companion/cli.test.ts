import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Status } from '../../../protocol/local.ts';
import { freePort, runBin, startBin, type Proc } from '../../helpers/proc.ts';

const procs: Proc[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-cli-')); dirs.push(d); return d; };

async function startSim(): Promise<string> {
  const sim = startBin('evva-sim.js', ['--port', '0', '--no-auto', '--quiet']);
  procs.push(sim);
  const [, url] = await sim.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return url!;
}

async function statusJson(dataDir: string): Promise<Status> {
  const r = await runBin('evva-companion.js', ['status', '--data-dir', dataDir, '--json']);
  expect(r.code, r.out).toBe(0);
  return Status.parse(JSON.parse(r.out));
}

describe('evva-companion CLI', () => {
  it('run + status work as the README says, and SIGTERM logs the plugin session out', async () => {
    const simUrl = await startSim();
    const dir = tmp();
    const apiPort = await freePort();
    const agent = startBin('evva-companion.js', ['run', '--front-url', simUrl, '--data-dir', dir, '--api-port', String(apiPort)]);
    procs.push(agent);
    await agent.waitFor(/Компаньон запущен/);
    let s = await statusJson(dir);
    for (let i = 0; i < 50 && s.front.state !== 'up'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      s = await statusJson(dir);
    }
    expect(s.front).toMatchObject({ state: 'up', url: simUrl });
    const text = await runBin('evva-companion.js', ['status', '--data-dir', dir]);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/iikoFront \(плагин Front Web API\): работает/);
    expect(text.out).toMatch(/Связь с EVVA: не настроена/);

    const live = await fetch(`${simUrl}/_sim/state`).then((r) => r.json()) as { liveTokens: number };
    expect(live.liveTokens).toBe(1);
    expect(await agent.stop('SIGTERM')).toBe(0);
    const after = await fetch(`${simUrl}/_sim/state`).then((r) => r.json()) as { liveTokens: number };
    expect(after.liveTokens).toBe(0);
    expect(fs.existsSync(path.join(dir, 'local-api.json'))).toBe(false);
    const logs = fs.readdirSync(path.join(dir, 'logs')).filter((f) => f.endsWith('.log'));
    const logText = fs.readFileSync(path.join(dir, 'logs', logs[0]!), 'utf8');
    expect(logText).toContain('plugin session closed');
    expect(logText).not.toMatch(/key=[0-9a-f]{8}/i);
  });

  it('status says the companion is not running (exit 3)', async () => {
    const r = await runBin('evva-companion.js', ['status', '--data-dir', tmp()]);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/Компаньон не запущен/);
  });

  it('a bad flag, a bad value or a bad settings file is named, with exit 2', async () => {
    const bad = await runBin('evva-companion.js', ['run', '--frnt-url', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/Неизвестный параметр --frnt-url/);
    const url = await runBin('evva-companion.js', ['run', '--data-dir', tmp(), '--front-url', 'http://10.0.0.5:9042']);
    expect(url.code).toBe(2);
    // Named as the sysadmin wrote it: the flag, not the settings key.
    expect(url.out).toMatch(/параметр --front-url: нужен адрес плагина на этом компьютере/);
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ probeIntervalSec: 'often' }));
    const file = await runBin('evva-companion.js', ['run', '--data-dir', dir]);
    expect(file.code).toBe(2);
    expect(file.out).toMatch(/probeIntervalSec/);
    const cmd = await runBin('evva-companion.js', ['fly']);
    expect(cmd.code).toBe(2);
    expect(cmd.out).toMatch(/Неизвестная команда «fly»/);
  });

  it('says when the data dir cannot be written, with exit 1', async () => {
    const file = path.join(tmp(), 'not-a-dir');
    fs.writeFileSync(file, 'x');
    const r = await runBin('evva-companion.js', ['run', '--data-dir', path.join(file, 'sub')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Нет доступа на запись к папке данных .*--data-dir/);
  });

  it('exits 1 with a clear message when the API port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await runBin('evva-companion.js', ['run', '--data-dir', tmp(), '--api-port', String(port), '--front-url', 'http://127.0.0.1:1']);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(new RegExp(`Порт ${port} уже занят`));
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('discover reports what each port is', async () => {
    const r = await runBin('evva-companion.js', ['discover', '--json']);
    const body = JSON.parse(r.out) as { tried: { url: string; kind: string }[] };
    expect(body.tried[0]?.url).toBe('http://127.0.0.1:9042');
    expect(r.code).toBe(body.tried.some((t) => t.kind === 'plugin') ? 0 : 1);
  });
});
