/**
 * Diagnostics and EVVA support, wired to the agent's parts: the checks (run
 * from the UI, the CLI or remotely), the last port check the status shows,
 * the support bundle, the audit of remote actions and the metrics.
 */
import type { Readable } from 'node:stream';
import type { Report } from '../../protocol/diagnostics.ts';
import type { PortStatus, Status } from '../../protocol/local.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { VERSION } from '../../common/version.ts';
import type { Commands } from './commands.ts';
import { createAudit, type Audit } from './diagnostics/audit.ts';
import { buildBundle } from './diagnostics/bundle.ts';
import { createDiagnostics, type DiagnosticsDeps } from './diagnostics/checks.ts';
import { portOfReport } from './diagnostics/reach.ts';
import { registerRemote } from './diagnostics/remote.ts';
import { createMetrics } from './metrics.ts';
import { readSettingsFile, type Settings } from './settings.ts';
import type { Plugin } from './plugin.ts';
import type { Uplink } from './uplink.ts';

export type DiagnosticsOverrides = Partial<Pick<DiagnosticsDeps, 'freeBytes' | 'feed'>>;

export interface SupportDeps {
  settings: Settings;
  clock: Clock;
  logger: Logger;
  /** Where the relay's support commands are registered. */
  commands: Commands;
  status(): Status;
  /** The port the local API listens on. */
  apiPort(): number;
  plugin: Pick<Plugin, 'checkNow' | 'client'>;
  uplink: Pick<Uplink, 'relay' | 'reconnectsLastHour' | 'probeBack'>;
  /** The outbox's backlog (throws when the feed's storage is unusable). */
  backlog(): { backlog: number; oldestAt: string | null };
  /** Tests' full disk or outbox. */
  overrides?: DiagnosticsOverrides;
  /** A run finished: the status's port card may have changed. */
  onReport(): void;
}

export interface Support {
  /** Runs every diagnostic check; resolves within about 5 s whatever the parts do. */
  diagnose(): Promise<Report>;
  /** Runs the checks and zips them with the settings, status, metrics and logs. */
  bundle(): Promise<{ name: string; stream: Readable }>;
  /** Remote support actions, newest first. */
  audit: Audit['list'];
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The last port check, for the status; null before one. */
  port(): PortStatus | null;
  close(): void;
}

/** Registers the support commands now; runs no check until asked. */
export function createSupport(d: SupportDeps): Support {
  const { settings, clock, logger } = d;
  let lastReport: Report | null = null;
  let lastPort: PortStatus | null = null;
  const metrics = createMetrics(d.status, () => ({
    clockSkewMs: d.uplink.relay().skewMs, reconnectsLastHour: d.uplink.reconnectsLastHour(), lastReport, remoteActions: remote.counts(),
  }), () => clock.now());
  const diagnostics = createDiagnostics({
    clock, logger, version: VERSION, dataDir: settings.dataDir, apiPort: d.apiPort,
    // Through `plugin` at call time: a settings change replaces the probe, and diagnostics must use the current one.
    probe: { checkNow: () => d.plugin.checkNow(), client: () => d.plugin.client() },
    tunnel: () => ({ status: d.status().tunnel, ...d.uplink.relay(), reconnectsLastHour: d.uplink.reconnectsLastHour() }),
    externalPort: settings.externalPort, evvaPaymentName: settings.feed.evvaPaymentName, courierCodes: settings.feed.courierCodes,
    probeBack: d.uplink.probeBack,
    feed: async () => d.backlog(),
    ...d.overrides,
  });
  const diagnose = async (): Promise<Report> => {
    lastReport = await diagnostics.run();
    lastPort = portOfReport(lastReport);
    d.onReport();
    return lastReport;
  };
  const bundle = async () => buildBundle({
    report: await diagnose(), settings, status: d.status(), metrics: (await metrics.render()).body, dataDir: settings.dataDir, now: clock.now(),
  });
  const audit = createAudit(settings.dataDir, (e) => logger.error('audit log not written', { error: e }));
  const remote = registerRemote({
    commands: d.commands, audit, bundle, diagnose, dataDir: settings.dataDir, clock, logger,
    // Read from settings.json on each command, so the venue can switch support off without a restart.
    allowed: () => {
      try {
        return readSettingsFile(settings.dataDir).allowRemoteDiagnostics ?? settings.allowRemoteDiagnostics;
      } catch {
        return settings.allowRemoteDiagnostics;
      }
    },
  });
  return {
    diagnose, bundle, audit: (limit) => audit.list(limit), metrics: () => metrics.render(), port: () => lastPort,
    close: () => remote.close(),
  };
}
