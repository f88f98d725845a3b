/**
 * Webhooks with a real receiver on loopback: every stored event reaches it
 * once, in order, signed; a receiver that fails or hangs gets the same batch
 * again until it answers 2xx, also across a relay restart.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { envelope, rawCompanion, signatureValid, startReceiver } from '../../helpers/feedpeers.ts';
import { loadDevice, pair } from '../../../main/core/tunnel/pair.ts';
import { runBin, startBin } from '../../helpers/proc.ts';
import { API_KEY, COMPANION, createVenue, pairedVenue, startRelay, tempDir, waitFor, type RunningRelay } from '../../helpers/relay.ts';
import type { RelayOptions } from '../../../relay/server.ts';
import { NO_ORGANIZATION } from '../../../relay/webhooks.ts';
import { busyWorld, feedOrders } from '../../helpers/cloudorders.ts';
import { cloudSchemas } from '../../helpers/openapi.ts';

const SECRET = 'whsec-test-0123456789abcdef';
const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
// The receivers run on this machine: the test-only loopback permission (docs/relay.md, Webhooks).
const fast = { timeoutMs: 1_000, baseBackoffMs: 100, maxBackoffMs: 400, pollMs: 200, allowLoopback: true };

describe('webhooks', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(receiverUrl: string | null, more: Partial<RelayOptions> = {}) {
    const companionDir = tempDir('companion');
    cleanups.push(() => companionDir.remove());
    const relayDir = tempDir('relay');
    cleanups.push(() => relayDir.remove());
    const webhooks = { ...fast, ...(receiverUrl ? { url: receiverUrl, secret: SECRET } : {}) };
    const state: { relay: RunningRelay } = { relay: await startRelay({ dataDir: relayDir.dir, webhooks, ...more }) };
    cleanups.push(() => state.relay.close());
    const venue = await pairedVenue(state.relay.url, companionDir.dir);
    const peer = await rawCompanion(state.relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    return {
      state, venue, peer, relayDir: relayDir.dir, webhooks,
      async send(from: number, to: number) {
        const before = peer.acked.length;
        for (let s = from; s <= to; s++) peer.event(envelope(venue.venueId, s));
        await waitFor(() => peer.acked.length === before + (to - from + 1), `acks for ${from}..${to}`);
      },
    };
  }

  it('POSTs every event once, in seq order, with a valid signature and iiko Cloud field names', async () => {
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const { venue, send } = await setup(rx.url);
    await send(1, 30);
    await waitFor(() => rx.accepted().length === 30, 'all 30 at the receiver');
    await send(31, 40);
    await waitFor(() => rx.accepted().length === 40, 'all 40 at the receiver');
    const got = rx.accepted();
    expect(got.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(new Set(got.map((e) => e.eventId)).size).toBe(40);
    for (const e of got) expect([e.organizationId, e.correlationId]).toEqual([venue.venueId, e.eventId]);
    for (const r of rx.requests) {
      expect(signatureValid(SECRET, r)).toBe(true);
      expect(r.deliveryId).toMatch(/^dlv_/);
    }
    expect(signatureValid('another-secret-000000', rx.requests[0]!)).toBe(false);
  });

  it('retries a receiver that answers 500 with the same batch and delivery id, then continues in order', async () => {
    const rx = await startReceiver((n) => (n < 4 ? 500 : 200));
    cleanups.push(() => rx.close());
    const { state, send } = await setup(rx.url);
    await send(1, 5);
    await waitFor(() => rx.accepted().length === 5, 'events after recovery', 15_000);
    await send(6, 8);
    await waitFor(() => rx.accepted().length === 8, 'later events', 15_000);
    expect(rx.requests.slice(0, 4).map((r) => r.status)).toEqual([500, 500, 500, 500]);
    // Until a 2xx the receiver sees one batch under one delivery id, byte for byte.
    expect(new Set(rx.requests.slice(0, 5).map((r) => r.deliveryId)).size).toBe(1);
    expect(new Set(rx.requests.slice(0, 5).map((r) => r.body)).size).toBe(1);
    expect(rx.accepted().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const metrics = await (await fetch(`${state.relay.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/evva_relay_webhook_deliveries_total\{result="http_error"\} 4/);
    expect(metrics).toMatch(/evva_relay_webhook_backlog 0/);
    expect(metrics).toMatch(/evva_relay_webhook_latency_seconds_count 8/);
  });

  it('gives up on a receiver that hangs after the timeout and delivers on the next attempt', async () => {
    const rx = await startReceiver((n) => (n === 0 ? 'hang' : 200));
    cleanups.push(() => rx.close());
    const { state, venue, send } = await setup(rx.url);
    await send(1, 3);
    await waitFor(() => rx.accepted().length === 3, 'delivered after the hang', 15_000);
    expect(rx.requests[0]!.status).toBe(0);
    expect(rx.requests[1]!.deliveryId).toBe(rx.requests[0]!.deliveryId);
    const metrics = await (await fetch(`${state.relay.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/evva_relay_webhook_deliveries_total\{result="timeout"\} 1/);
    const view = await (await fetch(`${state.relay.url}/v1/venues/${venue.venueId}/webhook`, { headers: auth })).json();
    expect(view).toMatchObject({ source: 'relay', backlog: 0, attempts: 0, lastError: null });
  });

  it('resumes the interrupted batch after a relay restart and never delivers an accepted event again', async () => {
    let hang = true;
    const rx = await startReceiver(() => (hang ? 'hang' : 200));
    cleanups.push(() => rx.close());
    // The first relay waits long for an answer: the POST is still in flight when it stops.
    const { state, venue, send, relayDir } = await setup(rx.url, { webhooks: { ...fast, url: rx.url, secret: SECRET, timeoutMs: 30_000 } });
    await send(1, 4);
    await waitFor(() => rx.requests.length === 1, 'first POST in flight');
    const interrupted = rx.requests[0]!;
    await state.relay.close();
    hang = false;
    state.relay = await startRelay({ dataDir: relayDir, webhooks: { ...fast, url: rx.url, secret: SECRET } });
    const peer = await rawCompanion(state.relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    await waitFor(() => rx.accepted().length === 4, 'the interrupted batch after restart', 15_000);
    expect(rx.requests[1]!.deliveryId).toBe(interrupted.deliveryId);
    peer.event(envelope(venue.venueId, 5));
    await waitFor(() => rx.accepted().length === 5, 'a new event after restart', 15_000);
    expect(rx.accepted().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a relay stopped while the receiver is answering records the batch, so it is not sent again after a restart', async () => {
    // The receiver takes each batch at once and answers 2xx 400 ms later: the relay is stopped in between.
    const rx = await startReceiver(() => 200, 0, 400);
    cleanups.push(() => rx.close());
    const { state, venue, send, relayDir } = await setup(rx.url);
    await send(1, 3);
    await waitFor(() => rx.requests.length === 1, 'the first POST in flight');
    await state.relay.close();
    state.relay = await startRelay({ dataDir: relayDir, webhooks: { ...fast, url: rx.url, secret: SECRET } });
    const peer = await rawCompanion(state.relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    peer.event(envelope(venue.venueId, 4));
    await waitFor(() => rx.accepted().some((e) => e.seq === 4), 'a new event after the restart', 15_000);
    expect(rx.accepted().map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it('lets a venue have its own receiver through the API, never showing the secret', async () => {
    const relayWide = await startReceiver();
    cleanups.push(() => relayWide.close());
    const own = await startReceiver();
    cleanups.push(() => own.close());
    const { state, venue, send } = await setup(relayWide.url);
    const base = `${state.relay.url}/v1/venues/${venue.venueId}/webhook`;
    const ownSecret = 'venue-secret-0123456789';
    const put = await fetch(base, { method: 'PUT', headers: auth, body: JSON.stringify({ url: own.url, secret: ownSecret }) });
    expect(put.status).toBe(200);
    const view = await put.json();
    expect(view).toMatchObject({ url: own.url, source: 'venue' });
    expect(JSON.stringify(view)).not.toContain(ownSecret);
    await send(1, 2);
    await waitFor(() => own.accepted().length === 2, 'events at the venue\'s receiver');
    expect(relayWide.requests).toHaveLength(0);
    expect(signatureValid(ownSecret, own.requests[0]!)).toBe(true);
    expect((await fetch(base, { method: 'PUT', headers: auth, body: JSON.stringify({ url: 'ftp://x', secret: ownSecret }) })).status).toBe(400);
    expect((await fetch(base, { method: 'PUT', headers: auth, body: JSON.stringify({ url: own.url, secret: 'short' }) })).status).toBe(400);
    const del = await fetch(base, { method: 'DELETE', headers: auth });
    expect(await del.json()).toMatchObject({ url: relayWide.url, source: 'relay' });
    await send(3, 3);
    await waitFor(() => relayWide.accepted().length === 1, 'back to the relay-wide receiver');
    expect(relayWide.accepted()[0]!.seq).toBe(3);
  });

  it('sends a venue\'s events in iiko Cloud\'s format once its iiko organization is known: Cloud\'s body, its Authorization token, no signature', async () => {
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const { state, venue, peer } = await setup(null);
    const base = `${state.relay.url}/v1/venues/${venue.venueId}`;
    const token = 'cloud-handler-token-1';
    const put = (path: string, body: unknown) => fetch(`${base}${path}`, { method: 'PUT', headers: auth, body: JSON.stringify(body) });
    expect((await put('/webhook', { url: rx.url, format: 'iiko-cloud' })).status).toBe(400);
    const set = await put('/webhook', { url: rx.url, format: 'iiko-cloud', authToken: token });
    expect(set.status).toBe(200);
    const view = await set.json();
    expect(view).toMatchObject({ url: rx.url, source: 'venue', format: 'iiko-cloud', problem: NO_ORGANIZATION });
    expect(JSON.stringify(view)).not.toContain(token);

    // Every kind of order the sim makes, as the companion's feed sends it.
    const orders = feedOrders(busyWorld());
    const kinds = ['table', 'delivery', 'pickup'].map((k) => orders.find((o) => o.kind === k)!);
    kinds.forEach((o, i) => peer.event(envelope(venue.venueId, i + 1, { eventType: o.kind === 'table' ? 'TableOrderUpdate' : 'DeliveryOrderUpdate', eventInfo: { order: o } })));
    peer.event(envelope(venue.venueId, 4, { eventType: 'CompanionHealth', eventInfo: { reason: 'front', front: 'up', frontError: null, backlog: 0, oldestUnsentAt: null, reconnects: 0 } }));
    await waitFor(() => peer.acked.length === 4, 'acks');
    // Without the organization id nothing goes out: the view says why.
    await waitFor(async () => (await (await fetch(`${base}/webhook`, { headers: auth })).json() as { lastError: string | null }).lastError === NO_ORGANIZATION, 'the attempt refused');
    expect(rx.requests).toHaveLength(0);

    const org = '7F0B1C1E-4F6A-4D2B-9A51-0C9D3E2F1A10';
    expect((await put('', { iikoOrganizationId: 'not-a-uuid' })).status).toBe(400);
    expect((await fetch(`${state.relay.url}/v1/venues/ven_nope`, { method: 'PUT', headers: auth, body: JSON.stringify({ iikoOrganizationId: org }) })).status).toBe(404);
    const ids = await put('', { iikoOrganizationId: org });
    expect(await ids.json()).toEqual({ venueId: venue.venueId, iikoOrganizationId: org.toLowerCase(), iikoTerminalGroupId: null });
    await waitFor(() => rx.requests.some((r) => r.status === 200), 'the batch at the Cloud handler', 15_000);
    const events = rx.requests.filter((r) => r.status === 200).flatMap((r) => JSON.parse(r.body) as Array<Record<string, unknown>>);
    expect(events.map((e) => e.eventType)).toEqual(['TableOrderUpdate', 'DeliveryOrderUpdate', 'DeliveryOrderUpdate', 'CompanionHealth']);
    const schemas = cloudSchemas();
    for (const e of events) expect(schemas.validate(e)).toEqual({ ok: true, errors: [] });
    expect(events.every((e) => e.organizationId === org.toLowerCase())).toBe(true);
    for (const r of rx.requests) {
      expect(r.authorization).toBe(token);
      expect(r.headers['x-evva-signature']).toBe('');
    }
    expect(await (await fetch(`${base}/webhook`, { headers: auth })).json()).toMatchObject({ format: 'iiko-cloud', problem: null, backlog: 0 });
  });

  it('sends each event once while new events keep arriving during slow deliveries', async () => {
    const rx = await startReceiver(() => 200, 0, 150);
    cleanups.push(() => rx.close());
    const { send } = await setup(rx.url);
    for (let round = 0; round < 10; round++) await send(round * 10 + 1, round * 10 + 10);
    await waitFor(() => rx.accepted().length >= 100, 'all 100 events', 15_000);
    await new Promise((r) => setTimeout(r, 500));
    const seqs = rx.accepted().map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('the evva-relay process takes the webhook URL from its flags and the secret from a file or the environment', async () => {
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const d = tempDir('relay-cli');
    cleanups.push(() => d.remove());
    const companionDir = tempDir('companion');
    cleanups.push(() => companionDir.remove());
    const secretFile = join(d.dir, 'webhook.secret');
    writeFileSync(secretFile, `${SECRET}\n`);
    const bad = await runBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', d.dir, '--webhook-url', rx.url, '--allow-loopback-webhooks'],
      { EVVA_RELAY_API_KEYS: API_KEY, EVVA_RELAY_WEBHOOK_SECRET: '' });
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/secret of at least 16/);

    const p = startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', d.dir, '--webhook-url', rx.url, '--webhook-secret-file', secretFile, '--allow-loopback-webhooks'],
      { EVVA_RELAY_API_KEYS: API_KEY });
    cleanups.push(() => p.stop('SIGKILL').then(() => undefined));
    const url = (await p.waitFor(/\{"listening":"([^"]+)"\}/))[1]!;
    const v = await createVenue(url);
    await pair({ code: v.pairingCode, relayUrl: url, dataDir: companionDir.dir, companion: COMPANION });
    const peer = await rawCompanion(url, loadDevice(companionDir.dir)!.deviceToken);
    cleanups.push(() => peer.close());
    peer.event(envelope(v.venueId, 1));
    await waitFor(() => rx.accepted().length === 1, 'the event at the receiver', 15_000);
    expect(signatureValid(SECRET, rx.requests[0]!)).toBe(true);
  });
});
