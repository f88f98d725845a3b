/**
 * A receiver URL as the relay shows it back (`GET …/webhook`): credentials a
 * receiver put into its URL stay hidden. Logs show only the origin.
 */
const HIDDEN = '***';

/**
 * The URL with its user and password, every query value, its fragment and any
 * path segment that looks like a token (16+ characters mixing letters and
 * digits, as in /hooks/T0ABC/B0DEF/x7Gf…) replaced by `***`. Query names stay,
 * so a reader still recognises which receiver it is.
 */
export function maskUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return HIDDEN;
  }
  const userinfo = u.username || u.password ? `${HIDDEN}@` : '';
  const path = u.pathname.split('/').map((seg) => (looksSecret(decodeURIComponent(safe(seg))) ? HIDDEN : seg)).join('/');
  const query = [...u.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=${HIDDEN}`).join('&');
  return `${u.protocol}//${userinfo}${u.host}${path}${query ? `?${query}` : ''}`;
}

function safe(seg: string): string {
  try {
    decodeURIComponent(seg);
    return seg;
  } catch {
    return '';
  }
}

function looksSecret(seg: string): boolean {
  return seg.length >= 16 && /[A-Za-z]/.test(seg) && /\d/.test(seg);
}

/** Where a URL points, for logs: scheme, host and port only. */
export function originOf(raw: string): string {
  try { return new URL(raw).origin; } catch { return '?'; }
}
