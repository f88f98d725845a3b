/**
 * One companion per data dir, with the real bin: a second `run` on the same data dir
 * exits, naming the running one's pid and address, and leaves it serving.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { freePort, runBin, startBin, type Proc } from '../../helpers/proc.ts';

const procs: Proc[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

it('a second run on the same data dir exits with the first one\'s pid and address, and the first keeps serving', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-lock-'));
  dirs.push(dir);
  const front = `http://127.0.0.1:${await freePort()}`;
  const first = startBin('evva-companion.js', ['run', '--front-url', front, '--data-dir', dir, '--api-port', String(await freePort())]);
  procs.push(first);
  await first.waitFor(/Компаньон запущен/);
  const apiFile = path.join(dir, 'local-api.json');
  const info = JSON.parse(fs.readFileSync(apiFile, 'utf8')) as { url: string; pid: number };

  const second = await runBin('evva-companion.js', ['run', '--front-url', front, '--data-dir', dir, '--api-port', String(await freePort())]);
  expect(second.code).toBe(1);
  expect(second.out).toContain('Компаньон уже запущен');
  expect(second.out).toContain(`процесс ${first.child.pid}`);
  expect(second.out).toContain(info.url);

  expect(JSON.parse(fs.readFileSync(apiFile, 'utf8'))).toMatchObject({ url: info.url, pid: first.child.pid });
  const st = await runBin('evva-companion.js', ['status', '--data-dir', dir, '--json']);
  expect(st.code, st.out).toBe(0);
  // A lock left by a killed run does not stop the next one: front-logins.test.ts, "after kill -9".
}, 60_000);
