/**
 * The gate: what the tunnel may ask of the plugin, enforced in the companion
 * (the relay is not trusted to do it). A pure function, so every escape
 * attempt is a one-line unit test.
 *
 * An allowlist, not a denylist: only paths of the shapes the plugin serves
 * pass, `/`, `/api`, `/api/<resource>` and `/api/<resource>/<key>`, where the
 * resource is plain ASCII letters and digits, - or _ (never login/logout: the
 * companion owns the one session) and the key is ASCII or percent-encoded
 * (Russian names). GET and HEAD only, unless the policy says more.
 * Refused besides: absolute-form and protocol-relative targets, `.`/`..`
 * segments, backslashes, encoded slashes/dots/backslashes/percent signs (so
 * nothing can be decoded twice), control characters, CONNECT/TRACE, upgrades,
 * a Host naming another host, bodies over the limit.
 *
 * What passes is then narrowed by `admitted()`: only allowlisted request
 * headers (no method-override or forwarding headers, no cookies), and no
 * caller key in the query under any spelling.
 */
import { DEFAULTS } from '../table.ts';
import { withoutKeys } from '../upstream.ts';

export interface GatePolicy {
  /** Methods allowed besides nothing; GET and HEAD by default. CONNECT and TRACE are refused whatever this says. */
  allowMethods: readonly string[];
  /** Largest request body, by Content-Length and by bytes actually streamed. */
  maxRequestBytes: number;
}

/** The table's tunnel defaults (read-only: every public client of the plugin only reads), for a gate used without settings. */
export const DEFAULT_GATE_POLICY: GatePolicy = { allowMethods: DEFAULTS.tunnel.allowMethods, maxRequestBytes: DEFAULTS.tunnel.maxRequestBytes };

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
/** Resources the tunnel never reaches: the session is the companion's. */
const DENIED_RESOURCES = new Set(['login', 'logout']);
/** A resource name: ASCII letters and digits (and inner - or _), nothing a server could trim or normalise away. */
const RESOURCE_RE = /^[A-Za-z](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$/;
/** A key: unreserved ASCII or percent-escapes (UTF-8 names), not starting or ending with a dot. */
const KEY_RE = /^(?!\.)(?:[A-Za-z0-9_~.-]|%[0-9A-Fa-f]{2}){1,512}(?<!\.)$/;
/**
 * Request headers that reach the plugin; everything else is dropped, notably
 * x-http-method-override, x-original-url, x-forwarded-*, forwarded, cookie,
 * authorization and host.
 */
export const PASSED_HEADERS = new Set([
  'accept', 'accept-language', 'accept-encoding', 'content-type', 'content-length',
  'if-none-match', 'if-modified-since', 'prefer', 'odata-version', 'odata-maxversion',
]);

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
  const shape = pathShape(path);
  if (shape !== true) return refuse(shape);

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

/**
 * Checks the raw (undecoded) path against the shapes the plugin serves; true
 * or the reason. The plugin (a .NET listener) matches case-insensitively, so
 * login is refused in any case.
 */
function pathShape(path: string): true | string {
  if (path === '/') return true;
  const parts = path.split('/').slice(1);
  if (parts[0]?.toLowerCase() !== 'api') return 'path outside / and /api/';
  const [, resource, key, ...rest] = parts;
  if (resource === undefined || (resource === '' && key === undefined)) return true; // /api, /api/
  if (!RESOURCE_RE.test(resource)) return 'resource name is not plain ASCII letters, digits, - or _';
  if (DENIED_RESOURCES.has(resource.toLowerCase())) return 'login/logout are the companion\'s own';
  if (key === undefined || (key === '' && rest.length === 0)) return true; // /api/orders, /api/orders/
  if (rest.length > 0) return 'path deeper than /api/<resource>/<key>';
  if (!KEY_RE.test(key)) return 'key is not ASCII or percent-encoded';
  return true;
}

/**
 * Narrows a request the gate allowed to what reaches the plugin: the target
 * with every caller key removed, and the allowlisted headers only.
 */
export function admitted(path: string, headers: Record<string, string>): { path: string; headers: Record<string, string> } {
  const q = path.indexOf('?');
  const query = q < 0 ? [] : withoutKeys(path.slice(q + 1));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (PASSED_HEADERS.has(lower)) out[lower] = value;
  }
  return { path: (q < 0 ? path : path.slice(0, q)) + (query.length ? `?${query.join('&')}` : ''), headers: out };
}

function lower_keys(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}
