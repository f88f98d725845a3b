/**
 * `npm run chaos -- --minutes N [--seed S]`: a restaurant day with everything
 * breaking, and a checker that proves nothing was lost (docs/chaos.md).
 *
 * Real processes on 127.0.0.1: the sim on a busy automatic day, the relay, the
 * companion (reaching the relay through a TCP fault proxy) and EVVA's webhook
 * receiver. Faults drawn from the seed follow one another; after each one a
 * marker change (a new staff member) measures how long the feed took to heal.
 * Payment notices are posted along the way and their orders closed, left open
 * or deleted. At the end the day stops, the feed drains, and the checker
 * compares the sim's history with what the receiver accepted.
 *
 * Exit codes: 0 pass, 1 a violation (the seed is printed for replay), 2 bad flags, 3 the rig could not start.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { OrderStatus } from '../protocol/front.ts';
import { Rng } from '../sim/random.ts';
import type { HistoryEntry } from '../sim/world.ts';
import { check, summary, type ChaosRecord, type ChaosReport, type FaultRecord, type PaymentCase } from './chaos/check.ts';
import { FAULT_KINDS, inject, pickFault, type FaultKind } from './chaos/nemesis.ts';
import { CLOSE_AFTER_MS, startRig, type Rig } from './chaos/rig.ts';

const USAGE = `Usage: npm run chaos -- [--minutes N] [--seed S] [--json FILE] [--faults k1,k2] [--speed X] [--keep]
  --minutes N   how long faults are injected (default 10; decimals allowed); draining and checking add a minute or two
  --seed S      the seed for the day and the faults (default: random, printed); the same seed replays the same choices
  --json FILE   also write the report there (it is always written to the run directory)
  --faults LIST only these kinds (default all): ${FAULT_KINDS.join(', ')}
  --speed X     the sim's speed (default 6: about one change a second)
  --keep        keep the run directory (logs, data dirs) even when the run passes`;

/** How long a fault may take to heal before it counts as unhealed. Webhook retries back off up to 60 s. */
const HEAL_LIMIT_MS = 150_000;
/** How long the end waits for the feed to drain before the check is final. */
const DRAIN_LIMIT_MS = 180_000;
/** With nothing left at the relay, this long without a delivery means nothing more is coming. */
const QUIET_MS = 15_000;
/** Most faults in one run, whatever the minutes (every loop is bounded). */
const MAX_FAULTS = 2_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Args { minutes: number; seed: number; json: string | null; faults: FaultKind[]; speed: number; keep: boolean }

function args(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      minutes: { type: 'string' }, seed: { type: 'string' }, json: { type: 'string' }, faults: { type: 'string' },
      speed: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { console.log(USAGE); process.exit(0); }
  const minutes = Number(values.minutes ?? 10);
  if (!(minutes > 0 && minutes <= 24 * 60)) throw new Error('--minutes must be a number above 0');
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error('--seed must be a whole number from 0 to 4294967295');
  const faults = (values.faults?.split(',').map((s) => s.trim()).filter(Boolean) ?? [...FAULT_KINDS]) as FaultKind[];
  for (const f of faults) if (!(FAULT_KINDS as readonly string[]).includes(f)) throw new Error(`unknown fault '${f}'; known: ${FAULT_KINDS.join(', ')}`);
  const speed = Number(values.speed ?? 6);
  if (!(speed > 0 && speed <= 100)) throw new Error('--speed must be a number from 0 to 100');
  return { minutes, seed, json: values.json ?? null, faults, speed, keep: values.keep ?? false };
}

const stamp = () => new Date().toISOString().slice(11, 19);
const say = (s: string) => console.log(`[chaos ${stamp()}] ${s}`);

/** Payments: notices on fresh orders, each order later closed with EVVA or cash, deleted, or left open. */
function payments(rig: Rig, rng: Rng) {
  const cases: PaymentCase[] = [];
  const fates: Array<{ at: number; run: () => Promise<void> }> = [];
  let tables: number[] = [];
  let products: string[] = [];
  return {
    cases,
    async load() {
      for (let i = 0; i < 10 && (tables.length === 0 || products.length === 0); i++) {
        const t = await rig.plugin<Array<{ Number: number; IsActive?: boolean }>>('/api/tables').catch(() => null);
        const p = await rig.plugin<Array<{ Number?: string | null; IsActive?: boolean }>>('/api/products').catch(() => null);
        if (t?.status === 200) tables = t.body.filter((x) => x.IsActive !== false).map((x) => x.Number);
        // A product's code is its Number (what item links end with). One without it cannot be ordered:
        // leaving it in would make every payment's order fail to open, and the payment checks pass on nothing.
        if (p?.status === 200) products = p.body.filter((x) => x.IsActive !== false && typeof x.Number === 'string' && x.Number !== '').map((x) => x.Number as string);
        if (tables.length === 0 || products.length === 0) await sleep(1000);
      }
      if (tables.length === 0 || products.length === 0) throw new Error('the sim shows no tables or products');
    },
    /** Opens an order, posts EVVA's payment notice for it to the relay, and schedules what iiko will do with the order. */
    async pay(): Promise<void> {
      let order: { Id: string; ResultSum: number } | null = null;
      for (let i = 0; i < 5 && !order; i++) {
        const r = await rig.sim<{ Id: string; ResultSum: number }>('POST', 'orders', {
          tableNum: rng.pick(tables), items: [{ productCode: rng.pick(products), amount: rng.int(1, 3) }],
        }, () => true);
        if (r.status === 201) order = r.body;
      }
      if (!order) return;
      const paymentId = `pay-${cases.length + 1}`;
      const c: PaymentCase = { paymentId, orderId: order.Id.toLowerCase(), amount: order.ResultSum, postedAt: Date.now(), expected: null, relayState: null };
      // EVVA talks to the relay directly (not through the companion's link); the relay may be down: retry a while.
      for (let i = 0; i < 30; i++) {
        const r = await rig.api('POST', `/${rig.venueId}/payments`, { paymentId, orderId: order.Id, amount: order.ResultSum, paidAt: new Date().toISOString() }).catch(() => null);
        if (r && (r.status === 201 || r.status === 200)) { cases.push(c); break; }
        await sleep(1000);
      }
      if (!cases.includes(c)) return;
      const fate = rng.weighted({ evva: 3, cash: 2, delete: 1.5, open: 1 });
      const id = order.Id;
      const at = Date.now() + rng.int(3, 40) * 1000;
      // 409: the automatic day got to the order first (it bills and pays orders too); the checker reads the final order.
      const conflictOk = (s: number) => s < 300 || s === 409;
      if (fate === 'evva') fates.push({ at, run: async () => { await rig.sim('POST', `orders/${id}/close`, { paymentType: 'EVVA' }, conflictOk); } });
      if (fate === 'cash') fates.push({ at, run: async () => { await rig.sim('POST', `orders/${id}/close`, { paymentType: 'Наличные' }, conflictOk); } });
      if (fate === 'delete') fates.push({ at, run: async () => { await rig.sim('DELETE', `orders/${id}`, undefined, conflictOk); } });
    },
    /** Runs the order fates that are due. */
    async due(): Promise<void> {
      const now = Date.now();
      for (const f of fates.filter((x) => x.at <= now)) {
        fates.splice(fates.indexOf(f), 1);
        await f.run();
      }
    },
    /** The state each payment's final order calls for, and what the relay says. */
    async settle(): Promise<void> {
      for (const c of cases) {
        const o = await rig.plugin<{ Status: string | number; Payments?: Array<{ Sum: number; Type?: { Code?: string | null } }> }>(`/api/orders/${c.orderId}`).catch(() => null);
        // The plugin writes enums as numbers (OrderStatus New 0, Bill 1, Closed 2, Deleted 3) or names.
        const status = o?.status === 200 ? (typeof o.body.Status === 'number' ? OrderStatus[o.body.Status] : o.body.Status) : undefined;
        if (!o || o.status === 404) c.expected = 'order-deleted';
        else if (o.status !== 200) c.expected = null;
        else if (status === 'Deleted') c.expected = 'order-deleted';
        else if (status === 'Closed') {
          const evva = (o.body.Payments ?? []).filter((p) => String(p.Type?.Code ?? '').toUpperCase() === 'EVVAP').reduce((s, p) => s + p.Sum, 0);
          c.expected = evva + 0.01 >= c.amount ? 'reconciled' : 'mismatch';
        } else c.expected = 'pending-close';
        const v = await rig.api<{ state: string }>('GET', `/${rig.venueId}/payments/${c.paymentId}`).catch(() => null);
        c.relayState = v?.status === 200 ? v.body.state : null;
      }
    },
  };
}

/** Every history entry of the sim, paged. */
async function history(rig: Rig): Promise<{ entries: HistoryEntry[]; dropped: number }> {
  const entries: HistoryEntry[] = [];
  let after = 0;
  let dropped = 0;
  for (let i = 0; i < 1000; i++) {
    const r = await rig.sim<{ entries: HistoryEntry[]; dropped: number; last: number }>('GET', `history?after=${after}&limit=20000`);
    dropped = r.body.dropped;
    entries.push(...r.body.entries);
    if (r.body.entries.length === 0 || after >= r.body.last) break;
    after = (r.body.entries.at(-1) as HistoryEntry).n;
  }
  return { entries, dropped };
}

/** Waits until an accepted StaffUpdate names `name`; returns its arrival time, or null after `limitMs`. */
async function arrival(rig: Rig, name: string, limitMs: number): Promise<number | null> {
  const t0 = Date.now();
  let i = 0;
  while (Date.now() - t0 < limitMs) {
    const ds = rig.receiver.deliveries;
    for (; i < ds.length; i++) {
      const d = ds[i]!;
      if (d.status !== 200) continue;
      if (d.events.some((e) => e.eventType === 'StaffUpdate' && ((e.eventInfo as { staff?: Array<{ name?: string }> }).staff ?? []).some((s) => s.name === name))) return d.at;
    }
    await sleep(100);
  }
  return null;
}

async function main(): Promise<number> {
  let a: Args;
  try { a = args(process.argv.slice(2)); } catch (e) { console.error(`chaos: ${(e as Error).message}\n${USAGE}`); return 2; }
  // Separate streams, so the faults drawn do not depend on how many tries a payment's order took: a seed replays the same faults in the same order.
  const rng = Rng.derive(a.seed, 'chaos-faults');
  const payRng = Rng.derive(a.seed, 'chaos-payments');
  const dir = mkdtempSync(path.join(tmpdir(), `evva-chaos-${a.seed}-`));
  say(`seed ${a.seed}, ${a.minutes} min of faults (${a.faults.length} kinds), run dir ${dir}`);
  let rig: Rig;
  try {
    rig = await startRig({ dir, seed: a.seed, speed: a.speed });
  } catch (e) {
    console.error(`chaos: the rig did not start: ${(e as Error).message}\nlogs: ${dir}/logs`);
    return 3;
  }
  let report: ChaosReport | null = null;
  const onSignal = () => { void rig.close().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const startedAt = Date.now();
    const pay = payments(rig, payRng);
    await pay.load();
    let probes = 0;
    const probe = async (from: number): Promise<number | null> => {
      const name = `Проба ${++probes}`;
      await rig.sim('POST', 'staff', { name, role: 'Проба' });
      const at = await arrival(rig, name, HEAL_LIMIT_MS);
      return at === null ? null : Math.max(0, at - from);
    };
    const first = await probe(Date.now());
    if (first === null) throw new Error('the feed never delivered the first change: the rig is broken, not the feed');
    say(`feed up: first change at the receiver in ${first} ms`);

    const faults: FaultRecord[] = [];
    const end = startedAt + a.minutes * 60_000;
    let nextPay = Date.now() + payRng.int(2, 8) * 1000;
    for (let i = 0; i < MAX_FAULTS && Date.now() < end; i++) {
      await pay.due();
      if (Date.now() >= nextPay) { await pay.pay(); nextPay = Date.now() + payRng.int(8, 25) * 1000; }
      const kind = pickFault(rng, a.faults);
      const at = Date.now();
      const f = await inject(rig, rng, kind, () => pay.pay());
      const endAt = Date.now();
      const healMs = await probe(endAt);
      faults.push({ ...f, at, endAt, healMs });
      say(`${kind} (${f.detail}): healed in ${healMs === null ? 'NEVER' : `${healMs} ms`}`);
      await sleep(rng.int(1, 4) * 1000);
    }

    // The end: the day stops, every order's fate runs, and the feed drains.
    say(`faults over (${faults.length}); stopping the day and draining`);
    await rig.sim('POST', 'auto', { on: false });
    const lastPay = Math.max(0, ...pay.cases.map((c) => c.postedAt));
    const waitPending = lastPay + CLOSE_AFTER_MS + 5_000 - Date.now();
    if (waitPending > 0) await sleep(waitPending);
    await pay.due();
    const drainFrom = Date.now();
    let lastCount = -1;
    let quietSince = Date.now();
    for (let i = 0; i < 1000; i++) {
      await sleep(3000);
      const h = await history(rig);
      const staff = await rig.plugin<Array<{ Name: string; IsSessionOpen?: boolean }>>('/api/users');
      const tables = await rig.plugin<Array<{ Number: number }>>('/api/tables');
      await pay.settle();
      const rec: ChaosRecord = {
        seed: a.seed, venueId: rig.venueId, startedAt, endedAt: Date.now(), history: h.entries, historyDropped: h.dropped,
        deliveries: rig.receiver.deliveries, payments: pay.cases,
        finalStaff: staff.status === 200 ? staff.body.map((s) => ({ name: s.Name, sessionOpen: s.IsSessionOpen ?? null })) : [],
        finalTables: tables.status === 200 ? tables.body.map((t) => t.Number) : [],
        faults,
      };
      report = check(rec);
      if (report.ok) break;
      // A duplicate, a reorder, a wrong state or a bad signature never goes away by waiting.
      const v = report.violations;
      if (v.duplicate + v.order + v.wrong + v.signature + v.malformed > 0) break;
      // Something may still be on its way: wait while the relay holds a webhook backlog or deliveries still come.
      const n = rig.receiver.deliveries.length;
      if (n !== lastCount) { lastCount = n; quietSince = Date.now(); }
      const hook = await rig.api<{ backlog?: number }>('GET', `/${rig.venueId}/webhook`).catch(() => null);
      const backlog = hook?.status === 200 ? (hook.body.backlog ?? 0) : 1;
      if ((backlog === 0 && Date.now() - quietSince > QUIET_MS) || Date.now() - drainFrom > DRAIN_LIMIT_MS) break;
    }
    if (!report) throw new Error('no report');
    const json = JSON.stringify({ ...report, faults }, null, 2);
    writeFileSync(path.join(dir, 'report.json'), json);
    if (a.json) writeFileSync(a.json, json);
    console.log(`\n${summary(report)}\n`);
    console.log(`report: ${a.json ?? path.join(dir, 'report.json')}`);
    if (!report.ok) console.log(`FAILED: replay with  npm run chaos -- --minutes ${a.minutes} --seed ${a.seed}${a.faults.length < FAULT_KINDS.length ? ` --faults ${a.faults.join(',')}` : ''}`);
    return report.ok ? 0 : 1;
  } catch (e) {
    console.error(`chaos: the run broke off: ${(e as Error).stack ?? String(e)}\nseed ${a.seed}; logs: ${dir}/logs`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await rig.close();
    if (report?.ok && !a.keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`run directory kept: ${dir}`);
  }
}

process.exitCode = await main();
