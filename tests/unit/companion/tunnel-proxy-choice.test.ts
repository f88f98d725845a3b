import { describe, expect, it } from 'vitest';
import { relayEndpoints, TunnelError } from '../../../main/core/tunnel/problems.ts';
import { noProxyMatches, normalizeProxy, proxyFor } from '../../../main/core/tunnel/proxy.ts';
import { isLoopbackHost } from '../../../common/loopback.ts';

const U = (s: string) => new URL(s);

describe('proxy choice', () => {
  it('uses an explicit setting, even for loopback, unless NO_PROXY names the host', () => {
    expect(proxyFor(U('ws://127.0.0.1:8787/v1/tunnel'), { proxy: 'http://proxy:3128', env: {} })).toBe('http://proxy:3128');
    expect(proxyFor(U('ws://127.0.0.1:8787/v1/tunnel'), { proxy: 'http://proxy:3128', env: { NO_PROXY: '127.0.0.1' } })).toBeNull();
  });

  it('null means never, whatever the environment says', () => {
    expect(proxyFor(U('wss://relay.evva.ru/v1/tunnel'), { proxy: null, env: { HTTPS_PROXY: 'http://p:1' } })).toBeNull();
  });

  it('follows HTTPS_PROXY for wss and HTTP_PROXY for ws, never for loopback', () => {
    const env = { HTTPS_PROXY: 'http://secure:1', HTTP_PROXY: 'http://plain:2' };
    expect(proxyFor(U('wss://relay.evva.ru/v1/tunnel'), { env })).toBe('http://secure:1');
    expect(proxyFor(U('ws://relay.lan/v1/tunnel'), { env })).toBe('http://plain:2');
    expect(proxyFor(U('wss://relay.evva.ru/v1/tunnel'), { env: { https_proxy: 'http://lower:3' } })).toBe('http://lower:3');
    expect(proxyFor(U('wss://relay.evva.ru/v1/tunnel'), { env: { HTTP_PROXY: 'http://only-http:4' } })).toBe('http://only-http:4');
    expect(proxyFor(U('ws://localhost:8787/v1/tunnel'), { env })).toBeNull();
    expect(proxyFor(U('ws://127.0.0.1:8787/v1/tunnel'), { env })).toBeNull();
  });

  it('matches NO_PROXY entries: names, suffixes, IPs, ports, *', () => {
    const u = U('wss://relay.evva.ru/v1/tunnel');
    expect(noProxyMatches('evva.ru', u)).toBe(true);
    expect(noProxyMatches('.evva.ru', u)).toBe(true);
    expect(noProxyMatches('*.evva.ru', u)).toBe(true);
    expect(noProxyMatches('relay.evva.ru:443', u)).toBe(true);
    expect(noProxyMatches('relay.evva.ru:8443', u)).toBe(false);
    expect(noProxyMatches('other.ru, example.com', u)).toBe(false);
    expect(noProxyMatches('va.ru', u)).toBe(false);
    expect(noProxyMatches('*', u)).toBe(true);
    expect(noProxyMatches('10.0.0.5', U('ws://10.0.0.5:80/'))).toBe(true);
    expect(noProxyMatches('[::1]:8787', U('ws://[::1]:8787/'))).toBe(true);
  });

  it('knows loopback (and does not trust *.localhost, which Node resolves through DNS)', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['10.0.0.1', 'relay.evva.ru', '::2', 'a.localhost']) expect(isLoopbackHost(h)).toBe(false);
  });
});

describe('relay URL', () => {
  it('accepts https and wss, deriving both endpoints', () => {
    expect(relayEndpoints('https://relay.evva.ru')).toEqual({ httpBase: 'https://relay.evva.ru', tunnelUrl: 'wss://relay.evva.ru/v1/tunnel', secure: true });
    expect(relayEndpoints('wss://relay.evva.ru/prefix/').tunnelUrl).toBe('wss://relay.evva.ru/prefix/v1/tunnel');
  });

  it('refuses plain ws/http to anything but loopback unless allowed', () => {
    expect(() => relayEndpoints('ws://relay.evva.ru')).toThrow(TunnelError);
    const refusal = (() => {
      try {
        relayEndpoints('http://10.0.0.5:8787');
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(refusal).toBeInstanceOf(TunnelError);
    expect((refusal as TunnelError).problem.code).toBe('insecure_url');
    expect((refusal as TunnelError).problem.message).toMatch(/незащищённое/);
    expect(relayEndpoints('http://10.0.0.5:8787', true).tunnelUrl).toBe('ws://10.0.0.5:8787/v1/tunnel');
    expect(relayEndpoints('ws://127.0.0.1:8787').secure).toBe(false);
  });

  it('refuses URLs that are not a relay', () => {
    for (const bad of ['relay.evva.ru', 'ftp://relay.evva.ru', 'https://user:pw@relay.evva.ru', 'https://relay.evva.ru/?x=1']) {
      expect(() => relayEndpoints(bad)).toThrow(TunnelError);
    }
  });

  it('reads a proxy variable written without a scheme as http://host:port', () => {
    const wss = new URL('wss://relay.example.com/v1/tunnel');
    expect(proxyFor(wss, { env: { HTTPS_PROXY: '10.0.0.1:3128' } })).toBe('http://10.0.0.1:3128');
    // Once parsed as the URL scheme "proxy.corp:", which sent the tunnel to 127.0.0.1:80.
    expect(proxyFor(wss, { env: { HTTPS_PROXY: 'proxy.corp:3128' } })).toBe('http://proxy.corp:3128');
    expect(proxyFor(wss, { proxy: 'proxy.corp:3128', env: {} })).toBe('http://proxy.corp:3128');
    expect(normalizeProxy('https://proxy.corp')).toBe('https://proxy.corp');
    expect(normalizeProxy('socks5://proxy.corp:1080')).toBeNull();
    expect(normalizeProxy('http://proxy.corp:3128/path')).toBeNull();
  });
});
