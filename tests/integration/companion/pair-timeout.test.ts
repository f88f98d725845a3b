/**
 * `evva-companion pair` against a relay that never answers (a socket that
 * accepts and says nothing): the in-process pair() gives up after its timeout
 * with a hint, the bin shows progress for the production 15 s and then the
 * same hint, and a code that cannot be one is refused before anything is
 * contacted. Split from cli-ux.test.ts so the bin's 15 s wait runs beside the
 * rest of the CLI's tests.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pair, PAIR_TIMEOUT_MS } from '../../../main/core/tunnel/pair.ts';
import { TunnelError } from '../../../main/core/tunnel/problems.ts';
import { runBin } from '../../helpers/proc.ts';
import { COMPANION } from '../../helpers/relay.ts';

const dirs: string[] = [];
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-pair-timeout-')); dirs.push(d); return d; };

/** Connections the silent servers accepted (so a test can say nobody was contacted). */
let accepted = 0;
const silentHits = () => accepted;
/** A "relay" that accepts connections and never says a word. */
async function silentServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  accepted = 0;
  const s = net.createServer((c) => { accepted += 1; sockets.add(c); c.on('error', () => {}); });
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
      expect(p.hint).toMatch(/адрес сервера EVVA/);
      expect(p.command).toMatch(/--relay-url/);
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
    expect(r.out).toMatch(/Что делать: Проверьте адрес сервера EVVA/);
    expect(r.out).toMatch(/Команда: evva-companion pair КОД --relay-url/);
    expect(r.out).not.toMatch(/переподключится сам/);
  }, 40_000);

  it('refuses a code that cannot be one at once, before contacting the server or the running companion', async () => {
    // A relay address nothing listens on: were it contacted, the answer would be «Не удаётся связаться».
    const port = await silentServer();
    const r = await runBin('evva-companion.js', ['pair', 'abc', '--relay-url', `http://127.0.0.1:${port}`, '--data-dir', tmp()]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Код привязки «abc» записан неверно/);
    expect(r.out).not.toMatch(/связываюсь с сервером/);
    expect(silentHits()).toBe(0);
  });
});
