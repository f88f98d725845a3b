/**
 * Port probe-back: the relay tries `http://<ip>:<port>/` where `ip` is the
 * address the venue's tunnel came from (never one a caller names), and
 * fingerprints the root page so the companion can tell its own plugin from
 * anything else answering there. Private, loopback, link-local and other
 * non-public addresses are refused; loopback is allowed only when the relay
 * runs with the explicit test flag.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { Agent, fetch } from 'undici';
import type { PortCheckResult } from '../protocol/diagnostics.ts';
import { pageFingerprint } from '../protocol/fingerprint.ts';
import { VERSION_HEADER } from '../protocol/front.ts';
import { versionFromPage } from '../main/core/front/client.ts';

/** The probe's whole budget: connect, head and body. */
export const PROBE_BACK_TIMEOUT_MS = 3_000;
/** Enough of the root page to fingerprint it; the rest is not read. */
export const PROBE_BACK_MAX_BYTES = 64 * 1024;

const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv6');
// No ::ffff:0:0/96 rule: BlockList would match every IPv4 address against it. IPv4-mapped
// addresses are unwrapped in refusal() and judged by the IPv4 rules instead.

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Why `ip` may not be probed, or null when it may. Only IP literals pass: no names, so no DNS tricks. */
export function refusal(ip: string, allowLoopback: boolean): string | null {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  const addr = v4mapped ?? ip;
  const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
  if (!family) return 'не IP-адрес';
  if (allowLoopback && LOOPBACK.check(addr, family)) return null;
  if (NOT_PUBLIC.check(addr, family)) return LOOPBACK.check(addr, family) ? 'адрес этого же компьютера' : 'частный или служебный адрес';
  return null;
}

/** Probes the root page at ip:port; resolves with the outcome, never rejects. */
export async function probeBack(ip: string, port: number, allowLoopback: boolean): Promise<PortCheckResult> {
  const refused = refusal(ip, allowLoopback);
  if (refused) return { ip, port, outcome: 'refused', detail: refused };
  const host = isIPv6(ip) ? `[${ip}]` : ip;
  const dispatcher = new Agent({ connect: { timeout: PROBE_BACK_TIMEOUT_MS }, keepAliveTimeout: 1 });
  try {
    const res = await fetch(`http://${host}:${port}/`, {
      redirect: 'manual', dispatcher, signal: AbortSignal.timeout(PROBE_BACK_TIMEOUT_MS), headers: { accept: 'text/html' },
    });
    const html = await readCapped(res.body as AsyncIterable<Uint8Array> | null);
    const version = res.headers.get(VERSION_HEADER)?.slice(0, 64) ?? versionFromPage(html);
    return {
      ip, port, outcome: 'reachable', status: res.status, fingerprint: pageFingerprint(html), ...(version ? { version } : {}),
    };
  } catch (e) {
    const err = e as { name?: string; cause?: { code?: string } };
    return { ip, port, outcome: 'unreachable', detail: (err.cause?.code ?? err.name ?? 'error').slice(0, 100) };
  } finally {
    await dispatcher.destroy().catch(() => undefined);
  }
}

async function readCapped(body: AsyncIterable<Uint8Array> | null): Promise<string> {
  if (!body) return '';
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const room = PROBE_BACK_MAX_BYTES - n;
    parts.push(Buffer.from(chunk.subarray(0, room)));
    n += Math.min(chunk.byteLength, room);
    if (n >= PROBE_BACK_MAX_BYTES) break;
  }
  return Buffer.concat(parts).toString('utf8');
}
