/**
 * How the `evva-relay` commands reach a running relay: its venue API, with
 * an API key (Bearer), as EVVA's backend does. A change made through the
 * running relay acts at once (a revocation closes the venue's tunnel before
 * the answer comes back); one written into the database behind its back
 * would wait for the tunnel to reconnect, so `venue add/pairing/revoke` go
 * through the relay whenever one runs.
 *
 * Which relay: `--relay-url` (or EVVA_RELAY_URL), else the one that serves
 * the same data dir, found by the file it writes there while it listens
 * (SERVING_FILE: its pid and a loopback URL, never a key).
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Written in the data dir by a listening relay, removed when it closes. */
export const SERVING_FILE = 'serving.json';

/** What a command says when the relay refuses it (the API's error codes). */
export const REFUSALS: Record<string, string> = {
  remote_support_disabled: 'the venue has switched remote diagnostics off (its companion setting "allowRemoteDiagnostics")',
  venue_offline: 'the venue is offline: its companion has no tunnel up',
  unknown_venue: 'no such venue on this relay',
  unauthorized: 'the relay wants an API key (--api-key or EVVA_RELAY_API_KEYS)',
  forbidden: 'the relay did not accept this API key',
  timeout: 'the companion did not answer in time',
  unsupported: 'the venue runs a companion without remote support; it needs an update',
};

/** The first API key of --api-key or EVVA_RELAY_API_KEYS (comma-separated), or null. */
export function apiKeyFrom(flag: string | undefined): string | null {
  return flag ?? (process.env.EVVA_RELAY_API_KEYS ?? '').split(',').map((k) => k.trim()).find(Boolean) ?? null;
}

/**
 * Announces a listening relay in its data dir; returns the remover (which
 * leaves the file alone if another relay has announced itself there since).
 * A wildcard listen address is written as loopback: the commands run on this
 * machine. Best effort: a read-only data dir only means the commands write
 * the database directly.
 */
export function announce(dataDir: string, url: string): () => void {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  if (u.hostname === '[::]') u.hostname = '[::1]';
  const body = JSON.stringify({ pid: process.pid, url: u.origin });
  const file = join(dataDir, SERVING_FILE);
  try {
    // Whole or not at all: a command never reads half a file.
    writeFileSync(`${file}.tmp`, body, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch {
    return () => undefined;
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8') === body) rmSync(file, { force: true });
    } catch { /* already gone */ }
  };
}

/** The relay serving this data dir, if its process is alive; null when none is. */
export function servingRelay(dataDir: string): { url: string; pid: number } | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dataDir, SERVING_FILE), 'utf8'));
  } catch {
    return null;
  }
  const r = raw as { pid?: unknown; url?: unknown };
  if (typeof r.pid !== 'number' || typeof r.url !== 'string' || !/^https?:\/\//.test(r.url)) return null;
  try {
    process.kill(r.pid, 0);
  } catch (e) {
    // EPERM: alive, another user's. ESRCH: it died without removing the file (killed).
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return { url: r.url, pid: r.pid };
}

/** A relay's refusal or unreachability, said for the operator. */
export class AdminError extends Error {
  constructor(message: string, readonly status: number | null, readonly code: string | null, readonly noListener: boolean) {
    super(message);
  }
}

/** One call to a running relay's API; resolves to the JSON body of a 2xx answer, else rejects with an AdminError. */
export async function adminCall(base: string, key: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, timeoutMs = 20_000): Promise<unknown> {
  let res;
  // Node's own fetch: nothing here needs undici's dispatcher, and evaluating the undici bundle cost a `venue add`
  // through the running relay about as much CPU as the rest of the command (docs/testing.md, "How long a run takes").
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new AdminError(`cannot reach the relay at ${base}: ${cause ?? (e as Error).message}`, null, null, cause === 'ECONNREFUSED');
  }
  const json = await res.json().catch(() => ({})) as { error?: string; message?: string };
  if (res.status >= 200 && res.status < 300) return json;
  const why = (json.error && REFUSALS[json.error]) ?? json.message ?? '';
  throw new AdminError(`${res.status} ${json.error ?? ''}${why ? `: ${why}` : ''}`, res.status, json.error ?? null, false);
}
