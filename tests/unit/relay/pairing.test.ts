import { afterEach, describe, expect, it } from 'vitest';
import { realClock, type Clock } from '../../../common/clock.ts';
import { PAIRING_ALPHABET, PAIRING_CODE_RE, PAIRING_TTL_MS } from '../../../protocol/relay.ts';
import { PAIR_LIMIT_GLOBAL, PAIR_LIMIT_PER_IP, Pairing, RateLimiter, newPairingCode, newVenueId, normalizePairingCode, sha256, sourceKey } from '../../../relay/pairing.ts';
import { trustSetting } from '../../../relay/edge.ts';
import { openStore, type RelayStore } from '../../../relay/db/store.ts';
import { tempDir } from '../../helpers/relay.ts';

function clockAt(start: number): Clock & { advance(ms: number): void } {
  let offset = 0;
  return { ...realClock, now: () => start + offset, mono: () => start + offset, advance(ms) { offset += ms; } };
}
const COMPANION = { version: '1', hostname: 'pos' };

describe('pairing codes', () => {
  const dirs: Array<{ remove(): void }> = [];
  const stores: RelayStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) d.remove();
  });
  async function setup() {
    const d = tempDir('pairing');
    dirs.push(d);
    const store = await openStore({ dataDir: d.dir });
    stores.push(store);
    const clock = clockAt(Date.UTC(2025, 0, 1));
    return { store, clock, pairing: new Pairing(store, clock) };
  }

  it('look like K7QF-2MXD and avoid 0/O/1/I', () => {
    for (let i = 0; i < 500; i++) {
      const c = newPairingCode();
      expect(c).toMatch(PAIRING_CODE_RE);
      expect(c).not.toMatch(/[01OI]/);
    }
    expect(PAIRING_ALPHABET).toHaveLength(32);
  });

  it('forgive case, spaces and a missing dash, and refuse impossible ones', () => {
    expect(normalizePairingCode(' k7qf 2mxd ')).toBe('K7QF-2MXD');
    expect(normalizePairingCode('k7qf2mxd')).toBe('K7QF-2MXD');
    expect(normalizePairingCode('K7QF-2MX0')).toBeNull();
    expect(normalizePairingCode('K7QF-2MX')).toBeNull();
  });

  it('work exactly once, and the store keeps only hashes', async () => {
    const { store, pairing } = await setup();
    const v = await pairing.createVenue('Cafe');
    const first = await pairing.pair(v.pairingCode.toLowerCase(), COMPANION);
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(first.deviceToken).toMatch(/^evd_/);
    expect(await pairing.pair(v.pairingCode, COMPANION)).toEqual({ ok: false, reason: 'used' });
    const row = await store.getVenue(v.venueId);
    expect(row?.tokenHash).toBe(sha256(first.deviceToken));
    expect(JSON.stringify(row)).not.toContain(first.deviceToken);
    expect((await pairing.authenticate(first.deviceToken))?.venueId).toBe(v.venueId);
  });

  it('expire after 15 minutes', async () => {
    const { clock, pairing } = await setup();
    const v = await pairing.createVenue('Cafe');
    expect(Date.parse(v.pairingExpiresAt) - clock.now()).toBe(PAIRING_TTL_MS);
    clock.advance(PAIRING_TTL_MS);
    expect(await pairing.pair(v.pairingCode, COMPANION)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuse a code that cannot be one without looking it up', async () => {
    const { pairing } = await setup();
    const v = await pairing.createVenue('Cafe');
    expect(await pairing.pair('K7QF-2MX0', COMPANION)).toEqual({ ok: false, reason: 'malformed' });
    expect(await pairing.pair('', COMPANION)).toEqual({ ok: false, reason: 'malformed' });
    // The venue's real code still works afterwards: a malformed attempt used nothing up.
    expect((await pairing.pair(v.pairingCode, COMPANION)).ok).toBe(true);
  });

  it('name venues with 16 unguessable base32 symbols', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newVenueId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^ven_[a-z2-7]{16}$/);
  });

  it('refuse an unknown code', async () => {
    const { pairing } = await setup();
    await pairing.createVenue('Cafe');
    expect(await pairing.pair('ABCD-EFGH', COMPANION)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('a new code replaces the unused one, and pairing again swaps the token in two phases', async () => {
    const { pairing, store } = await setup();
    const v = await pairing.createVenue('Cafe');
    const second = await pairing.issueCode(v.venueId);
    expect(await pairing.pair(v.pairingCode, COMPANION)).toEqual({ ok: false, reason: 'invalid' });
    const a = await pairing.pair(second.pairingCode, COMPANION);
    const b = await pairing.pair((await pairing.issueCode(v.venueId)).pairingCode, COMPANION);
    if (!a.ok || !b.ok) throw new Error('pairing failed');
    // Until the new token connects, both work: a companion that could not store b keeps its tunnel on a.
    expect((await pairing.authenticate(a.deviceToken))?.venueId).toBe(v.venueId);
    expect((await pairing.authenticate(b.deviceToken))?.venueId).toBe(v.venueId);
    expect(await store.promoteToken(v.venueId, sha256(a.deviceToken))).toBe(false);
    expect(await store.promoteToken(v.venueId, sha256(b.deviceToken))).toBe(true);
    expect(await pairing.authenticate(a.deviceToken)).toBeNull();
    expect((await pairing.authenticate(b.deviceToken))?.venueId).toBe(v.venueId);
  });

  it('revocation refuses both the current and a pending token', async () => {
    const { store, pairing, clock } = await setup();
    const v = await pairing.createVenue('Cafe');
    const a = await pairing.pair(v.pairingCode, COMPANION);
    const b = await pairing.pair((await pairing.issueCode(v.venueId)).pairingCode, COMPANION);
    if (!a.ok || !b.ok) throw new Error('pairing failed');
    await store.revoke(v.venueId, clock.now());
    expect(await pairing.authenticate(a.deviceToken)).toBeNull();
    expect(await pairing.authenticate(b.deviceToken)).toBeNull();
  });

  it('revocation refuses the token from then on', async () => {
    const { store, pairing, clock } = await setup();
    const v = await pairing.createVenue('Cafe');
    const a = await pairing.pair(v.pairingCode, COMPANION);
    if (!a.ok) throw new Error('pairing failed');
    expect(await store.revoke(v.venueId, clock.now())).toBe(true);
    expect(await pairing.authenticate(a.deviceToken)).toBeNull();
    expect(await store.revoke('ven_nope', clock.now())).toBe(false);
  });
});

describe('pairing rate limit', () => {
  it('limits each address, then everyone, and says when to come back', () => {
    const clock = clockAt(0);
    const rl = new RateLimiter(clock, { max: 3, windowMs: 60_000 }, { max: 5, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) expect(rl.take('1.1.1.1').ok).toBe(true);
    const r = rl.take('1.1.1.1');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.retryAfterMs).toBe(60_000);
    expect(rl.take('2.2.2.2').ok).toBe(true);
    expect(rl.take('3.3.3.3').ok).toBe(true);
    expect(rl.take('4.4.4.4').ok).toBe(false); // global limit of 5 reached
    clock.advance(60_000);
    expect(rl.take('1.1.1.1').ok).toBe(true);
  });
});

describe('pairing rate limit windows', () => {
  it('gives the global budget back after its window, and refuses again once it is spent', () => {
    const clock = clockAt(Date.UTC(2025, 0, 1));
    const rl = new RateLimiter(clock, { max: 100, windowMs: 60_000 }, { max: 2, windowMs: 10_000 });
    expect(rl.take('a').ok).toBe(true);
    clock.advance(4_000);
    expect(rl.take('b').ok).toBe(true);
    const refused = rl.take('c');
    expect(refused).toEqual({ ok: false, retryAfterMs: 6_000 });
    clock.advance(6_000);
    expect(rl.take('c').ok).toBe(true);
    expect(rl.take('d').ok).toBe(true);
    expect(rl.take('e')).toEqual({ ok: false, retryAfterMs: 10_000 });
  });

  it('tells a source exactly how long until its own window ends', () => {
    const clock = clockAt(Date.UTC(2025, 0, 1));
    const rl = new RateLimiter(clock, { max: 1, windowMs: 60_000 }, { max: 100, windowMs: 60_000 });
    expect(rl.take('a').ok).toBe(true);
    clock.advance(15_000);
    expect(rl.take('a')).toEqual({ ok: false, retryAfterMs: 45_000 });
  });

  it('remembers 10 000 sources, then forgets the oldest first', () => {
    const clock = clockAt(Date.UTC(2025, 0, 1));
    const rl = new RateLimiter(clock, { max: 1, windowMs: 60_000 }, { max: 1_000_000, windowMs: 60_000 });
    expect(rl.take('first').ok).toBe(true);
    for (let i = 1; i < 10_000; i++) rl.take(`s${i}`);
    expect(rl.take('first').ok).toBe(false); // 10 000 remembered, itself included
    rl.take('one-more');
    expect(rl.take('first').ok).toBe(true); // the oldest window was forgotten
  });

  it('defaults to 10 attempts a minute per source and 120 in all', () => {
    expect(PAIR_LIMIT_PER_IP).toEqual({ max: 10, windowMs: 60_000 });
    expect(PAIR_LIMIT_GLOBAL).toEqual({ max: 120, windowMs: 60_000 });
  });
});

describe('pairing sources', () => {
  it('count IPv6 per /64 and IPv4-mapped addresses as IPv4', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe(sourceKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(sourceKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:3::1')).not.toBe(sourceKey('2001:db8:1:2::1'));
    expect(sourceKey('2001:0db8:0001:0002:0:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(sourceKey('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(sourceKey('10.0.0.1')).toBe('10.0.0.1');
  });

  it('a flood from one /64 cannot spend the budget another source needs', () => {
    const clock = clockAt(0);
    const rl = new RateLimiter(clock, { max: 10, windowMs: 60_000 }, { max: 120, windowMs: 60_000 });
    let allowed = 0;
    for (let i = 0; i < 5_000; i++) if (rl.take(`2001:db8:1:2::${(i % 65535).toString(16)}`).ok) allowed++;
    expect(allowed).toBe(10);
    expect(rl.take('2001:db8:99:1::1').ok).toBe(true);
    expect(rl.take('198.51.100.7').ok).toBe(true);
  });

  it('refuses a trust-proxy setting that would believe every hop', () => {
    expect(trustSetting(1)).toBe(1);
    expect(trustSetting(['10.0.0.5', '10.1.0.0/16'])).toEqual(['10.0.0.5', '10.1.0.0/16']);
    expect(trustSetting(undefined)).toBe(false);
    expect(() => trustSetting(-1)).toThrow();
    expect(() => trustSetting(['*'])).toThrow();
    expect(() => trustSetting([])).toThrow();
  });
});
