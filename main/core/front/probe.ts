/**
 * The plugin watch: finds the plugin, owns the one client (and so the one
 * session), and checks it every few seconds. Its status is always current:
 * up or down, latency, version when visible, and the last error explained.
 */
import type { FrontStatus, Problem } from '../../../protocol/local.ts';
import type { Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import { createFrontClient, type FrontClient, type SessionStore } from './client.ts';
import { discover as realDiscover, identify as realIdentify, type DiscoveryResult, type Identity } from './discovery.ts';
import { explain, FrontError, isFrontError } from './errors.ts';
import { readSections } from '../iiko/reader.ts';

/** One check may take this long; with a 3 s interval a dead plugin shows within 10 s. */
export const PROBE_TIMEOUT_MS = 4_000;
/** After this many failed checks of a discovered URL, look for the plugin again. */
export const REDISCOVER_AFTER_FAILURES = 3;

export interface ProbeOptions {
  /** Configured plugin origin, or null to discover it. */
  frontUrl: string | null;
  moduleId: string;
  intervalMs: number;
  /** How long one check may take; PROBE_TIMEOUT_MS by default (tests shorten it). */
  timeoutMs?: number;
  clock: Clock;
  logger: Logger;
  /** Injected for tests; the real ones by default. */
  discover?: () => Promise<DiscoveryResult>;
  identify?: (url: string) => Promise<Identity>;
  makeClient?: (url: string) => FrontClient;
  onChange?: (status: FrontStatus) => void;
  /** Where the client for `origin` keeps its session token across runs (none by default). */
  sessionStore?: (origin: string) => SessionStore;
  /** Cap on plugin answers read whole (see FrontClientOptions.maxAnswerBytes). */
  maxAnswerBytes?: number;
  /** Where a configured frontUrl came from (default `settings`). */
  frontSource?: Exclude<FrontStatus['source'], 'discovery' | null>;
}

export interface Probe {
  /** The latest status (a copy). */
  status(): FrontStatus;
  /** The client for the plugin in use, or null while none is known. */
  client(): FrontClient | null;
  /** Starts checking; the first check runs at once. */
  start(): void;
  /** Runs one check now (tests and "check again" in the UI). */
  checkNow(): Promise<FrontStatus>;
  /** Stops checking and logs the plugin session out. */
  stop(): Promise<void>;
}

/** Creates the watch; nothing happens until start() or checkNow(). */
export function createProbe(opts: ProbeOptions): Probe {
  const { clock } = opts;
  const timeoutMs = opts.timeoutMs ?? PROBE_TIMEOUT_MS;
  const log = opts.logger.child({ part: 'probe' });
  const discover = opts.discover ?? (() => realDiscover());
  const identify = opts.identify ?? ((url: string) => realIdentify(url));
  const makeClient = opts.makeClient ?? ((url: string) => createFrontClient({
    baseUrl: url, moduleId: opts.moduleId, clock, logger: opts.logger,
    ...(opts.sessionStore ? { sessionStore: opts.sessionStore(new URL(url).origin) } : {}),
    ...(opts.maxAnswerBytes ? { maxAnswerBytes: opts.maxAnswerBytes } : {}),
  }));

  let current: FrontClient | null = null;
  let source: FrontStatus['source'] = opts.frontUrl ? (opts.frontSource ?? 'settings') : null;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<FrontStatus> | null = null;
  let stopped = false;
  let status: FrontStatus = {
    state: 'unknown', url: opts.frontUrl, latencyMs: null, checkedAt: null, since: null, source,
  };

  function update(next: Omit<FrontStatus, 'since' | 'checkedAt' | 'source'>): FrontStatus {
    const now = new Date(clock.now()).toISOString();
    const changed = next.state !== status.state || next.error?.code !== status.error?.code || next.url !== status.url;
    if (next.state !== status.state) {
      // A plugin that stops answering is a problem someone may need to act on, not news.
      const meta = { url: next.url, error: next.error?.code };
      if (next.state === 'up') log.info(`plugin ${next.state}`, meta);
      else log.warn(`plugin ${next.state}`, meta);
    }
    status = { ...next, source, checkedAt: now, since: changed || !status.since ? now : status.since };
    if (!next.error) delete status.error;
    opts.onChange?.({ ...status });
    return status;
  }

  async function useUrl(url: string): Promise<void> {
    if (current?.origin === new URL(url).origin) return;
    await current?.close();
    current = makeClient(url);
  }

  async function check(): Promise<FrontStatus> {
    if (!current) {
      if (opts.frontUrl) {
        await useUrl(opts.frontUrl);
      } else {
        const found = await discover();
        if (!found.found) {
          return update({ state: 'down', url: found.errorUrl ?? null, latencyMs: null, error: explain(found.error, found.errorUrl ?? null) });
        }
        source = 'discovery';
        log.info('plugin found', { url: found.found.url, version: found.found.version });
        await useUrl(found.found.url);
      }
    }
    const client = current!;
    const started = clock.mono();
    try {
      // Through the one reader: the same read the feed and the diagnostics make of the sections.
      await readSections(client, { timeoutMs });
      const latencyMs = Math.round(clock.mono() - started);
      failures = 0;
      let version = client.version() ?? status.version;
      if (!version && status.state !== 'up') version = await client.page({ timeoutMs }).then((p) => p.version).catch(() => undefined);
      return update({ state: 'up', url: client.origin, latencyMs, ...(version ? { version } : {}) });
    } catch (e) {
      failures += 1;
      const problem = await diagnose(e, client.origin);
      const state = isFrontError(e) && e.code === 'unlicensed' ? 'unlicensed' : 'down';
      const next = update({ state, url: client.origin, latencyMs: null, error: problem, ...(status.version ? { version: status.version } : {}) });
      if (source === 'discovery' && failures >= REDISCOVER_AFTER_FAILURES) {
        // The plugin may have come back on another port: forget this one.
        failures = 0;
        const old = current;
        current = null;
        await old?.close();
      }
      return next;
    }
  }

  /** Turns a failure into the message a person reads; tells "not the plugin" apart from "broken plugin". */
  async function diagnose(e: unknown, url: string): Promise<Problem> {
    if (isFrontError(e) && (e.code === 'bad_response' || (e.code === 'http' && e.status === 404))) {
      const who = await identify(url);
      if (who.kind === 'not_plugin' && !who.pluginPage) return explain(new FrontError('not_plugin', who.why), url);
    }
    return explain(e, url);
  }

  function checkNow(): Promise<FrontStatus> {
    running ??= check()
      .catch((e) => update({ state: 'down', url: status.url, latencyMs: null, error: explain(e, status.url) }))
      .finally(() => { running = null; });
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    const started = clock.mono();
    void checkNow().finally(() => {
      if (stopped) return;
      const wait = Math.max(0, opts.intervalMs - (clock.mono() - started));
      timer = clock.setTimeout(schedule, wait);
    });
  }

  return {
    status: () => ({ ...status }),
    client: () => current,
    start() {
      stopped = false;
      schedule();
    },
    checkNow,
    async stop() {
      stopped = true;
      clock.clearTimeout(timer);
      await running?.catch(() => undefined);
      await current?.close();
      current = null;
    },
  };
}
