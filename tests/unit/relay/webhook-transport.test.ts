/**
 * The webhook transport's small parts on their own: which hosts a receiver
 * URL may name, how a URL is shown back, and how a failure is reported.
 */
import { describe, expect, it } from 'vitest';
import { addressKind } from '../../../relay/address.ts';
import { BlockedDestination, hostProblem } from '../../../relay/hooks/destination.ts';
import { errorFailure, failureLabel, failureText, statusFailure } from '../../../relay/hooks/failure.ts';
import { maskUrl, originOf } from '../../../relay/hooks/mask.ts';

describe('receiver hosts', () => {
  it('classifies addresses: public, loopback, and every private or reserved range, IPv4-mapped ones by their IPv4', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '2a00:1450:4010:c05::8a', '[2001:4860:4860::8888]']) expect({ ip, k: addressKind(ip) }).toEqual({ ip, k: 'public' });
    for (const ip of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', '::ffff:127.0.0.1', '::ffff:7f00:1']) expect({ ip, k: addressKind(ip) }).toEqual({ ip, k: 'loopback' });
    for (const ip of ['10.0.0.1', '172.16.5.5', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1',
      '255.255.255.255', '198.18.0.1', 'fd00::1', 'fc00::1', 'fe80::1', 'ff02::1', '64:ff9b::a00:1', '2002:a00:1::', '2001::1', '::ffff:10.0.0.1', '::', '::7f00:1', '::a9fe:a9fe']) {
      expect({ ip, k: addressKind(ip) }).toEqual({ ip, k: 'private' });
    }
    expect(addressKind('relay.example')).toBe('invalid');
  });

  it('refuses loopback names and addresses unless in the test mode, and internal names and private ranges always', () => {
    const off = { allowLoopback: false };
    const on = { allowLoopback: true };
    for (const h of ['127.0.0.1', 'localhost', 'LOCALHOST.', '[::1]']) {
      expect(hostProblem(h, off)).toMatch(/loopback/);
      expect(hostProblem(h, on)).toBeNull();
    }
    for (const h of ['10.1.2.3', '169.254.169.254', 'metadata.google.internal', 'metadata', 'db.internal', 'printer.local', 'x.localhost', 'intranet', 'svc.cluster.local']) {
      expect({ h, p: hostProblem(h, on) }).toEqual({ h, p: expect.any(String) });
    }
    for (const h of ['hooks.evva.ru', '93.184.216.34']) expect(hostProblem(h, off)).toBeNull();
    // Special-use names are refused by name: judging them never sends a DNS query off this machine.
    for (const h of ['no-such-host.invalid', 'hooks.test', 'a.example']) expect(hostProblem(h, off)).toMatch(/RFC 6761/);
  });
});

describe('receiver URLs shown back', () => {
  it('hides user, password, query values, the fragment and token-like path segments, and keeps the rest', () => {
    expect(maskUrl('https://evva:Pa55@hooks.example:8443/in/3f9a8b7c6d5e4f3a2b1c/evva?token=abc&v=2#frag'))
      .toBe('https://***@hooks.example:8443/in/***/evva?token=***&v=***');
    expect(maskUrl('https://hooks.example/evva/webhook')).toBe('https://hooks.example/evva/webhook');
    expect(maskUrl('https://T0KEN@hooks.example/')).toBe('https://***@hooks.example/');
    expect(maskUrl('not a url')).toBe('***');
    expect(originOf('https://u:p@hooks.example/x?y=1')).toBe('https://hooks.example');
  });
});

describe('failures as categories', () => {
  it('reports socket errors by category only, with no address or code in the text', () => {
    const wrapped = (code: string) => Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error(`connect ${code} 10.0.0.7:5432`), { code }) });
    expect(errorFailure(wrapped('ECONNREFUSED'), false, 10_000).kind).toBe('unreachable');
    expect(errorFailure(wrapped('ECONNRESET'), false, 10_000).kind).toBe('unreachable');
    expect(errorFailure(wrapped('HPE_INVALID_CONSTANT'), false, 10_000).kind).toBe('unreachable');
    expect(errorFailure(wrapped('UND_ERR_CONNECT_TIMEOUT'), false, 10_000).kind).toBe('unreachable');
    expect(errorFailure(wrapped('ENOTFOUND'), false, 10_000).kind).toBe('dns');
    expect(errorFailure(wrapped('CERT_HAS_EXPIRED'), false, 10_000).kind).toBe('tls');
    expect(errorFailure(new Error('x', { cause: new BlockedDestination('10.0.0.7: private') }), false, 10_000).kind).toBe('blocked');
    expect(errorFailure(new Error('aborted'), true, 10_000)).toEqual({ kind: 'timeout', message: 'no answer within 10 s' });
    for (const code of ['ECONNREFUSED', 'HPE_INVALID_CONSTANT']) expect(failureText(errorFailure(wrapped(code), false, 10_000))).not.toMatch(/ECONN|HPE|10\.0\.0\.7|5432/);
  });

  it('names an answer that is not 2xx by its status, a redirect apart, and labels the metric', () => {
    expect(statusFailure(503)).toMatchObject({ kind: 'http', status: 503 });
    expect(failureText(statusFailure(302))).toMatch(/^redirect: HTTP 302: .*final URL/);
    expect(failureLabel(statusFailure(500))).toBe('http_error');
    expect(failureLabel({ kind: 'blocked', message: '' })).toBe('blocked');
    expect(failureLabel({ kind: 'dns', message: '' })).toBe('network');
  });
});
