import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Order, resources, Section, Table } from '../../../protocol/front.ts';
import { startSim, type Sim } from '../../../sim/index.ts';
import { createFrontClient, LOGIN_BACKOFF_BASE_MS, type FrontClient } from '../../../main/core/front/client.ts';
import { FrontError } from '../../../main/core/front/errors.ts';
import { realClock } from '../../../common/clock.ts';
import { silentLogger } from '../../../common/logger.ts';
import { RECORDER_TOKEN, startRecorder } from '../../helpers/recorder.ts';

let sim: Sim | null = null;
let client: FrontClient | null = null;
afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = null;
  sim = null;
});

async function setup(simOpts: Parameters<typeof startSim>[0] = {}, timeoutMs?: number) {
  sim = await startSim({ port: 0, auto: false, ...simOpts });
  client = createFrontClient({ baseUrl: sim.url, moduleId: '2050', clock: realClock, logger: silentLogger, ...(timeoutMs ? { timeoutMs } : {}) });
  return { sim, client };
}

async function failure(p: Promise<unknown>): Promise<FrontError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(FrontError);
  return e as FrontError;
}

describe('plugin client session', () => {
  it('logs in once for many concurrent calls and holds one token', async () => {
    const { sim, client } = await setup();
    const all = await Promise.all(Array.from({ length: 20 }, () => client.get('/api/tables', z.array(Table))));
    expect(all.every((t) => t.length > 0)).toBe(true);
    expect(sim.logins()).toBe(1);
    expect(sim.liveTokens()).toBe(1);
  });

  it('validates every resource with the protocol shapes', async () => {
    const { client } = await setup();
    for (const r of Object.values(resources)) {
      const list = await client.get(r.path, z.array(r.item as z.ZodTypeAny));
      expect(list.length, r.path).toBeGreaterThan(0);
    }
  });

  it('logs in again after the token expires, still holding one token', async () => {
    const { sim, client } = await setup({ tokenTtlMs: 300 });
    await client.get('/api/sections', z.array(Section));
    await new Promise((r) => setTimeout(r, 450));
    await client.get('/api/sections', z.array(Section));
    expect(sim.logins()).toBe(2);
    expect(sim.liveTokens()).toBe(1);
  });

  it('logs in again after the plugin restarts and drops every token', async () => {
    const { sim, client } = await setup();
    await client.get('/api/sections', z.array(Section));
    await sim.restart();
    await Promise.all([client.get('/api/sections', z.array(Section)), client.get('/api/tables', z.array(Table))]);
    expect(sim.logins()).toBe(2);
    expect(sim.liveTokens()).toBe(1);
  });

  it('reports a licence refusal, backs off, and recovers once a slot is free', async () => {
    const lines: string[] = [];
    const { sim, client } = await setup({ licenceSlots: 1, log: (l) => lines.push(l) });
    const loginAttempts = () => lines.filter((l) => l.startsWith('GET /api/login/')).length;
    const squatter = await fetch(`${sim.url}/api/login/2050`).then((r) => r.json()) as string;
    const e = await failure(client.get('/api/sections', z.array(Section)));
    expect(e.code).toBe('unlicensed');
    // Backing off: an immediate retry fails with the same reason without a new login attempt reaching the plugin.
    const attempts = loginAttempts();
    expect(attempts).toBe(2); // the squatter's and the client's
    expect((await failure(client.get('/api/sections', z.array(Section)))).code).toBe('unlicensed');
    expect(loginAttempts()).toBe(attempts);
    await fetch(`${sim.url}/api/logout/${squatter}`);
    await new Promise((r) => setTimeout(r, LOGIN_BACKOFF_BASE_MS + 100));
    await client.get('/api/sections', z.array(Section));
    expect(sim.liveTokens()).toBe(1);
  });

  it('logs out on close, freeing the licence slot', async () => {
    const { sim, client } = await setup();
    await client.get('/api/sections', z.array(Section));
    expect(sim.liveTokens()).toBe(1);
    await client.close();
    expect(sim.liveTokens()).toBe(0);
  });
});

describe('plugin client faults', () => {
  it('a 500 is an http error with the status', async () => {
    const { sim, client } = await setup();
    sim.setFaults({ errorRate: 1 });
    const e = await failure(client.get('/api/sections', z.array(Section)));
    expect(e.code).toBe('http');
    expect(e.status).toBe(500);
  });

  it('malformed JSON and HTML are bad responses', async () => {
    const { sim, client } = await setup();
    await client.get('/api/sections', z.array(Section));
    sim.setFaults({ malformed: true });
    expect((await failure(client.get('/api/sections', z.array(Section)))).detail).toMatch(/JSON/);
    sim.setFaults({ malformed: false, html: true });
    expect((await failure(client.get('/api/sections', z.array(Section)))).detail).toMatch(/HTML/);
  });

  it('a wrong shape is a bad response naming the field', async () => {
    const { client } = await setup();
    const e = await failure(client.get('/api/tables', z.array(Order)));
    expect(e.code).toBe('bad_response');
  });

  it('a hanging plugin is a timeout', async () => {
    const { sim, client } = await setup({}, 500);
    sim.setFaults({ hang: true });
    const t0 = performance.now();
    expect((await failure(client.get('/api/sections', z.array(Section)))).code).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(3_000);
  });

  it('a hanging login ends at the caller\'s deadline, not the client\'s default', async () => {
    // A 2 s client default instead of 8 s: the shared login runs on to it (close waits for it), and the
    // caller's 300 ms must end the call well before it.
    const clientDefaultMs = 2_000;
    const { sim, client } = await setup({}, clientDefaultMs);
    sim.setFaults({ hang: true });
    const t0 = performance.now();
    expect((await failure(client.get('/api/sections', z.array(Section), { timeoutMs: 300 }))).code).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(clientDefaultMs - 200);
  });

  it('a reset connection and a stopped plugin are unreachable', async () => {
    const { sim, client } = await setup();
    sim.setFaults({ reset: true });
    expect((await failure(client.get('/api/sections', z.array(Section)))).code).toBe('unreachable');
    sim.clearFaults();
    await sim.stopListening();
    expect((await failure(client.get('/api/sections', z.array(Section)))).code).toBe('unreachable');
    await sim.startListening();
  });
});

describe('plugin client forward (the tunnel upstream)', () => {
  // What reaches the plugin (no caller authorization, cookie key or query key) is checked at the plugin end below.
  it('answers through its own session whatever key the caller sent, and streams the answer', async () => {
    const { sim, client } = await setup();
    const res = await client.forward({
      method: 'GET', path: '/api/tables?key=stolen', headers: { cookie: 'key=stolen; lang=ru', accept: 'application/json' },
      body: null, signal: AbortSignal.timeout(5_000),
    });
    expect(res.status).toBe(200);
    const chunks: Buffer[] = [];
    for await (const c of res.body!) chunks.push(Buffer.from(c));
    const tables = z.array(Table).parse(JSON.parse(Buffer.concat(chunks).toString()));
    expect(tables.length).toBeGreaterThan(0);
    expect(sim.liveTokens()).toBe(1);
  });
});

describe('what the plugin receives from forward', () => {
  it('gets no caller authorization and no caller key cookie, only the companion\'s own session in the query', async () => {
    const plugin = await startRecorder();
    const c = createFrontClient({ baseUrl: plugin.url, moduleId: '2050', clock: realClock, logger: silentLogger });
    try {
      const res = await c.forward({
        method: 'GET', path: '/api/tables?key=stolen-query',
        headers: { authorization: 'Bearer evva-api-key-of-the-caller', Authorization: 'Basic Y2FsbGVyOnB3', cookie: 'key=stolen-cookie; lang=ru; KEY=stolen-upper', accept: 'application/json' },
        body: null, signal: AbortSignal.timeout(5_000),
      });
      expect(res.status).toBe(200);
      await res.body?.[Symbol.asyncIterator]().return?.();
      const [call, ...more] = plugin.calls();
      expect(more).toEqual([]);
      expect(call?.headers.authorization).toBeUndefined();
      expect(call?.headers.cookie).toBe('lang=ru');
      expect(call?.headers.accept).toBe('application/json');
      expect(call?.url).toBe(`/api/tables?key=${RECORDER_TOKEN}`);
      expect(JSON.stringify(plugin.requests)).not.toMatch(/stolen|evva-api-key|Y2FsbGVyOnB3/);
    } finally {
      await c.close();
      await plugin.close();
    }
  });
});

describe('plugin client forward keeps the query', () => {
  it('passes an OData query through with its meaning intact ($ kept, no + for spaces), and drops an encoded caller key', async () => {
    const lines: string[] = [];
    const { sim, client } = await setup({ log: (l) => lines.push(l) });
    const query = "$filter=Status%20has%20Resto.Front.Api.V5.Data.Orders.OrderStatus'New'&$top=2";
    const res = await client.forward({ method: 'GET', path: `/api/orders?${query}&%6Bey=stolen`, headers: {}, body: null, signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(200);
    const chunks: Buffer[] = [];
    for await (const c of res.body!) chunks.push(Buffer.from(c));
    const orders = z.array(Order).parse(JSON.parse(Buffer.concat(chunks).toString()));
    expect(orders.length).toBeLessThanOrEqual(2);
    expect(orders.every((o) => o.Status === 0 || o.Status === 'New')).toBe(true);
    // fetch (WHATWG URL) may percent-encode a quote; what must not change is what the plugin decodes.
    const call = lines.find((l) => l.startsWith('GET /api/orders?'))!;
    const received = call.split(' ')[1]!.split('?')[1]!;
    expect(received).toMatch(/&key=\*\*\*$/); // the sim hides the key value in its log
    expect(decodeURIComponent(received.replace(/&key=[^&]*$/, ''))).toBe(decodeURIComponent(query));
    expect(received).not.toContain('+');
    expect(call).not.toContain('stolen');
    expect(sim.liveTokens()).toBe(1);
  });
});
