/**
 * The gate is an allowlist. Spellings a .NET server could
 * normalise into a login are refused, override and forwarding headers never
 * reach the plugin, and a caller key is stripped under any spelling.
 */
import { describe, expect, it } from 'vitest';
import { admitted, check, DEFAULT_GATE_POLICY } from '../../../main/core/tunnel/gate.ts';
import { keyLike, withoutKeys } from '../../../main/core/upstream.ts';

const FRONT = '127.0.0.1:9042';
const verdict = (path: string) => check({ method: 'GET', path, headers: {} }, DEFAULT_GATE_POLICY, FRONT);

describe('gate allowlist', () => {
  it.each([
    '/api/login./2050', '/api/login%20/2050', '/api/log%C4%B1n/2050', '/api/login;x/2050', '/api/LOGIN/2050',
    '/api/logout', '/api/login', '/api/lo%67in/2050', '/api/login%09/2050', '/api/login~/2050', '/api/login_/2050'.replace('_', '-') + '.', '/api/-login/2050',
    '/api/orders;jsessionid=1', '/api/orders./x', '/api/%6Frders', '/api/ordérs', '/api/orders/a/b', '/api/orders/x;y',
    '/api/orders/.x', '/api/orders/x.', '/api/orders/%zz', '/api/1orders', '/api/orders:x', '/api/orders/ключ',
    '/api/orders/a b', '/favicon.ico', '/index.html', '/api.json',
  ])('refuses %s', (path) => {
    expect(verdict(path)).toMatchObject({ code: 'forbidden' });
  });

  it.each([
    '/', '/api', '/api/', '/api/orders', '/api/orders/', '/api/Orders', '/api/kitchenorders/3',
    '/api/orders/bd1be164-a589-4487-94c4-201498f06739', '/api/products/0001', '/api/products/A.1',
    '/api/users/%D0%A1%D0%BC%D0%B8%D1%80%D0%BD%D0%BE%D0%B2%D0%B0%20%D0%9E%D0%BB%D1%8C%D0%B3%D0%B0',
    '/api/orders?$filter=Number%20eq%205&$top=1',
  ])('allows %s', (path) => {
    expect(verdict(path)).toEqual({ ok: true });
  });
});

describe('what reaches the plugin', () => {
  it('drops override, forwarding and unknown headers, and keeps the allowlisted ones', () => {
    const { headers } = admitted('/api/orders', {
      'X-HTTP-Method-Override': 'DELETE', 'x-http-method': 'DELETE', 'x-method-override': 'PUT', 'x-original-url': '/api/login/2050',
      'x-rewrite-url': '/api/logout/x', 'x-forwarded-for': '10.0.0.1', 'X-Forwarded-Host': 'evil', 'x-forwarded-proto': 'https',
      forwarded: 'for=1.2.3.4', cookie: 'key=stolen', authorization: 'Bearer x', host: 'evil', 'x-anything': '1',
      Accept: 'application/json', 'accept-language': 'ru', 'if-none-match': '"e1"', 'content-type': 'application/json', prefer: 'return=minimal',
    });
    expect(headers).toEqual({ accept: 'application/json', 'accept-language': 'ru', 'if-none-match': '"e1"', 'content-type': 'application/json', prefer: 'return=minimal' });
  });

  it.each([
    'key', 'KEY', 'Key', '%6Bey', 'k%65y', '%4B%45%59', 'key%20', '%20key', '+key', 'key+', 'key[]', 'key%5B%5D', 'ｋｅｙ', '%EF%BD%8B%EF%BD%85%EF%BD%99', '%256Bey', 'ke%79',
  ])('strips a caller key spelled %s', (name) => {
    expect(keyLike(name)).toBe(true);
    expect(admitted(`/api/orders?$top=1&${name}=stolen&x=2`, {}).path).toBe('/api/orders?$top=1&x=2');
  });

  it('keeps parameters that only look a little like key', () => {
    for (const name of ['keys', 'monkey', 'keyword', 'akey', '$top', 'k']) expect(keyLike(name)).toBe(false);
    expect(withoutKeys('$filter=Name%20eq%20%27key%27&keys=1')).toEqual(['$filter=Name%20eq%20%27key%27', 'keys=1']);
  });
});
