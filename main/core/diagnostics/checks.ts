/**
 * The diagnostics part as the composition root sees it: every check, built
 * from what the agent already has (the probe's one plugin client, the
 * tunnel's view, settings), run together. The same report answers the CLI,
 * the local API, the relay and the bundle.
 */
import type { Report } from '../../../protocol/diagnostics.ts';
import type { Clock } from '../../../common/clock.ts';
import type { Probe } from '../front/probe.ts';
import type { Logger } from '../../../common/logger.ts';
import { portCheck, tunnelCheck, type PortDeps, type TunnelView } from './reach.ts';
import { feedCheck, machineCheck, type FeedView } from './machine.ts';
import { pluginCheck } from './plugin.ts';
import { menuCheck, paymentCheck, staffCheck, tablesCheck } from './pos.ts';
import { runChecks } from './run.ts';

export interface DiagnosticsDeps {
  clock: Clock;
  logger: Logger;
  version: string;
  dataDir: string;
  apiPort(): number;
  probe: Pick<Probe, 'checkNow' | 'client'>;
  tunnel(): TunnelView;
  probeBack: PortDeps['probeBack'];
  externalPort: number | null;
  /** Part of the EVVA payment type's name, matched ignoring case, for plugins that show no codes. */
  evvaPaymentName: string;
  /** The venue's couriers by user code or name (feed.courierCodes). */
  courierCodes: string[];
  /** The feed's outbox; absent when no companion runs (standalone diagnose: the check then says so). */
  feed?: () => Promise<FeedView>;
  /** Free bytes on a disk (tests inject a full disk). */
  freeBytes?(dir: string): number;
}

export interface Diagnostics {
  /** Runs every check at once; resolves within RUN_BUDGET_MS (+ scheduling), never rejects. */
  run(): Promise<Report>;
}

/** Builds the checks from the agent's parts; nothing runs until `run()`. */
export function createDiagnostics(d: DiagnosticsDeps): Diagnostics {
  const rule = { nameContains: d.evvaPaymentName };
  const specs = () => {
    // One fresh probe per run: the plugin check reports it, the others wait for it so they use
    // the client it found (never a second client or login) and skip if it found none.
    const fresh = d.probe.checkNow();
    const client = async () => { await fresh.catch(() => undefined); return d.probe.client(); };
    return [
      pluginCheck(() => fresh),
      tunnelCheck(d.tunnel),
      portCheck({ tunnel: d.tunnel, client, externalPort: d.externalPort, probeBack: d.probeBack }),
      staffCheck(client, d.courierCodes),
      tablesCheck(client),
      paymentCheck(client, rule),
      menuCheck(client),
      feedCheck(d.clock, d.feed),
      machineCheck({ clock: d.clock, dataDir: d.dataDir, version: d.version, apiPort: d.apiPort, freeBytes: d.freeBytes }),
    ];
  };
  return {
    run: () => runChecks(specs(), { clock: d.clock, logger: d.logger.child({ part: 'diagnostics' }), companion: d.version, venueId: d.tunnel().status.venueId }),
  };
}
