import { describe, expect, it } from 'vitest';
import { DEFAULT_GATE_POLICY, check, type GateRequest } from '../../main/core/tunnel/gate.ts';

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
