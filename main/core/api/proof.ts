/**
 * Proof that a local API is the companion that wrote local-api.json: the
 * client sends a fresh nonce without the token, the server answers with an
 * HMAC of it keyed by the token, and the client checks it with the token from
 * the file. Only then does the client send the token (or a pairing code).
 * Whatever took the port after a crash cannot answer, so it learns nothing.
 */
import crypto from 'node:crypto';
// Node's global fetch, not undici's export: the CLI's `status` verifies with this, and loading undici costs it ~100 ms.
import { z } from 'zod';
import type { LocalApiFile } from '../../../protocol/local.ts';
import { pidAlive } from '../lock.ts';
import { safeEqual } from './guard.ts';
import { askLocal } from './ask.ts';

/** A nonce the client makes: 32 random bytes, hex. */
export const Nonce = z.string().regex(/^[0-9a-f]{64}$/);
export const ProofAnswer = z.object({ pid: z.number().int(), proof: z.string().max(128) });
export type ProofAnswer = z.infer<typeof ProofAnswer>;

/** The HMAC-SHA256 of `nonce` keyed by `token`, in a context no other message uses. */
export function prove(token: string, nonce: string): string {
  return crypto.createHmac('sha256', token).update(`evva-local-api-proof:${nonce}`).digest('base64url');
}

export type Verified = { ok: true } | { ok: false; why: string };

/**
 * Checks, without revealing the token, that `info.url` is served by the live
 * process that wrote `info`. Guarantees: `ok` only if that pid is alive and the
 * server answered the nonce with the token's HMAC and the same pid.
 */
export async function verifyCompanion(info: LocalApiFile, timeoutMs = 5_000): Promise<Verified> {
  if (info.pid === undefined) return { ok: false, why: 'в local-api.json нет номера процесса' };
  if (!pidAlive(info.pid)) return { ok: false, why: `процесс ${info.pid}, записавший local-api.json, не работает` };
  const nonce = crypto.randomBytes(32).toString('hex');
  let answer: ProofAnswer;
  try {
    const { status, text } = await askLocal(`${info.url}/api/proof?nonce=${nonce}`, { timeoutMs });
    if (status !== 200) return { ok: false, why: `по адресу ${info.url} отвечает не компаньон (ответ ${status})` };
    if (text.length > 4096) return { ok: false, why: `по адресу ${info.url} отвечает не компаньон` };
    answer = ProofAnswer.parse(JSON.parse(text));
  } catch {
    return { ok: false, why: `локальный API ${info.url} не отвечает или отвечает не как компаньон` };
  }
  if (answer.pid !== info.pid || !safeEqual(answer.proof, prove(info.token, nonce))) {
    return { ok: false, why: `по адресу ${info.url} отвечает другая программа, не компаньон из этой папки данных` };
  }
  return { ok: true };
}
