/**
 * Redaction shared by every program's logs (companion, relay, sim): secrets
 * (plugin keys, tokens, passwords, pairing codes) are masked before any
 * transport sees a line.
 */
const SECRET_KEY = /(token|secret|passw|authorization|cookie|api_?key|pairing_?code|^key$|^pin(code)?$)/i;
const MASK = '[скрыто]';

/** How deep `redact` looks into objects; anything deeper is replaced, never logged unread. */
export const REDACT_MAX_DEPTH = 6;
const TOO_DEEP = '[слишком глубоко]';

/** Replaces secrets inside free text: `key=…` query params, bearer tokens, logout paths, device tokens. */

export function redactText(s: string): string {
  return s
    .replace(/([?&;\s]key=)[^&\s;"']+/gi, `$1${MASK}`)
    .replace(/(bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${MASK}`)
    .replace(/(\/api\/logout\/)[^/?\s"']+/gi, `$1${MASK}`)
    .replace(/\bev[dk]_[A-Za-z0-9_-]{8,}/g, MASK)
    // Passwords in URLs (a proxy's), pairing codes, and Russian phones kept partly (+7 *** ***-12-34):
    // the one redaction logs, diagnostics bundles and remote log tails all go through.
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@"']*:)[^@/?#\s"']+@/gi, `$1${MASK}@`)
    .replace(/\b[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}\b/g, MASK)
    .replace(/(?:\+7|(?<![\d+])8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*(\d{2})[\s-]*(\d{2})(?!\d)/g, '+7 *** ***-$1-$2');
}

/** Deep-copies `value` with secret-looking fields masked and secrets in strings removed. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > REDACT_MAX_DEPTH) return TOO_DEEP;
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && typeof v !== 'boolean' && typeof v !== 'number' ? MASK : redact(v, depth + 1);
  }
  return out;
}
