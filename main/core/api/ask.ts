/**
 * One GET to the local API of a running companion (the CLI's `status`, the
 * proof of identity), over node:http: it is part of Node's start-up snapshot,
 * where the global fetch loads its own HTTP stack on first use (about a fifth
 * of `evva-companion status`'s time). Loopback only; the answer is bounded.
 */
import http from 'node:http';

/** Largest answer read; a local API answer is a few KB. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** Resolves with the status and the text of the answer; rejects when nothing usable answers within `timeoutMs`. */
export function askLocal(url: string, opts: { headers?: Record<string, string>; timeoutMs: number }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: opts.headers, timeout: opts.timeoutMs }, (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error('answer too large'));
        else parts.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
