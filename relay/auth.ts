/**
 * API-key authentication of the EVVA backend. Keys are compared as SHA-256
 * digests with timingSafeEqual against every configured key, so neither the
 * length nor the content of a key leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RelayErrorCode } from '../protocol/relay.ts';

/** Shortest API key the relay accepts: shorter ones are guessable. */
export const MIN_API_KEY_CHARS = 16;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** What audits name a caller by: 12 hex of the SHA-256 of its API key (never the key). */
export function keyFingerprint(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** The bearer credential of an Authorization header, or null. */
export function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? (m[1] as string) : null;
}

/** True when `presented` equals one of the keys; takes the same time whichever key (if any) matches. */
export function keyMatches(presented: string, keyDigests: Buffer[]): boolean {
  const d = digest(presented);
  let ok = false;
  for (const k of keyDigests) ok = timingSafeEqual(d, k) || ok;
  return ok;
}

/**
 * Checks the API key of a plain Node request; answers 401 (no credentials) or
 * 403 (wrong key) itself and returns false, or returns true for a good key.
 */
export function apiKeyCheck(keys: string[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  const digests = keys.map(digest);
  // Keys already accepted skip the hash on the next call (a digest per venue call was ~3% of the relay's CPU).
  // Only accepted keys are kept, so guesses never fill it, and a lookup that misses compares no key content.
  const accepted = new Set<string>();
  const answer = (res: ServerResponse, status: number, body: object) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  return (req, res) => {
    const presented = bearer(req.headers.authorization);
    if (!presented) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="evva-relay"');
      answer(res, 401, { error: RelayErrorCode.unauthorized, message: 'send Authorization: Bearer <api key>' });
      return false;
    }
    if (accepted.has(presented)) return true;
    if (!keyMatches(presented, digests)) {
      answer(res, 403, { error: RelayErrorCode.forbidden, message: 'API key not accepted' });
      return false;
    }
    if (accepted.size < digests.length) accepted.add(presented);
    return true;
  };
}
