import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { apiKeyCheck } from '../../../relay/auth.ts';

/** What the check answered: true (let through) or the status it wrote. */
function ask(check: ReturnType<typeof apiKeyCheck>, authorization?: string): true | number {
  let status = 0;
  const res = { setHeader() {}, writeHead(s: number) { status = s; }, end() {} } as unknown as ServerResponse;
  const req = { headers: authorization === undefined ? {} : { authorization } } as IncomingMessage;
  return check(req, res) ? true : status;
}

describe('the API-key check', () => {
  const A = 'key-a-0123456789abcdef';
  const B = 'key-b-0123456789abcdef';

  it('lets every configured key through, again and again, and nothing else, before and after a key was accepted', () => {
    const check = apiKeyCheck([A, B]);
    expect(ask(check, `Bearer ${A.slice(0, -1)}x`)).toBe(403);
    for (let i = 0; i < 3; i++) {
      expect(ask(check, `Bearer ${A}`)).toBe(true);
      expect(ask(check, `Bearer ${B}`)).toBe(true);
    }
    // Near misses of an accepted key: a prefix, an extension, another case, the other key's digest-free twin.
    for (const wrong of [A.slice(0, -1), `${A}0`, A.toUpperCase(), `${B.slice(0, 6)}${A.slice(6)}x`]) expect(ask(check, `Bearer ${wrong}`)).toBe(403);
    expect(ask(check)).toBe(401);
    expect(ask(check, A)).toBe(401);
    expect(ask(check, `Bearer ${A}`)).toBe(true);
  });

  it('does not carry an accepted key over to a check with other keys', () => {
    expect(ask(apiKeyCheck([A]), `Bearer ${A}`)).toBe(true);
    expect(ask(apiKeyCheck([B]), `Bearer ${A}`)).toBe(403);
  });
});
