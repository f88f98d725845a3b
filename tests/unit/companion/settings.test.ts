import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../../main/core/settings.ts';
import { isLoopbackHost } from '../../../common/loopback.ts';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-settings-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const write = (o: unknown) => fs.writeFileSync(path.join(dir, 'settings.json'), typeof o === 'string' ? o : JSON.stringify(o));

describe('settings', () => {
  it('uses defaults when there is no settings file', () => {
    const s = loadSettings({ dataDir: dir }, {});
    expect(s).toMatchObject({ dataDir: dir, frontUrl: null, apiPort: 9142, moduleId: '2050', probeIntervalSec: 3 });
    expect(s.tunnel.allowMethods).toEqual(['GET', 'HEAD']);
  });

  it('takes flags over the environment over the file', () => {
    write({ frontUrl: 'http://127.0.0.1:9001', apiPort: 9001 });
    expect(loadSettings({ dataDir: dir }, {}).frontUrl).toBe('http://127.0.0.1:9001');
    const env = { EVVA_FRONT_URL: 'http://127.0.0.1:9002', EVVA_API_PORT: '9002' };
    expect(loadSettings({ dataDir: dir }, env)).toMatchObject({ frontUrl: 'http://127.0.0.1:9002', apiPort: 9002 });
    expect(loadSettings({ dataDir: dir, frontUrl: 'http://localhost:9003/', apiPort: '9003' }, env))
      .toMatchObject({ frontUrl: 'http://localhost:9003', apiPort: 9003 });
  });

  it('finds the data dir from EVVA_DATA_DIR', () => {
    write({ apiPort: 9200 });
    expect(loadSettings({}, { EVVA_DATA_DIR: dir }).apiPort).toBe(9200);
  });

  it('names the bad field of the settings file', () => {
    write({ apiPort: 'abc' });
    expect(() => loadSettings({ dataDir: dir }, {})).toThrow(/apiPort/);
    write({ apiPort: 70000 });
    expect(() => loadSettings({ dataDir: dir }, {})).toThrow(SettingsError);
    write({ tunnel: { maxRequestBytes: -1 } });
    expect(() => loadSettings({ dataDir: dir }, {})).toThrow(/tunnel\.maxRequestBytes/);
  });

  it('names a misspelt field instead of ignoring it', () => {
    write({ frontUlr: 'http://127.0.0.1:9042' });
    expect(() => loadSettings({ dataDir: dir }, {})).toThrow(/неизвестное поле «frontUlr»/);
  });

  it('says the settings file is not JSON', () => {
    write('{ "apiPort": 9142,, }');
    expect(() => loadSettings({ dataDir: dir }, {})).toThrow(/не является корректным JSON/);
  });

  it('refuses a plugin address that is not on this PC', () => {
    expect(() => loadSettings({ dataDir: dir, frontUrl: 'http://192.168.1.5:9042' }, {})).toThrow(/параметр --front-url: .*127\.0\.0\.1/);
    expect(() => loadSettings({ dataDir: dir, frontUrl: 'http://127.0.0.1:9042/api' }, {})).toThrow(/параметр --front-url/);
    expect(() => loadSettings({ dataDir: dir, frontUrl: 'ftp://127.0.0.1:9042' }, {})).toThrow(/параметр --front-url/);
  });

  it('refuses a port flag that is not a number', () => {
    expect(() => loadSettings({ dataDir: dir, apiPort: '91x' }, {})).toThrow(/--api-port/);
    expect(() => loadSettings({ dataDir: dir }, { EVVA_API_PORT: '65536' })).toThrow(/переменная EVVA_API_PORT: /);
  });

  it('knows which hosts are loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '[::1]', '::1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['10.0.0.1', '128.0.0.1', 'localhost.evil.com', '127.0.0.1.nip.io', 'a.localhost', '']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('takes a proxy written without a scheme as http://host:port, from a flag, EVVA_PROXY or settings.json', () => {
    expect(loadSettings({ dataDir: dir, proxy: '10.0.0.1:3128' }, {}).proxy).toBe('http://10.0.0.1:3128');
    expect(loadSettings({ dataDir: dir }, { EVVA_PROXY: 'proxy.corp:3128' }).proxy).toBe('http://proxy.corp:3128');
    write({ proxy: 'user:pa%40ss@proxy.corp:8080' });
    expect(loadSettings({ dataDir: dir }, {}).proxy).toBe('http://user:pa%40ss@proxy.corp:8080');
    expect(() => loadSettings({ dataDir: dir, proxy: 'socks5://10.0.0.1:1080' }, {})).toThrow(/параметр --proxy: .*HTTP-прокси/);
  });

  it('validates the proxy variables of the environment like flags, naming the variable', () => {
    expect(loadSettings({ dataDir: dir }, { HTTPS_PROXY: '10.0.0.1:3128', http_proxy: 'proxy.corp:3128' }).proxy).toBeNull();
    for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy']) {
      expect(() => loadSettings({ dataDir: dir }, { [name]: 'http://[::1' })).toThrow(new RegExp(`Переменная окружения ${name}: «http://\\[::1»`));
    }
  });

  it('explains bad values in Russian, without the validator\'s English', () => {
    const messages: string[] = [];
    const bad: Array<[unknown, Record<string, string>?]> = [
      [{ apiPort: 70000 }], [{ apiPort: 'abc' }], [{ probeIntervalSec: 0 }], [{ logLevel: 'loud' }], [{ relayUrl: 'relay' }],
      [{ moduleId: 'a b' }], [{ tunnel: { allowMethods: ['TRACE'] } }], [{ allowInsecure: 'yes' }], [{}, { EVVA_RELAY_URL: 'nope' }],
    ];
    for (const [file, env] of bad) {
      write(file);
      try {
        loadSettings({ dataDir: dir }, env ?? {});
        throw new Error(`accepted ${JSON.stringify(file)}`);
      } catch (e) {
        expect(e).toBeInstanceOf(SettingsError);
        messages.push((e as Error).message);
      }
    }
    for (const m of messages) {
      // Field names, variables and allowed values are Latin; the explanation is not.
      const prose = m.replace(/«[^»]*»/g, '').replace(/[A-Z_]{3,}|--[a-z-]+|https?:\/\/\S+|\b(GET|HEAD|POST|PUT|PATCH|DELETE|error|warn|info|debug|true|false)\b/g, '');
      expect(prose, m).not.toMatch(/\b(Too|Invalid|expected|Expected|must|received|option)\b/);
      expect(m, m).toMatch(/[а-яё]{4,}/i);
    }
  });

  it('says where each effective value came from', () => {
    write({ apiPort: 9300, tunnel: { maxRequestBytes: 10 } });
    const s = loadSettings({ dataDir: dir, logLevel: 'debug' }, { EVVA_FRONT_URL: 'http://127.0.0.1:9042' });
    expect(s.sources).toMatchObject({
      dataDir: 'flag', apiPort: 'file', logLevel: 'flag', frontUrl: 'env', moduleId: 'default',
      'tunnel.maxRequestBytes': 'file', 'tunnel.allowMethods': 'default',
    });
  });
});
