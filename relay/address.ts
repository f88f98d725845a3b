/**
 * What kind of address an IP literal is, for every outbound connection the
 * relay makes on someone else's say-so (the port probe-back, webhooks): only
 * public addresses may be reached, loopback only in an explicit test mode.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv4');
// NAT64, 6to4 and Teredo embed an IPv4 address that may be private: refused whole rather than unwrapped.
for (const [net, bits] of [
  // ::/96 holds the deprecated IPv4-compatible form (::7f00:1 spells 127.0.0.1): never a public receiver.
  ['::', 96], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 32], ['2001:db8::', 32], ['2002::', 16],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv6');
// No ::ffff:0:0/96 rule: BlockList would match every IPv4 address against it. IPv4-mapped
// addresses are unwrapped in addressKind() and judged by the IPv4 rules instead.

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export type AddressKind = 'public' | 'loopback' | 'private' | 'invalid';

/** `public`, `loopback` (127.0.0.0/8, ::1), `private` (every other non-public range) or `invalid` (not an IP literal). */
export function addressKind(ip: string): AddressKind {
  const bare = ip.replace(/^\[|\]$/g, '');
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  const addr = v4mapped ?? bare;
  const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
  if (!family) return 'invalid';
  if (LOOPBACK.check(addr, family)) return 'loopback';
  return NOT_PUBLIC.check(addr, family) ? 'private' : 'public';
}

/** True when the relay may connect to `ip`: public, or loopback with the explicit test flag. */
export function reachable(ip: string, allowLoopback: boolean): boolean {
  const k = addressKind(ip);
  return k === 'public' || (k === 'loopback' && allowLoopback);
}
