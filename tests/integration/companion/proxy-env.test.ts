/**
 * Proxies as sysadmins write them: `host:port` without
 * a scheme is http://host:port, a bad proxy variable stops start-up with a
 * Russian message naming it, and a proxy that wants a password says so.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pair } from '../../../main/core/tunnel/pair.ts';
import { TunnelError } from '../../../main/core/tunnel/problems.ts';
import { startBin } from '../../helpers/proc.ts';
import { COMPANION, tempDir } from '../../helpers/relay.ts';

/** A proxy that answers every CONNECT with 407 and records what it was asked for. */
async function authProxy(): Promise<{ port: number; targets: string[]; close(): Promise<void> }> {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => { res.statusCode = 405; res.end(); });
  server.on('connect', (req, client: Socket) => {
    targets.push(req.url ?? '');
    sockets.add(client);
    client.on('error', () => {});
    client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    targets,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('proxy settings from the environment', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const dir = () => { const d = tempDir('companion-proxy'); cleanups.push(() => d.remove()); return d.dir; };

  it('HTTPS_PROXY=host:port is used as http://host:port, and a 407 says the proxy needs a login', async () => {
    const proxy = await authProxy();
    cleanups.push(() => proxy.close());
    const p = startBin('evva-companion.js', ['pair', 'K7QF-2MXD', '--relay-url', 'https://relay.example.invalid', '--data-dir', dir()],
      { HTTPS_PROXY: `127.0.0.1:${proxy.port}`, NO_PROXY: '' });
    expect(await p.exited).toBe(1);
    expect(proxy.targets).toEqual(['relay.example.invalid:443']);
    expect(p.output()).toMatch(/авторизац/);
    expect(p.output()).not.toMatch(/не отвечает/);
  });

  it('pair() through a 407 proxy reports proxy_refused with the status', async () => {
    const proxy = await authProxy();
    cleanups.push(() => proxy.close());
    try {
      await pair({ code: 'K7QF-2MXD', relayUrl: 'https://relay.example.invalid', dataDir: dir(), companion: COMPANION, proxy: `127.0.0.1:${proxy.port}` });
      throw new Error('should have failed');
    } catch (e) {
      expect(e).toBeInstanceOf(TunnelError);
      expect((e as TunnelError).problem).toMatchObject({ code: 'proxy_refused' });
      expect((e as TunnelError).problem.message).toContain('407');
      expect((e as TunnelError).problem.hint).toMatch(/логин и пароль/);
    }
  });

  it('a proxy variable that is not an address stops run with exit 2, in Russian, naming it, and leaves nothing behind', async () => {
    const d = dir();
    const p = startBin('evva-companion.js', ['run', '--data-dir', d, '--api-port', '0', '--front-url', 'http://127.0.0.1:9'], { HTTPS_PROXY: 'http://[broken' });
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(/Переменная окружения HTTPS_PROXY/);
    expect(p.output()).not.toMatch(/Invalid URL/);
    expect(existsSync(join(d, 'local-api.json'))).toBe(false);
  });
});
