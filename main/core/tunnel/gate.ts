/**
 * The gate: what the tunnel may ask of the plugin, enforced in the companion
 * (the relay is not trusted to do it). A pure function, so every escape
 * attempt is a one-line unit test.
 *
 * Allowed: `/` and `/api/**`, GET and HEAD (more only if the policy says so),
 * never the plugin's login/logout (the companion owns the one session).
 * Refused: absolute-form and protocol-relative targets, `.`/`..` segments,
 * backslashes, encoded slashes/dots/backslashes/percent signs (so nothing can
 * be decoded twice), control characters, CONNECT/TRACE, upgrades, a Host
 * naming another host, bodies over the limit.
 */

export interface GatePolicy {
  /** Methods allowed besides nothing; GET and HEAD by default. CONNECT and TRACE are refused whatever this says. */
  allowMethods: readonly string[];
  /** Largest request body, by Content-Length and by bytes actually streamed. */
  maxRequestBytes: number;
}

/** Read-only by default: every public client of the plugin only reads. */
export const DEFAULT_GATE_POLICY: GatePolicy = { allowMethods: ['GET', 'HEAD'], maxRequestBytes: 64 * 1024 };

export interface GateRequest {
  method: string;
  /** The origin-form target from the req frame: path and query. */
  path: string;
  headers: Record<string, string>;
  /** True when the request carries a body. */
  body?: boolean;
}

export type GateVerdict = { ok: true } | { refuse: string; code: 'forbidden' | 'too_large' };

const NEVER_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
const METHOD_RE = /^[A-Z]{1,16}$/;
// Control characters (C0, DEL) and anything else that has no business in a request line.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
/** Percent-escapes that could smuggle a separator or a second round of decoding: / . \ % and controls. */
const DANGEROUS_ESCAPE_RE = /%(2f|2e|5c|25|0[0-9a-f]|1[0-9a-f]|7f)/i;
/** Paths the tunnel never reaches even under /api: the session is the companion's. */
const DENIED_PREFIXES = ['/api/login', '/api/logout'];

const refuse = (reason: string, code: 'forbidden' | 'too_large' = 'forbidden'): GateVerdict => ({ refuse: reason, code });

/**
 * Judges one request. Guarantees: `ok` only for a GET/HEAD (or policy method)
 * of `/` or `/api/...` whose path has one meaning however it is decoded.
 * `frontHost` is the plugin's host:port; a Host header naming anything else is refused.
 */
export function check(req: GateRequest, policy: GatePolicy = DEFAULT_GATE_POLICY, frontHost?: string): GateVerdict {
  const method = req.method;
  if (!METHOD_RE.test(method)) return refuse('malformed method');
  if (NEVER_METHODS.has(method)) return refuse(`method ${method} never allowed`);
  if (!policy.allowMethods.includes(method)) return refuse(`method ${method} not allowed`);

  const target = req.path;
  if (CONTROL_RE.test(target)) return refuse('control character in target');
  if (!target.startsWith('/')) return refuse('not an origin-form target');
  if (target.startsWith('//')) return refuse('protocol-relative target');
  if (target.includes('#')) return refuse('fragment in target');
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  if (/^[a-z][a-z0-9+.-]*:/i.test(path.slice(1))) return refuse('absolute-form target');
  if (path.includes('\\')) return refuse('backslash in path');
  if (DANGEROUS_ESCAPE_RE.test(path)) return refuse('encoded slash, dot, backslash, percent or control in path');
  if (/%(?![0-9a-f]{2})/i.test(path) || /%(?![0-9a-f]{2})/i.test(query)) return refuse('malformed percent-escape');
  if (/%(0[0-9a-f]|1[0-9a-f]|7f)/i.test(query)) return refuse('encoded control character in query');

  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return refuse('undecodable path');
  }
  const segments = decoded.split('/').slice(1);
  if (segments.some((s) => s === '.' || s === '..')) return refuse('dot segment in path');
  if (segments.slice(0, -1).some((s) => s === '')) return refuse('empty segment in path');
  // The plugin (a .NET listener) matches paths case-insensitively, so the gate does too.
  const lower = decoded.toLowerCase();
  const allowed = lower === '/' || lower === '/api' || lower.startsWith('/api/');
  if (!allowed) return refuse('path outside / and /api/');
  if (DENIED_PREFIXES.some((p) => lower === p || lower.startsWith(`${p}/`))) return refuse('login/logout are the companion\'s own');

  for (const [name, value] of Object.entries(req.headers)) {
    if (CONTROL_RE.test(value.replace(/\t/g, ''))) return refuse(`control character in header ${name}`);
  }
  const h = lower_keys(req.headers);
  if (h['upgrade'] !== undefined || /(^|,)\s*upgrade\s*(,|$)/i.test(h['connection'] ?? '') || h['sec-websocket-key'] !== undefined) {
    return refuse('upgrade requests not allowed');
  }
  if (h['host'] !== undefined && (!frontHost || h['host'].toLowerCase() !== frontHost.toLowerCase())) {
    return refuse('Host names another host');
  }
  if ((method === 'GET' || method === 'HEAD') && (req.body || Number(h['content-length'] ?? 0) > 0)) return refuse(`${method} with a body`);
  const declared = h['content-length'];
  if (declared !== undefined) {
    if (!/^\d{1,15}$/.test(declared)) return refuse('malformed Content-Length');
    if (Number(declared) > policy.maxRequestBytes) return refuse(`body over ${policy.maxRequestBytes} bytes`, 'too_large');
  }
  return { ok: true };
}

function lower_keys(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}
