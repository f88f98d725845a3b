/**
 * What a webhook receiver URL can make the relay do, probed as an attacker
 * with an API key would: the relay POSTs only to public addresses (checked
 * when the URL is set and again on the address each socket connects to),
 * reads only a few KiB of any answer and never past its deadline, reports
 * failures as categories rather than socket errors, signs a timestamp with
 * every delivery, and never echoes credentials in the URL back.
 */
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook } from '../../../protocol/signature.ts';
import type { WebhookView } from '../../../protocol/relay.ts';
import { envelope, rawCompanion, signatureValid, startReceiver } from '../../helpers/feedpeers.ts';
import { freePort, runBin, startBin } from '../../helpers/proc.ts';
import { API_KEY, pairedVenue, startRelay, tempDir, waitFor } from '../../helpers/relay.ts';
import type { RelayOptions } from '../../../relay/server.ts';

const SECRET = 'whsec-safety-0123456789abcdef';
const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
const fast = { timeoutMs: 1_000, baseBackoffMs: 100, maxBackoffMs: 400, pollMs: 200 };

describe('webhook transport safety', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** A relay (loopback receivers allowed only when asked), a paired venue and its raw companion. */
  async function setup(webhooks: RelayOptions['webhooks'] = {}) {
    const companionDir = tempDir('companion');
    cleanups.push(() => companionDir.remove());
    const relay = await startRelay({ webhooks: { ...fast, ...webhooks } });
    cleanups.push(() => relay.close());
    const venue = await pairedVenue(relay.url, companionDir.dir);
    const peer = await rawCompanion(relay.url, venue.deviceToken);
    cleanups.push(() => peer.close());
    const hook = `${relay.url}/v1/venues/${venue.venueId}/webhook`;
    let seq = 0;
    return {
      relay, venue, peer, hook,
      put: async (url: string, secret = SECRET) => {
        const r = await fetch(hook, { method: 'PUT', headers: auth, body: JSON.stringify({ url, secret }) });
        return { status: r.status, body: (await r.json()) as WebhookView & { error?: string; message?: string } };
      },
      view: async () => (await (await fetch(hook, { headers: auth })).json()) as WebhookView,
      async send(n: number) {
        const before = peer.acked.length;
        for (let i = 0; i < n; i++) peer.event(envelope(venue.venueId, ++seq));
        await waitFor(() => peer.acked.length === before + n, `acks for ${n} events`);
      },
    };
  }

  /** A receiver that answers 200 and then streams `bytes` of answer as fast as the relay reads; counts what it got rid of. */
  async function floodingReceiver(bytes: number) {
    const state = { requests: 0, written: 0, closed: false };
    const server = createHttpServer((req, res) => {
      state.requests++;
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const pump = () => {
          while (state.written < bytes && !res.destroyed) {
            state.written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => { state.closed = true; });
        pump();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, state };
  }

  it('reads at most a few KiB of a huge 2xx answer (the rest is never pulled in) and counts the batch as delivered', async () => {
    const rx = await floodingReceiver(256 * 1024 * 1024);
    // A deadline long enough to read it all: only the cap may stop the reading here.
    const { put, send, view } = await setup({ allowLoopback: true, timeoutMs: 60_000 });
    expect((await put(rx.url)).status).toBe(200);
    await send(3);
    await waitFor(async () => (await view()).lastDeliveredAt !== null, 'the batch delivered', 60_000);
    await waitFor(() => rx.state.closed, 'the relay hung up on the answer', 60_000);
    // Socket buffers on both ends hold a few MB at most; reading the whole answer would have pulled 256 MiB.
    expect(rx.state.written).toBeLessThan(16 * 1024 * 1024);
    expect(await view()).toMatchObject({ backlog: 0, lastError: null });
  });

  it('stops reading an answer that drips at the deadline, counts the 2xx, and goes on with the next batch', async () => {
    const drips: ServerResponse[] = [];
    let requests = 0;
    const server = createHttpServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        drips.push(res);
        const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('.')), 100);
        res.on('close', () => clearInterval(t));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    const { put, send, view } = await setup({ allowLoopback: true, batchMax: 2 });
    expect((await put(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`)).status).toBe(200);
    await send(4);
    // Two batches of two: the second is sent only once the first counted as delivered.
    await waitFor(async () => (await view()).backlog === 0, 'both batches delivered despite the dripping answers', 15_000);
    expect(requests).toBe(2);
    expect((await view()).lastError).toBeNull();
  });

  it('refuses, when set, every destination that is not public: the relay itself, metadata, private and reserved ranges, internal names', async () => {
    const { relay, put } = await setup();
    for (const url of [
      `http://127.0.0.1:${relay.port}/v1/venues`, 'http://localhost:8080/hook', 'http://[::1]/hook', 'http://[::ffff:127.0.0.1]/hook',
      'http://169.254.169.254/latest/meta-data/', 'http://metadata.google.internal/computeMetadata/v1/', 'http://metadata/hook',
      'http://10.1.2.3/hook', 'http://172.16.0.9/hook', 'http://192.168.1.10:8443/hook', 'http://100.64.0.1/hook',
      'http://[fd00::1]/hook', 'http://[fe80::1]/hook', 'http://0.0.0.0/hook', 'http://0.0.0.0:8787/hook', 'https://intranet/hook',
      'https://receiver.corp.internal/hook', 'https://no-such-host.invalid/hook',
    ]) {
      const r = await put(url);
      expect({ url, status: r.status, error: r.body.error }).toEqual({ url, status: 400, error: 'destination_not_allowed' });
    }
    expect((await (await fetch(`${relay.url}/v1/venues/x`, { headers: auth })).status)).toBe(404);
  });

  it('refuses at connect time a stored receiver whose address (or name, as after a DNS change) is not public, and reports it as blocked', async () => {
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const port = new URL(rx.url).port;
    for (const url of [`http://127.0.0.1:${port}/hook`, `http://localhost:${port}/hook`]) {
      const { relay, venue, send, view } = await setup();
      // As if the name had resolved to a public address when it was set: the row is written behind the route's check.
      await relay.relay.store.feed.setWebhook(venue.venueId, { url, secret: SECRET, format: 'evva', authToken: null }, Date.now());
      await send(2);
      await waitFor(async () => (await view()).attempts >= 1, `an attempt at ${url}`);
      const v = await view();
      expect(v.lastError).toMatch(/^blocked: /);
      expect(v.backlog).toBe(2);
      const metrics = await (await fetch(`${relay.url}/metrics`, { headers: auth })).text();
      expect(metrics).toMatch(/evva_relay_webhook_deliveries_total\{result="blocked"\} [1-9]/);
    }
    expect(rx.requests).toHaveLength(0);
  });

  it('keeps private ranges refused even in the loopback test mode, and loopback only works with it', async () => {
    const { put } = await setup({ allowLoopback: true });
    expect((await put('http://10.0.0.5/hook')).status).toBe(400);
    expect((await put('http://169.254.169.254/')).status).toBe(400);
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    expect((await put(rx.url)).status).toBe(200);
  });

  it('reports a closed port and an open port that does not speak HTTP alike: a category, no socket error, no address', async () => {
    const closed = await freePort();
    const sockets: Socket[] = [];
    const garbage = createTcpServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      s.write('SSH-2.0-OpenSSH_9.2p1 Debian\r\n');
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); garbage.close(() => r()); }));
    const open = (garbage.address() as AddressInfo).port;
    const errors: string[] = [];
    for (const port of [closed, open]) {
      const { put, send, view } = await setup({ allowLoopback: true });
      expect((await put(`http://127.0.0.1:${port}/hook`)).status).toBe(200);
      await send(1);
      await waitFor(async () => (await view()).attempts >= 1, `a failed attempt on port ${port}`);
      errors.push(String((await view()).lastError));
    }
    expect(errors[0]).toMatch(/^unreachable: /);
    expect(errors[1]).toBe(errors[0]);
    for (const e of errors) expect(e).not.toMatch(/ECONN|HPE_|EPIPE|127\.0\.0\.1|\d{4,5}/);
  });

  it('signs the delivery id, a fresh timestamp and the raw body: a receiver refuses a capture past its window, a changed body or id', async () => {
    const rx = await startReceiver((n) => (n < 2 ? 500 : 200));
    cleanups.push(() => rx.close());
    const { put, send } = await setup({ allowLoopback: true });
    expect((await put(rx.url)).status).toBe(200);
    await send(2);
    await waitFor(() => rx.accepted().length === 2, 'the batch after two failures', 15_000);
    // Three attempts of one batch: same delivery id and body, each signed when it was sent and valid on arrival.
    expect(new Set(rx.requests.map((r) => r.deliveryId)).size).toBe(1);
    expect(new Set(rx.requests.map((r) => r.body)).size).toBe(1);
    for (const r of rx.requests) {
      expect(signatureValid(SECRET, r)).toBe(true);
      expect(Math.abs(Number(r.headers['x-evva-timestamp']) * 1000 - r.at)).toBeLessThan(5_000);
    }
    const d = rx.requests[0]!;
    expect(verifyWebhook(SECRET, d.headers, d.body, d.at + 301_000)).toEqual({ ok: false, reason: 'stale' });
    expect(verifyWebhook(SECRET, d.headers, d.body.replace('"seq":1', '"seq":9'), d.at)).toEqual({ ok: false, reason: 'signature' });
    expect(verifyWebhook(SECRET, { ...d.headers, 'x-evva-delivery': 'dlv_other' }, d.body, d.at)).toEqual({ ok: false, reason: 'signature' });
    expect(verifyWebhook(SECRET, { ...d.headers, 'x-evva-signature': `sha256=${'0'.repeat(64)}` }, d.body, d.at)).toEqual({ ok: false, reason: 'malformed' });
    // The relay's signer and the receivers' check are one implementation.
    expect(verifyWebhook(SECRET, signWebhook(SECRET, 'dlv_x', 'body', 1_000_000), 'body', 1_000_000).ok).toBe(true);
  });

  it('never echoes credentials put into the URL, and sends user:password as Basic authentication', async () => {
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    const { put, send, view } = await setup({ allowLoopback: true });
    const u = new URL(rx.url);
    const url = `http://evva:Pa55w0rdQ@127.0.0.1:${u.port}/hook/3f9a8b7c6d5e4f3a2b1cQ?token=T0kenQ&venue=5`;
    const r = await put(url);
    expect(r.status).toBe(200);
    expect(r.body.url).toBe(`http://***@127.0.0.1:${u.port}/hook/***?token=***&venue=***`);
    const v = await view();
    expect(JSON.stringify(v)).not.toMatch(/Pa55w0rdQ|T0kenQ|3f9a8b7c6d5e4f3a2b1cQ|evva:/);
    await send(1);
    await waitFor(() => rx.requests.length === 1, 'the delivery');
    expect(rx.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('evva:Pa55w0rdQ').toString('base64')}`);
  });

  it('refuses to start with a loopback --webhook-url unless --allow-loopback-webhooks, and a private one even then', async () => {
    const d = tempDir('relay-hook');
    cleanups.push(() => d.remove());
    const env = { EVVA_RELAY_API_KEYS: API_KEY, EVVA_RELAY_WEBHOOK_SECRET: SECRET };
    // A relay that starts anyway (the bug) is stopped after a bound, not left running.
    const run = async (args: string[]) => {
      const p = startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', d.dir, ...args], env);
      const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('still running'), 45_000))]);
      if (code === 'still running') await p.stop('SIGKILL');
      return { code, out: p.output() };
    };
    const local = await run(['--webhook-url', 'http://127.0.0.1:9/hook']);
    expect(local.code).toBe(1);
    expect(local.out).toMatch(/public address.*--allow-loopback-webhooks/s);
    const meta = await run(['--webhook-url', 'http://169.254.169.254/', '--allow-loopback-webhooks']);
    expect(meta.code).toBe(1);
    expect(meta.out).toMatch(/public address/);
  }, 120_000);

  it('names the loopback permission in its usage as a test mode', async () => {
    const help = await runBin('evva-relay.js', ['help']);
    expect(help.out).toMatch(/--allow-loopback-webhooks: TEST MODE ONLY/);
  });
});
