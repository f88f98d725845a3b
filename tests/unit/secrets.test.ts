import { describe, expect, it } from 'vitest';
import { answerVault, createVault, remoteSealer } from '../../main/desktop/secrets.ts';

const fakeSafeStorage = (available = true) => ({
  isAsyncEncryptionAvailable: async () => available,
  encryptStringAsync: async (s: string) => Buffer.from([...Buffer.from(s)].map((b) => b ^ 0x5a)),
  decryptStringAsync: async (b: Buffer) => ({ result: Buffer.from([...b].map((x) => x ^ 0x5a)).toString(), shouldReEncrypt: false }),
});

describe('sealing the device token', () => {
  it('round-trips through safeStorage and never returns the plain text sealed', async () => {
    const vault = createVault(fakeSafeStorage());
    const box = await vault.seal('evd_0123456789abcdef');
    expect(box).not.toContain('evd_');
    expect(await vault.open(box)).toBe('evd_0123456789abcdef');
  });

  it('refuses to seal where the system offers no protection', async () => {
    await expect(createVault(fakeSafeStorage(false)).seal('x')).rejects.toThrow(/not available/);
  });

  it('lets the core seal through the shell over a message port', async () => {
    const vault = createVault(fakeSafeStorage());
    let sealer: ReturnType<typeof remoteSealer> | null = null;
    // The "port": the core's requests go to the shell, whose answers come back to the core.
    sealer = remoteSealer((m) => answerVault(vault, m as { type: string }, (reply) => sealer!.receive(reply)));
    const box = await sealer.seal('evd_secret-secret-secret');
    expect(await sealer.open(box)).toBe('evd_secret-secret-secret');
  });

  it('passes a refusal back to the core as an error, and gives up on a silent shell', async () => {
    const vault = createVault(fakeSafeStorage(false));
    let sealer: ReturnType<typeof remoteSealer> | null = null;
    sealer = remoteSealer((m) => answerVault(vault, m as { type: string }, (reply) => sealer!.receive(reply)));
    await expect(sealer.seal('x')).rejects.toThrow(/not available/);
    const silent = remoteSealer(() => undefined, 20);
    await expect(silent.seal('x')).rejects.toThrow(/did not answer/);
  });
});
