/**
 * `npm run bench -- console [--quick] [--set sizes=10,10000 stores=sqlite,postgres n=300]`:
 * the support console's venues list on the real relay bin (logging to a
 * file), on SQLite and on a real Postgres, with 10 and 10 000 venues side by
 * side. Every answer carries the relay's own time for it (Server-Timing), so
 * the table shows the server-side p50/p99 of each list shape, then what the
 * client waited. The venues are written straight into the store (bulk), in a
 * mix of states; the relay itself judges every venue's verdict (the judge's
 * one-off time for all of them is reported too).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Status } from '../protocol/local.ts';
import { openStore } from '../relay/db/store.ts';
import { startPostgres, type RunningPostgres } from '../tests/helpers/postgres.ts';
import { freePort, pct, sleep, startLogged, type Started } from './_proc.ts';
import type { BenchOptions, BenchResult, BenchTable } from './run.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const API_KEY = 'bench-console-key-0123456789abcdef';
const TIME_LIMIT_MS = 10 * 60_000;

const GREEN: Status = {
  level: 'ok', version: '0.1.0', startedAt: '2026-01-01T08:00:00.000Z',
  front: { state: 'up', url: 'http://127.0.0.1:9042', latencyMs: 8, version: '7.4.6012.0', checkedAt: '2026-01-01T08:00:00.000Z', since: '2026-01-01T08:00:00.000Z', source: 'discovery' },
  tunnel: { state: 'connected', since: '2026-01-01T08:00:00.000Z', rttMs: 12, reconnects: 0, venueId: null, relayUrl: null },
  payments: { total: 3, byState: { reconciled: 3 }, alarms: 0, pendingClose: 0 },
};
GREEN.feed = {
  state: 'running', venueId: null, backlog: 0, inFlight: 0, oldestUnsentAt: null, lastEvent: { seq: 40, eventType: 'TableOrderUpdate', eventTime: '2026-01-01T12:00:00.000Z' },
  acked: 40, ackedToday: 40, coalesced: 0, pollers: [],
};
const DOWN: Status = { ...GREEN, level: 'error', front: { ...GREEN.front, state: 'down', latencyMs: null, error: { code: 'refused', message: 'iikoFront не отвечает' } } };
const WAITING: Status = { ...GREEN, payments: { total: 4, byState: { reconciled: 3, notified: 1 }, alarms: 0, pendingClose: 0 } };

interface Row { id: string; name: string; created: number; paired: boolean; revoked: boolean; online: Status | null; events: number }

/** A mix like a real fleet: most venues working, some with payments to close, some down, offline, revoked or not set up. */
export function fleet(n: number, now: number): Row[] {
  const names = ['Кафе «Ромашка»', 'Бар «Берёза»', 'Столовая №', 'Ресторан «Пушкин»', 'Пекарня', 'Суши-бар', 'Пиццерия «Мама»', 'Кофейня'];
  return Array.from({ length: n }, (_, i) => {
    // Spread over 0..99 so that a fleet of 10 has a mix too.
    const k = (i * 37) % 100;
    const id = `ven_${i.toString(36).padStart(8, '0')}bench`;
    return {
      id, name: `${names[i % names.length]} ${i}`, created: now - (n - i) * 60_000,
      paired: k >= 10, revoked: k === 0,
      online: k < 13 ? null : k === 13 ? DOWN : k < 17 ? WAITING : GREEN,
      events: i % 5 === 0 ? 3 : 0,
    };
  });
}

/** Writes the fleet in bulk (one transaction) with plain SQL: the relay's own migrations made the tables. */
export async function seed(rows: Row[], target: { sqlite?: string; pg?: string }, now: number): Promise<void> {
  const cols = 'id, name, created_at, token_hash, paired_at, revoked_at, companion_version, companion_hostname, connected_at, last_seen_at';
  const venue = (r: Row) => [r.id, r.name, r.created, r.paired && !r.revoked ? `hash-${r.id}` : null, r.paired ? r.created : null, r.revoked ? now : null,
    r.paired ? '0.1.0' : null, r.paired ? 'pos' : null, r.paired ? now - 3_600_000 : null, r.paired ? now - 60_000 : null];
  const events = rows.flatMap((r) => Array.from({ length: r.events }, (_, j) => {
    const env = { eventId: `${r.id}-e${j}`, venueId: r.id, seq: j + 1, eventType: 'TableOrderUpdate', eventTime: new Date(now).toISOString(), eventInfo: {} };
    return [r.id, env.eventId, env.seq, env.eventType, JSON.stringify(env), now - 1_000 * (3 - j)];
  }));
  if (target.sqlite) {
    const db = new Database(target.sqlite);
    db.pragma('busy_timeout = 5000');
    const v = db.prepare(`insert into venues (${cols}) values (${cols.split(',').map(() => '?').join(',')})`);
    const e = db.prepare('insert into feed_events (venue_id, event_id, seq, event_type, body, stored_at) values (?,?,?,?,?,?)');
    db.transaction(() => { for (const r of rows) v.run(...venue(r)); for (const x of events) e.run(...x); })();
    db.close();
    return;
  }
  const c = new pg.Client({ connectionString: target.pg });
  await c.connect();
  try {
    await c.query('begin');
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500).map(venue);
      const params = chunk.flat();
      const values = chunk.map((_, j) => `(${Array.from({ length: 10 }, (_, k) => `$${j * 10 + k + 1}`).join(',')})`).join(',');
      await c.query(`insert into venues (${cols}) values ${values}`, params);
    }
    for (let i = 0; i < events.length; i += 500) {
      const chunk = events.slice(i, i + 500);
      const values = chunk.map((_, j) => `(${Array.from({ length: 6 }, (_, k) => `$${j * 6 + k + 1}`).join(',')})`).join(',');
      await c.query(`insert into feed_events (venue_id, event_id, seq, event_type, body, stored_at) values ${values}`, chunk.flat());
    }
    await c.query('commit');
  } finally {
    await c.end();
  }
}

/**
 * The venues that are online get their tunnel's link and the companion's report, as a node holding them would have
 * written them (after the relay started: a single relay forgets links of a previous run at start). The judge then
 * reads them; last-seen lies ahead so no venue turns stale during the run.
 */
export async function goOnline(rows: Row[], target: { sqlite?: string; pg?: string }, now: number): Promise<void> {
  const online = rows.filter((r) => r.online);
  const sqlText = (p: (i: number) => string) => `update venues set online_link = ${p(1)}, status_json = ${p(2)}, last_seen_at = ${p(3)}, face_at = null where id = ${p(4)}`;
  const args = (r: Row) => [`bench/${r.id}`, JSON.stringify({ ...r.online, tunnel: { ...r.online!.tunnel, venueId: r.id } }), now + 3_600_000, r.id];
  if (target.sqlite) {
    const db = new Database(target.sqlite);
    db.pragma('busy_timeout = 5000');
    const st = db.prepare(sqlText(() => '?'));
    db.transaction(() => { for (const r of online) st.run(...args(r)); })();
    db.close();
    return;
  }
  const c = new pg.Client({ connectionString: target.pg });
  await c.connect();
  try {
    await c.query('begin');
    for (const r of online) await c.query(sqlText((i) => `$${i}`), args(r));
    await c.query('commit');
  } finally {
    await c.end();
  }
}

interface Shape { name: string; query: (page1: { next: string | null }) => string; limit?: number }

export async function bench(opts: BenchOptions = {}): Promise<BenchResult> {
  const sizes = (opts.set?.sizes ?? '10,10000').split(',').map(Number);
  const stores = (opts.set?.stores ?? 'sqlite,postgres').split(',');
  const n = Number(opts.set?.n ?? (opts.quick ? 60 : 300));
  const progress = opts.progress ?? (() => {});
  const t0 = performance.now();
  const bounded = () => { if (performance.now() - t0 > TIME_LIMIT_MS) throw new Error(`console bench exceeded ${TIME_LIMIT_MS} ms`); };
  const dir = mkdtempSync(join(tmpdir(), 'evva-console-bench-'));
  let postgres: RunningPostgres | null = null;
  const started: Started[] = [];
  const rows: Array<Array<string | number>> = [];
  const judged: Array<Array<string | number>> = [];
  const data: Record<string, unknown> = {};
  const shapes: Shape[] = [
    { name: 'first page, worst first', query: () => 'sort=verdict' },
    // The same work at both sizes (a 10-venue relay has only 10 to show): the page of 10.
    { name: 'first page of 10', query: () => 'sort=verdict', limit: 10 },
    { name: 'next page (cursor)', query: (p) => `sort=verdict&cursor=${p.next}` },
    { name: 'filter: not working', query: () => 'sort=verdict&verdict=red' },
    { name: 'by name', query: () => 'sort=name' },
    { name: 'search «пекарня 12»', query: () => `sort=verdict&q=${encodeURIComponent('пекарня 12')}` },
  ];
  try {
    for (const store of stores) {
      if (store === 'postgres' && !postgres) postgres = await startPostgres();
      for (const size of sizes) {
        bounded();
        const now = Date.now();
        const dataDir = join(dir, `${store}-${size}`);
        let pgUrl: string | undefined;
        if (store === 'postgres') {
          // A fresh database per size on the same server.
          const admin = new pg.Client({ connectionString: postgres!.url });
          await admin.connect();
          await admin.query(`create database bench_${size}`);
          await admin.end();
          pgUrl = postgres!.url.replace(/\/[^/]+$/, `/bench_${size}`);
        }
        // The relay's own migrations make the tables; then the fleet goes in.
        await (await openStore({ dataDir, url: pgUrl, pool: 1 })).close();
        const target = store === 'sqlite' ? { sqlite: join(dataDir, 'relay.sqlite') } : { pg: pgUrl };
        const fleetRows = fleet(size, now);
        await seed(fleetRows, target, now);
        const port = await freePort();
        const relay = startLogged(process.execPath, [join(ROOT, 'bin', 'evva-relay.js'), 'serve', '--port', String(port), '--data-dir', dataDir,
          '--api-key', API_KEY, ...(pgUrl ? ['--store', pgUrl] : [])], join(dir, `relay-${store}-${size}.log`));
        started.push(relay);
        const base = `http://127.0.0.1:${port}`;
        await relay.waitFor(new RegExp(`"listening":"${base}"`), 60_000);
        await goOnline(fleetRows, target, now);
        const signIn = await fetch(`${base}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: base }, body: JSON.stringify({ key: API_KEY }) });
        if (signIn.status !== 200) throw new Error(`sign-in: ${signIn.status} ${await signIn.text()}`);
        const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
        const get = async (q: string, limit = 50) => {
          const s = performance.now();
          const r = await fetch(`${base}/console/api/venues?${q}&limit=${limit}`, { headers: { cookie } });
          const body = await r.json() as { next: string | null; venues: unknown[]; counts: Record<string, number> };
          if (r.status !== 200) throw new Error(`list ${q}: ${r.status}`);
          const timing = r.headers.get('server-timing') ?? '';
          const num = (k: string) => Number(new RegExp(`${k};dur=([\\d.]+)`).exec(timing)?.[1] ?? NaN);
          return { client: performance.now() - s, total: num('total'), judge: num('judge'), body };
        };
        // The first list judges every venue (they are all new to this relay): its one-off cost.
        const first = await get('sort=verdict');
        judged.push([store, size, first.judge.toFixed(1), JSON.stringify(first.body.counts)]);
        progress(`${store} ${size}: judged in ${first.judge.toFixed(0)} ms, counts ${JSON.stringify(first.body.counts)}`);
        for (let i = 0; i < 20; i++) await get('sort=verdict');
        for (const shape of shapes) {
          const server: number[] = [];
          const client: number[] = [];
          let shown = 0;
          for (let i = 0; i < n; i++) {
            bounded();
            const r = await get(shape.query(first.body), shape.limit);
            server.push(r.total);
            client.push(r.client);
            shown = r.body.venues.length;
          }
          server.sort((x, y) => x - y);
          client.sort((x, y) => x - y);
          rows.push([store, size, shape.name, shown, n, pct(server, 50).toFixed(2), pct(server, 99).toFixed(2), pct(client, 50).toFixed(2), pct(client, 99).toFixed(2)]);
          data[`${store}/${size}/${shape.name}`] = { server, client };
        }
        await relay.stop();
        await sleep(200);
      }
    }
  } finally {
    for (const s of started) await s.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else progress(`kept ${dir}`);
  }
  // Side by side: each shape's server p50 at the largest size over the smallest.
  const ratio: Array<Array<string | number>> = [];
  const lo = Math.min(...sizes);
  const hi = Math.max(...sizes);
  for (const store of stores) {
    for (const shape of shapes) {
      const a = rows.find((r) => r[0] === store && r[1] === lo && r[2] === shape.name);
      const b = rows.find((r) => r[0] === store && r[1] === hi && r[2] === shape.name);
      if (a && b) ratio.push([store, shape.name, a[5]!, b[5]!, (Number(b[5]) / Number(a[5])).toFixed(2)]);
    }
  }
  const tables: BenchTable[] = [
    {
      title: 'Console venues list: relay time per answer (Server-Timing total, ms) and what the client waited, 50 venues a page unless said',
      columns: ['store', 'venues', 'list', 'rows', 'calls', 'server p50', 'server p99', 'client p50', 'client p99'],
      rows,
      notes: [
        'Sequential calls with the session cookie, over loopback, to the relay bin logging to a file. The server time covers the page query, the page\'s extras (last event, backlog, payments), the counts per verdict (reused by a node for 2 s: COUNTS_TTL_MS) and the verdicts in words.',
        'A search reads every venue\'s search key (a substring: no b-tree helps); every other shape walks an index from the cursor and reads one page.',
      ],
    },
    { title: `Side by side: server p50 (ms) at ${lo} and ${hi} venues`, columns: ['store', 'list', `${lo}`, `${hi}`, 'ratio'], rows: ratio },
    { title: 'The judge: every venue new to the relay judged at the first list (one-off, ms)', columns: ['store', 'venues', 'judge ms', 'counts'], rows: judged },
  ];
  return { tables, data };
}
