/**
 * `evva-companion` as a newcomer meets it (issue 6): pairing that shows
 * progress and gives up with a hint, exit codes for monitoring, help and
 * version, and the effective settings with where each came from.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pair, PAIR_TIMEOUT_MS } from '../../main/core/tunnel/pair.ts';
import { TunnelError } from '../../main/core/tunnel/problems.ts';
import { runBin } from '../helpers/proc.ts';
import { COMPANION } from '../helpers/relay.ts';

const dirs: string[] = [];
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-cli-ux-')); dirs.push(d); return d; };

/** A "relay" that accepts connections and never says a word. */
async function silentServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const s = net.createServer((c) => { sockets.add(c); c.on('error', () => {}); });
  closers.push(() => { for (const c of sockets) c.destroy(); return new Promise((r) => s.close(r)); });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}

describe('evva-companion pair against a relay that never answers', () => {
  it('pair() gives up after its timeout with a hint to check the address, and does not promise to reconnect', async () => {
    const port = await silentServer();
    const t0 = performance.now();
    try {
      await pair({ code: 'K7QF-2MXD', relayUrl: `http://127.0.0.1:${port}`, dataDir: tmp(), companion: COMPANION, timeoutMs: 1_500 });
      throw new Error('should have failed');
    } catch (e) {
      expect(e).toBeInstanceOf(TunnelError);
      const p = (e as TunnelError).problem;
      expect(p.code).toBe('relay_timeout');
      expect(p.message).toMatch(/не ответил за 2 с/);
      expect(p.hint).toMatch(/--relay-url/);
      expect(p.hint).not.toMatch(/сам/);
    }
    expect(performance.now() - t0).toBeGreaterThan(1_400);
  });

  it('the bin shows progress while it waits, then the timeout and the hint (exit 1)', async () => {
    const port = await silentServer();
    const r = await runBin('evva-companion.js', ['pair', 'K7QF-2MXD', '--relay-url', `http://127.0.0.1:${port}`, '--data-dir', tmp()]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/связываюсь с сервером EVVA http:\/\/127\.0\.0\.1/);
    expect(r.out).toMatch(/жду ответа сервера EVVA \(\d+ с\)/);
    expect(r.out).toMatch(new RegExp(`не ответил за ${PAIR_TIMEOUT_MS / 1000} с`));
    expect(r.out).toMatch(/Проверьте адрес сервера EVVA \(--relay-url\)/);
    expect(r.out).not.toMatch(/переподключится сам/);
  }, 40_000);
});
