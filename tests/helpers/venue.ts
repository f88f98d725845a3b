/**
 * A whole venue on loopback for diagnostics tests: the real sim, a real relay,
 * a companion data dir paired with it, and a real agent writing real log files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fetch } from 'undici';
import { startAgent, type Agent, type AgentOptions } from '../../main/core/agent.ts';
import { realClock, type Clock } from '../../common/clock.ts';
import { createLog } from '../../main/core/log.ts';
import { loadSettings } from '../../main/core/settings.ts';
import { Report } from '../../protocol/diagnostics.ts';
import { startSim, type Sim, type SimOptions } from '../../sim/index.ts';
import type { RelayOptions } from '../../relay/server.ts';
import { pairedVenue, relayWithDataDir, waitFor, type RunningRelay } from './relay.ts';

export interface Venue {
  sim: Sim;
  relay: RunningRelay;
  agent: Agent;
  venueId: string;
  deviceToken: string;
  dataDir: string;
  log: ReturnType<typeof createLog>;
  /** POST /api/diagnostics on the agent's local API. */
  diagnose(): Promise<Report>;
  /** Calls the agent's local API with its token. */
  local(pathname: string, init?: { method?: string }): Promise<{ status: number; body: Buffer; headers: Headers }>;
}

export interface VenueOptions {
  sim?: SimOptions;
  relay?: Partial<RelayOptions>;
  /** Written to settings.json before the agent starts (a function gets the running sim, e.g. to list its couriers). */
  settings?: Record<string, unknown> | ((sim: Sim) => Record<string, unknown>);
  clock?: Clock;
  agent?: Partial<AgentOptions>;
  /** Pair and wait for the tunnel (default true). */
  paired?: boolean;
}

export async function startVenue(cleanups: Array<() => Promise<void> | void>, o: VenueOptions = {}): Promise<Venue> {
  const sim = await startSim({ port: 0, auto: false, ...o.sim });
  cleanups.push(() => sim.close());
  const { relay, dataDir } = await relayWithDataDir(cleanups, o.relay);
  const paired = o.paired === false ? null : await pairedVenue(relay.url, dataDir);
  if (o.settings) fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify(typeof o.settings === 'function' ? o.settings(sim) : o.settings));
  const settings = loadSettings({ dataDir, apiPort: '0', frontUrl: sim.url }, {});
  const log = createLog({ dataDir, level: 'debug', console: false });
  const agent = await startAgent({
    settings, logger: log, clock: o.clock ?? realClock,
    tunnel: { env: { NO_PROXY: '127.0.0.1,localhost' } },
    ...o.agent,
  });
  cleanups.push(async () => { await agent.stop(); await log.close(); });
  if (paired) await waitFor(() => agent.status().tunnel.state === 'connected', 'tunnel connected', 10_000);
  await waitFor(() => agent.status().front.state !== 'unknown', 'first plugin check', 10_000);
  const local: Venue['local'] = async (pathname, init = {}) => {
    const res = await fetch(`${agent.api.url}${pathname}`, { method: init.method ?? 'GET', headers: { authorization: `Bearer ${agent.api.token}` } });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers as unknown as Headers };
  };
  return {
    sim, relay, agent, dataDir, log, venueId: paired?.venueId ?? '', deviceToken: paired?.deviceToken ?? '', local,
    async diagnose() {
      const r = await local('/api/diagnostics', { method: 'POST' });
      if (r.status !== 200) throw new Error(`diagnostics answered ${r.status}: ${r.body.toString()}`);
      return Report.parse(JSON.parse(r.body.toString('utf8')));
    },
  };
}

/** The check `id` of a report (throws when missing, so a test never reads undefined). */
export function check(r: Report, id: string) {
  const c = r.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${JSON.stringify(r.checks.map((x) => x.id))}`);
  return c;
}

/** A clock `offsetMs` ahead of the real one (timers and durations unchanged). */
export function skewedClock(offsetMs: number): Clock {
  return { ...realClock, now: () => Date.now() + offsetMs };
}
