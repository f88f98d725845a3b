/**
 * Why a webhook attempt failed, as a category a caller may see
 * (`GET …/webhook` lastError) and a metric label, never the socket's own
 * error: "ECONNREFUSED 10.0.0.7:5432" beside "HPE_INVALID_CONSTANT" would tell
 * whoever sets a URL which ports are open (a port scanner through the relay).
 */
import { BlockedDestination } from './destination.ts';

export type FailureKind = 'blocked' | 'dns' | 'unreachable' | 'tls' | 'timeout' | 'redirect' | 'http';

export interface Failure {
  kind: FailureKind;
  /** The receiver's status for `http` and `redirect`. */
  status?: number;
  /** English, for EVVA's operators: what happened and what to do, without addresses or socket errors. */
  message: string;
}

const TEXT: Record<FailureKind, string> = {
  blocked: 'the receiver\'s address is not public (loopback, private, link-local or a metadata name); webhooks go to public addresses only',
  dns: 'the receiver\'s host name does not resolve; check the URL',
  unreachable: 'the receiver could not be reached or did not answer in HTTP; check that it runs and the URL is right',
  tls: 'the TLS handshake with the receiver failed (its certificate is not trusted, expired or for another name)',
  timeout: 'no answer',
  redirect: 'the receiver answered with a redirect; redirects are not followed: set the final URL',
  http: 'the receiver answered with an error status',
};

/** The attempt ended with a status that is not 2xx. */
export function statusFailure(status: number): Failure {
  const kind: FailureKind = status >= 300 && status < 400 ? 'redirect' : 'http';
  return { kind, status, message: `HTTP ${status}: ${TEXT[kind]}` };
}

/** The attempt ended in an error (the request never got a status): its category, from the error's code only. */
export function errorFailure(e: unknown, timedOut: boolean, timeoutMs: number): Failure {
  if (timedOut) return { kind: 'timeout', message: `${TEXT.timeout} within ${Math.round(timeoutMs / 1000)} s` };
  let err: unknown = e;
  // undici wraps the connect error in `cause`; look through a few levels for the first thing with a code.
  for (let i = 0; i < 4 && err; i++) {
    if (err instanceof BlockedDestination) return { kind: 'blocked', message: TEXT.blocked };
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return { kind: kindOf(code), message: TEXT[kindOf(code)] };
    err = (err as { cause?: unknown }).cause;
  }
  return { kind: 'unreachable', message: TEXT.unreachable };
}

function kindOf(code: string): FailureKind {
  if (code === 'EVVA_BLOCKED_DESTINATION') return 'blocked';
  if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EAI_AGAIN' || code === 'EAI_FAIL') return 'dns';
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || code === 'EPROTO'
    || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' || code === 'ERR_OSSL_PEM_NO_START_LINE') return 'tls';
  // Refused, reset, unreachable, a connect timeout, a parser error on a non-HTTP port: one category, on purpose.
  return 'unreachable';
}

/** The metric label of a failure (evva_relay_webhook_deliveries_total{result}). */
export function failureLabel(f: Failure): 'http_error' | 'timeout' | 'network' | 'blocked' {
  return f.kind === 'http' || f.kind === 'redirect' ? 'http_error' : f.kind === 'timeout' ? 'timeout' : f.kind === 'blocked' ? 'blocked' : 'network';
}

/** What `lastError` shows: the category first, so a reader can match on it. */
export function failureText(f: Failure): string {
  return `${f.kind}: ${f.message}`;
}
