/**
 * The relay's side of the feed, on loopback in this one process: how long an
 * event takes from its `event` frame to the `ack` (stored, committed) and to a
 * webhook receiver's 2xx, one event at a time; and how many events a second
 * one link gets stored and acked when the companion keeps its window full.
 * `--set store=postgres` runs the relay on a real Postgres it starts (Debian's), instead of SQLite.
 */
import type { BenchOptions, BenchResult } from './run.ts';
import { startPostgres } from '../tests/helpers/postgres.ts';
import { envelope, rawCompanion, startReceiver } from '../tests/helpers/feedpeers.ts';
import { pairedVenue, startRelay, tempDir, waitFor } from '../tests/helpers/relay.ts';
import { EVENTS_IN_FLIGHT } from '../protocol/events.ts';

/** Sequential events measured (after WARMUP unmeasured ones). */
const N = 300;
const WARMUP = 30;
/** Full windows sent for the throughput row. */
const WINDOWS = 40;
const TIME_LIMIT_MS = 60_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const ms = (x: number) => x.toFixed(2);

export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  const deadline = performance.now() + TIME_LIMIT_MS;
  const arrived = new Map<string, number>();
  const rx = await startReceiver();
  const secret = 'bench-webhook-secret-0123';
  const pg = opts.set?.store === 'postgres' ? await startPostgres() : null;
  const relay = await startRelay({ webhooks: { url: rx.url, secret, pollMs: 1_000, allowLoopback: true }, ...(pg ? { store: pg.url } : {}) });
  const companionDir = tempDir('bench-companion');
  try {
    const venue = await pairedVenue(relay.url, companionDir.dir);
    const peer = await rawCompanion(relay.url, venue.deviceToken);
    const ackAt = new Map<string, number>();
    peer.ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as { t: string; eventIds?: string[] };
      if (f.t === 'ack') for (const id of f.eventIds ?? []) ackAt.set(id, performance.now());
    });
    // The receiver records bodies; poll it for arrivals (its own timestamps would need a hook).
    const seenAt = () => {
      for (const r of rx.requests) {
        if (r.status !== 200) continue;
        for (const e of JSON.parse(r.body) as Array<{ eventId: string }>) if (!arrived.has(e.eventId)) arrived.set(e.eventId, performance.now());
      }
    };
    const ack: number[] = [];
    const hook: number[] = [];
    let seq = 0;
    for (let i = 0; i < N + WARMUP && performance.now() < deadline; i++) {
      const e = envelope(venue.venueId, ++seq);
      const t0 = performance.now();
      peer.event(e);
      await waitFor(() => ackAt.has(e.eventId), 'ack', 10_000, 0);
      await waitFor(() => { seenAt(); return arrived.has(e.eventId); }, 'webhook', 10_000, 0);
      if (i >= WARMUP) {
        ack.push((ackAt.get(e.eventId) as number) - t0);
        hook.push((arrived.get(e.eventId) as number) - t0);
      }
    }
    ack.sort((a, b) => a - b);
    hook.sort((a, b) => a - b);

    const t0 = performance.now();
    let sent = 0;
    for (let w = 0; w < WINDOWS && performance.now() < deadline; w++) {
      const batch = Array.from({ length: EVENTS_IN_FLIGHT }, () => envelope(venue.venueId, ++seq));
      for (const e of batch) peer.event(e);
      sent += batch.length;
      const last = batch[batch.length - 1]!.eventId;
      await waitFor(() => ackAt.has(last), 'window acked', 20_000, 0);
    }
    const secs = (performance.now() - t0) / 1000;
    await waitFor(() => { seenAt(); return arrived.size >= seq; }, 'all at the receiver', 30_000, 20).catch(() => undefined);
    await peer.close();
    return { tables: [{
      title: `Relay feed: event frame → stored and acked → webhook 2xx (loopback, one process, ${pg ? 'Postgres (fsync on)' : 'SQLite WAL'})`,
      columns: ['what', 'n', 'p50 ms', 'p99 ms', 'max ms'],
      rows: [
        ['event → ack (stored, committed)', ack.length, ms(percentile(ack, 50)), ms(percentile(ack, 99)), ms(ack[ack.length - 1] ?? NaN)],
        ['event → webhook receiver 2xx', hook.length, ms(percentile(hook, 50)), ms(percentile(hook, 99)), ms(hook[hook.length - 1] ?? NaN)],
      ],
      notes: [
        `Throughput with the window full (${EVENTS_IN_FLIGHT} in flight): ${sent} events stored and acked in ${secs.toFixed(2)} s = ${Math.round(sent / secs)} events/s on one link.`,
        `Webhook requests: ${rx.requests.length} for ${arrived.size} events (batches of up to 100).`,
      ],
    }], data: { ackMs: ack, webhookMs: hook, eventsPerSec: sent / secs } };
  } finally {
    await relay.close();
    await pg?.stop();
    await rx.close();
    companionDir.remove();
  }
}
