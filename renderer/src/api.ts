/**
 * The page's only way out: the local API it was served from (or, in the
 * desktop app, the address the preload gives). JSON for reads and actions,
 * the /api/live WebSocket for updates.
 */
import type { Problem } from '../../protocol/local.ts';
import { desktop } from './bridge.ts';

export type Answer<T> =
  | { ok: true; status: number; data: T }
  | { ok: false; status: number; error: Problem & { fields?: string[] } };

const base = desktop?.apiUrl ?? '';

/** Calls the local API; never throws: a dead companion is `status: 0`. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (desktop) headers.authorization = `Bearer ${desktop.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    return { ok: false, status: 0, error: { code: 'offline', message: '' } };
  }
  let json: unknown = null;
  try { json = await res.json(); } catch { /* not JSON: a 404 from an older core, say */ }
  if (res.ok) return { ok: true, status: res.status, data: json as T };
  const error = (json as { error?: Problem & { fields?: string[] } } | null)?.error ?? { code: `http_${res.status}`, message: '' };
  return { ok: false, status: res.status, error };
}

/** The WebSocket address of the live stream. */
export function liveUrl(): string {
  const origin = base || window.location.origin;
  return `${origin.replace(/^http/, 'ws')}/api/live`;
}

/** The URL a download (e.g. the diagnostics bundle) can be fetched from in this page. */
export function href(path: string): string {
  return `${base}${path}`;
}
