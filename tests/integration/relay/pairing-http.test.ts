/**
 * Pairing over real HTTP: the companion's `pair` against the relay, with the
 * Russian explanations a sysadmin would read.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock, type Clock } from '../../../common/clock.ts';
import { DEVICE_FILE, loadDevice, pair } from '../../../main/core/tunnel/pair.ts';
import type { TunnelError } from '../../../main/core/tunnel/problems.ts';
import { PAIRING_TTL_MS } from '../../../protocol/relay.ts';
import { API_KEY, COMPANION, createVenue, relayWithDataDir, problemOf, tempDir, type startRelay } from '../../helpers/relay.ts';

describe('pairing', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const setup = (opts: Parameters<typeof startRelay>[0] = {}) => relayWithDataDir(cleanups, opts);

  it('stores the device token readable by the owner only, and loads it back', async () => {
    const { relay, dataDir } = await setup();
    const v = await createVenue(relay.url, 'Кафе «Пушкин»');
    expect(v.pairingCode).toMatch(/^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/);
    const r = await pair({ code: v.pairingCode.toLowerCase().replace('-', ' '), relayUrl: relay.url, dataDir, companion: COMPANION });
    // The venue's name comes along, so the companion can show it instead of the id.
    expect(r).toEqual({ venueId: v.venueId, relayUrl: relay.url, venueName: 'Кафе «Пушкин»' });
    const file = join(dataDir, DEVICE_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const d = loadDevice(dataDir);
    expect(d).toMatchObject({ venueId: v.venueId, relayUrl: relay.url, venueName: 'Кафе «Пушкин»' });
    expect(d?.deviceToken).toMatch(/^evd_/);
    // The relay keeps only a hash: the token is in none of its files (database and WAL).
    const files = readdirSync(relay.dataDir).filter((f) => f.startsWith('relay.sqlite'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(readFileSync(join(relay.dataDir, f)).includes(Buffer.from(d!.deviceToken.slice(4))), f).toBe(false);
    const view = await (await fetch(`${relay.url}/v1/venues/${v.venueId}`, { headers: { authorization: `Bearer ${API_KEY}` } })).json();
    expect(view).toMatchObject({ companion: COMPANION, online: false, revoked: false });
  });

  it('refuses a wrong code, a reused code and a malformed one, saying what to do', async () => {
    const { relay, dataDir } = await setup();
    const v = await createVenue(relay.url);
    const wrong = await problemOf(pair({ code: 'ZZZZ-ZZZZ', relayUrl: relay.url, dataDir, companion: COMPANION }));
    expect(wrong).toMatchObject({ code: 'code_invalid' });
    expect(wrong.message).toMatch(/нет/);
    await pair({ code: v.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION });
    const reused = await problemOf(pair({ code: v.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION }));
    expect(reused).toMatchObject({ code: 'code_used' });
    expect(reused.hint).toContain('новый код');
    expect(reused.command).toContain('evva-companion pair');
    const malformed = await problemOf(pair({ code: 'K7QF-2MX0', relayUrl: relay.url, dataDir, companion: COMPANION }));
    expect(malformed.code).toBe('code_malformed');
  });

  it('refuses an expired code', async () => {
    let offset = 0;
    const clock: Clock = { ...realClock, now: () => Date.now() + offset };
    const { relay, dataDir } = await setup({ clock });
    const v = await createVenue(relay.url);
    offset = PAIRING_TTL_MS + 1000;
    const expired = await problemOf(pair({ code: v.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION }));
    expect(expired).toMatchObject({ code: 'code_expired' });
    expect(expired.message).toMatch(/истёк/);
    expect(loadDevice(dataDir)).toBeNull();
  });

  it('rate-limits attempts with 429 and Retry-After', async () => {
    const { relay, dataDir } = await setup({ pairLimits: { perIp: { max: 3, windowMs: 60_000 } } });
    for (let i = 0; i < 3; i++) expect((await problemOf(pair({ code: 'ZZZZ-ZZZ2', relayUrl: relay.url, dataDir, companion: COMPANION }))).code).toBe('code_invalid');
    const res = await fetch(`${relay.url}/v1/pair`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pairingCode: 'ZZZZ-ZZZ3', companion: COMPANION }) });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const limited = await problemOf(pair({ code: 'ZZZZ-ZZZ4', relayUrl: relay.url, dataDir, companion: COMPANION }));
    expect(limited.code).toBe('rate_limited');
    expect(limited.message).toMatch(/Слишком много/);
  });

  it('a new code for an existing venue replaces the old one; pairing again issues a new token', async () => {
    const { relay, dataDir } = await setup();
    const v = await createVenue(relay.url);
    const first = await pair({ code: v.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION });
    const tokenA = loadDevice(dataDir)!.deviceToken;
    const res = await fetch(`${relay.url}/v1/venues/${first.venueId}/pairing`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBe(201);
    const again = (await res.json()) as { pairingCode: string };
    await pair({ code: again.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION });
    const tokenB = loadDevice(dataDir)!.deviceToken;
    expect(tokenB).not.toBe(tokenA);
    // The old token is retired once the new one connects (tests/integration/companion/pairing-swap.test.ts).
    expect((await relay.relay.pairing.authenticate(tokenB))?.venueId).toBe(v.venueId);
  });

  it('revoking a venue also voids its unused pairing codes, new or re-issued', async () => {
    const { relay, dataDir } = await setup();
    const revoke = (id: string) => fetch(`${relay.url}/v1/venues/${id}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
    // A venue never paired: its first code dies with the revocation.
    const fresh = await createVenue(relay.url);
    expect((await revoke(fresh.venueId)).status).toBe(200);
    const refused = await problemOf(pair({ code: fresh.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION }));
    expect(refused.code).toBe('code_invalid');
    // A paired venue with a code issued for re-pairing: revoked, the code must not bring a device back.
    const v = await createVenue(relay.url);
    await pair({ code: v.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION });
    const res = await fetch(`${relay.url}/v1/venues/${v.venueId}/pairing`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
    const again = (await res.json()) as { pairingCode: string };
    expect((await revoke(v.venueId)).status).toBe(200);
    expect((await problemOf(pair({ code: again.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION }))).code).toBe('code_invalid');
    const view = await (await fetch(`${relay.url}/v1/venues/${v.venueId}`, { headers: { authorization: `Bearer ${API_KEY}` } })).json();
    expect(view).toMatchObject({ revoked: true });
    // A code issued after the revocation works: revoking is not a ban on the venue.
    const after = (await (await fetch(`${relay.url}/v1/venues/${v.venueId}/pairing`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } })).json()) as { pairingCode: string };
    expect(await pair({ code: after.pairingCode, relayUrl: relay.url, dataDir, companion: COMPANION })).toMatchObject({ venueId: v.venueId });
  });

  it('validates venue creation', async () => {
    const { relay } = await setup();
    const res = await fetch(`${relay.url}/v1/venues`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: '{"nom":1}' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'bad_request' });
    const bad = await fetch(`${relay.url}/v1/pair`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{broken' });
    expect(bad.status).toBe(400);
  });

  it('explains an unreachable relay and refuses an insecure one without calling it', async () => {
    const { relay, dataDir } = await setup();
    const port = relay.port;
    await relay.relay.close();
    const down = await problemOf(pair({ code: 'ZZZZ-ZZZZ', relayUrl: `http://127.0.0.1:${port}`, dataDir, companion: COMPANION }));
    expect(down.code).toBe('relay_unreachable');
    expect(down.message).toMatch(/Не удаётся связаться/);
    const insecure = await problemOf(pair({ code: 'ZZZZ-ZZZZ', relayUrl: 'http://relay.example.com', dataDir, companion: COMPANION }));
    expect(insecure.code).toBe('insecure_url');
  });

  it('reports a damaged device.json in Russian instead of guessing', async () => {
    const d = tempDir('companion');
    cleanups.push(() => d.remove());
    expect(loadDevice(d.dir)).toBeNull();
    writeFileSync(join(d.dir, DEVICE_FILE), '{"venueId": 1');
    try {
      loadDevice(d.dir);
      throw new Error('should have thrown');
    } catch (e) {
      expect((e as TunnelError).problem.code).toBe('device_file_invalid');
      expect((e as TunnelError).problem.hint).toContain('привяжите компаньон заново');
      expect((e as TunnelError).problem.command).toContain('evva-companion pair');
    }
  });
});
