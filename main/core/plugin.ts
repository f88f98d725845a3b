/**
 * The iiko plugin as the agent holds it: the probe that watches it (replaced
 * when the plugin's settings change), the one Upstream through which the
 * tunnel reaches it, and the wizard's "is the plugin at this address" check.
 */
import type { FrontCheck, FrontStatus } from '../../protocol/local.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { FrontClient } from './front/client.ts';
import { identify } from './front/discovery.ts';
import { explain, FrontError } from './front/errors.ts';
import { createProbe, type Probe, type ProbeOptions } from './front/probe.ts';
import { sessionFile } from './front/session-file.ts';
import type { Settings } from './settings.ts';
import { MS_PER } from './table.ts';
import type { Upstream } from './upstream.ts';

export type ProbeOverrides = Partial<Pick<ProbeOptions, 'discover' | 'identify' | 'makeClient' | 'timeoutMs'>>;

export interface PluginDeps {
  settings: Settings;
  clock: Clock;
  logger: Logger;
  /** Tests' discovery candidates, a fake client, a shorter deadline. */
  overrides?: ProbeOverrides;
  /** Every check's result (the local API shows each latency). */
  onCheck(front: FrontStatus): void;
  /** The plugin's state, error, address or version changed (called before onCheck). */
  onState(front: FrontStatus): void;
}

export interface Plugin {
  status(): FrontStatus;
  /** The current probe's client, or null while no plugin is known. */
  client(): FrontClient | null;
  checkNow(): Promise<FrontStatus>;
  start(): void;
  /** A new probe for changed settings: the old one logs its session out (or keeps it owed) before the new one logs in. */
  restart(): Promise<void>;
  /** Whether the plugin answers at `url`, the way discovery tells (no login, so no licence slot); nothing is saved. */
  check(url: string): Promise<FrontCheck>;
  /** The tunnel reaches the plugin only through this: the current probe's client, one session, one origin. */
  readonly upstream: Upstream;
  stop(): Promise<void>;
}

/** Creates the probe; nothing is checked until start(). */
export function createPlugin(d: PluginDeps): Plugin {
  const { settings } = d;
  let reported = '';
  const make = (): Probe => createProbe({
    frontUrl: settings.frontUrl,
    moduleId: settings.moduleId,
    intervalMs: settings.probeIntervalSec * MS_PER.s,
    sessionStore: (origin) => sessionFile(settings.dataDir, origin),
    maxAnswerBytes: settings.frontMaxAnswerBytes,
    clock: d.clock,
    logger: d.logger,
    frontSource: ({ file: 'settings', env: 'env', flag: 'flag' } as const)[settings.sources.frontUrl as 'file' | 'env' | 'flag'] ?? 'settings',
    onChange: (front) => {
      // The relay stores what it is told; tell it when the plugin's state changes,
      // not on every check's new latency (the local API still gets every check).
      const key = `${front.state}|${front.error?.code ?? ''}|${front.url ?? ''}|${front.version ?? ''}`;
      if (key !== reported) {
        reported = key;
        d.onState(front);
      }
      d.onCheck(front);
    },
    ...d.overrides,
  });
  let probe = make();
  return {
    status: () => probe.status(),
    client: () => probe.client(),
    checkNow: () => probe.checkNow(),
    start: () => probe.start(),
    async restart() {
      await probe.stop();
      probe = make();
      probe.start();
    },
    async check(url) {
      const who = await (d.overrides?.identify ?? identify)(url);
      if (who.kind === 'plugin') return { url: who.url, found: true, ...(who.version ? { version: who.version } : {}) };
      const problem = who.kind === 'not_plugin' ? explain(new FrontError('not_plugin', who.why), who.url) : explain(who.error, who.url);
      return { url: who.url, found: false, problem };
    },
    upstream: {
      forward(req) {
        const client = probe.client();
        if (!client) return Promise.reject(new FrontError('unreachable', 'plugin not found yet'));
        return client.forward(req);
      },
    },
    stop: () => probe.stop(),
  };
}
