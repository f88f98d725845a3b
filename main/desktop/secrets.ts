/**
 * The device token sealed with the OS's protection (Electron safeStorage, async
 * API: DPAPI on Windows). The core, in its utilityProcess, has no safeStorage,
 * so it asks the shell over the parent port: `{type:'seal'|'open', id, text}`,
 * answered `{type:'sealed', id, text}` or `{type:'sealed', id, error}`.
 */
import type { SafeStorage } from 'electron';

export interface Vault {
  seal(plain: string): Promise<string>;
  /** `stale`: the OS says to seal it again (safeStorage's shouldReEncrypt: its key changed). */
  open(sealed: string): Promise<{ text: string; stale: boolean }>;
}

/** Seals to base64; refuses (throws) where the OS offers no protection, so nothing weaker is written. */
export function createVault(safeStorage: Pick<SafeStorage, 'isAsyncEncryptionAvailable' | 'encryptStringAsync' | 'decryptStringAsync'>): Vault {
  const ready = async () => {
    if (!(await safeStorage.isAsyncEncryptionAvailable())) throw new Error('safeStorage is not available on this system');
  };
  return {
    async seal(plain) {
      await ready();
      return (await safeStorage.encryptStringAsync(plain)).toString('base64');
    },
    async open(sealed) {
      await ready();
      const { result, shouldReEncrypt } = await safeStorage.decryptStringAsync(Buffer.from(sealed, 'base64'));
      return { text: result, stale: shouldReEncrypt === true };
    },
  };
}

/** Answers one seal/open request from the core; ignores other messages. Returns true when it was one. */
export function answerVault(vault: Vault, message: { type: string; [k: string]: unknown }, reply: (m: unknown) => void): boolean {
  if ((message.type !== 'seal' && message.type !== 'open') || typeof message.text !== 'string') return false;
  const id = message.id;
  const done = message.type === 'seal' ? vault.seal(message.text).then((text) => ({ text, stale: false })) : vault.open(message.text);
  done.then(
    ({ text, stale }) => reply({ type: 'sealed', id, text, ...(stale ? { stale: true } : {}) }),
    (e: Error) => reply({ type: 'sealed', id, error: e.message }),
  );
  return true;
}

/** The core's side: a Sealer that asks the shell through `post` and reads answers passed to `receive`. */
export function remoteSealer(post: (m: unknown) => void, timeoutMs = 10_000) {
  let next = 0;
  const waiting = new Map<number, { resolve(t: string, stale: boolean): void; reject(e: Error): void }>();
  /** Boxes the shell said to seal again (shouldReEncrypt), until the caller asks. */
  const stale = new Set<string>();
  const ask = (type: 'seal' | 'open', text: string) => new Promise<string>((resolve, reject) => {
    const id = ++next;
    const timer = setTimeout(() => { waiting.delete(id); reject(new Error('the desktop shell did not answer')); }, timeoutMs);
    waiting.set(id, {
      resolve: (t, old) => { clearTimeout(timer); if (type === 'open' && old) stale.add(text); resolve(t); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    });
    post({ type, id, text });
  });
  return {
    seal: (plain: string) => ask('seal', plain),
    open: (sealed: string) => ask('open', sealed),
    /** True (once) when opening `sealed` came with the OS's word to seal it again. */
    stale: (sealed: string) => stale.delete(sealed),
    /** Feed every message from the shell here; answers are matched by id. */
    receive(message: unknown) {
      const m = message as { type?: unknown; id?: unknown; text?: unknown; error?: unknown } | null;
      if (m?.type !== 'sealed' || typeof m.id !== 'number') return;
      const w = waiting.get(m.id);
      if (!w) return;
      waiting.delete(m.id);
      if (typeof m.text === 'string') w.resolve(m.text, (m as { stale?: unknown }).stale === true);
      else w.reject(new Error(String(m.error ?? 'sealing failed')));
    },
  };
}
