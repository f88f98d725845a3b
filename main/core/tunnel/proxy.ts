/**
 * Which HTTP proxy (if any) the companion uses to reach the relay.
 *
 * - An explicit setting (`proxy: "http://host:3128"`) is used for every relay
 *   address, loopback included, except those NO_PROXY names.
 * - `proxy: null` means "no proxy", whatever the environment says.
 * - Otherwise HTTPS_PROXY / https_proxy / HTTP_PROXY / http_proxy (for wss and
 *   https; HTTP_PROXY / http_proxy for plain ws/http), except loopback
 *   addresses, which an inherited environment never proxies, and NO_PROXY.
 *
 * NO_PROXY: comma- or space-separated host names, domain suffixes (`.corp` or
 * `corp` both match `relay.corp`), exact IPs, optional `:port`, or `*`.
 */
import { isIP } from 'node:net';
import { isLoopbackHost } from '../loopback.ts';

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
  if (opts.proxy !== undefined) return noProxyMatches(noProxy, target) ? null : opts.proxy;
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  const fromEnv = secure
    ? env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy
    : env.HTTP_PROXY ?? env.http_proxy;
  if (!fromEnv) return null;
  if (isLoopbackHost(target.hostname) || noProxyMatches(noProxy, target)) return null;
  return fromEnv;
}
