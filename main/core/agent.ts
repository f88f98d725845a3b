/**
 * The companion's one composition root. It builds every part from the
 * settings and the injected clock and logger, wires them together, and
 * serves the local API. Electron's shell and the headless CLI both start it.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import type { FrontStatus, Status, TunnelStatus } from '../../protocol/local.ts';
import { LOCAL_API_FILE } from '../../protocol/local.ts';
import { startApi, type Api } from './api/server.ts';
import { realClock, type Clock } from './clock.ts';
import { writePrivateFile } from './files.ts';
import { createProbe, type ProbeOptions } from './front/probe.ts';
import type { Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import type { Settings } from './settings.ts';
import { levelOf } from './status.ts';
import { VERSION } from './version.ts';

export interface AgentOptions {
  settings: Settings;
  logger: Logger;
  clock?: Clock;
  /** Overrides for tests (discovery candidates, a fake client). */
  probe?: Partial<Pick<ProbeOptions, 'discover' | 'identify' | 'makeClient'>>;
}

export interface Agent {
  /** The whole state as the local API serves it. */
  status(): Status;
  /** Where the local API listens and the token it wants. */
  readonly api: { url: string; token: string };
  /** Stops every part, logs the plugin session out, removes local-api.json. */
  stop(): Promise<void>;
}

const UNPAIRED: TunnelStatus = { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null };

/** Starts the agent; rejects (with a Russian message) if the local API cannot listen. */
export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const { settings, logger } = opts;
  const clock = opts.clock ?? realClock;
  const startedAt = new Date(clock.now()).toISOString();
  const token = crypto.randomBytes(32).toString('base64url');
  let api: Api | null = null;
  const tunnel: TunnelStatus = { ...UNPAIRED };

  const status = (): Status => {
    const front = probe.status();
    return { level: levelOf(front, tunnel), version: VERSION, startedAt, front, tunnel };
  };
  const publish = () => api?.publish(status());

  const probe = createProbe({
    frontUrl: settings.frontUrl,
    moduleId: settings.moduleId,
    intervalMs: settings.probeIntervalMs,
    clock,
    logger,
    onChange: (_f: FrontStatus) => publish(),
    ...opts.probe,
  });
  const metrics = createMetrics(status);

  api = await startApi({ port: settings.apiPort, token, logger, status, metrics: () => metrics.render() });
  const apiFile = path.join(settings.dataDir, LOCAL_API_FILE);
  writePrivateFile(apiFile, `${JSON.stringify({ url: api.url, token, pid: process.pid }, null, 2)}\n`);
  probe.start();
  logger.info('companion started', { version: VERSION, dataDir: settings.dataDir, hostname: os.hostname(), api: api.url });

  let stopping: Promise<void> | null = null;
  return {
    status,
    api: { url: api.url, token },
    stop() {
      stopping ??= (async () => {
        await probe.stop();
        await api?.close();
        removeIfOurs(apiFile, token);
        logger.info('companion stopped');
      })();
      return stopping;
    },
  };
}

/** Deletes local-api.json unless another agent has taken it over since. */
function removeIfOurs(file: string, token: string): void {
  try {
    const content = JSON.parse(fs.readFileSync(file, 'utf8')) as { token?: string };
    if (content.token === token) fs.unlinkSync(file);
  } catch {
    // Already gone or unreadable: nothing of ours to clean.
  }
}
