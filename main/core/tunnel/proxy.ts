/**
 * Which outbound HTTP proxy (if any) the companion uses to reach the relay
 * (the relay's reverse proxy into the tunnel is relay/forward.ts).
 *
 * - An explicit setting (`proxy: "http://host:3128"`) is used for every relay
 *   address, loopback included, except those NO_PROXY names.
 * - `proxy: null` means "no proxy", whatever the environment says.
 * - Otherwise HTTPS_PROXY / https_proxy / HTTP_PROXY / http_proxy (for wss and
 *   https; HTTP_PROXY / http_proxy for plain ws/http), except loopback
 *   addresses, which an inherited environment never proxies, and NO_PROXY.
 *
 * A proxy written without a scheme (`10.0.0.1:3128`, `proxy.corp:3128`, as
 * Windows tools often write it) means `http://` that host and port.
 *
 * NO_PROXY: comma- or space-separated host names, domain suffixes (`.corp` or
 * `corp` both match `relay.corp`), exact IPs, optional `:port`, or `*`.
 */
import { isIP } from 'node:net';
import { isLoopbackHost } from '../../../common/loopback.ts';

/** Proxy variables of the environment, in the order they are consulted. */
export const PROXY_ENV_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] as const;

/** The proxy as a URL (`host:port` becomes `http://host:port`), or null when it is not an HTTP(S) proxy address. */
export function normalizeProxy(raw: string): string | null {
  const v = raw.trim();
  if (!v) return null;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return null;
  }
  if (!['http:', 'https:'].includes(u.protocol) || !u.hostname || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) return null;
  return u.href.replace(/\/$/, '');
}

/** True when NO_PROXY names this host (and port). */
export function noProxyMatches(noProxy: string | undefined, url: URL): boolean {
  if (!noProxy) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' || url.protocol === 'wss:' ? '443' : '80');
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let name = entry;
    let entryPort: string | null = null;
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    const withPort = /^([^:]+):(\d+)$/.exec(entry);
    if (v6) {
      name = v6[1] as string;
      entryPort = v6[2] ?? null;
    } else if (withPort) {
      name = withPort[1] as string;
      entryPort = withPort[2] as string;
    }
    if (entryPort && entryPort !== port) continue;
    if (isIP(name) || isIP(host)) {
      if (name === host) return true;
      continue;
    }
    const bare = name.replace(/^\*?\./, '');
    if (host === bare || host.endsWith(`.${bare}`)) return true;
  }
  return false;
}

/** The proxy URL to use for `target`, or null for a direct connection. */
export function proxyFor(target: URL, opts: { proxy?: string | null; env?: NodeJS.ProcessEnv } = {}): string | null {
  const env = opts.env ?? process.env;
  const noProxy = env.NO_PROXY ?? env.no_proxy;
  if (opts.proxy === null || opts.proxy === '') return null;
  if (opts.proxy !== undefined) return noProxyMatches(noProxy, target) ? null : normalizeProxy(opts.proxy);
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  const fromEnv = secure
    ? env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy
    : env.HTTP_PROXY ?? env.http_proxy;
  if (!fromEnv) return null;
  if (isLoopbackHost(target.hostname) || noProxyMatches(noProxy, target)) return null;
  // loadSettings has refused an unusable value already (naming the variable); this only normalises.
  return normalizeProxy(fromEnv);
}
