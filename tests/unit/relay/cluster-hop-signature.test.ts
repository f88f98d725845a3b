import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HOP_BODY_HEADER, HOP_CLIENT_HEADER, HOP_COUNT_HEADER, HOP_HOST_HEADER, HOP_KEY_HEADER, HOP_MAX, HOP_MAX_SKEW_MS, HOP_PROTO_HEADER } from '../../../protocol/cluster.ts';
import { TIMEOUT_HEADER } from '../../../protocol/relay.ts';
import { EMPTY_DIGEST, NonceCache, SIGNED_HEADERS, signHop, verifyHop } from '../../../relay/cluster/hop.ts';

const SECRET = 'cluster-secret-0123456789abcdef-0123456789';
const NOW = 1_800_000_000_000;
const PATH = '/v1/venues/ven_1/front/api/orders?from=2026-01-01&x=%20';
const NONCE = '0123456789abcdef0123456789abcdef';
const HEADERS = {
  [HOP_COUNT_HEADER]: '1', [HOP_HOST_HEADER]: 'relay.evva.test', [HOP_PROTO_HEADER]: 'https', [HOP_CLIENT_HEADER]: '203.0.113.7',
  [HOP_KEY_HEADER]: '0123456789ab', [TIMEOUT_HEADER]: '15000', [HOP_BODY_HEADER]: createHash('sha256').update('{"amount":5000}').digest('hex'),
};
const h = signHop(SECRET, 'node-a', 'node-b', 'POST', PATH, HEADERS, NOW, NONCE);
const ok = { ok: true, from: 'node-a', nonce: NONCE, ts: NOW, hops: 1, digest: HEADERS[HOP_BODY_HEADER] };

describe('the hop signature', () => {
  it('round-trips: the same method, path, hop headers and time within the skew are accepted at the node it names', () => {
    expect(h).toMatch(/^v2 node-a node-b 1800000000000 [0-9a-f]{32} [0-9a-f]{64}$/);
    expect(verifyHop(SECRET, h, 'POST', PATH, HEADERS, 'node-b', NOW)).toEqual(ok);
    expect(verifyHop(SECRET, h, 'POST', PATH, HEADERS, 'node-b', NOW + HOP_MAX_SKEW_MS)).toEqual(ok);
    expect(verifyHop(SECRET, h, 'POST', PATH, HEADERS, 'node-b', NOW - HOP_MAX_SKEW_MS)).toEqual(ok);
  });

  it('refuses a tampered method, path, query, sender, time, nonce or a different secret', () => {
    const v = (hv: string, method = 'POST', path = PATH, secret = SECRET) => verifyHop(secret, hv, method, path, HEADERS, 'node-b', NOW);
    expect(v(h, 'DELETE')).toEqual({ ok: false, reason: 'signature' });
    expect(v(h, 'POST', PATH.replace('ven_1', 'ven_2'))).toEqual({ ok: false, reason: 'signature' });
    expect(v(h, 'POST', `${PATH}&admin=1`)).toEqual({ ok: false, reason: 'signature' });
    expect(v(h.replace('node-a', 'node-c'))).toEqual({ ok: false, reason: 'signature' });
    expect(v(h.replace(' 1800000000000 ', ' 1800000000001 '))).toEqual({ ok: false, reason: 'signature' });
    expect(v(h.replace(NONCE, 'f'.repeat(32)))).toEqual({ ok: false, reason: 'signature' });
    expect(v(h, 'POST', PATH, `${SECRET}x`)).toEqual({ ok: false, reason: 'signature' });
    const flipped = h.slice(0, -1) + (h.endsWith('0') ? '1' : '0');
    expect(v(flipped)).toEqual({ ok: false, reason: 'signature' });
  });

  it('signs every hop header: a changed caller key fingerprint, client, host, scheme, deadline, hop count or body digest is refused', () => {
    for (const name of SIGNED_HEADERS) {
      const changed = { ...HEADERS, [name]: name === HOP_COUNT_HEADER ? '2' : name === HOP_BODY_HEADER ? EMPTY_DIGEST : name === TIMEOUT_HEADER ? '120000' : `${HEADERS[name]}9` };
      expect({ name, r: verifyHop(SECRET, h, 'POST', PATH, changed, 'node-b', NOW) }).toEqual({ name, r: { ok: false, reason: 'signature' } });
    }
    // A header left out signs as empty: dropping the key fingerprint is a change too.
    const { [HOP_KEY_HEADER]: _k, ...without } = HEADERS;
    expect(verifyHop(SECRET, h, 'POST', PATH, without, 'node-b', NOW)).toEqual({ ok: false, reason: 'signature' });
  });

  it('is good only at the node it was signed for', () => {
    expect(verifyHop(SECRET, h, 'POST', PATH, HEADERS, 'node-c', NOW)).toEqual({ ok: false, reason: 'destination' });
  });

  it('refuses a replay outside the skew, in either direction', () => {
    expect(verifyHop(SECRET, h, 'POST', PATH, HEADERS, 'node-b', NOW + HOP_MAX_SKEW_MS + 1)).toEqual({ ok: false, reason: 'skew' });
    expect(verifyHop(SECRET, h, 'POST', PATH, HEADERS, 'node-b', NOW - HOP_MAX_SKEW_MS - 1)).toEqual({ ok: false, reason: 'skew' });
  });

  it('remembers every nonce within the skew window: a replay inside it is caught, and the cache is bounded', () => {
    const seen = new NonceCache(3);
    expect(seen.take('a', NOW, NOW)).toBe(true);
    expect(seen.take('a', NOW, NOW + 1_000)).toBe(false);
    expect(seen.take('b', NOW, NOW)).toBe(true);
    expect(seen.take('c', NOW, NOW)).toBe(true);
    // Full of live nonces: refused (never let through unremembered).
    expect(seen.take('d', NOW, NOW)).toBeNull();
    // Once their window has passed they are forgotten and room is made.
    expect(seen.take('d', NOW + HOP_MAX_SKEW_MS + 1, NOW + HOP_MAX_SKEW_MS + 1)).toBe(true);
    expect(seen.size).toBe(1);
  });

  it(`refuses hop counts outside 1..${HOP_MAX}, even correctly signed`, () => {
    for (const n of ['0', String(HOP_MAX + 1), '-1', '1.5', '', 'x']) {
      const headers = { ...HEADERS, [HOP_COUNT_HEADER]: n };
      const signed = signHop(SECRET, 'node-a', 'node-b', 'GET', '/x', headers, NOW);
      expect(verifyHop(SECRET, signed, 'GET', '/x', headers, 'node-b', NOW)).toEqual({ ok: false, reason: 'hops' });
    }
  });

  it('refuses malformed headers (the old v1 form too) without throwing', () => {
    const sig = 'a'.repeat(64);
    const bad: unknown[] = [
      undefined, null, 42, ['v2'], '', 'v2', `v2 node-a node-b ${NOW} ${NONCE}`, `v1 node-a ${NOW} ${sig}`, `v3 node-a node-b ${NOW} ${NONCE} ${sig}`,
      `v2 node-a node-b ${NOW} ${NONCE} ${'a'.repeat(63)}`, `v2 node-a node-b ${NOW} ${NONCE} ${'A'.repeat(64)}`, `v2 node-a node-b ${NOW} short ${sig}`,
      `v2 node-a node-b -5 ${NONCE} ${sig}`, `v2 node-a node-b 1e12 ${NONCE} ${sig}`, `v2 node a node-b ${NOW} ${NONCE} ${sig}`,
      `v2 ${'n'.repeat(129)} node-b ${NOW} ${NONCE} ${sig}`, `v2 node-a node-b ${NOW} ${NONCE} ${sig} extra`, 'x'.repeat(10_000),
    ];
    for (const v of bad) expect(verifyHop(SECRET, v, 'GET', '/x', HEADERS, 'node-b', NOW)).toEqual({ ok: false, reason: 'malformed' });
    // No body digest, or a malformed one: malformed.
    expect(verifyHop(SECRET, h, 'POST', PATH, { ...HEADERS, [HOP_BODY_HEADER]: 'nope' }, 'node-b', NOW)).toEqual({ ok: false, reason: 'malformed' });
  });
});
