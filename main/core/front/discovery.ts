/**
 * Finding the plugin: the configured URL first; with none, port 9042 and a
 * short list of likely ports on 127.0.0.1. A port counts only if it answers
 * like the plugin, not merely if it is open.
 */
import { Agent, fetch, type Response } from 'undici';
import { DEFAULT_FRONT_PORT, VERSION_HEADER } from '../../../protocol/front.ts';
import { FrontError } from './errors.ts';
import { toFrontError, versionFromPage } from './client.ts';
import { notPluginWhy } from '../messages.ts';

/**
 * Ports tried when nothing is configured, in order. 9042 is the plugin's
 * default; installers commonly pick a neighbour when it is taken.
 */
export const CANDIDATE_PORTS = [DEFAULT_FRONT_PORT, 9043, 9044, 9045, 9050, 9051, 8042, 8090] as const;
/** One identification request may take this long; loopback answers in milliseconds. */
export const IDENTIFY_TIMEOUT_MS = 1_500;

/** Only this much of a root page is read: enough to recognise the plugin, never a whole huge answer. */
export const PAGE_READ_BYTES = 64_000;

/** Words the plugin's root page is expected to contain [guess: the seed shows it only as a picture]. */
const PLUGIN_PAGE = /iiko|front\s*web\s*api|webfront/i;

export type Identity =
  | { kind: 'plugin'; url: string; version?: string }
  /** `pluginPage`: the root page itself looks like the plugin's (so it may be the plugin, broken). */
  /** `why` is Russian (it is shown by `discover`), from the catalogue in messages.ts. */
  | { kind: 'not_plugin'; url: string; why: string; pluginPage: boolean }
  | { kind: 'unreachable'; url: string; error: FrontError };

/**
 * Decides whether `url` is the Front Web API plugin, without using a licence
 * slot: its root page answers 200, and an API call without a key gets 401
 * (the plugin's login behaviour). Never throws.
 */
export async function identify(url: string, timeoutMs = IDENTIFY_TIMEOUT_MS): Promise<Identity> {
  const origin = new URL(url).origin;
  const dispatcher = new Agent({ connections: 1, connect: { timeout: timeoutMs } });
  try {
    const root = await fetch(`${origin}/`, { dispatcher, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    const html = await readAtMost(root, PAGE_READ_BYTES);
    const pluginPage = root.headers.has(VERSION_HEADER) || PLUGIN_PAGE.test(html);
    if (root.status !== 200) return { kind: 'not_plugin', url: origin, why: notPluginWhy.rootStatus(root.status), pluginPage };
    const api = await fetch(`${origin}/api/orders`, { dispatcher, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await api.body?.cancel();
    if (api.status !== 401) return { kind: 'not_plugin', url: origin, why: notPluginWhy.apiStatus(api.status), pluginPage };
    const version = root.headers.get(VERSION_HEADER) ?? api.headers.get(VERSION_HEADER) ?? versionFromPage(html);
    return { kind: 'plugin', url: origin, ...(version ? { version: version.slice(0, 64) } : {}) };
  } catch (e) {
    return { kind: 'unreachable', url: origin, error: toFrontError(e, (e as Error)?.name === 'TimeoutError') };
  } finally {
    void dispatcher.close().catch(() => undefined);
  }
}

export interface DiscoveryResult {
  /** The plugin found, if any. */
  found: { url: string; version?: string } | null;
  /** What every candidate answered, for diagnostics ("9042: not the plugin"). */
  tried: Identity[];
  /** Why nothing was found, as a FrontError (not_plugin when something else holds the port). */
  error?: FrontError;
  /** The address the error is about (the impostor's), if one. */
  errorUrl?: string;
}

/** Tries the candidates in parallel and picks the first plugin in list order. Never throws. */
export async function discover(opts: { host?: string; ports?: readonly number[]; timeoutMs?: number } = {}): Promise<DiscoveryResult> {
  const host = opts.host ?? '127.0.0.1';
  const ports = opts.ports ?? CANDIDATE_PORTS;
  const tried = await Promise.all(ports.map((p) => identify(`http://${host}:${p}`, opts.timeoutMs)));
  const plugin = tried.find((t): t is Extract<Identity, { kind: 'plugin' }> => t.kind === 'plugin');
  if (plugin) return { found: { url: plugin.url, ...(plugin.version ? { version: plugin.version } : {}) }, tried };
  // Only the default port held by something else is worth naming; an unrelated
  // program on a neighbouring port is not why the plugin is missing.
  const impostor = tried[0];
  if (impostor?.kind === 'not_plugin') return { found: null, tried, error: new FrontError('not_plugin', impostor.why), errorUrl: impostor.url };
  return { found: null, tried, error: new FrontError('not_found', `tried ports ${ports.join(', ')}`) };
}

/** The first `max` bytes of an answer as text; the rest is not read (the connection is dropped). */
async function readAtMost(res: Response, max: number): Promise<string> {
  const parts: Buffer[] = [];
  let total = 0;
  const reader = res.body?.getReader();
  if (!reader) return '';
  while (total < max) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    total += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(parts).subarray(0, max).toString('utf8');
}
