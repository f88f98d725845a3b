/**
 * The checks of the way to EVVA: the tunnel (connected, round trip,
 * reconnects in the last hour, clock skew against the relay, proxy) and port
 * forwarding, which the relay probes back at the address the tunnel came from.
 * (The tunnel link itself is main/core/tunnel/link.ts.)
 */
import { PORTCHECK_PATH, PortCheckResult, type Report } from '../../../protocol/diagnostics.ts';
import { pageFingerprint } from '../../../protocol/fingerprint.ts';
import type { PortStatus, TunnelStatus } from '../../../protocol/local.ts';
import type { Clock } from '../../../common/clock.ts';
import type { FrontClient } from '../front/client.ts';
import { port, tunnel } from './catalogue.ts';
import type { CheckSpec } from './run.ts';

/** The guide's threshold: clocks further apart than this break order and payment times. */
export const MAX_CLOCK_SKEW_MS = 60_000;
/** More reconnects than this in an hour means an unstable line. */
export const MAX_RECONNECTS_PER_HOUR = 5;
export const PORT_CHECK_MS = 4_500;
/** A probe-back answer is reused this long: runs close together (a report, then a bundle) ask the relay once. */
export const PROBE_BACK_REUSE_MS = 30_000;

/** What the tunnel knows beyond its status: the relay's clock and the address it saw. */
export interface TunnelView {
  status: TunnelStatus;
  /** Our clock minus the relay's, measured at the last welcome; null before one. */
  skewMs: number | null;
  /** The public address the relay saw the tunnel come from. */
  publicIp: string | null;
  /** The proxy in use (host:port only), or null for a direct connection. */
  proxy: string | null;
  reconnectsLastHour: number;
}

/** Judges the tunnel from its current view alone: no network call, so it always answers at once. */
export function tunnelCheck(view: () => TunnelView): CheckSpec {
  return {
    id: 'tunnel',
    timeoutMs: 500,
    async run() {
      const v = view();
      const s = v.status;
      const evidence = {
        state: s.state, since: s.since, rttMs: s.rttMs, reconnects: s.reconnects, reconnectsLastHour: v.reconnectsLastHour,
        clockSkewMs: v.skewMs, publicIp: v.publicIp, proxy: v.proxy, relayUrl: s.relayUrl, venueId: s.venueId,
        ...(s.error ? { error: s.error.code } : {}),
      };
      if (s.state === 'unpaired') return { ...tunnel.unpaired(), evidence };
      if (s.state === 'offline') return { ...tunnel.offline(s.error?.message ?? 'соединение не установлено', s.error?.hint), evidence };
      if (s.state === 'connecting') return { ...tunnel.connecting(), evidence };
      if (v.skewMs !== null && Math.abs(v.skewMs) > MAX_CLOCK_SKEW_MS) return { ...tunnel.skewed(Math.round(v.skewMs / 1000)), evidence };
      if (v.reconnectsLastHour > MAX_RECONNECTS_PER_HOUR) return { ...tunnel.flapping(v.reconnectsLastHour), evidence };
      return { ...tunnel.up(s.rttMs, s.venueName ?? s.venueId), evidence };
    },
  };
}

export interface PortDeps {
  tunnel: () => TunnelView;
  client: () => Promise<FrontClient | null>;
  /** The port the router would forward: the "external port" setting, else the plugin's. */
  externalPort: number | null;
  /** Asks the relay to probe back; rejects when it cannot be asked. */
  probeBack(port: number, signal: AbortSignal): Promise<PortCheckResult>;
}

/** Asks the relay to probe back only while the tunnel is up; never says "closed" without the relay's answer. */
export function portCheck(d: PortDeps): CheckSpec {
  return {
    id: 'port',
    timeoutMs: PORT_CHECK_MS,
    onTimeout: () => port.unknown('сервер EVVA не ответил вовремя'),
    async run(signal) {
      const t = d.tunnel().status;
      const client = await d.client();
      const target = d.externalPort ?? (client ? Number(new URL(client.origin).port || 80) : null);
      if (t.state === 'unpaired') return port.unpaired();
      if (target === null) return port.unknown('плагин ещё не найден, порт неизвестен');
      if (t.state !== 'connected') return { ...port.noTunnel(target), evidence: { port: target, tunnel: t.state } };
      const [probe, own] = await Promise.all([
        d.probeBack(target, signal).catch((e: unknown) => e as Error),
        client ? client.page({ timeoutMs: 3_000 }).catch(() => null) : Promise.resolve(null),
      ]);
      if (probe instanceof Error) return port.unknown(`сервер EVVA не выполнил проверку (${probe.message})`);
      const ownPrint = own && own.status === 200 ? pageFingerprint(own.html) : null;
      const same = probe.outcome === 'reachable' && ownPrint !== null && probe.fingerprint === ownPrint && (!own?.version || !probe.version || own.version === probe.version);
      const evidence = { ...probe, ownFingerprint: ownPrint, samePlugin: same };
      if (probe.outcome === 'refused') return { ...port.refused(probe.ip, probe.detail ?? 'частный адрес'), evidence };
      if (probe.outcome === 'unreachable') return { ...port.closedWithTunnel(probe.ip, target), evidence };
      if (same) return { ...port.openWithTunnel(probe.ip, target), evidence };
      return { ...port.otherWithTunnel(probe.ip, target, probe.status), evidence };
    },
  };
}

/** The port check of a report as the status shows it; null when the report has none. `exposed` only from the relay's answer. */
export function portOfReport(report: Report): PortStatus | null {
  const c = report.checks.find((x) => x.id === 'port');
  if (!c) return null;
  const outcome = c.evidence?.outcome;
  return {
    result: c.result,
    exposed: outcome === 'reachable' ? true : outcome === 'unreachable' ? false : null,
    explanation: c.explanation,
    ...(c.en ? { explanationEn: c.en.explanation } : {}),
    ...(c.fix ? { fix: c.fix } : {}),
    checkedAt: report.summary.startedAt,
  };
}

/** Remembers when the tunnel reconnected, to count the last hour's. */
export function reconnectLog(clock: Clock): { note(total: number): void; lastHour(): number } {
  const times: number[] = [];
  let seen = 0;
  return {
    note(total) {
      for (; seen < total; seen++) times.push(clock.now());
      while (times.length > 1000) times.shift();
    },
    lastHour() {
      const from = clock.now() - 3_600_000;
      return times.filter((x) => x >= from).length;
    },
  };
}

/** Asks the relay to probe `port` back at the tunnel's source address (device token, same proxy as the tunnel). */
export async function askRelay(o: { httpBase: string; deviceToken: string; proxy: string | null; ca?: string | Buffer; port: number; signal: AbortSignal }): Promise<PortCheckResult> {
  // httpBase is relayEndpoints().httpBase: the relay's origin and any path prefix it is served under.
  const url = `${o.httpBase}${PORTCHECK_PATH}`;
  const tls = o.ca ? { ca: o.ca } : undefined;
  // undici (for its proxy support) loads only when a check asks: the idle companion does not carry it (front/wire.ts says why).
  const { Agent, fetch, ProxyAgent } = await import('undici');
  const dispatcher = o.proxy ? new ProxyAgent({ uri: o.proxy, ...(tls ? { requestTls: tls } : {}) }) : tls ? new Agent({ connect: tls }) : undefined;
  try {
    const res = await fetch(url, {
      method: 'POST', signal: o.signal, ...(dispatcher ? { dispatcher } : {}),
      headers: { authorization: `Bearer ${o.deviceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ port: o.port }),
    });
    const body: unknown = await res.json().catch(() => null);
    if (res.status !== 200) throw new Error(`ответ ${res.status}${(body as { error?: string } | null)?.error ? ` ${(body as { error: string }).error}` : ''}`);
    return PortCheckResult.parse(body);
  } finally {
    await dispatcher?.close().catch(() => undefined);
  }
}

/** Wraps a probe-back so an answer for the same port is reused for PROBE_BACK_REUSE_MS; failures are not kept. */
export function reusedProbe(clock: Clock, ask: PortDeps['probeBack']): PortDeps['probeBack'] {
  let last: { port: number; at: number; result: PortCheckResult } | null = null;
  return async (port, signal) => {
    if (last && last.port === port && clock.mono() - last.at < PROBE_BACK_REUSE_MS) return last.result;
    const result = await ask(port, signal);
    last = { port, at: clock.mono(), result };
    return result;
  };
}
