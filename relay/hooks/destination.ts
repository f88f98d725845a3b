/**
 * Where a webhook may go: a public address only. A receiver URL comes from an
 * API caller (per venue) or the operator (relay-wide), and the relay POSTs
 * every venue's orders and payments to it, so it must never become a way into
 * the relay's own network: loopback (the relay's own API, other local
 * services), private and link-local ranges, cloud metadata endpoints.
 *
 * Checked twice: when the URL is set (literal addresses, names that can only
 * be internal, and what the name resolves to now), and again at every connect
 * (`guardedAgent`), on the address the socket actually goes to, so a name that
 * resolves to a public address when set and to a private one later (DNS
 * rebinding) is refused when it matters. Loopback receivers are allowed only
 * with the explicit test flag (`allowLoopback`: the demo and the tests, whose
 * receivers run on this machine).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import type { Agent, buildConnector } from 'undici';
import { addressKind, reachable } from '../address.ts';

export interface DestinationPolicy {
  /** Test mode only: receivers on 127.0.0.0/8 and ::1 (and `localhost`). Private ranges stay refused even then. */
  allowLoopback: boolean;
}

/** Names that only ever mean something inside a network (cloud metadata, the machine itself, mDNS). */
const INTERNAL_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'kubernetes.default']);
const INTERNAL_SUFFIXES = ['.internal', '.local', '.localhost', '.localdomain', '.home.arpa', '.lan', '.intranet', '.corp', '.svc', '.cluster.local'];
/** Special-use names (RFC 6761) that never exist on the internet: refused without asking DNS. */
const NEVER_SUFFIXES = ['.invalid', '.test', '.example'];

/** Thrown (as the connect error) when a socket would reach a refused address; `failure.ts` reports it as `blocked`. */
export class BlockedDestination extends Error {
  readonly code = 'EVVA_BLOCKED_DESTINATION';
  constructor(readonly why: string) {
    super(`webhook destination refused: ${why}`);
    this.name = 'BlockedDestination';
  }
}

function why(kind: ReturnType<typeof addressKind>): string {
  return kind === 'loopback' ? 'it is this machine (loopback)' : 'it is a private, link-local or reserved address';
}

/** Why the host part of a URL can never be a webhook receiver (without asking DNS), or null. */
export function hostProblem(hostname: string, policy: DestinationPolicy): string | null {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  if (isIP(host)) return reachable(host, policy.allowLoopback) ? null : `${host}: ${why(addressKind(host))}`;
  if (host === 'localhost') return policy.allowLoopback ? null : 'localhost: it is this machine (loopback)';
  if (INTERNAL_NAMES.has(host) || INTERNAL_SUFFIXES.some((s) => host.endsWith(s))) return `${host}: a name that only exists inside a network`;
  if (NEVER_SUFFIXES.some((s) => host.endsWith(s))) return `${host}: a name reserved never to exist on the internet (RFC 6761)`;
  // A name without a dot is completed by the resolver's search domains: an internal host.
  if (!host.includes('.')) return `${host}: a single-label name resolves only inside a network; use the receiver's full public name`;
  return null;
}

/**
 * Why the URL may not receive webhooks, checked when it is set: its host, then
 * what the name resolves to now (every address must be allowed). A name that
 * does not exist is refused; a resolver that is only having trouble is not
 * (the connect-time check still guards every delivery).
 */
export async function destinationProblem(url: string, policy: DestinationPolicy): Promise<string | null> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'only http(s) URLs';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const p = hostProblem(host, policy);
  if (p || isIP(host) || host === 'localhost') return p;
  const addrs = await new Promise<LookupAddress[] | NodeJS.ErrnoException>((resolve) => {
    dnsLookup(host, { all: true, verbatim: true }, (err, a) => resolve(err ?? a));
  });
  if (!Array.isArray(addrs)) {
    return addrs.code === 'ENOTFOUND' || addrs.code === 'ENODATA' ? `${host}: the name does not resolve` : null;
  }
  const bad = addrs.find((a) => !reachable(a.address, policy.allowLoopback));
  return bad ? `${host} resolves to ${bad.address}: ${why(addressKind(bad.address))}` : null;
}

/** A `lookup` for net/tls.connect that answers only with allowed addresses, and fails the connect if any is not. */
export function guardedLookup(policy: DestinationPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addrs) => {
      if (err) return callback(err, '', 4);
      const list = addrs as unknown as LookupAddress[];
      const bad = list.find((a) => !reachable(a.address, policy.allowLoopback));
      if (bad || list.length === 0) {
        return callback(new BlockedDestination(bad ? `${hostname} resolves to ${bad.address}: ${why(addressKind(bad.address))}` : `${hostname}: no address`), '', 4);
      }
      // net.connect asks for every address when it may try several (autoSelectFamily), for one otherwise.
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

type Connector = ReturnType<typeof buildConnector>;

/**
 * An undici Agent whose every socket goes only where the policy allows: names
 * through `guardedLookup`, IP literals checked before connecting, and the
 * connected socket's peer checked once more before a byte of the request is written.
 * undici is loaded here, by the first delivery: a relay's start would pay about 0.15 s of CPU to load it.
 */
export async function guardedAgent(policy: DestinationPolicy, o: { connections: number; keepAliveTimeout: number; connectTimeoutMs: number }): Promise<Agent> {
  const { Agent, buildConnector } = await import('undici');
  const base: Connector = buildConnector({ timeout: o.connectTimeoutMs, lookup: guardedLookup(policy) } as Parameters<typeof buildConnector>[0]);
  const connect: Connector = (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !reachable(host, policy.allowLoopback)) {
      callback(new BlockedDestination(`${host}: ${why(addressKind(host))}`), null);
      return;
    }
    base(opts, (err, socket) => {
      if (err || !socket) return callback(err ?? new Error('no socket'), null);
      const peer = (socket as Socket).remoteAddress;
      if (peer && !reachable(peer, policy.allowLoopback)) {
        socket.destroy();
        return callback(new BlockedDestination(`${peer}: ${why(addressKind(peer))}`), null);
      }
      callback(null, socket);
    });
  };
  return new Agent({ connect, connections: o.connections, keepAliveTimeout: o.keepAliveTimeout });
}
