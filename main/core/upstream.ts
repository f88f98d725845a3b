/**
 * The contract between the tunnel (main/core/tunnel/) and the plugin client
 * (main/core/front/), which never import each other: what the tunnel calls to
 * reach the plugin, how that fails (FrontError), and what counts as a caller's
 * `key`, which the tunnel's gate and the client both drop before the plugin
 * sees a request (the client adds its own session).
 */
export interface UpstreamRequest {
  method: string;
  /** Begins with '/', includes the query; it has already passed the gate. */
  path: string;
  headers: Record<string, string>;
  body: AsyncIterable<Uint8Array> | null;
  signal: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  body: AsyncIterable<Uint8Array> | null;
}

/** Rejects with FrontError (unreachable | timeout | unlicensed | bad_response | http | auth). */
export interface Upstream {
  forward(req: UpstreamRequest): Promise<UpstreamResponse>;
}

export type FrontErrorCode =
  | 'unreachable'    // nothing answers (connection refused, reset, DNS)
  | 'timeout'        // it accepted the request but did not answer in time
  | 'unlicensed'     // login refused: no free licence slot / module not licensed
  | 'bad_response'   // it answered, but not like the plugin (HTML, broken JSON, wrong shape)
  | 'http'           // it answered with an unexpected HTTP status (500, 404 ...)
  | 'auth'           // still 401 right after a fresh login
  | 'too_large'      // an answer read whole was over the cap (frontMaxAnswerBytes)
  | 'not_plugin'     // discovery: the port answers, but it is not the plugin
  | 'not_found';     // discovery: no port answered like the plugin

export class FrontError extends Error {
  readonly code: FrontErrorCode;
  readonly status?: number;
  /** Extra detail for logs and support (never shown as the main message). */
  readonly detail?: string;

  constructor(code: FrontErrorCode, detail?: string, opts: { status?: number; cause?: unknown } = {}) {
    super(`${code}${detail ? `: ${detail}` : ''}`, { cause: opts.cause });
    this.name = 'FrontError';
    this.code = code;
    this.status = opts.status;
    this.detail = detail;
  }
}

export function isFrontError(e: unknown): e is FrontError {
  return e instanceof FrontError;
}

/** True for a query parameter name that means `key` to some server: any case, any escaping, padding, brackets, width. */
export function keyLike(name: string): boolean {
  let n = name;
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(n.replace(/\+/g, ' '));
    } catch {
      break;
    }
    if (next === n) break;
    n = next;
  }
  // NFKC changes nothing in ASCII; skipping it there keeps ICU's tables out of memory for the usual names.
  // eslint-disable-next-line no-control-regex
  return (/^[\x00-\x7f]*$/.test(n) ? n : n.normalize('NFKC')).toLowerCase().replace(/[^a-z0-9]/g, '') === 'key';
}

/** The query without any caller key; other parameters byte for byte, in order. */
export function withoutKeys(query: string): string[] {
  return query.split('&').filter((p) => p && !keyLike(p.split('=')[0] ?? ''));
}
