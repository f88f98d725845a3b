/**
 * Port probe-back: the relay tries `http://<ip>:<port>/` where `ip` is the
 * address the venue's tunnel came from (never one a caller names), and
 * fingerprints the root page so the companion can tell its own plugin from
 * anything else answering there. Private, loopback, link-local and other
 * non-public addresses are refused; loopback is allowed only when the relay
 * runs with the explicit test flag.
 */
import { isIPv6 } from 'node:net';
import type { PortCheckResult } from '../protocol/diagnostics.ts';
import { pageFingerprint } from '../protocol/fingerprint.ts';
import { VERSION_HEADER, versionFromPage } from '../protocol/front.ts';
import { addressKind, reachable } from './address.ts';

/** The probe's whole budget: connect, head and body. */
export const PROBE_BACK_TIMEOUT_MS = 3_000;
/** Enough of the root page to fingerprint it; the rest is not read. */
export const PROBE_BACK_MAX_BYTES = 64 * 1024;

/** Why `ip` may not be probed, or null when it may. Only IP literals pass: no names, so no DNS tricks. */
export function refusal(ip: string, allowLoopback: boolean): string | null {
  const kind = addressKind(ip);
  if (kind === 'invalid') return 'не IP-адрес';
  if (reachable(ip, allowLoopback)) return null;
  return kind === 'loopback' ? 'адрес этого же компьютера' : 'частный или служебный адрес';
}

/** Probes the root page at ip:port; resolves with the outcome, never rejects. */
export async function probeBack(ip: string, port: number, allowLoopback: boolean): Promise<PortCheckResult> {
  const refused = refusal(ip, allowLoopback);
  if (refused) return { ip, port, outcome: 'refused', detail: refused };
  const host = isIPv6(ip) ? `[${ip}]` : ip;
  // Loaded by the first probe, not by the relay's start.
  const { Agent, fetch } = await import('undici');
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
