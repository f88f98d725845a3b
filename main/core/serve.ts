/**
 * The local API as the agent serves it: each route bound to the part that
 * answers it, settings changed in the UI applied without a restart, and
 * local-api.json (where the CLI and the tray find the API) written at start
 * and removed at stop.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LOCAL_API_FILE } from '../../protocol/local.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { startApi, type Api } from './api/server.ts';
import { createUiSessions } from './api/sessions.ts';
import { configure } from './configure.ts';
import { writePrivateFile } from './files.ts';
import type { History } from './history.ts';
import type { Plugin } from './plugin.ts';
import { effectiveSettings, type Settings } from './settings.ts';
import type { State } from './state.ts';
import type { Support } from './support.ts';
import type { Uplink } from './uplink.ts';
import type { Venue } from './venue.ts';

export interface ServeDeps {
  settings: Settings;
  token: string;
  clock: Clock;
  logger: Logger;
  state: Pick<State, 'status' | 'activity' | 'publish'>;
  plugin: Pick<Plugin, 'check' | 'restart'>;
  uplink: Pick<Uplink, 'pair' | 'reconnect'>;
  venue: Pick<Venue, 'list'>;
  support: Pick<Support, 'diagnose' | 'bundle' | 'audit' | 'metrics'>;
  history: Pick<History, 'list' | 'keepDays'>;
}

/** Listens (rejecting with a Russian message when the port is taken) and writes local-api.json; close() undoes both. */
export async function serveApi(d: ServeDeps): Promise<{ api: Api; close(): Promise<void> }> {
  const { settings, state, plugin } = d;
  const settingsApi = configure(settings, {
    // Plugin address, module or interval changed: a new probe (one session, one origin) replaces the old.
    // The old one stops first: its session is logged out (or, with the plugin down, kept owed in
    // front-session.json) before the new client reads what is owed and logs in.
    async front() {
      await plugin.restart();
      state.publish();
    },
    // Proxy changed: reconnect through it.
    tunnel() { void d.uplink.reconnect().catch(() => undefined); },
    journal(days) { d.history.keepDays(days); },
  });
  const api = await startApi({
    port: settings.apiPort, token: d.token, logger: d.logger, status: state.status, metrics: d.support.metrics, clock: d.clock,
    sessions: createUiSessions({ dataDir: settings.dataDir, clock: d.clock, days: settings.uiSessionDays }),
    pair: d.uplink.pair,
    diagnose: d.support.diagnose, bundle: d.support.bundle, audit: d.support.audit,
    payments: () => ({ payments: d.venue.list() }),
    settings: settingsApi,
    activity: state.activity,
    journal: d.history.list,
    checkFront: (port) => plugin.check(`http://127.0.0.1:${port}`),
    effectiveSettings: () => effectiveSettings(settings),
  });
  const file = path.join(settings.dataDir, LOCAL_API_FILE);
  writePrivateFile(file, `${JSON.stringify({ url: api.url, token: d.token, pid: process.pid }, null, 2)}\n`);
  return {
    api,
    async close() {
      await api.close();
      removeIfOurs(file, d.token);
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
