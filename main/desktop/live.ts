/**
 * The shell as a client of a core's local API, the same API the UI and any
 * browser use: the live channel (status, activity, events, payments) plus the
 * status now and then for the tray's numbers (the live channel skips changes
 * of latency only). Used for this session's own core and for a core another
 * Windows session hosts alike, so every signed-in user's tray says the same.
 */
import WebSocket from 'ws';
import { LiveMessage, Status } from '../../protocol/local.ts';

export interface LiveOptions {
  api: { url: string; token: string };
  onMessage(message: LiveMessage): void;
  /** The channel closed (the core stopped, or its session ended); not called after close(). */
  onClose(): void;
  /** How often the status is read for the tray's numbers. */
  refreshMs?: number;
}

export interface Live { close(): void }

/** The tray's numbers (plugin latency, tunnel round trip) are this fresh. */
export const REFRESH_MS = 15_000;
/** A live message larger than this is not a status; the socket is dropped. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export function openLive(opts: LiveOptions): Live {
  let closed = false;
  const auth = { authorization: `Bearer ${opts.api.token}` };
  const ws = new WebSocket(`${opts.api.url.replace(/^http/, 'ws')}/api/live`, { headers: auth, maxPayload: MAX_MESSAGE_BYTES });
  ws.on('message', (data) => {
    let parsed: unknown;
    try { parsed = JSON.parse(String(data)); } catch { return; }
    // Validated like anything from a socket: a message of another shape is skipped.
    const m = LiveMessage.safeParse(parsed);
    if (m.success) opts.onMessage(m.data);
  });
  ws.on('error', () => undefined);
  ws.on('close', () => { clearInterval(timer); if (!closed) { closed = true; opts.onClose(); } });
  const timer = setInterval(() => {
    void fetch(`${opts.api.url}/api/status`, { headers: auth, signal: AbortSignal.timeout(5_000) })
      .then(async (res) => (res.status === 200 ? Status.safeParse(await res.json()) : null))
      .then((s) => { if (s?.success && !closed) opts.onMessage({ type: 'status', status: s.data }); })
      .catch(() => undefined);
  }, opts.refreshMs ?? REFRESH_MS);
  timer.unref();
  return {
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      ws.terminate();
    },
  };
}
