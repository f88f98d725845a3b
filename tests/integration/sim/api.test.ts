import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ItemStatus, LICENCE_REFUSAL, LoginToken, LogoutResult, OrderStatus, VERSION_HEADER, resources } from '../../../protocol/front.ts';
import { startSim } from '../../../sim/index.ts';
import type { Sim } from '../../../sim/index.ts';
import { get, getJson, login, logout } from '../../helpers/sim.ts';

type Rec = Record<string, unknown>;

/** A raw GET with a chosen Host header (fetch will not let us set Host). */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

describe('the simulated plugin: shared world', () => {
  let sim: Sim;
  let token: string;
  beforeAll(async () => {
    sim = await startSim({ port: 0, auto: false, licenceSlots: 50 });
    token = await login(sim);
  });
  afterAll(async () => { await sim.close(); });

  it('serves a root page naming the plugin and its version, with the version header', async () => {
    const res = await fetch(`${sim.url}/`);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get(VERSION_HEADER)).toBe('7.4.6012.0');
    expect(html).toMatch(/iikoFront Web API/);
    expect(html).toMatch(/Front Web API/);
    expect(html).toContain('<meta name="generator" content="iikoFront.WebApi 7.4.6012.0">');
  });

  it('answers login with a quoted JSON string token', async () => {
    const res = await fetch(`${sim.url}/api/login/2050`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.headers.get(VERSION_HEADER)).toBe('7.4.6012.0');
    expect(text.startsWith('"') && text.endsWith('"')).toBe(true);
    expect(LoginToken.parse(JSON.parse(text))).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('accepts any module id', async () => {
    const t = await login(sim, 'anything-at-all');
    expect((await getJson(sim, '/api/sections', t)).status).toBe(200);
  });

  it('refuses a missing or unknown key with 401, and takes the key from the query or a cookie', async () => {
    expect((await getJson(sim, '/api/orders')).status).toBe(401);
    expect((await getJson(sim, '/api/orders', 'not-a-token')).status).toBe(401);
    expect((await getJson(sim, '/api/orders?key=')).status).toBe(401);
    expect((await getJson(sim, '/api/orders', token)).status).toBe(200);
    const viaCookie = await getJson(sim, '/api/orders', undefined, { headers: { cookie: `lang=ru; key=${token}` } });
    expect(viaCookie.status).toBe(200);
    const badCookie = await getJson(sim, '/api/orders', undefined, { headers: { cookie: 'key=stolen' } });
    expect(badCookie.status).toBe(401);
  });

  it('serves every record of every resource in a shape the protocol validators accept', async () => {
    for (const [name, r] of Object.entries(resources)) {
      const list = await get<unknown[]>(sim, r.path, token);
      expect(list.length, name).toBeGreaterThan(0);
      for (const rec of list) {
        const parsed = (r.item as z.ZodTypeAny).safeParse(rec);
        expect(parsed.success, `${name}: ${parsed.success ? '' : parsed.error.message}`).toBe(true);
        // PascalCase: every top-level key starts with a capital letter.
        for (const k of Object.keys(rec as Rec)) expect(k, `${name}.${k}`).toMatch(/^[A-Z]/);
      }
    }
  });

  it('has a restaurant: two halls and four kitchens, ~20 tables, ~8 staff, a four-level menu, three payment types', async () => {
    const sections = await get<{ Name: string; Tables: string[] }[]>(sim, '/api/sections', token);
    const tables = await get<Rec[]>(sim, '/api/tables', token);
    const users = await get<Rec[]>(sim, '/api/users', token);
    const groups = await get<{ Id: string; Parent: string | null }[]>(sim, '/api/productgroups', token);
    const products = await get<{ Name: string; Price: number }[]>(sim, '/api/products', token);
    // Kitchens and the bar are sections too, with no tables (recorded kitchen items link to /api/sections/<kitchen>).
    expect(sections.filter((x) => x.Tables.length > 0).map((x) => x.Name)).toEqual(['Основной зал', 'Веранда']);
    expect(sections.filter((x) => x.Tables.length === 0).map((x) => x.Name)).toEqual(['Горячий цех', 'Холодный цех', 'Кондитерский цех', 'Бар']);
    expect(tables.length).toBeGreaterThanOrEqual(18);
    expect(users.length).toBeGreaterThanOrEqual(8);
    // Exactly the user contract: no rights, no PIN flag, no role, the phone as CellPhone.
    for (const u of users) expect(Object.keys(u).sort()).toEqual(['Card', 'CellPhone', 'Code', 'Id', 'InsuranceNumber', 'IsSessionOpen', 'Name', 'TaxpayerId', 'Type']);
    expect(users.filter((u) => typeof u.CellPhone === 'string').length).toBeGreaterThan(1);
    expect(users.every((u) => /[А-Яа-яЁё]/.test(String(u.Name)))).toBe(true);
    expect(products.length).toBeGreaterThanOrEqual(75);
    const byId = new Map(groups.map((g) => [g.Id, g]));
    const parentOf = (g: { Parent: string | null }) => (g.Parent ? g.Parent.split('/').pop()! : null);
    const depth = (id: string | null): number => (id === null ? 0 : 1 + depth(byId.has(id) ? parentOf(byId.get(id)!) : null));
    expect(Math.max(...groups.map((g) => depth(g.Id)))).toBe(4);
    const orders = await get<{ Payments: { Type: { Name: string; Kind: string; Code?: string } }[] }[]>(sim, '/api/orders', token);
    const types = new Map(orders.flatMap((o) => o.Payments.map((p) => [p.Type.Name, p.Type])));
    expect(types.get('EVVA')).toMatchObject({ Name: 'EVVA', Kind: 'Card', Code: 'EVVAP' });
  });

  it('seeds orders in every listed status, leaves Deleted ones out of the list, and deliveries in several states', async () => {
    const orders = await get<{ Id: string; Status: number; Guests: { Items: { Status: number }[] }[] }[]>(sim, '/api/orders', token);
    // Enums are numbers, as the recorded answers carry them.
    expect(new Set(orders.map((o) => OrderStatus[o.Status]))).toEqual(new Set(['New', 'Bill', 'Closed']));
    const deleted = sim.world.orders.find((o) => o.status === 'Deleted')!;
    expect(orders.some((o) => o.Id === deleted.id)).toBe(false);
    expect((await get<{ Status: number }>(sim, `/api/orders/${deleted.id}`, token)).Status).toBe(3);
    const itemStatuses = new Set(orders.flatMap((o) => o.Guests.flatMap((g) => g.Items.map((i) => ItemStatus[i.Status]))));
    for (const x of ['Added', 'PrintedNotCooking', 'CookingStarted', 'Served']) expect(itemStatuses).toContain(x);
    const deliveries = await get<{ Status: number; DeliveryStatus: number }[]>(sim, '/api/deliveries', token);
    expect(new Set(deliveries.map((d) => d.DeliveryStatus)).size).toBeGreaterThanOrEqual(3);
    // A prepaid delivery: its order Closed (2) while the courier is on the way (OnWay 3).
    expect(deliveries.some((d) => d.Status === 2 && d.DeliveryStatus === 3)).toBe(true);
  });

  it('writes times in ISO 8601 with an offset', async () => {
    const [o] = await get<{ OpenTime: string }[]>(sim, '/api/orders?$top=1', token);
    expect(o?.OpenTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+03:00$/);
  });

  it('looks records up by key and answers 404 for an unknown key or path', async () => {
    const orders = await get<{ Id: string; Url: string }[]>(sim, '/api/orders', token);
    const first = orders[0]!;
    expect((await get<{ Id: string }>(sim, `/api/orders/${first.Id}`, token)).Id).toBe(first.Id);
    expect((await get<{ Id: string }>(sim, `/api/orders/${first.Id.toUpperCase()}`, token)).Id).toBe(first.Id);
    expect((await getJson(sim, '/api/orders/00000000-0000-4000-8000-000000000000', token)).status).toBe(404);

    const users = await get<{ Name: string }[]>(sim, '/api/users', token);
    const u = users[0]!;
    const one = await get<{ Name: string }>(sim, `/api/users/${encodeURIComponent(u.Name)}`, token);
    expect(one.Name).toBe(u.Name);
    expect((await getJson(sim, `/api/users/${encodeURIComponent('Нет Такого')}`, token)).status).toBe(404);

    expect((await get<{ Number: number }>(sim, '/api/tables/21', token)).Number).toBe(21);
    expect((await getJson(sim, '/api/tables/999', token)).status).toBe(404);
    expect((await getJson(sim, '/api/tables/abc', token)).status).toBe(404);
    expect((await get<{ Name: string }>(sim, `/api/sections/${encodeURIComponent('Веранда')}`, token)).Name).toBe('Веранда');

    const products = await get<{ Number: string }[]>(sim, '/api/products', token);
    expect((await get<{ Number: string }>(sim, `/api/products/${products[5]!.Number}`, token)).Number).toBe(products[5]!.Number);
    const groups = await get<{ Id: string }[]>(sim, '/api/productgroups', token);
    expect((await get<{ Id: string }>(sim, `/api/productgroups/${groups[3]!.Id}`, token)).Id).toBe(groups[3]!.Id);
    const deliveries = await get<{ Id: string }[]>(sim, '/api/deliveries', token);
    expect((await get<{ Id: string }>(sim, `/api/deliveries/${deliveries[0]!.Id}`, token)).Id).toBe(deliveries[0]!.Id);
    const kitchen = await get<{ Number: number }[]>(sim, '/api/kitchenorders', token);
    expect((await get<{ Number: number }>(sim, `/api/kitchenorders/${kitchen[0]!.Number}`, token)).Number).toBe(kitchen[0]!.Number);
    expect((await getJson(sim, '/api/kitchenorders/99999', token)).status).toBe(404);

    expect((await getJson(sim, '/api/nothing', token)).status).toBe(404);
    expect((await getJson(sim, '/api/orders/a/b', token)).status).toBe(404);
    expect((await getJson(sim, '/elsewhere')).status).toBe(404);
  });

  it('follows its own links: every Url answers the same record', async () => {
    const orders = await get<{ Url: string; Id: string; Waiter: string | null; Table: string | null }[]>(sim, '/api/orders', token);
    for (const o of orders.slice(0, 4)) {
      const self = await fetch(`${o.Url}?key=${token}`).then((r) => r.json()) as { Id: string };
      expect(self.Id).toBe(o.Id);
      if (o.Waiter) expect((await fetch(`${o.Waiter}?key=${token}`)).status).toBe(200);
      if (o.Table) expect((await fetch(`${o.Table}?key=${token}`)).status).toBe(200);
    }
  });

  it('builds links from the Host header, and falls back to the listen address for a bad one', async () => {
    const viaFoo = await rawGet(sim.port, `/api/orders?$top=1&key=${token}`, { host: 'foo:1234' });
    const [o] = JSON.parse(viaFoo.body) as { Url: string; Table: string }[];
    expect(o?.Url).toMatch(/^http:\/\/foo:1234\/api\/orders\//);
    expect(o?.Table).toMatch(/^http:\/\/foo:1234\/api\/tables\//);
    for (const host of ['evil.com/<script>', 'a b', 'x:99999', '"><img', '']) {
      const r = await rawGet(sim.port, `/api/orders?$top=1&key=${token}`, { host });
      expect(r.status, host).toBe(200);
      const [x] = JSON.parse(r.body) as { Url: string }[];
      expect(x?.Url.startsWith(`${sim.url}/api/orders/`), host).toBe(true);
    }
    const none = await rawGet(sim.port, `/api/orders?$top=1&key=${token}`, {});
    expect((JSON.parse(none.body) as { Url: string }[])[0]?.Url.startsWith(`${sim.url}/`)).toBe(true);
  });

  it('applies OData options to orders over HTTP, including the has-enum form on numeric enums', async () => {
    const all = await get<{ Number: number; Status: number; TableNum: number | null }[]>(sim, '/api/orders', token);
    const top = await get<{ Number: number }[]>(sim, '/api/orders?$top=2&$orderby=Number desc', token);
    expect(top.map((o) => o.Number)).toEqual(all.map((o) => o.Number).sort((a, b) => b - a).slice(0, 2));
    const filter = encodeURIComponent("Status has Resto.Front.Api.V5.Data.Orders.OrderStatus'New'");
    const fresh = await get<{ Status: number }[]>(sim, `/api/orders?$filter=${filter}`, token);
    expect(fresh.length).toBe(all.filter((o) => o.Status === 0).length);
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.every((o) => o.Status === 0)).toBe(true);
    const q = encodeURIComponent("(Status eq 'Closed' or Status eq 'Bill') and TableNum ne null");
    const done = await get<{ Status: number }[]>(sim, `/api/orders?$filter=${q}&$orderby=Number`, token);
    expect(done.length).toBe(all.filter((o) => (o.Status === 2 || o.Status === 1) && o.TableNum !== null).length);
    expect(done.length).toBeGreaterThan(0);
    const deliveries = await get<{ Number: number }[]>(sim, `/api/deliveries?$filter=${encodeURIComponent("DeliveryStatus ne 'Cancelled'")}&$orderby=Number desc&$top=1`, token);
    expect(deliveries).toHaveLength(1);
  });

  it('answers a malformed query with 400 and a message naming the problem', async () => {
    const cases: [string, RegExp][] = [
      ['$filter=' + encodeURIComponent('Nope eq 1'), /unknown field 'Nope'/],
      ['$filter=' + encodeURIComponent('(Number eq 1'), /unbalanced parentheses/],
      ['$filter=' + encodeURIComponent('Number @ 1'), /unexpected character '@'/],
      ['$top=-3', /\$top/],
      ['$top=1e999', /\$top/],
      ['$top=99999999999999999999', /too large/],
      ['$orderby=Number sideways', /asc or desc/],
    ];
    for (const [qs, re] of cases) {
      const a = await getJson<{ Message: string }>(sim, `/api/orders?${qs}`, token);
      expect(a.status, qs).toBe(400);
      expect(a.body.Message, qs).toMatch(re);
    }
  });

  it('survives hostile input: bad escapes, odd paths and methods', async () => {
    expect((await getJson(sim, '/api/users/%E0%A4%A', token)).status).toBe(400);
    expect((await getJson(sim, '/api/users/%', token)).status).toBe(400);
    expect((await getJson(sim, `/api/orders?$filter=%ZZ`, token)).status).toBe(400);
    expect((await fetch(`${sim.url}/api/orders?key=${token}`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${sim.url}/API/Orders?key=${token}`)).status).toBe(200);
    expect((await getJson(sim, `/api/orders/${'x'.repeat(5000)}`, token)).status).toBe(404);
    // Still alive:
    expect((await getJson(sim, '/api/sections', token)).status).toBe(200);
  });
});

describe('the simulated plugin: sessions and licence slots', () => {
  let sim: Sim | null = null;
  afterEach(async () => { await sim?.close(); sim = null; });

  it('refuses a login with 403 and a licence message when every slot is held, until a logout frees one', async () => {
    sim = await startSim({ port: 0, auto: false, licenceSlots: 2 });
    const a = await login(sim);
    await login(sim);
    expect(sim.liveTokens()).toBe(2);
    const refused = await fetch(`${sim.url}/api/login/2050`);
    const msg = await refused.json() as string;
    expect(refused.status).toBe(403);
    expect(typeof msg).toBe('string');
    expect(msg).toMatch(LICENCE_REFUSAL);
    expect(msg).toMatch(/isn't licensed/);
    const out = await fetch(`${sim.url}/api/logout/${a}`);
    expect(LogoutResult.parse(await out.json())).toBe(true);
    expect(sim.liveTokens()).toBe(1);
    expect((await getJson(sim, '/api/orders', a)).status).toBe(401);
    await login(sim);
    expect(sim.logins()).toBe(3);
  });

  it('answers true to logging out an unknown token', async () => {
    sim = await startSim({ port: 0, auto: false });
    const r = await fetch(`${sim.url}/api/logout/never-issued`);
    expect(r.status).toBe(200);
    expect(await r.json()).toBe(true);
  });

  it('expires tokens a fixed time after login, and an expired token frees its slot', async () => {
    // The sim's wall clock is injected: the lifetime is checked to the millisecond, whatever the machine's load.
    let wall = Date.UTC(2025, 5, 1, 12);
    sim = await startSim({ port: 0, auto: false, tokenTtlMs: 60_000, licenceSlots: 1, now: () => wall });
    const t = await login(sim);
    expect((await getJson(sim, '/api/tables', t)).status).toBe(200);
    expect((await fetch(`${sim.url}/api/login/2050`)).status).toBe(403);
    wall += 59_999;
    expect((await getJson(sim, '/api/tables', t)).status).toBe(200); // use does not extend the lifetime
    wall += 1;
    expect((await getJson(sim, '/api/tables', t)).status).toBe(401);
    expect(sim.liveTokens()).toBe(0);
    await login(sim);
    expect(sim.liveTokens()).toBe(1);
  });

  it('drops every token on restart', async () => {
    sim = await startSim({ port: 0, auto: false });
    const t = await login(sim);
    await sim.restart();
    expect(sim.liveTokens()).toBe(0);
    expect((await getJson(sim, '/api/orders', t)).status).toBe(401);
    await logout(sim, t);
  });

  it('hides payment type codes when told to, leaving the name as the only clue', async () => {
    sim = await startSim({ port: 0, auto: false, paymentCodes: false });
    const t = await login(sim);
    const orders = await get<{ Payments: { Type: Rec }[] }[]>(sim, '/api/orders', t);
    const types = orders.flatMap((o) => o.Payments.map((p) => p.Type));
    expect(types.length).toBeGreaterThan(0);
    expect(types.some((x) => x.Name === 'EVVA')).toBe(true);
    expect(types.every((x) => !('Code' in x))).toBe(true);
  });
});
