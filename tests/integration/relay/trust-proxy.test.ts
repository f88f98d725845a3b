/**
 * Pairing behind a reverse proxy: the relay believes only the
 * hops it is told to, counts IPv6 per /64, and a flood from one source cannot
 * stop a venue pairing from another.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fetch } from 'undici';
import { startBin } from '../../helpers/proc.ts';
import { API_KEY, COMPANION, createVenue, startRelay, tempDir } from '../../helpers/relay.ts';

/** A pairing attempt as the proxy forwards it: the proxy appends the address it saw to what the client sent. */
async function attempt(relayUrl: string, code: string, xff: string): Promise<number> {
  const res = await fetch(`${relayUrl}/v1/pair`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': xff },
    body: JSON.stringify({ pairingCode: code, companion: COMPANION }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('pairing behind a reverse proxy', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('with one trusted hop, a client spoofing X-Forwarded-For spends only its own share', async () => {
    const relay = await startRelay({ trustProxy: 1 });
    cleanups.push(() => relay.close());
    const v = await createVenue(relay.url);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      // The attacker writes a new left-most address every time; the proxy appends the real one.
      const s = await attempt(relay.url, 'ZZZZ-ZZZZ', `198.18.${i >> 8}.${i & 255}, 203.0.113.9`);
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    expect(statuses.get(404)).toBe(10); // PAIR_LIMIT_PER_IP: the rest were refused before the code was looked at
    expect(statuses.get(429)).toBe(290);
    expect(await attempt(relay.url, v.pairingCode, '192.0.2.50')).toBe(200);
  });

  it('counts a flood from one IPv6 /64 as one source', async () => {
    const relay = await startRelay({ trustProxy: 1 });
    cleanups.push(() => relay.close());
    const v = await createVenue(relay.url);
    let notLimited = 0;
    for (let i = 0; i < 200; i++) if (await attempt(relay.url, 'ZZZZ-ZZZZ', `2001:db8:5:6:${i.toString(16)}::1`) !== 429) notLimited++;
    expect(notLimited).toBe(10);
    expect(await attempt(relay.url, v.pairingCode, '2001:db8:5:7::1')).toBe(200);
  });

  it('without --trust-proxy ignores X-Forwarded-For: every spoofed address is the socket address', async () => {
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    const codes = [];
    for (let i = 0; i < 12; i++) codes.push(await attempt(relay.url, 'ZZZZ-ZZZZ', `198.18.0.${i}`));
    expect(codes.filter((c) => c === 429)).toHaveLength(2);
  });

  it('evva-relay serve takes --trust-proxy as hops or addresses and refuses anything else with exit 2', async () => {
    const d = tempDir('relay-trust');
    cleanups.push(() => d.remove());
    const bad = startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', d.dir, '--api-key', API_KEY, '--trust-proxy', '*']);
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/--trust-proxy/);
    const ok = startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', d.dir, '--api-key', API_KEY, '--trust-proxy', '127.0.0.1']);
    cleanups.push(() => ok.stop());
    const url = JSON.parse((await ok.waitFor(/\{"listening":"[^"]+"\}/))[0]).listening as string;
    const v = await createVenue(url);
    // The socket address is the trusted proxy, so the X-Forwarded-For entry it appended is the client.
    for (let i = 0; i < 12; i++) await attempt(url, 'ZZZZ-ZZZZ', '203.0.113.9');
    expect(await attempt(url, v.pairingCode, '192.0.2.50')).toBe(200);
  });
});
