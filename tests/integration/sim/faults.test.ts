import { afterEach, describe, expect, it } from 'vitest';
import { startSim } from '../../../sim/index.ts';
import type { Sim, SimState } from '../../../sim/index.ts';
import { control, getJson, login } from '../../helpers/sim.ts';

let sim: Sim | null = null;
afterEach(async () => { await sim?.close(); sim = null; });

async function fresh(opts: Parameters<typeof startSim>[0] = {}): Promise<{ sim: Sim; token: string }> {
  sim = await startSim({ port: 0, auto: false, ...opts });
  return { sim, token: await login(sim) };
}

/** Why a fetch failed: the low-level code under undici's "fetch failed". */
async function failure(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (err: unknown) => err as Error & { cause?: { code?: string; name?: string } });
  expect(e, 'the request should have failed').not.toBeNull();
  return e!.name === 'TimeoutError' ? 'timeout' : e!.cause?.code ?? e!.cause?.name ?? e!.name;
}

describe('faults on /api', () => {
  it('adds latency to /api answers but not to /_sim or the root page', async () => {
    const { sim, token } = await fresh();
    // A latency far above anything load can add, so the two sides cannot be confused on a busy machine.
    sim.setFaults({ latencyMs: 1_500 });
    let t0 = performance.now();
    expect((await getJson(sim, '/api/sections', token)).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1_490);
    t0 = performance.now();
    await control(sim, 'GET', 'state');
    await fetch(`${sim.url}/`).then((r) => r.text());
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it('answers 500 at errorRate 1, including login, and a seeded share at errorRate 0.5', async () => {
    const { sim, token } = await fresh();
    sim.setFaults({ errorRate: 1 });
    expect((await getJson(sim, '/api/orders', token)).status).toBe(500);
    expect((await fetch(`${sim.url}/api/login/2050`)).status).toBe(500);
    sim.setFaults({ errorRate: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await getJson(sim, '/api/sections', token)).status);
    const errors = statuses.filter((s) => s === 500).length;
    expect(errors).toBeGreaterThan(5);
    expect(errors).toBeLessThan(35);
    expect(statuses.filter((s) => s !== 500).every((s) => s === 200)).toBe(true);
  });

  it('fails the same requests for the same seed', async () => {
    const pattern = async () => {
      const { sim, token } = await fresh({ seed: 7 });
      sim.setFaults({ errorRate: 0.3 });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await getJson(sim, '/api/sections', token)).status);
      await sim.close();
      return out;
    };
    expect(await pattern()).toEqual(await pattern());
  });

  it('hangs: the request is never answered, while /_sim still is', async () => {
    const { sim, token } = await fresh();
    sim.setFaults({ hang: true });
    expect(await failure(fetch(`${sim.url}/api/orders?key=${token}`, { signal: AbortSignal.timeout(300) }))).toBe('timeout');
    expect((await control<SimState>(sim, 'GET', 'state')).body.faults.hang).toBe(true);
    // A pending hung request does not keep close() waiting.
    void fetch(`${sim.url}/api/orders?key=${token}`).catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await sim.close();
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('answers malformed JSON with 200', async () => {
    const { sim, token } = await fresh();
    sim.setFaults({ malformed: true });
    for (const path of ['/api/orders', '/api/sections', '/api/login/2050', '/api/logout/x']) {
      const r = await fetch(`${sim.url}${path}${path.includes('log') ? '' : `?key=${token}`}`);
      expect(r.status, path).toBe(200);
      const text = await r.text();
      expect(() => JSON.parse(text), path).toThrow();
    }
  });

  it('answers an HTML page instead of JSON', async () => {
    const { sim, token } = await fresh();
    await control(sim, 'POST', 'faults', { html: true });
    const r = await fetch(`${sim.url}/api/orders?key=${token}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(await r.text()).toMatch(/<html>/);
    await control(sim, 'DELETE', 'faults');
    expect((await getJson(sim, '/api/orders', token)).headers.get('content-type')).toMatch(/json/);
  });

  it('resets the connection', async () => {
    const { sim, token } = await fresh();
    sim.setFaults({ reset: true });
    expect(await failure(fetch(`${sim.url}/api/orders?key=${token}`))).toMatch(/ECONNRESET|UND_ERR_SOCKET|SocketError/);
    sim.clearFaults();
    expect((await getJson(sim, '/api/orders', token)).status).toBe(200);
  });

  it('restart drops the old token: 401 until a new login', async () => {
    const { sim, token } = await fresh();
    await control(sim, 'POST', 'restart');
    expect((await getJson(sim, '/api/orders', token)).status).toBe(401);
    expect((await getJson(sim, '/api/orders', await login(sim))).status).toBe(200);
  });
});

describe('stopping and starting the main port', () => {
  it('refuses connections while stopped and serves again on the same port', async () => {
    const { sim, token } = await fresh();
    await sim.stopListening();
    expect(await failure(fetch(`${sim.url}/`))).toBe('ECONNREFUSED');
    await sim.startListening();
    expect((await getJson(sim, '/api/orders', token)).status).toBe(200);
  });

  it('comes back by itself after /_sim/stop {forMs}', async () => {
    const { sim } = await fresh();
    const r = await control(sim, 'POST', 'stop', { forMs: 300 });
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 80));
    expect(await failure(fetch(`${sim.url}/`))).toBe('ECONNREFUSED');
    await new Promise((res) => setTimeout(res, 450));
    expect((await fetch(`${sim.url}/`)).status).toBe(200);
  });

  it('keeps a separate control port up while the main port is stopped', async () => {
    const { sim } = await fresh({ controlPort: 0 });
    expect(sim.controlUrl).not.toBe(sim.url);
    expect((await fetch(`${sim.controlUrl}/api/orders`)).status).toBe(404); // the control port serves only /_sim/
    const stopped = await control(sim, 'POST', 'stop');
    expect(stopped.status).toBe(200);
    expect(await failure(fetch(`${sim.url}/`))).toBe('ECONNREFUSED');
    expect((await control<SimState>(sim, 'GET', 'state')).body.listening).toBe(false);
    expect((await control<SimState>(sim, 'POST', 'start')).body.listening).toBe(true);
    expect((await fetch(`${sim.url}/`)).status).toBe(200);
  });

  it('reports a port in use clearly', async () => {
    const { sim } = await fresh();
    await expect(startSim({ port: sim.port, auto: false })).rejects.toThrow(/already in use/);
  });
});

describe('listening races', () => {
  it('shares one attempt between concurrent startListening calls', async () => {
    const { sim } = await fresh();
    await sim.stopListening();
    await Promise.all([sim.startListening(), sim.startListening(), control(sim, 'GET', 'state').catch(() => null)]);
    expect((await fetch(`${sim.url}/`)).status).toBe(200);
    expect(sim.state().listening).toBe(true);
  });
});
