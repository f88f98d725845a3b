/**
 * With the real bins: no request to the local API ends the
 * companion, and the CLI sends nothing (no token, no pairing code) to a server
 * that cannot prove it is the companion that wrote local-api.json.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, runBin, startBin, type Proc } from '../../helpers/proc.ts';

const procs: Proc[] = [];
const dirs: string[] = [];
const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
  for (const s of servers.splice(0)) { s.closeAllConnections(); s.close(); }
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-trust-')); dirs.push(d); return d; };

/** Sends raw bytes and resolves with whatever comes back before the socket closes (or 3 s pass). */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', () => resolve(got));
    s.on('close', () => resolve(got));
    s.write(text);
    setTimeout(() => { s.destroy(); resolve(got); }, 3_000).unref();
  });
}

async function startCompanion(): Promise<{ proc: Proc; port: number; dir: string; token: string }> {
  const dir = tmp();
  const port = await freePort();
  // No plugin needed: the API is what is attacked. A closed port stands in for the plugin.
  const proc = startBin('evva-companion.js', ['run', '--front-url', `http://127.0.0.1:${await freePort()}`, '--data-dir', dir, '--api-port', String(port)]);
  procs.push(proc);
  await proc.waitFor(/Компаньон запущен/);
  const { token } = JSON.parse(fs.readFileSync(path.join(dir, 'local-api.json'), 'utf8')) as { token: string };
  return { proc, port, dir, token };
}

const upgrade = (port: number, cookie: string) =>
  `GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: ${cookie}\r\n\r\n`;

describe('local API under malformed credentials', () => {
  it('answers an upgrade with a malformed cookie escape with 401 and keeps serving', async () => {
    const c = await startCompanion();
    for (const cookie of ['evva_token=%', 'evva_token=%E0%A4%A', 'a=1; evva_token=%zz; b=2', 'evva_token=%ff%fe']) {
      expect(await raw(c.port, upgrade(c.port, cookie))).toMatch(/^HTTP\/1\.1 401/);
    }
    const plain = await raw(c.port, `GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:${c.port}\r\nCookie: evva_token=%\r\nConnection: close\r\n\r\n`);
    expect(plain).toMatch(/^HTTP\/1\.1 401/);
    expect(c.proc.child.exitCode).toBeNull();
    const res = await fetch(`http://127.0.0.1:${c.port}/api/status`, { headers: { authorization: `Bearer ${c.token}` } });
    expect(res.status).toBe(200);
    const st = await runBin('evva-companion.js', ['status', '--data-dir', c.dir, '--json']);
    expect(st.code, st.out).toBe(0);
  });
});

describe('the CLI talks only to the companion that wrote local-api.json', () => {
  /** A server on the port a dead companion used: it records everything it is sent. */
  async function impostor(): Promise<{ url: string; seen: string[] }> {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)} ${body}`);
        // It plays along as best it can: a 200 with a made-up proof.
        res.setHeader('content-type', 'application/json');
        res.end(req.url?.startsWith('/api/proof') ? JSON.stringify({ pid: process.pid, proof: 'x'.repeat(43) }) : '{}');
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen };
  }

  const TOKEN = 'stale-token-of-a-crashed-companion-0123456789';

  it('pair sends neither the code nor the old token when the server cannot prove it holds the token', async () => {
    const fake = await impostor();
    const dir = tmp();
    // pid = this test process: alive, so only the proof can tell the impostor apart.
    fs.writeFileSync(path.join(dir, 'local-api.json'), JSON.stringify({ url: fake.url, token: TOKEN, pid: process.pid }));
    const r = await runBin('evva-companion.js', ['pair', 'K7QF-2MXD', '--relay-url', `http://127.0.0.1:${await freePort()}`, '--data-dir', dir]);
    expect(r.code).not.toBe(0);
    const all = fake.seen.join('\n');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('K7QF-2MXD');
    expect(fake.seen.every((l) => l.startsWith('GET /api/proof?nonce='))).toBe(true);
  });

  it('status asks nobody when the pid that wrote the file is gone, and says why (exit 3)', async () => {
    const fake = await impostor();
    const dir = tmp();
    const gone = startBin('evva-companion.js', ['--version']);
    await gone.exited;
    fs.writeFileSync(path.join(dir, 'local-api.json'), JSON.stringify({ url: fake.url, token: TOKEN, pid: gone.child.pid }));
    const r = await runBin('evva-companion.js', ['status', '--data-dir', dir]);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/не работает/);
    expect(fake.seen).toEqual([]);
  });

  it('status refuses a server that answers the proof wrongly, without sending it the token', async () => {
    const fake = await impostor();
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'local-api.json'), JSON.stringify({ url: fake.url, token: TOKEN, pid: process.pid }));
    const r = await runBin('evva-companion.js', ['status', '--data-dir', dir, '--json']);
    expect(r.code).toBe(3);
    expect(fake.seen.join('\n')).not.toContain(TOKEN);
  });
});

describe('a full disk', () => {
  it('keeps the companion running and serving, and its status says in Russian that the log is console-only', async () => {
    const dir = tmp();
    fs.mkdirSync(path.join(dir, 'logs'));
    const d = new Date();
    const day = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    fs.symlinkSync('/dev/full', path.join(dir, 'logs', `companion-${day}.log`));
    const port = await freePort();
    const proc = startBin('evva-companion.js', ['run', '--front-url', `http://127.0.0.1:${await freePort()}`, '--data-dir', dir, '--api-port', String(port)]);
    procs.push(proc);
    await proc.waitFor(/Компаньон запущен/);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(proc.child.exitCode).toBeNull();
    const json = await runBin('evva-companion.js', ['status', '--data-dir', dir, '--json']);
    expect(json.code, json.out).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ logs: { state: 'console_only', error: { code: 'log_file_failed' } } });
    const text = await runBin('evva-companion.js', ['status', '--data-dir', dir]);
    expect(text.out).toMatch(/^ {2}Журнал не записывается в файл: на диске нет места.*\n {4}Что делать: Освободите место/m);
  });
});

describe('a proxy password on the command line', () => {
  it('is warned about in Russian (it shows in the process list), without printing the password', async () => {
    const dir = tmp();
    const r = await runBin('evva-companion.js', ['pair', 'K7QF-2MXD', '--relay-url', `http://127.0.0.1:${await freePort()}`, '--data-dir', dir, '--proxy', 'http://user:S3cretPw@127.0.0.1:9']);
    expect(r.out).toMatch(/пароль прокси в параметре --proxy виден всем пользователям/);
    expect(r.out).toMatch(/EVVA_PROXY/);
    expect(r.out).not.toContain('S3cretPw');
    const plain = await runBin('evva-companion.js', ['pair', 'K7QF-2MXD', '--relay-url', `http://127.0.0.1:${await freePort()}`, '--data-dir', dir, '--proxy', 'http://127.0.0.1:9']);
    expect(plain.out).not.toMatch(/пароль прокси/);
  });
});
