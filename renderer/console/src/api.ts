/**
 * The console page's only way out: the relay's /console/api, with the session
 * cookie the browser holds (HttpOnly: this script never sees it). Errors come
 * back with their code and both languages' messages.
 */
export type Answer<T> =
  | { ok: true; status: number; data: T }
  | { ok: false; status: number; error: { error: string; message: string; messageEn: string } };

/** Told when any call finds the session gone (the app then shows the sign-in). */
let onSignedOut: (() => void) | null = null;
export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

/** The reader's time zone, so times inside the relay's sentences read as their own clock. */
const tz = (() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone; } catch { return ''; } })();

/** Adds lang and tz to a path's query. */
export function withLang(path: string, lang: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}lang=${lang}${tz ? `&tz=${encodeURIComponent(tz)}` : ''}`;
}

/** Calls the console API; never throws: a relay that cannot be reached is `status: 0`. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`/console/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    return { ok: false, status: 0, error: { error: 'offline', message: '', messageEn: '' } };
  }
  let json: unknown = null;
  if (res.status !== 204) {
    try { json = await res.json(); } catch { /* not JSON */ }
  }
  if (res.ok) return { ok: true, status: res.status, data: json as T };
  const e = json as { error?: string; message?: string; messageEn?: string } | null;
  if (res.status === 401 && e?.error === 'signed_out') onSignedOut?.();
  return { ok: false, status: res.status, error: { error: e?.error ?? `http_${res.status}`, message: e?.message ?? '', messageEn: e?.messageEn ?? e?.message ?? '' } };
}
