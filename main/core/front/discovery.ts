/**
 * Finding the plugin: the configured URL first; with none, port 9042 and a
 * short list of likely ports on 127.0.0.1. A port counts only if it answers
 * like the plugin (its root page and its API's behaviour), not merely if it is open.
 */
import { DEFAULT_FRONT_PORT, VERSION_HEADER, versionFromPage } from '../../../protocol/front.ts';
import { FrontError } from './errors.ts';
import { toFrontError } from './client.ts';
import { notPluginWhy } from '../messages.ts';
import { exchange, header, pool, type Answer } from './wire.ts';

/**
 * Ports tried when nothing is configured, in order (docs/iiko-front-web-api.md
 * names each one's source): 9042, the plugin's default (EVVA's guide; iiko's
 * SDK issue 342); 8102, the port a public iiko partner checklist gives the
 * plugin ("not above 8999, e.g. 8102"); the rest are ours: neighbours an
 * installer may pick when 9042 is taken.
 */
export const CANDIDATE_PORTS = [DEFAULT_FRONT_PORT, 8102, 9043, 9044, 9045, 9050, 9051, 8042, 8090] as const;
/** One identification request may take this long; loopback answers in milliseconds. */
export const IDENTIFY_TIMEOUT_MS = 1_500;

/** Only this much of a root page is read: enough to recognise the plugin, never a whole huge answer. */
export const PAGE_READ_BYTES = 64_000;

/** Words the plugin's root page is expected to contain [assumption: EVVA's guide shows the page only as a picture]. */
const PLUGIN_PAGE = /iiko|front\s*web\s*api|webfront|resto\.front/i;
/** An API refusal that speaks of keys or authorisation, as ASP.NET Web API's `{"Message": "Authorization has been denied…"}` does. */
const REFUSAL_TEXT = /authori[sz]|denied|\bkey\b|token|licen[sc]|"Message"/i;

export type Identity =
  | { kind: 'plugin'; url: string; version?: string }
  /** `pluginPage`: the root page itself looks like the plugin's (so it may be the plugin, broken). */
  /** `why` is Russian (it is shown by `discover`), from the catalogue in messages.ts. */
  | { kind: 'not_plugin'; url: string; why: string; pluginPage: boolean }
  | { kind: 'unreachable'; url: string; error: FrontError };

/** What the two requests of an identification saw. */
export interface Seen {
  rootStatus: number;
  /** The root page looks like the plugin's (its words, or the version header). */
  pluginPage: boolean;
  apiStatus: number;
  /** The start of the API's answer and its content type. */
  apiText: string;
  apiType: string;
}

/**
 * Whether what a port answered is the plugin, and why not. No public source
 * shows the exact answer of the plugin's API without a key, so no one status
 * code is required: the API must exist (not 404) and refuse a call without a
 * key the way an API does (401/403, or an error that speaks of keys or
 * authorisation, or JSON), or the root page must look like the plugin's. An
 * ordinary web page on a port (an admin panel, a router) answers neither way.
 */
export function judge(s: Seen): { plugin: true } | { plugin: false; why: string } {
  if (s.apiStatus === 404) return { plugin: false, why: notPluginWhy.noApi() };
  const json = /json/i.test(s.apiType) || /^\s*[[{"]/.test(s.apiText);
  const refuses = s.apiStatus === 401 || s.apiStatus === 403 || (s.apiStatus >= 400 && (REFUSAL_TEXT.test(s.apiText) || json));
  const answers = s.apiStatus >= 200 && s.apiStatus < 300 && json;
  const rootOk = s.rootStatus >= 200 && s.rootStatus < 400;
  if ((refuses || answers) && (rootOk || s.pluginPage)) return { plugin: true };
  // The plugin's own page, and an API that is there (not a web page answering every path with 200 HTML).
  const htmlPage = s.apiStatus >= 200 && s.apiStatus < 300 && !json;
  if (s.pluginPage && !htmlPage && s.apiStatus < 500) return { plugin: true };
  if (!rootOk && !s.pluginPage) return { plugin: false, why: notPluginWhy.rootStatus(s.rootStatus) };
  return { plugin: false, why: notPluginWhy.apiStatus(s.apiStatus) };
}

/**
 * Decides whether `url` is the Front Web API plugin from its root page and
 * how its API answers a call without a key (see judge), without using a
 * licence slot. Never throws.
 */
export async function identify(url: string, timeoutMs = IDENTIFY_TIMEOUT_MS): Promise<Identity> {
  const origin = new URL(url).origin;
  const connection = pool(origin, 1, timeoutMs);
  try {
    const root = await exchange(connection, origin, '/', { signal: AbortSignal.timeout(timeoutMs) });
    const html = await readAtMost(root, PAGE_READ_BYTES);
    const pluginPage = header(root.headers, VERSION_HEADER) !== undefined || PLUGIN_PAGE.test(html);
    const api = await exchange(connection, origin, '/api/orders', { signal: AbortSignal.timeout(timeoutMs) });
    const apiText = await readAtMost(api, 2_048);
    const verdict = judge({ rootStatus: root.status, pluginPage, apiStatus: api.status, apiText, apiType: header(api.headers, 'content-type') ?? '' });
    if (!verdict.plugin) return { kind: 'not_plugin', url: origin, why: verdict.why, pluginPage };
    const version = header(root.headers, VERSION_HEADER) ?? header(api.headers, VERSION_HEADER) ?? versionFromPage(html);
    return { kind: 'plugin', url: origin, ...(version ? { version: version.slice(0, 64) } : {}) };
  } catch (e) {
    return { kind: 'unreachable', url: origin, error: toFrontError(e, (e as Error)?.name === 'TimeoutError') };
  } finally {
    connection.destroy();
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
async function readAtMost(res: Answer, max: number): Promise<string> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    parts.push(chunk);
    total += chunk.byteLength;
    if (total >= max) break; // leaving the loop destroys the body
  }
  return Buffer.concat(parts).subarray(0, max).toString('utf8');
}
