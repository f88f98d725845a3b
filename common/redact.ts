/**
 * Redaction shared by every program's logs (companion, relay, sim): secrets
 * (plugin keys, tokens, passwords, pairing codes) are masked before any
 * transport sees a line.
 */
const SECRET_KEY = /(token|secret|passw|authorization|cookie|api_?key|session_?key|pairing_?code|^key$|^pin(_?code)?$)/i;
/** A PIN is a secret even as a number (elsewhere a number under a secret-looking name is a count or an age). */
const PIN_KEY = /^pin(_?code)?$/i;
const MASK = '[скрыто]';

/** How deep `redact` looks into objects; anything deeper is replaced, never logged unread. */
export const REDACT_MAX_DEPTH = 6;
const TOO_DEEP = '[слишком глубоко]';

/** The same names as SECRET_KEY, as they appear quoted in JSON text. */
const NAME = String.raw`(?:[A-Za-z_-]*(?:token|secret|passw|authorization|cookie|api_?key|session_?key|pairing_?code)[A-Za-z_-]*|key|pin|pin_?code)`;
/** `"password": "…"` in JSON text (a logged body, an error message), and a PIN written as a number. */
const JSON_FIELD = new RegExp(String.raw`("${NAME}"\s*:\s*)"(?:[^"\\]|\\.)*"`, 'gi');
const JSON_PIN = /("pin(?:_?code)?"\s*:\s*)-?\d+(?:\.\d+)?/gi;
/** The same inside a JSON string (a log line read back from a file: `\"password\":\"…\"`). */
const ESCAPED_FIELD = new RegExp(String.raw`(\\"${NAME}\\"\s*:\s*)\\"(?:[^"\\]|\\\\\\"|\\\\\\\\|\\\\[^"\\]|\\[^"\\])*\\"`, 'gi');
const ESCAPED_PIN = /(\\"pin(?:_?code)?\\"\s*:\s*)-?\d+(?:\.\d+)?/gi;
/**
 * Pairing codes as shown (K7QF-2MXD) or typed in lower case (the relay accepts
 * either); never the middle of a GUID (a dash or a letter on either side).
 */
const PAIRING_CODE = /(?<![\w-])(?:[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}|[2-9a-hj-np-z]{4}-[2-9a-hj-np-z]{4})(?![\w-])/g;
/**
 * Russian phones, kept partly (+7 *** ***-12-34): with +7, 7 or 8 in front
 * (spaced, bracketed or dashed), and a bare ten-digit mobile number (9XX…).
 */
const PHONE = /(?:\+7|(?<![\w+.])[78])[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*(\d{2})[\s-]*(\d{2})(?![\w.])/g;
const MOBILE = /(?<![\w+.-])9\d{2}[\s-]?\d{3}[\s-]?(\d{2})[\s-]?(\d{2})(?![\w.-])/g;

/** Replaces secrets inside free text: `key=…` query params, bearer tokens, logout paths, device tokens. */

export function redactText(s: string): string {
  return s
    .replace(/([?&;\s]key=)[^&\s;"']+/gi, `$1${MASK}`)
    .replace(/(bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${MASK}`)
    .replace(/(\/api\/logout\/)[^/?\s"']+/gi, `$1${MASK}`)
    .replace(/\bev[dk]_[A-Za-z0-9_-]{8,}/g, MASK)
    // Secret fields of JSON written into text (a plugin's answer, a body in an error), plain and escaped.
    .replace(JSON_FIELD, `$1"${MASK}"`)
    .replace(JSON_PIN, `$1"${MASK}"`)
    .replace(ESCAPED_FIELD, `$1\\"${MASK}\\"`)
    .replace(ESCAPED_PIN, `$1\\"${MASK}\\"`)
    // Passwords in URLs (a proxy's), pairing codes, and Russian phones kept partly (+7 *** ***-12-34):
    // the one redaction logs, diagnostics bundles and remote log tails all go through.
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@"']*:)[^@/?#\s"']+@/gi, `$1${MASK}@`)
    .replace(PAIRING_CODE, MASK)
    .replace(PHONE, '+7 *** ***-$1-$2')
    .replace(MOBILE, '+7 *** ***-$1-$2');
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
    out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && typeof v !== 'boolean' && (typeof v !== 'number' || PIN_KEY.test(k)) ? MASK : redact(v, depth + 1);
  }
  return out;
}
