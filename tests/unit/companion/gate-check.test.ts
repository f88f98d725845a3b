import { describe, expect, it } from 'vitest';
import { DEFAULT_GATE_POLICY, admitted, check, type GateRequest } from '../../../main/core/tunnel/gate.ts';

const FRONT = '127.0.0.1:9042';
const req = (path: string, more: Partial<GateRequest> = {}): GateRequest => ({ method: 'GET', path, headers: {}, ...more });
const verdict = (r: GateRequest, policy = DEFAULT_GATE_POLICY) => check(r, policy, FRONT);

/** Every escape the issue lists, each paired with a short name for the failure message. */
export const ESCAPES: Array<[string, GateRequest]> = [
  ['absolute-form target', req('http://evil.example/api/orders')],
  ['absolute-form, other scheme', req('/file:///etc/passwd')],
  ['protocol-relative', req('//evil.example/api/orders')],
  ['dot-dot segment', req('/api/../admin')],
  ['dot-dot at the start', req('/../etc/passwd')],
  ['dot-dot at the end', req('/api/orders/..')],
  ['single dot segment', req('/api/./orders')],
  ['encoded slash', req('/api%2forders')],
  ['encoded slash, upper case', req('/api%2Forders')],
  ['encoded dots', req('/api/%2e%2e/admin')],
  ['mixed encoded dot', req('/api/.%2e/admin')],
  ['encoded backslash', req('/api/%5c..%5cadmin')],
  ['double-encoded slash', req('/api%252forders')],
  ['double-encoded dot-dot', req('/api/%252e%252e/admin')],
  ['raw backslash', req('/api\\..\\admin')],
  ['NUL byte', req('/api/orders\u0000')],
  ['encoded NUL', req('/api/orders%00')],
  ['CR LF injection', req('/api/orders\r\nHost: evil')],
  ['encoded control in query', req('/api/orders?x=%0d%0aHost:%20evil')],
  ['malformed escape', req('/api/orders%zz')],
  ['path outside /api', req('/admin')],
  ['prefix trick', req('/apiary')],
  ['login (the session is the companion\'s)', req('/api/login/2050')],
  ['logout of somebody\'s token', req('/api/logout/abc')],
  ['login in upper case', req('/API/LOGIN/2050')],
  ['CONNECT', req('/api/orders', { method: 'CONNECT' })],
  ['TRACE', req('/api/orders', { method: 'TRACE' })],
  ['POST by default', req('/api/orders', { method: 'POST' })],
  ['DELETE by default', req('/api/orders/1', { method: 'DELETE' })],
  ['lower-case method trick', req('/api/orders', { method: 'get' })],
  ['websocket upgrade', req('/api/orders', { headers: { upgrade: 'websocket', connection: 'Upgrade' } })],
  ['Connection: upgrade alone', req('/api/orders', { headers: { connection: 'keep-alive, Upgrade' } })],
  ['Sec-WebSocket-Key', req('/api/orders', { headers: { 'sec-websocket-key': 'x' } })],
  ['Host naming another host', req('/api/orders', { headers: { host: 'evil.example' } })],
  ['Host naming the router', req('/api/orders', { headers: { Host: '192.168.1.1' } })],
  ['header with CR LF', req('/api/orders', { headers: { accept: 'x\r\nX-Evil: 1' } })],
  ['fragment', req('/api/orders#x')],
  ['empty segment', req('/api//orders')],
  ['GET with a body (request smuggling bait)', req('/api/orders', { body: true })],
  ['GET with a declared body', req('/api/orders', { headers: { 'content-length': '10' } })],
];

describe('gate', () => {
  it.each(ESCAPES)('refuses %s', (_name, r) => {
    const v = verdict(r);
    expect('refuse' in v ? v.code : 'ok').toBe('forbidden');
  });

  it.each([
    ['/'], ['/api'], ['/api/orders'], ['/api/orders/bd1be164-a589-4487-94c4-201498f06739'],
    ['/api/orders?$top=5&$orderby=Number%20desc'],
    ["/api/orders?$filter=Status%20has%20Resto.Front.Api.V5.Data.Orders.OrderStatus'New'"],
    ['/api/users/%D0%A1%D0%BC%D0%B8%D1%80%D0%BD%D0%BE%D0%B2%D0%B0%20%D0%9E%D0%BB%D1%8C%D0%B3%D0%B0'],
    ['/api/tables/1'], ['/api/kitchenorders'], ['/api/productgroups'], ['/api/orders/'],
    ['/api/orders?q=100%25'],
  ])('allows %s', (path) => {
    expect(verdict(req(path))).toEqual({ ok: true });
  });

  it('allows HEAD, and the Host of the plugin itself', () => {
    expect(verdict(req('/api/orders', { method: 'HEAD' }))).toEqual({ ok: true });
    expect(verdict(req('/api/orders', { headers: { host: FRONT } }))).toEqual({ ok: true });
  });

  it('allows more methods only when the policy says so, and never CONNECT', () => {
    const policy = { ...DEFAULT_GATE_POLICY, allowMethods: ['GET', 'HEAD', 'POST', 'CONNECT'] };
    expect(verdict(req('/api/orders', { method: 'POST' }), policy)).toEqual({ ok: true });
    expect(verdict(req('/api/orders', { method: 'CONNECT' }), policy)).toMatchObject({ code: 'forbidden' });
  });

  it('refuses a declared body over the limit as too_large', () => {
    const policy = { ...DEFAULT_GATE_POLICY, allowMethods: ['POST'], maxRequestBytes: 100 };
    expect(verdict(req('/api/orders', { method: 'POST', headers: { 'content-length': '101' } }), policy)).toMatchObject({ code: 'too_large' });
    expect(verdict(req('/api/orders', { method: 'POST', headers: { 'content-length': '100' } }), policy)).toEqual({ ok: true });
    expect(verdict(req('/api/orders', { method: 'POST', headers: { 'content-length': '-1' } }), policy)).toMatchObject({ code: 'forbidden' });
  });

  it('refuses any Host header when the plugin origin is unknown', () => {
    expect(check(req('/api/orders', { headers: { host: FRONT } }), DEFAULT_GATE_POLICY)).toMatchObject({ code: 'forbidden' });
  });
});

/**
 * Each rule, with a request only that rule refuses and the reason it must give
 * (the relay shows it to the EVVA caller, so "says why" is part of the contract).
 */
const POST_OK = { ...DEFAULT_GATE_POLICY, allowMethods: ['GET', 'HEAD', 'POST'] };
const REASONS: Array<[string, GateRequest, RegExp, typeof DEFAULT_GATE_POLICY?]> = [
  ['lower-case method', req('/api/orders', { method: 'get' }), /^malformed method$/],
  ['method with a lower-case prefix', req('/api/orders', { method: 'xGET' }), /^malformed method$/],
  ['method with a trailing letter in lower case', req('/api/orders', { method: 'GETx' }), /^malformed method$/],
  ['method of 17 letters', req('/api/orders', { method: 'A'.repeat(17) }), /^malformed method$/],
  ['CONNECT even when allowed', req('/api/orders', { method: 'CONNECT' }), /^method CONNECT never allowed$/, { ...DEFAULT_GATE_POLICY, allowMethods: ['CONNECT'] }],
  ['TRACE even when allowed', req('/api/orders', { method: 'TRACE' }), /^method TRACE never allowed$/, { ...DEFAULT_GATE_POLICY, allowMethods: ['TRACE'] }],
  ['TRACK even when allowed', req('/api/orders', { method: 'TRACK' }), /^method TRACK never allowed$/, { ...DEFAULT_GATE_POLICY, allowMethods: ['TRACK'] }],
  ['POST by default', req('/api/orders', { method: 'POST' }), /^method POST not allowed$/],
  ['NUL in the target', req('/api/orders\u0000'), /^control character in target$/],
  ['a target without a leading slash', req('api/orders'), /^not an origin-form target$/],
  ['an asterisk-form target', req('*'), /^not an origin-form target$/],
  ['protocol-relative', req('//evil.example/api'), /^protocol-relative target$/],
  ['a fragment', req('/api/orders#frag'), /^fragment in target$/],
  ['absolute-form inside the path', req('/http://evil.example/api'), /^absolute-form target$/],
  ['absolute-form, one-letter scheme', req('/a:b'), /^absolute-form target$/],
  ['a raw backslash', req('/api\\orders'), /^backslash in path$/],
  ['an encoded slash', req('/api%2forders'), /^encoded slash, dot, backslash, percent or control in path$/],
  ['an encoded unit separator in the path', req('/api/orders%1F'), /^encoded slash, dot, backslash, percent or control in path$/],
  ['a malformed escape in the path', req('/api/orders%zz'), /^malformed percent-escape$/],
  ['a half escape in the path', req('/api/orders%az'), /^malformed percent-escape$/],
  ['a malformed escape in the query only', req('/api/orders?x=%zz'), /^malformed percent-escape$/],
  ['a half escape in the query only', req('/api/orders?x=%az'), /^malformed percent-escape$/],
  ['an encoded CR in the query', req('/api/orders?x=%0d'), /^encoded control character in query$/],
  ['an encoded unit separator in the query', req('/api/orders?x=%1f'), /^encoded control character in query$/],
  ['an encoded DEL in the query', req('/api/orders?x=%7F'), /^encoded control character in query$/],
  ['invalid UTF-8 in the path', req('/api/%FF'), /^undecodable path$/],
  ['a dot-dot segment', req('/api/../admin'), /^dot segment in path$/],
  ['an empty segment', req('/api//orders'), /^empty segment in path$/],
  ['an empty segment at the end', req('/api/orders//'), /^empty segment in path$/],
  ['a path outside /api', req('/admin'), /^path outside \/ and \/api\/$/],
  ['login without a module', req('/api/login'), /^login\/logout are the companion's own$/],
  ['logout of a token', req('/api/LOGOUT/abc'), /^login\/logout are the companion's own$/],
  ['a control character in a header', req('/api/orders', { headers: { accept: 'a\u0001b' } }), /^control character in header accept$/],
  ['Upgrade alone', req('/api/orders', { headers: { Upgrade: 'websocket' } }), /^upgrade requests not allowed$/],
  ['Connection: upgrade first', req('/api/orders', { headers: { connection: 'Upgrade' } }), /^upgrade requests not allowed$/],
  ['Connection: upgrade without a space', req('/api/orders', { headers: { connection: 'keep-alive,upgrade' } }), /^upgrade requests not allowed$/],
  ['Connection: upgrade before a spaced comma', req('/api/orders', { headers: { connection: 'upgrade , keep-alive' } }), /^upgrade requests not allowed$/],
  ['Sec-WebSocket-Key alone', req('/api/orders', { headers: { 'Sec-WebSocket-Key': 'x' } }), /^upgrade requests not allowed$/],
  ['a Host naming another host', req('/api/orders', { headers: { host: 'evil.example' } }), /^Host names another host$/],
  ['GET with a body', req('/api/orders', { body: true }), /^GET with a body$/],
  ['HEAD with a body', req('/api/orders', { method: 'HEAD', body: true }), /^HEAD with a body$/],
  ['HEAD with a declared body', req('/api/orders', { method: 'HEAD', headers: { 'content-length': '1' } }), /^HEAD with a body$/],
  ['a Content-Length with trailing junk', req('/api/orders', { method: 'POST', headers: { 'content-length': '10abc' } }), /^malformed Content-Length$/, POST_OK],
  ['a 16-digit Content-Length', req('/api/orders', { method: 'POST', headers: { 'content-length': '1'.repeat(16) } }), /^malformed Content-Length$/, POST_OK],
  ['a body over the default 64 KiB', req('/api/orders', { method: 'POST', headers: { 'content-length': String(64 * 1024 + 1) } }), /^body over 65536 bytes$/, POST_OK],
];

describe('gate reasons', () => {
  it.each(REASONS)('refuses %s, saying why', (_name, r, reason, policy) => {
    const v = check(r, policy ?? DEFAULT_GATE_POLICY, FRONT);
    expect('refuse' in v ? v.refuse : 'allowed').toMatch(reason);
  });

  it.each([
    ['an encoded colon inside a key', req('/api/orders/2025-01-01T10%3A00')],
    ['a tab inside a header value', req('/api/orders', { headers: { accept: 'a\tb' } })],
    ['a Connection header without upgrade', req('/api/orders', { headers: { connection: 'keep-alive, upgrades' } })],
    ['an escaped percent sign in the query', req('/api/orders?q=100%25')],
    ['a POST of exactly 64 KiB when POST is allowed', req('/api/orders', { method: 'POST', headers: { 'content-length': String(64 * 1024) } }), POST_OK],
  ] as Array<[string, GateRequest, typeof DEFAULT_GATE_POLICY?]>)('allows %s', (_name, r, policy) => {
    expect(check(r, policy ?? DEFAULT_GATE_POLICY, FRONT)).toEqual({ ok: true });
  });

  it('reads a scheme only at the start of the path: a raw colon later is a shape problem, not absolute-form', () => {
    const v = check(req('/api/orders/a:b'), DEFAULT_GATE_POLICY, FRONT);
    expect('refuse' in v ? v.refuse : 'allowed').not.toMatch(/absolute-form|allowed/);
  });

  it('compares the Host with the plugin origin without regard to case', () => {
    expect(check(req('/api/orders', { headers: { host: 'localhost:9042' } }), DEFAULT_GATE_POLICY, 'LocalHost:9042')).toEqual({ ok: true });
    expect(check(req('/api/orders', { headers: { host: 'LOCALHOST:9042' } }), DEFAULT_GATE_POLICY, 'localhost:9042')).toEqual({ ok: true });
  });

  it('is read-only by default with a 64 KiB body limit', () => {
    expect(DEFAULT_GATE_POLICY).toEqual({ allowMethods: ['GET', 'HEAD'], maxRequestBytes: 65_536 });
  });
});

describe('gate path shapes and what passes on', () => {
  it.each([
    ['a single dot segment', '/api/./orders', /^dot segment in path$/],
    ['an encoded NUL inside a key', '/api/orders/a%00', /^encoded slash, dot, backslash, percent or control in path$/],
    ['a resource with a space', '/api/ord%20ers', /^resource name is not plain ASCII letters, digits, - or _$/],
    ['a path deeper than resource and key', '/api/orders/1/items', /^path deeper than \/api\/<resource>\/<key>$/],
    ['a key with a raw non-ASCII letter', '/api/users/Анна', /^key is not ASCII or percent-encoded$/],
  ])('refuses %s, saying why', (_name, path, reason) => {
    const v = check(req(path), DEFAULT_GATE_POLICY, FRONT);
    expect('refuse' in v ? v.refuse : 'allowed').toMatch(reason);
  });

  it('allows one-letter resources and keys', () => {
    expect(check(req('/api/a'), DEFAULT_GATE_POLICY, FRONT)).toEqual({ ok: true });
    expect(check(req('/api/a/b'), DEFAULT_GATE_POLICY, FRONT)).toEqual({ ok: true });
  });

  it('passes on the target without caller keys, and only the allowlisted headers', () => {
    const passed = ['accept', 'accept-language', 'accept-encoding', 'content-type', 'content-length', 'if-none-match', 'if-modified-since', 'prefer', 'odata-version', 'odata-maxversion'];
    const headers = Object.fromEntries([...passed.map((h) => [h.toUpperCase(), `v-${h}`]), ['cookie', 'key=x'], ['authorization', 'Bearer y'], ['x-http-method-override', 'DELETE']]);
    const a = admitted('/api/orders', headers);
    expect(a.path).toBe('/api/orders');
    expect(a.headers).toEqual(Object.fromEntries(passed.map((h) => [h, `v-${h}`])));
    expect(admitted('/api/orders?key=stolen', {}).path).toBe('/api/orders');
    expect(admitted('/api/orders?$top=1&KEY=x&%6Bey=y', {}).path).toBe('/api/orders?$top=1');
  });
});
