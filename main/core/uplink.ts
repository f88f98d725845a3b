/**
 * The link to EVVA, over its whole life: pairing with a venue by code, the
 * tunnel started from the saved pairing, replaced on a reconnect or a new
 * pairing, and what the agent learns when it drops and comes back (the state,
 * the reconnects of the last hour, a health event when it is up again).
 * Reconnecting after a drop itself is the tunnel client's (tunnel/client.ts).
 */
import os from 'node:os';
import type { PortCheckResult } from '../../protocol/diagnostics.ts';
import type { FrontStatus, Status, TunnelStatus } from '../../protocol/local.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { VERSION } from '../../common/version.ts';
import type { Commands } from './commands.ts';
import { readDevice, type Sealer } from './device.ts';
import { askRelay, reconnectLog, reusedProbe } from './diagnostics/reach.ts';
import type { Settings } from './settings.ts';
import { startTunnel, type FeedPort, type TunnelHandle, type TunnelOptions } from './tunnel/client.ts';
import { pair, type DeviceFile } from './tunnel/pair.ts';
import { relayEndpoints, TunnelError } from './tunnel/problems.ts';
import { proxyFor } from './tunnel/proxy.ts';
import type { Upstream } from './upstream.ts';

export type TunnelOverrides = Partial<Pick<TunnelOptions, 'timing' | 'backoff' | 'ca' | 'env' | 'networkPollMs'>>;

export interface UplinkDeps {
  settings: Settings;
  clock: Clock;
  logger: Logger;
  /** When the agent started: the time a damaged pairing file is reported from. */
  startedAt: string;
  /** Seals the device token in device.json (the desktop app). */
  sealer?: Sealer;
  /** Tests' shorter heartbeats and backoff, a private CA, a proxy environment. */
  overrides?: TunnelOverrides;
  /** The only thing the tunnel reaches: the plugin. */
  upstream: Upstream;
  /** The relay's commands are answered here. */
  commands: Commands;
  /** The plugin's current state, announced in the tunnel's hello. */
  front(): FrontStatus;
  /** The feed for the paired venue (started if need be): told of links and acks; null when the feed is off. */
  feed(venueId: string): FeedPort | null;
  /** The tunnel's state changed (also called when a link is started). */
  onChange(): void;
  /** The link is up again after being down (called before onChange). */
  onUp(tunnel: TunnelStatus): void;
}

export interface Uplink {
  /** The tunnel's card in the status: its state, the live round trip, the venue's name. */
  status(): TunnelStatus;
  /** What the current link learned from the relay (clock skew, public IP) and the proxy in use. */
  relay(): { skewMs: number | null; publicIp: string | null; proxy: string | null };
  reconnectsLastHour(): number;
  /** Connects with the saved pairing; resolves false when there is none. A damaged pairing file is shown in the status, not thrown. */
  resume(): Promise<boolean>;
  /** Drops the link and connects again now with the saved pairing; false when not paired. */
  reconnect(): Promise<boolean>;
  /** Pairs with a venue by code and (re)starts the tunnel; throws TunnelError with a Russian Problem. */
  pair(code: string, relayUrl?: string): Promise<{ venueId: string; relayUrl: string; venueName?: string }>;
  /** Tells the relay the plugin's state (when it changed). */
  reportFront(front: FrontStatus): void;
  /** Tells the relay the companion's whole status (EVVA's support console states its verdict from it). */
  reportStatus(status: Status): void;
  /** Asks the relay to connect back to `port` on our public address (reused for a short while). */
  probeBack(port: number, signal: AbortSignal): Promise<PortCheckResult>;
  stop(): Promise<void>;
}

const UNPAIRED: TunnelStatus = { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null };

/** Holds no link until resume() or pair(); from then on exactly one link speaks for the tunnel (a replaced one drains silently). */
export function createUplink(d: UplinkDeps): Uplink {
  const { settings, clock, logger } = d;
  const hostname = os.hostname();
  let link: TunnelHandle | null = null;
  let device: DeviceFile | null = null;
  let tunnel: TunnelStatus = { ...UNPAIRED };
  const reconnects = reconnectLog(clock);

  function connect(saved: DeviceFile): void {
    device = saved;
    const old = link;
    const feed = d.feed(saved.venueId);
    const current = startTunnel({
      relayUrl: saved.relayUrl,
      deviceToken: saved.deviceToken,
      venueId: saved.venueId,
      upstream: d.upstream,
      policy: { allowMethods: settings.tunnel.allowMethods, maxRequestBytes: settings.tunnel.maxRequestBytes },
      limits: { maxResponseBytes: settings.tunnel.maxResponseBytes },
      companion: { version: VERSION, hostname },
      frontOrigin: d.front().url,
      front: d.front(),
      proxy: settings.proxy ?? undefined,
      allowInsecure: settings.allowInsecure,
      commands: d.commands,
      ...(feed ? { feed } : {}),
      clock,
      logger,
      ...d.overrides,
    });
    link = current;
    tunnel = current.status();
    // A replaced link still reports while it drains; only the current one speaks for the tunnel.
    current.on('status', (s) => {
      if (link !== current) return;
      const up = s.state === 'connected' && tunnel.state !== 'connected';
      tunnel = s;
      reconnects.note(s.reconnects);
      if (up) d.onUp(s);
      d.onChange();
    });
    void old?.stop();
    d.onChange();
  }

  async function connectSaved(): Promise<boolean> {
    const saved = await readDevice(settings.dataDir, d.sealer, logger);
    if (saved) connect(saved);
    return saved !== null;
  }

  return {
    status() {
      // rttMs changes with every pong, not with the state events `tunnel` is kept from: read it live.
      const t = link ? { ...tunnel, rttMs: link.status().rttMs } : { ...tunnel };
      if (device?.venueName && t.venueId === device.venueId) t.venueName = device.venueName;
      return t;
    },
    relay: () => link?.relay() ?? { skewMs: null, publicIp: null, proxy: null },
    reconnectsLastHour: () => reconnects.lastHour(),
    async resume() {
      try {
        return await connectSaved();
      } catch (e) {
        if (!(e instanceof TunnelError)) throw e;
        logger.warn('pairing file unusable', { code: e.problem.code });
        tunnel = { ...UNPAIRED, since: d.startedAt, error: e.problem };
        return false;
      }
    },
    reconnect: connectSaved,
    async pair(code, relayUrl) {
      const relay = relayUrl ?? settings.relayUrl;
      if (!relay) {
        throw new TunnelError({
          code: 'relay_url_missing',
          message: 'Не указан адрес сервера EVVA.',
          hint: 'Введите адрес сервера EVVA рядом с кодом: его даёт EVVA вместе с кодом.',
          messageEn: 'No EVVA server address given: enter the one EVVA gave with the code.',
          command: 'evva-companion pair КОД --relay-url https://…',
        });
      }
      const done = await pair({
        code, relayUrl: relay, dataDir: settings.dataDir, companion: { version: VERSION, hostname },
        proxy: settings.proxy ?? undefined, allowInsecure: settings.allowInsecure, ...(d.overrides?.ca ? { ca: d.overrides.ca } : {}),
      });
      logger.info('paired', { venueId: done.venueId, relay: done.relayUrl });
      await connectSaved();
      return done;
    },
    reportFront: (front) => link?.reportFront(front, front.url),
    reportStatus: (s) => link?.reportStatus(s),
    probeBack: reusedProbe(clock, async (port, signal) => {
      if (!device) throw new Error('компаньон не привязан');
      const ends = relayEndpoints(device.relayUrl, settings.allowInsecure);
      const target = new URL(ends.tunnelUrl);
      return askRelay({ httpBase: ends.httpBase, deviceToken: device.deviceToken, proxy: proxyFor(target, { proxy: settings.proxy ?? undefined, env: d.overrides?.env }), ca: d.overrides?.ca, port, signal });
    }),
    stop: async () => { await link?.stop(); },
  };
}
