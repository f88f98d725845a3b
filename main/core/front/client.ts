/**
 * The iiko Front Web API plugin client: one session, validated answers, typed errors.
 *
 * The plugin counts every live token against a licence slot, so the client
 * holds exactly one: it logs in lazily, shares one login between concurrent
 * callers, logs in again only after a 401 (logging the dead token out first),
 * backs off after failed logins, and logs out on stop. A logout that does not
 * reach the plugin (it is down) is not forgotten: the token is kept, in memory
 * and in the session store, and logged out before the next login.
 *
 * Two connection pools: `control` for the probe, logins and logouts, `tunnel`
 * for calls EVVA makes through the tunnel. Slow or stuck tunnel callers can
 * fill theirs; the probe's check still gets through, so a healthy plugin never
 * looks down because of them. Every deadline is a timer of ours (deadline.ts).
 * The pools are wire.ts's own HTTP/1.1 client on node:net (it says why not undici or node:http).
 */
import type { z } from 'zod';
import { DEFAULT_MAX_ANSWER_BYTES, LICENCE_REFUSAL, LoginToken, VERSION_HEADER, versionFromPage } from '../../../protocol/front.ts';
import type { Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import { Backstop, deadline, type Cutoff, type Deadline } from './deadline.ts';
import { FrontError, isFrontError } from '../upstream.ts';
import { MAX_RECORD_BYTES, RecordReader } from './records.ts';
import { keyLike, withoutKeys } from '../upstream.ts';
import { drain, exchange, header, pool, type Answer, type Body } from './wire.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../upstream.ts';

/** How long one plugin call may take before it counts as a timeout. */
export const FRONT_TIMEOUT_MS = 8_000;
/** First wait after a failed login; doubles with each failure. */
export const LOGIN_BACKOFF_BASE_MS = 1_000;
/** Longest wait between login attempts. */
export const LOGIN_BACKOFF_CAP_MS = 60_000;
/**
 * Tunnel calls end when the relay's deadline (carried by their signal) says so;
 * this only stops a call whose signal never fires from hanging for ever.
 */
export const FORWARD_BACKSTOP_MS = 120_000;
/**
 * A login is waited for this long, whatever the caller's deadline: abandoning
 * it would leave the token the plugin issues late holding a licence slot.
 * Callers stop waiting at their own deadline; the login goes on.
 */
export const LOGIN_WAIT_MS = 60_000;
/** Connections for the probe, logins and logouts: one check and one login at a time at most. */
export const CONTROL_CONNECTIONS = 2;
// Default cap on a plugin answer the core reads whole: in protocol/front.ts so settings can name it without loading undici.
export { DEFAULT_MAX_ANSWER_BYTES };
/** Logout on stop must not hold up shutdown for longer than this. */
export const LOGOUT_TIMEOUT_MS = 2_000;
/**
 * Tunnel connections to the plugin at once. Its host is known to crash under load
 * (iiko/front.api.sdk issue 111), so concurrent calls queue here instead.
 */
export const FRONT_MAX_CONNECTIONS = 6;
/** An idle connection to the plugin is closed after this long. */
const KEEP_ALIVE_MS = 4_000;

/**
 * Where the session tokens are kept across runs: the one held now and every one
 * whose logout has not reached the plugin yet, so each licence slot they hold is
 * freed at the next login, in this run or the next (a kill -9, a plugin outage).
 */
export interface SessionStore {
  /** Tokens this plugin may still count against us (a previous run's, or ones whose logout never arrived). */
  load(): string[];
  /** Records a token the plugin counts against us. */
  hold(token: string): void;
  /** Forgets a token once the plugin has answered its logout. */
  release(token: string): void;
}

export interface FrontClientOptions {
  /** Plugin origin, e.g. http://127.0.0.1:9042 (settings ensure it is on loopback). */
  baseUrl: string;
  moduleId: string;
  clock: Clock;
  logger: Logger;
  timeoutMs?: number;
  /** Largest answer read whole (get, page); beyond it the call fails with too_large. */
  maxAnswerBytes?: number;
  /** Keeps the session token across runs; none by default (tests). */
  sessionStore?: SessionStore;
}

export interface FrontClient {
  readonly origin: string;
  /** GETs `path` with the session and returns the body validated by `schema`; throws FrontError. */
  get<S extends z.ZodTypeAny>(path: string, schema: S, opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<z.infer<S>>;
  /** The plugin's root page, without a session: `{ status, html, version }`. */
  page(opts?: { timeoutMs?: number }): Promise<{ status: number; html: string; version?: string }>;
  /** Upstream for the tunnel: replaces any caller key with the session, streams the answer. */
  forward: Upstream['forward'];
  /** The plugin version last seen in an answer, if it shows one. */
  version(): string | undefined;
  /** True while a session token is held. */
  hasSession(): boolean;
  /** Logs the session out (best effort, bounded) and refuses further calls. */
  close(): Promise<void>;
}

/** Builds a client for one plugin origin; no request is made until the first call. */
export function createFrontClient(opts: FrontClientOptions): FrontClient {
  const origin = new URL(opts.baseUrl).origin;
  const timeoutMs = opts.timeoutMs ?? FRONT_TIMEOUT_MS;
  const maxAnswerBytes = opts.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  // Idle connections close after 4 s; every call's own deadline bounds connecting too.
  const control = pool(origin, CONTROL_CONNECTIONS, KEEP_ALIVE_MS);
  const tunnel = pool(origin, FRONT_MAX_CONNECTIONS, KEEP_ALIVE_MS);
  const log = opts.logger.child({ part: 'front' });
  const { clock } = opts;
  const store = opts.sessionStore;
  /**
   * Tokens whose logout has not reached the plugin: a previous run's, or ours
   * while the plugin was down. Each holds a licence slot the venue's other iiko
   * integrations share, so every login first logs them out.
   */
  const owed = new Set(store?.load() ?? []);

  let token: string | null = null;
  let loginInFlight: Promise<string> | null = null;
  let failures = 0;
  let retryAt = 0;
  let lastLoginError: FrontError | null = null;
  let seenVersion: string | undefined;
  let stopping = false; // no new logins: close() is logging the session out
  const loginStop = new AbortController(); // close() gives up on a login that does not land soon
  let closed = false;    // no requests at all

  /** One HTTP exchange within `d`, on the control pool unless told otherwise. */
  async function request(path: string, d: Deadline, init: { headers?: Record<string, string> } = {}): Promise<Answer> {
    if (closed) throw new FrontError('unreachable', 'client closed');
    try {
      // As fetch did: the WHATWG URL parser percent-encodes what may not go raw on the wire
      // (the payment check's `$orderby=Number desc` has a space). The tunnel's paths go as the gate let them through.
      const u = new URL(path, origin);
      const res = await exchange(control, origin, u.pathname + u.search, { headers: init.headers, signal: d.signal });
      const v = header(res.headers, VERSION_HEADER);
      if (v) seenVersion = v.slice(0, 64);
      return res;
    } catch (e) {
      throw toFrontError(e, d.timedOut());
    }
  }

  /**
   * Reads a whole answer, refusing (and dropping the connection) past `maxAnswerBytes`.
   * With `records` (the JSON answers of get()), a list element over MAX_RECORD_BYTES is
   * left out as it streams in, never held or parsed (records.ts), and one such answer
   * that is a single value is refused.
   */
  async function readText(res: Answer, d: Deadline, records = false, path?: string): Promise<string> {
    const declared = Number(header(res.headers, 'content-length') ?? NaN);
    if (declared > maxAnswerBytes) {
      res.body.destroy();
      throw new FrontError('too_large', `${declared} bytes declared, limit ${maxAnswerBytes}`);
    }
    // An answer declared no larger than one record cannot hold a larger one: read it plainly.
    const reader = records && !(declared <= MAX_RECORD_BYTES) ? new RecordReader() : null;
    const parts: Buffer[] = [];
    let total = 0;
    try {
      // Leaving the loop early (too large, a failure) destroys the body and drops its connection.
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        total += chunk.byteLength;
        if (total > maxAnswerBytes) throw new FrontError('too_large', `over ${maxAnswerBytes} bytes`);
        if (reader) reader.push(chunk);
        else parts.push(chunk);
      }
    } catch (e) {
      throw toFrontError(e, d.timedOut());
    }
    if (!reader) return Buffer.concat(parts, total).toString('utf8');
    const kept = reader.end();
    if (kept.dropped) {
      log.warn('plugin records over the size limit left out of an answer', {
        path: path?.split('?')[0], dropped: kept.dropped, largestBytes: kept.largest, limitBytes: MAX_RECORD_BYTES,
      });
    }
    return kept.text;
  }

  async function login(): Promise<string> {
    const wait = retryAt - clock.mono();
    if (wait > 0 && lastLoginError) throw lastLoginError;
    if (owed.size) {
      // Frees the slots earlier tokens of ours still hold, before taking another.
      const results = await Promise.all([...owed].map((t) => logout(t)));
      const freed = results.filter((r) => r === 'done').length;
      if (freed) log.info('left-over plugin sessions logged out', { count: freed });
      // A plugin that did not get the logout (down, or just coming back) gets no login either:
      // the next check tries both again, so a new slot is never taken while an old one may be held.
      if (results.includes('unanswered')) throw new FrontError('unreachable', 'the plugin did not answer the logout of an earlier session');
    }
    const d = deadline(clock, LOGIN_WAIT_MS, loginStop.signal);
    try {
      const res = await request(`/api/login/${encodeURIComponent(opts.moduleId)}`, d);
      const text = await readText(res, d);
      if (res.status === 403 || (res.status !== 200 && LICENCE_REFUSAL.test(text))) {
        throw new FrontError('unlicensed', clip(text), { status: res.status });
      }
      if (res.status !== 200) throw new FrontError('http', `login answered ${res.status}`, { status: res.status });
      const parsed = LoginToken.safeParse(parseJson(text, res));
      if (!parsed.success) throw new FrontError('bad_response', 'ответ на вход не содержит ключа');
      failures = 0;
      lastLoginError = null;
      store?.hold(parsed.data);
      log.info('plugin session opened');
      return parsed.data;
    } catch (e) {
      const err = isFrontError(e) ? e : toFrontError(e, false);
      failures += 1;
      const backoff = Math.min(LOGIN_BACKOFF_CAP_MS, LOGIN_BACKOFF_BASE_MS * 2 ** Math.min(failures - 1, 16));
      retryAt = clock.mono() + backoff;
      lastLoginError = err;
      log.warn('plugin login failed', { code: err.code, detail: err.detail, retryInMs: backoff });
      throw err;
    } finally {
      d.clear();
    }
  }

  /** The current token, logging in once for all concurrent callers. */
  function session(): Promise<string> {
    if (token) return Promise.resolve(token);
    if (stopping) return Promise.reject(new FrontError('unreachable', 'client closed'));
    if (!loginInFlight) {
      loginInFlight = login()
        .then(async (t) => {
          if (stopping) { await logout(t); throw new FrontError('unreachable', 'client closed'); }
          token = t;
          return t;
        })
        .finally(() => { loginInFlight = null; });
    }
    return loginInFlight;
  }

  /** Drops `used` if it is still the current token: a 401 means the plugin forgot it. */
  async function invalidate(used: string): Promise<void> {
    if (token !== used) return;
    token = null;
    log.info('plugin session expired; logging in again');
    // The plugin already dropped it on expiry or restart; logging out anyway
    // makes sure a half-alive token never holds a second licence slot.
    await logout(used);
  }

  /**
   * Logs `t` out. `done`: the plugin answered, the token is gone. `kept`: it
   * answered 5xx; `unanswered`: it was down, unreachable or too slow. Either way
   * the token may still hold its slot, so it stays owed and the next login logs it
   * out first. Never throws.
   */
  async function logout(t: string): Promise<'done' | 'kept' | 'unanswered'> {
    const d = deadline(clock, LOGOUT_TIMEOUT_MS);
    let result: 'done' | 'kept' | 'unanswered' = 'unanswered';
    try {
      const res = await request(`/api/logout/${encodeURIComponent(t)}`, d);
      await drain(res.body);
      // 2xx: logged out; 4xx: the plugin does not know the token, so it holds no slot.
      result = res.status < 500 ? 'done' : 'kept';
    } catch {
      // Unanswered: kept below.
    } finally {
      d.clear();
    }
    if (result === 'done') {
      owed.delete(t);
      store?.release(t);
    } else {
      owed.add(t);
    }
    return result;
  }

  /** The session, or a timeout when the caller's deadline passes first (the shared login goes on). */
  function sessionWithin(deadline: Cutoff): Promise<string> {
    if (deadline.aborted) return Promise.reject(new FrontError('timeout'));
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new FrontError('timeout', 'login did not finish in time'));
      deadline.addEventListener('abort', onAbort, { once: true });
      session().then(resolve, reject).finally(() => deadline.removeEventListener('abort', onAbort));
    });
  }

  /** Runs `call` with the session; on 401 logs in again once and retries. All within `deadline`. */
  async function withSession<R extends { status: number }>(
    call: (t: string) => Promise<R>, canRetry: boolean, deadline: Cutoff, discard: (r: R) => Promise<unknown>,
  ): Promise<R> {
    // A held token needs no waiting (and no abort listener per call, the tunnel's hot path).
    const first = token ?? await sessionWithin(deadline);
    const res = await call(first);
    if (res.status !== 401) return res;
    await discard(res);
    await invalidate(first);
    if (!canRetry) throw new FrontError('auth', 'plugin answered 401', { status: 401 });
    const second = await sessionWithin(deadline);
    const again = await call(second);
    if (again.status === 401) {
      await discard(again);
      await invalidate(second);
      throw new FrontError('auth', 'plugin answered 401 right after login', { status: 401 });
    }
    return again;
  }

  /** The tunnel's call: a request on the tunnel pool within `d`, its body streamed both ways. */
  function raw(path: string, method: string, headers: Record<string, string>, body: AsyncIterable<Uint8Array> | null, d: Backstop): Promise<Answer> {
    if (closed) return Promise.reject(new FrontError('unreachable', 'client closed'));
    return exchange(tunnel, origin, path, { method, headers, body, signal: d });
  }

  return {
    origin,

    async get(path, schema, o = {}) {
      const sep = path.includes('?') ? '&' : '?';
      const d = deadline(clock, o.timeoutMs ?? timeoutMs, o.signal);
      let res: Answer;
      let text: string;
      try {
        res = await withSession((t) => request(`${path}${sep}key=${encodeURIComponent(t)}`, d), true, d.signal, cancelBody);
        text = await readText(res, d, true, path);
      } finally {
        d.clear();
      }
      if (res.status !== 200) throw new FrontError('http', `${path} answered ${res.status}`, { status: res.status });
      const body = parseJson(text, res);
      const parsed = schema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new FrontError('bad_response', `неожиданная структура данных: ${issue?.path.join('.') || '(корень)'}`);
      }
      return parsed.data;
    },

    async page(o = {}) {
      const d = deadline(clock, o.timeoutMs ?? timeoutMs);
      try {
        const res = await request('/', d, { headers: { accept: 'text/html' } });
        const html = clip(await readText(res, d), 64_000);
        return { status: res.status, html, version: seenVersion ?? versionFromPage(html) };
      } finally {
        d.clear();
      }
    },

    async forward(req: UpstreamRequest): Promise<UpstreamResponse> {
      // Plain string handling, not URL: the caller's query reaches the plugin unchanged in meaning
      // (OData filters are picky; no '+' for spaces), minus any key of theirs. Prefixing the origin keeps it on the plugin.
      if (!req.path.startsWith('/')) throw new FrontError('bad_response', 'target is not a path');
      const cut = req.path.indexOf('?');
      const pathname = cut < 0 ? req.path : req.path.slice(0, cut);
      const query = withoutKeys(cut < 0 ? '' : req.path.slice(cut + 1));
      const headers = withoutCallerKey(req.headers);
      const canRetry = req.body === null;
      // The relay's deadline ends the call through req.signal; the backstop covers a signal that never fires.
      const d = new Backstop(clock, FORWARD_BACKSTOP_MS, req.signal);
      try {
        const res = await withSession((t) => {
          const q = [...query, `key=${encodeURIComponent(t)}`].join('&');
          return raw(`${pathname}?${q}`, req.method, headers, req.body, d);
        }, canRetry, d, (r) => drain(r.body));
        // Lower-case names, repeats already joined (wire.ts), and owned by this call alone.
        const out = res.headers;
        const v = out[VERSION_HEADER];
        if (v) seenVersion = v.slice(0, 64);
        if (req.method === 'HEAD' || res.status === 204 || res.status === 304) {
          // No body by definition: the relay gets one res frame.
          await drain(res.body);
          d.clear();
          return { status: res.status, headers: out, body: null };
        }
        return { status: res.status, headers: out, body: bodyOf(res.body, d) };
      } catch (e) {
        d.clear();
        throw toFrontError(e, d.timedOut());
      }
    },

    version: () => seenVersion,
    hasSession: () => token !== null,

    async close() {
      if (stopping) return;
      stopping = true;
      // A login still in flight logs its own token out as it lands (see session()).
      const t = token;
      token = null;
      if (t) {
        // Said as it is: a logout the plugin never got leaves the slot taken until the next login logs it out.
        if (await logout(t) === 'done') log.info('plugin session closed');
        else log.warn('plugin session not closed: the plugin did not answer the logout; it is logged out at the next login');
      }
      if (loginInFlight) {
        // Give a late login the time a logout gets to land (it then logs itself out), then stop waiting.
        const landed = loginInFlight.catch(() => undefined);
        await Promise.race([landed, new Promise<void>((r) => { clock.setTimeout(r, LOGOUT_TIMEOUT_MS).unref?.(); })]);
        loginStop.abort(new FrontError('unreachable', 'client closed'));
        await landed;
      }
      closed = true;
      await Promise.all([control.close(), tunnel.close()]);
    },
  };
}

/** Removes the caller's `key` cookie (the companion adds its own session in the query). */
function withoutCallerKey(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'cookie') {
      const kept = value.split(';').map((c) => c.trim()).filter((c) => c && !keyLikeCookie(c));
      if (kept.length) out.cookie = kept.join('; ');
      continue;
    }
    if (lower === 'host' || lower === 'authorization') continue;
    out[lower] = value;
  }
  return out;
}

/**
 * The plugin's answer as the tunnel reads it: errors become FrontErrors, and
 * the deadline is cleared exactly once when the body ends, fails or is given
 * up (`return()` also works before the first read, unlike a generator's).
 */
function bodyOf(body: Body, d: Pick<Deadline, 'clear' | 'timedOut'>): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const it = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
      return {
        async next() {
          try {
            const r = await it.next();
            if (r.done) d.clear();
            return r;
          } catch (e) {
            d.clear();
            throw toFrontError(e, d.timedOut());
          }
        },
        async return() {
          d.clear();
          // drain, not destroy: a body read to its declared end keeps its keep-alive connection;
          // an abandoned one is read on for at most DRAIN_BYTES (wire.ts), then its connection is closed.
          void drain(body);
          return { done: true as const, value: undefined };
        },
      };
    },
  };
}

const cancelBody = (r: Answer) => drain(r.body);

function parseJson(text: string, res: Answer): unknown {
  const type = header(res.headers, 'content-type') ?? '';
  if (/text\/html/i.test(type) || /^\s*</.test(text)) throw new FrontError('bad_response', 'HTML вместо JSON');
  try {
    return JSON.parse(text);
  } catch {
    throw new FrontError('bad_response', 'испорченный JSON');
  }
}

/** Maps a fetch failure to a FrontError; `timedOut` says our own deadline fired. */
export function toFrontError(e: unknown, timedOut: boolean): FrontError {
  if (isFrontError(e)) return e;
  if (timedOut) return new FrontError('timeout', undefined, { cause: e });
  const err = e as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return new FrontError('timeout', undefined, { cause: e });
  // fetch (pairing, the reach check) puts the socket's code in `cause`; wire.ts (the plugin client) on the error itself.
  const code = err?.cause?.code ?? err?.code ?? err?.name ?? 'error';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new FrontError('timeout', code, { cause: e });
  }
  return new FrontError('unreachable', code, { cause: e });
}

function keyLikeCookie(c: string): boolean {
  return keyLike(c.split('=')[0] ?? '');
}

function clip(s: string, n = 300): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
