/**
 * One webhook POST, bounded in every direction: it goes only where the
 * destination policy allows (the dispatcher is a `guardedAgent`), it takes at
 * most `timeoutMs` from connect to the end of what is read of the answer, and
 * it reads at most ANSWER_CAP_BYTES of the answer (enough to keep a keep-alive
 * socket for the usual "ok" or empty 204; the rest is dropped with the socket).
 * A receiver can therefore cost the relay neither memory nor time beyond
 * these, whatever it sends back.
 */
import type { Dispatcher } from 'undici';
import type { Clock } from '../../common/clock.ts';
import { errorFailure, statusFailure, type Failure } from './failure.ts';

/** Most answer bytes read; a larger answer is cut (the status line already said whether the batch was taken). */
export const ANSWER_CAP_BYTES = 4 * 1024;

export interface Post {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface DeliverOptions {
  dispatcher: Dispatcher;
  timeoutMs: number;
  clock: Clock;
  /** Aborts the attempt when the relay stops (not a failure worth reporting: the batch is resent after a restart). */
  stop: AbortSignal;
}

/** Sends the POST; null when the receiver answered 2xx, else why it failed (a category, never a socket error). */
export async function deliver(post: Post, o: DeliverOptions): Promise<Failure | null> {
  const abort = new AbortController();
  let timedOut = false;
  const onStop = () => abort.abort();
  o.stop.addEventListener('abort', onStop, { once: true });
  const timer = o.clock.setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, o.timeoutMs);
  try {
    // Loaded by the first delivery (a relay's start does not pay for undici); then it is cached.
    const { request } = await import('undici');
    const { url, basic } = credentials(post.url);
    const res = await request(url, {
      method: 'POST', body: post.body, dispatcher: o.dispatcher, signal: abort.signal,
      headers: { 'content-type': 'application/json', 'user-agent': 'evva-relay', ...basic, ...post.headers },
    });
    // The status decides; the answer is read (capped, within the deadline) only to reuse the socket.
    await drain(res.body, ANSWER_CAP_BYTES);
    return res.statusCode >= 200 && res.statusCode < 300 ? null : statusFailure(res.statusCode);
  } catch (e) {
    return errorFailure(e, timedOut, o.timeoutMs);
  } finally {
    o.clock.clearTimeout(timer);
    o.stop.removeEventListener('abort', onStop);
  }
}

/** Reads at most `cap` bytes and then drops the rest with the connection; never rejects. */
async function drain(body: Dispatcher.ResponseData['body'], cap: number): Promise<void> {
  let n = 0;
  try {
    for await (const chunk of body) {
      n += (chunk as Buffer).length;
      if (n > cap) break;
    }
  } catch {
    // The deadline or the receiver cut the answer: the status line already decided.
  } finally {
    if (!body.destroyed && n > cap) body.destroy();
  }
}

/** A receiver URL with `user:password@` in it means HTTP Basic authentication (undici itself would ignore them). */
function credentials(raw: string): { url: string; basic: Record<string, string> } {
  const u = new URL(raw);
  if (!u.username && !u.password) return { url: raw, basic: {} };
  const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  u.username = '';
  u.password = '';
  return { url: u.toString(), basic: { authorization: `Basic ${Buffer.from(pair).toString('base64')}` } };
}
