import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../common/logger.ts';
import { readDevice, SEALED_PREFIX } from '../../../main/core/device.ts';
import { answerVault, createVault, remoteSealer } from '../../../main/desktop/secrets.ts';
import { ROOT } from '../../helpers/proc.ts';
import { createStandIn } from '../../standin/electron.ts';

type SafeStorage = Parameters<typeof createVault>[0];
/** The stand-in's safeStorage (async API, shouldReEncrypt after a key change), after ready. */
function safeStorage(keyVersion = 1): { store: SafeStorage; rotate(): void } {
  const s = createStandIn({ platform: 'linux', appPath: ROOT, keyVersion });
  s.control.ready();
  return { store: s.electron.safeStorage as SafeStorage, rotate: () => s.control.rotateKey() };
}
const unavailable: SafeStorage = {
  isAsyncEncryptionAvailable: async () => false,
  encryptStringAsync: async () => Buffer.alloc(0),
  decryptStringAsync: async () => ({ result: '', shouldReEncrypt: false }),
};
/** The core's sealer, talking to the shell's vault over a "port". */
function sealerFor(store: SafeStorage) {
  const vault = createVault(store);
  let sealer: ReturnType<typeof remoteSealer> | null = null;
  sealer = remoteSealer((m) => answerVault(vault, m as { type: string }, (reply) => sealer!.receive(reply)));
  return sealer;
}
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });

describe('sealing the device token', () => {
  it('round-trips through safeStorage and never returns the plain text sealed', async () => {
    const vault = createVault(safeStorage().store);
    const box = await vault.seal('evd_0123456789abcdef');
    expect(box).not.toContain('evd_');
    expect(await vault.open(box)).toEqual({ text: 'evd_0123456789abcdef', stale: false });
  });

  it('refuses to seal where the system offers no protection, and before the app is ready', async () => {
    await expect(createVault(unavailable).seal('x')).rejects.toThrow(/not available/);
    const early = createStandIn({ platform: 'win32', appPath: ROOT });
    await expect((early.electron.safeStorage as SafeStorage).encryptStringAsync('x')).rejects.toThrow('safeStorage cannot be used before app is ready');
  });

  it('lets the core seal through the shell over a message port', async () => {
    const sealer = sealerFor(safeStorage().store);
    const box = await sealer.seal('evd_secret-secret-secret');
    expect(await sealer.open(box)).toBe('evd_secret-secret-secret');
    expect(sealer.stale(box)).toBe(false);
  });

  it('passes a refusal back to the core as an error, and gives up on a silent shell', async () => {
    const sealer = sealerFor(unavailable);
    await expect(sealer.seal('x')).rejects.toThrow(/not available/);
    const silent = remoteSealer(() => undefined, 20);
    await expect(silent.seal('x')).rejects.toThrow(/did not answer/);
  });

  it('seals device.json again when safeStorage says the key changed (shouldReEncrypt), so the token outlives the next change', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-seal-'));
    dirs.push(dir);
    const { store, rotate } = safeStorage(1);
    const sealer = sealerFor(store);
    fs.writeFileSync(path.join(dir, 'device.json'), JSON.stringify({ relayUrl: 'https://relay', venueId: 'v1', deviceToken: 'evd_0123456789abcdef', pairedAt: '2026-11-28T12:00:00Z' }));
    await readDevice(dir, sealer, silentLogger);
    const first = (JSON.parse(fs.readFileSync(path.join(dir, 'device.json'), 'utf8')) as { deviceToken: string }).deviceToken;
    expect(first.startsWith(SEALED_PREFIX)).toBe(true);
    rotate();
    expect((await readDevice(dir, sealer, silentLogger))?.deviceToken).toBe('evd_0123456789abcdef');
    const second = (JSON.parse(fs.readFileSync(path.join(dir, 'device.json'), 'utf8')) as { deviceToken: string }).deviceToken;
    expect(second).not.toBe(first);
    expect(Buffer.from(second.slice(SEALED_PREFIX.length), 'base64').toString()).toMatch(/^v2:/);
    // The new box opens without the word to seal again.
    await readDevice(dir, sealer, silentLogger);
    expect((JSON.parse(fs.readFileSync(path.join(dir, 'device.json'), 'utf8')) as { deviceToken: string }).deviceToken).toBe(second);
  });
});
