/**
 * Diagnostics against the real sim and relay on loopback: every check passes
 * on a well set-up venue and fails (or warns) for a real cause made in the
 * sim, the relay or the agent's clock, never for a faked one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startConnectProxy } from '../../helpers/connect-proxy.ts';
import { waitFor } from '../../helpers/relay.ts';
import { check, skewedClock, startVenue } from '../../helpers/venue.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The sim's restaurant with its setup problems fixed: menu three levels deep, its couriers listed in feed.courierCodes. */
async function goodVenue(more: Parameters<typeof startVenue>[1] = {}) {
  return startVenue(cleanups, {
    ...more, sim: { menuLevels: 2, ...more.sim },
    settings: (sim) => {
      const given = (typeof more.settings === 'function' ? more.settings(sim) : more.settings) ?? {};
      return { ...given, feed: { ...(given.feed as object | undefined), courierCodes: sim.world.couriers().map((c) => c.code) } };
    },
  });
}

describe('diagnostics on a well set-up venue', () => {
  it('passes every check it can make, the feed included, and says so in Russian and English', async () => {
    const v = await goodVenue();
    const r = await v.diagnose();
    const results = Object.fromEntries(r.checks.map((c) => [c.id, c.result]));
    expect(results).toEqual({
      plugin: 'ok', tunnel: 'ok', port: 'skip', staff: 'ok', tables: 'ok', payment: 'ok', menu: 'ok', feed: 'ok', machine: 'ok',
    });
    // The relay does not probe loopback outside its test mode: the port check says why instead of guessing.
    expect(check(r, 'port').explanation).toMatch(/не проверяет такие адреса/);
    expect(check(r, 'feed').evidence).toMatchObject({ backlog: expect.any(Number) });
    expect(check(r, 'plugin').evidence).toMatchObject({ state: 'up', port: v.sim.port, version: '7.4.6012.0' });
    expect(check(r, 'payment').evidence).toMatchObject({ rule: 'code' });
    expect(check(r, 'tunnel').evidence).toMatchObject({ state: 'connected', publicIp: '127.0.0.1' });
    expect(Math.abs(check(r, 'tunnel').evidence!.clockSkewMs as number)).toBeLessThan(5_000);
    expect(check(r, 'staff').en?.title).toBe('Staff and couriers');
    expect(r.summary).toMatchObject({ result: 'ok', counts: { ok: 8, skip: 1, warn: 0, fail: 0 }, venueId: v.venueId });
  });
});

describe('diagnostics find real problems', () => {
  it('warns about a menu deeper than three levels, naming items that would be lifted, and that couriers cannot be read through the plugin', async () => {
    const v = await startVenue(cleanups); // the sim's own restaurant: four levels deep, no courier list in the settings
    const r = await v.diagnose();
    const menu = check(r, 'menu');
    expect(menu.result).toBe('warn');
    expect(menu.evidence).toMatchObject({ maxGroupDepth: 4 });
    expect(menu.evidence!.liftedItems).toContain('Стейк рибай');
    const staff = check(r, 'staff');
    expect(staff).toMatchObject({ result: 'warn', evidence: { rightsReadable: false, courierList: 0 } });
    expect(staff.fix).toMatch(/iikoOffice.*D_DC0.*ПИН-код.*feed\.courierCodes/s);
    expect(r.summary.result).toBe('warn');
  });

  it('fails the staff check when none of the couriers the venue listed is among the staff', async () => {
    const v = await startVenue(cleanups, { sim: { menuLevels: 2 }, settings: { feed: { courierCodes: ['9999', 'Нет Такого'] } } });
    const r = await v.diagnose();
    expect(check(r, 'staff')).toMatchObject({ result: 'fail', evidence: { couriers: 0, missingCount: 2 } });
    expect(check(r, 'staff').fix).toMatch(/feed\.courierCodes/);
    expect(r.summary.result).toBe('fail');
  });

  it('warns when no order was ever closed with an EVVA payment type, and fails when it has the wrong code', async () => {
    const missing = await startVenue(cleanups, { sim: { evvaPayment: null }, paired: false });
    expect(check(await missing.diagnose(), 'payment')).toMatchObject({ result: 'warn', evidence: { rule: null } });
    const wrong = await startVenue(cleanups, { sim: { evvaPayment: { name: 'EVVA', code: 'EVVA1' } }, paired: false });
    const p = check(await wrong.diagnose(), 'payment');
    expect(p).toMatchObject({ result: 'fail', evidence: { rule: 'wrong_code' } });
    expect(p.fix).toMatch(/EVVAP/);
  });

  it('finds the EVVA payment type by its name when the plugin shows no codes, and says which rule matched', async () => {
    const v = await startVenue(cleanups, { sim: { paymentCodes: false }, paired: false });
    const p = check(await v.diagnose(), 'payment');
    expect(p).toMatchObject({ result: 'ok', evidence: { rule: 'name' } });
    expect(p.explanation).toMatch(/по названию/);
  });

  it('fails the plugin check when the plugin is stopped, and skips what needs its data', async () => {
    const v = await goodVenue();
    await v.sim.stopListening();
    const r = await v.diagnose();
    expect(check(r, 'plugin')).toMatchObject({ result: 'fail', evidence: { state: 'down', error: 'unreachable' } });
    for (const id of ['staff', 'tables', 'payment', 'menu']) expect(check(r, id).result).toBe('skip');
    expect(r.summary.result).toBe('fail');
  });

  it('finishes within about 5 s when the plugin hangs, failing the plugin check', async () => {
    const v = await goodVenue();
    v.sim.setFaults({ hang: true });
    const t0 = performance.now();
    const r = await v.diagnose();
    const took = performance.now() - t0;
    console.log(`diagnostics with a hanging plugin: ${Math.round(took)} ms (report says ${r.summary.durationMs} ms)`);
    expect(check(r, 'plugin').result).toBe('fail');
    for (const id of ['staff', 'tables', 'payment', 'menu']) expect(check(r, id).result).toBe('skip');
    expect(check(r, 'tunnel').result).toBe('ok');
    // The runner's budget is 4.7 s; the margin is for a loaded CI machine (the bench measures the real number).
    expect(r.summary.durationMs).toBeLessThan(7_000);
    // The hung plugin goes away (its sockets close) before the agent stops: the probe and the polls it still waits on
    // fail at once, and the stop's logout is refused instead of waiting out its own deadline (8 s of cleanup otherwise).
    await v.sim.stopListening();
  });

  it('fails the tunnel and port checks with the router hint when the relay is gone', async () => {
    // The first retry a minute away, so the tunnel stays offline while the checks run: with the default backoff
    // (under 0.5 s) a retry could be under way (state connecting, a warning) when the tunnel check looks.
    const v = await goodVenue({ agent: { tunnel: { env: { NO_PROXY: '127.0.0.1,localhost' }, backoff: { baseMs: 60_000, capMs: 60_000, random: () => 1 } } } });
    await v.relay.close();
    // Waits for the tunnel to notice the relay is gone (a fixed 300 ms sleep was too short on a loaded machine).
    await waitFor(() => v.agent.status().tunnel.state === 'offline', 'the tunnel offline after the relay closed', 15_000);
    const r = await v.diagnose();
    expect(check(r, 'tunnel').evidence).toMatchObject({ state: 'offline' });
    expect(check(r, 'tunnel').result).toBe('fail');
    const port = check(r, 'port');
    expect(port.result).toBe('fail');
    expect(port.fix).toMatch(/роутере/);
  });

  it('warns about a clock more than 60 s off the relay\'s', async () => {
    const v = await goodVenue({ clock: skewedClock(120_000) });
    const t = check(await v.diagnose(), 'tunnel');
    expect(t.result).toBe('warn');
    expect(t.evidence!.clockSkewMs as number).toBeGreaterThan(110_000);
    expect(t.explanation).toMatch(/расходятся с сервером EVVA на 1[12]\d с/);
    // The same facts on /metrics, for whoever scrapes the venue.
    const m = (await v.local('/metrics')).body.toString('utf8');
    expect(Number(/^evva_tunnel_clock_skew_seconds (\S+)$/m.exec(m)?.[1])).toBeGreaterThan(110);
    expect(m).toMatch(/^evva_diagnostics_check\{check="tunnel"\} 1$/m);
    expect(m).toMatch(/^evva_front_state\{state="up"\} 1$/m);
    expect(m).toMatch(/^evva_front_info\{version="7\.4\.6012\.0"\} 1$/m);
  });

  it('fails the plugin check when the plugin refuses the login for want of a licence slot', async () => {
    const v = await startVenue(cleanups, { sim: { licenceSlots: 0 }, paired: false });
    const p = check(await v.diagnose(), 'plugin');
    expect(p).toMatchObject({ result: 'fail', evidence: { state: 'unlicensed' } });
    expect(p.fix).toMatch(/лицензи/);
  });

  it('points iikoFront 7.7.1 and newer at the Cloud API, as EVVA\'s guide does', async () => {
    const v = await startVenue(cleanups, { sim: { version: '7.7.1.0', menuLevels: 2 }, paired: false });
    const p = check(await v.diagnose(), 'plugin');
    expect(p).toMatchObject({ result: 'warn', evidence: { version: '7.7.1.0' } });
    expect(p.fix).toMatch(/iiko Cloud/);
  });

  it('fails the tables check when iiko has no active table', async () => {
    const v = await goodVenue();
    // Straight into the sim's model: its control API refuses to remove tables with open orders.
    for (const t of v.sim.world.tables) t.active = false;
    expect(check(await v.diagnose(), 'tables')).toMatchObject({ result: 'fail', evidence: { active: 0, tables: 20 } });
  });

  it('warns when the link to EVVA dropped more than 5 times in the last hour', async () => {
    const v = await goodVenue();
    for (let i = 1; i <= 6; i++) {
      v.relay.relay.tunnels.goaway(v.venueId);
      await waitFor(() => v.agent.status().tunnel.reconnects >= i && v.agent.status().tunnel.state === 'connected', `reconnect ${i}`);
    }
    const t = check(await v.diagnose(), 'tunnel');
    expect(t).toMatchObject({ result: 'warn', evidence: { reconnectsLastHour: 6 } });
  });

  it('names the proxy the tunnel goes through (never its password), and asks for the probe-back through it too', async () => {
    const proxy = await startConnectProxy();
    cleanups.push(() => proxy.close());
    const withAuth = proxy.url.replace('http://', 'http://evva:Pr0xyS3cret@');
    const v = await goodVenue({ relay: { probeLoopback: true }, settings: { proxy: withAuth }, agent: { tunnel: { env: {} } } });
    const r = await v.diagnose();
    expect(check(r, 'tunnel')).toMatchObject({ result: 'ok', evidence: { proxy: new URL(proxy.url).host } });
    expect(check(r, 'port').evidence).toMatchObject({ outcome: 'reachable' });
    const relayHost = new URL(v.relay.url).host;
    expect(proxy.targets.filter((t) => t === relayHost).length).toBeGreaterThanOrEqual(2); // the tunnel and the probe-back request
    expect(JSON.stringify(r)).not.toContain('Pr0xyS3cret');
  });

  it('fails the machine check when the data dir\'s disk is nearly full', async () => {
    const v = await goodVenue({ agent: { diagnostics: { freeBytes: () => 50 * 1024 * 1024 } } });
    const m = check(await v.diagnose(), 'machine');
    expect(m).toMatchObject({ result: 'fail', evidence: { freeMb: 50 } });
  });
});

describe('port forwarding, probed back by the relay', () => {
  it('warns that the port is open to the internet when the relay (in loopback test mode) reaches this very plugin', async () => {
    const v = await goodVenue({ relay: { probeLoopback: true } });
    const p = check(await v.diagnose(), 'port');
    expect(p.result).toBe('warn');
    expect(p.explanation).toMatch(/порт открыт в интернет, закройте его — туннель его заменяет/i);
    expect(p.evidence).toMatchObject({ outcome: 'reachable', samePlugin: true, ip: '127.0.0.1', port: v.sim.port });
    // A second run right after (a report, then a bundle) reuses the answer instead of hitting the relay's rate limit.
    expect(check(await v.diagnose(), 'port').result).toBe('warn');
  });

  it('is ok when the forwarded port does not answer from outside', async () => {
    // The "external port" setting points the probe at a port nothing listens on.
    const v = await goodVenue({ relay: { probeLoopback: true }, settings: { externalPort: 1 } });
    const p = check(await v.diagnose(), 'port');
    expect(p).toMatchObject({ result: 'ok', evidence: { outcome: 'unreachable', port: 1 } });
  });
});
