/**
 * The chaos soak's checker, Jepsen-style: it knows what went in (the sim's own
 * history of changes, the payment notices posted, the sim's final staff and
 * tables) and compares it with what came out at EVVA's webhook receiver. Pure:
 * a record in, a report out, so it is tested on hand-made records too.
 *
 * What it can and cannot see: the companion polls, so a state that lived
 * shorter than a poll may never be seen (that is not a loss, and it is
 * counted as `statesSkipped`). What must hold:
 * - every event once after dedup by eventId; `seq` 1..N without gaps or
 *   repeats, arriving in seq order; every delivery correctly signed;
 * - every order that ever existed reaches the receiver, and its last event
 *   carries its final revision (the last change is never lost). Except one
 *   that ended Deleted and never reached it at all: the plugin leaves Deleted
 *   orders out of its lists, so an order opened and deleted between two of the
 *   companion's looks (or before its first) leaves nothing to see. These are
 *   counted (`deletedUnseen`); one that arrived once must arrive Deleted;
 * - each order event is a state the plugin really had (status and sum at that
 *   revision), an order's revisions never go back, and no state comes twice
 *   under two eventIds;
 * - every payment ends in the state the order's final shape calls for, at the
 *   relay and at the receiver, with no state sent twice;
 * - the last staff and tables lists equal the sim's, and no list comes twice in a row;
 * - every fault healed (a change made after it ended reached the receiver).
 */
import type { HistoryEntry } from '../../sim/world.ts';
import type { Delivery } from './receiver.ts';

export interface PaymentCase {
  paymentId: string;
  orderId: string;
  amount: number;
  postedAt: number;
  /** The state the sim's final order calls for; null when it cannot be known (the order left the plugin). */
  expected: string | null;
  /** What GET /v1/venues/:id/payments/:paymentId answered at the end. */
  relayState: string | null;
}

export interface FaultRecord {
  kind: string;
  detail: string;
  at: number;
  endAt: number;
  /** From the fault's end until a change made then reached the receiver; null when it never did within the limit. */
  healMs: number | null;
}

export interface ChaosRecord {
  seed: number;
  venueId: string;
  startedAt: number;
  endedAt: number;
  history: HistoryEntry[];
  historyDropped: number;
  deliveries: Delivery[];
  payments: PaymentCase[];
  finalStaff: Array<{ name: string; sessionOpen: boolean | null }>;
  finalTables: number[];
  faults: FaultRecord[];
}

export type ViolationKind = 'lost' | 'duplicate' | 'order' | 'gap' | 'signature' | 'wrong' | 'unhealed' | 'malformed';
export interface Violation { kind: ViolationKind; what: string }

export interface Stats { n: number; p50: number | null; p99: number | null; max: number | null }

export interface ChaosReport {
  ok: boolean;
  seed: number;
  minutes: number;
  counts: {
    deliveries: number; accepted: number; refused: number; eventsDelivered: number; uniqueEvents: number; redelivered: number;
    byType: Record<string, number>; orders: number; historyChanges: number; statesSeen: number; statesSkipped: number;
    restated: number; payments: number; faults: number;
    /** Orders that ended Deleted and never reached the receiver: the plugin never lists a Deleted order. */
    deletedUnseen: number;
  };
  violations: Record<ViolationKind, number>;
  /** The first violations of each kind, for a person to read. */
  examples: Violation[];
  faultsByKind: Record<string, { count: number; heal: Stats; unhealed: number }>;
  heal: Stats;
  /** From a change in the sim to its first arrival at the receiver, over every state that arrived. */
  delay: Stats & { worst: string | null };
  payments: Array<{ paymentId: string; expected: string | null; relay: string | null; receiver: string | null }>;
}

const ORDER_TYPES = new Set(['TableOrderUpdate', 'DeliveryOrderUpdate']);
const EXAMPLES_PER_KIND = 10;

/** p50/p99/max of `xs` (nearest rank), nulls when empty. */
export function stats(xs: number[]): Stats {
  if (xs.length === 0) return { n: 0, p50: null, p99: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] as number };
}

interface Ev { eventId: string; seq: number; eventType: string; eventInfo: Record<string, unknown>; at: number }
interface OrderShape { id?: unknown; revision?: unknown; iikoStatus?: unknown; sums?: { result?: unknown } }

/** Checks one run's record; `ok` is false on any violation. */
export function check(rec: ChaosRecord): ChaosReport {
  const violations: Violation[] = [];
  const flag = (kind: ViolationKind, what: string) => violations.push({ kind, what });

  // Deliveries: signatures on every request; events only from those answered 2xx (what EVVA processed).
  const unique = new Map<string, Ev>();
  const bySeq = new Map<number, string>();
  let accepted = 0;
  let delivered = 0;
  let lastSeqArrived = 0;
  for (const d of rec.deliveries) {
    if (!d.signatureOk) flag('signature', `delivery ${d.deliveryId} at ${iso(d.at)}: bad X-Evva-Signature`);
    if (d.status < 200 || d.status >= 300) continue;
    accepted++;
    if (d.events.length === 0) flag('malformed', `delivery ${d.deliveryId}: accepted but not a JSON array of events`);
    for (const raw of d.events) {
      delivered++;
      const e = raw as unknown as Ev;
      if (typeof e.eventId !== 'string' || typeof e.seq !== 'number') { flag('malformed', `delivery ${d.deliveryId}: an event without eventId/seq`); continue; }
      if (unique.has(e.eventId)) continue;
      if (raw.venueId !== rec.venueId || raw.organizationId !== rec.venueId || raw.correlationId !== e.eventId) {
        flag('wrong', `event ${e.eventId}: venueId/organizationId/correlationId do not match venue ${rec.venueId}`);
      }
      const other = bySeq.get(e.seq);
      if (other !== undefined) flag('duplicate', `seq ${e.seq} arrived under two eventIds (${other}, ${e.eventId})`);
      else bySeq.set(e.seq, e.eventId);
      if (e.seq < lastSeqArrived) flag('order', `seq ${e.seq} (${e.eventId}) arrived after seq ${lastSeqArrived}`);
      lastSeqArrived = Math.max(lastSeqArrived, e.seq);
      unique.set(e.eventId, { ...e, at: d.at });
    }
  }
  const events = [...unique.values()].sort((a, b) => a.seq - b.seq);
  const maxSeq = events.length ? (events[events.length - 1] as Ev).seq : 0;
  if (maxSeq > 0) {
    const missing: number[] = [];
    for (let s = 1; s <= maxSeq; s++) if (!bySeq.has(s)) missing.push(s);
    if (missing.length) flag('gap', `${missing.length} seq(s) missing below ${maxSeq}: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ' …' : ''}`);
  }
  const byType: Record<string, number> = {};
  for (const e of events) byType[e.eventType] = (byType[e.eventType] ?? 0) + 1;

  // Orders against the sim's history.
  const hist = new Map<string, Map<number, HistoryEntry>>();
  const finalOf = new Map<string, HistoryEntry>();
  let historyChanges = 0;
  for (const h of rec.history) {
    if (h.kind !== 'order') continue;
    historyChanges++;
    let m = hist.get(h.key);
    if (!m) hist.set(h.key, (m = new Map()));
    m.set(h.revision, h);
    finalOf.set(h.key, h);
  }
  const oldestKept = rec.history.length ? (rec.history[0] as HistoryEntry).revision : 0;
  const last = new Map<string, { revision: number; json: string }>();
  const delays: number[] = [];
  let worst: { ms: number; what: string } | null = null;
  let restated = 0;
  let statesSeen = 0;
  for (const e of events) {
    if (!ORDER_TYPES.has(e.eventType)) continue;
    const o = (e.eventInfo.order ?? {}) as OrderShape;
    const key = String(o.id ?? '').toLowerCase();
    const rev = typeof o.revision === 'number' ? o.revision : null;
    if (!key || rev === null) { flag('wrong', `seq ${e.seq}: an order event without id or revision`); continue; }
    const h = hist.get(key)?.get(rev);
    if (!h) {
      if (rec.historyDropped === 0 || rev >= oldestKept) flag('wrong', `seq ${e.seq}: order ${key} at revision ${rev}, which the plugin never had`);
    } else {
      if (o.iikoStatus !== h.status) flag('wrong', `seq ${e.seq}: order ${key} rev ${rev} says ${String(o.iikoStatus)}, the plugin had ${h.status}`);
      const result = typeof o.sums?.result === 'number' ? o.sums.result : NaN;
      if (h.result !== null && !(Math.abs(result - h.result) < 0.005)) flag('wrong', `seq ${e.seq}: order ${key} rev ${rev} result ${result}, the plugin had ${h.result}`);
    }
    const json = JSON.stringify(o);
    const prev = last.get(key);
    if (prev && rev < prev.revision) flag('order', `seq ${e.seq}: order ${key} went back from revision ${prev.revision} to ${rev}`);
    if (prev && rev === prev.revision) {
      if (json === prev.json) flag('duplicate', `seq ${e.seq}: order ${key} revision ${rev} delivered again, identical, under a new eventId`);
      else restated++;
    } else if (h) {
      statesSeen++;
      const ms = e.at - h.at;
      delays.push(ms);
      if (!worst || ms > worst.ms) worst = { ms, what: `order ${key} rev ${rev} (${h.status}) changed ${iso(h.at)}, seq ${e.seq} arrived ${iso(e.at)}: ${ms} ms` };
    }
    if (!prev || rev >= prev.revision) last.set(key, { revision: rev, json });
  }
  let deletedUnseen = 0;
  for (const [key, f] of finalOf) {
    const got = last.get(key);
    if (!got && f.status === 'Deleted') { deletedUnseen++; continue; }
    if (!got) flag('lost', `order ${key} (final ${f.status}, rev ${f.revision}, changed ${iso(f.at)}) never reached the receiver`);
    else if (got.revision < f.revision) flag('lost', `order ${key}: its final state (rev ${f.revision}, ${f.status}, ${iso(f.at)}) never arrived; the last to arrive was rev ${got.revision}`);
  }

  // Payments: the relay's view and the receiver's PaymentUpdate events.
  const payStates = new Map<string, string[]>();
  for (const e of events) {
    if (e.eventType !== 'PaymentUpdate') continue;
    const id = String(e.eventInfo.paymentId ?? '');
    const list = payStates.get(id) ?? [];
    const state = String(e.eventInfo.state ?? '');
    if (list.includes(state)) flag('duplicate', `payment ${id}: state ${state} delivered twice (seq ${e.seq})`);
    list.push(state);
    payStates.set(id, list);
  }
  const payments = rec.payments.map((p) => {
    const receiver = payStates.get(p.paymentId)?.at(-1) ?? null;
    if (p.expected !== null) {
      if (p.relayState !== p.expected) flag('lost', `payment ${p.paymentId} (order ${p.orderId}): the relay says ${String(p.relayState)}, the order calls for ${p.expected}`);
      if (receiver !== p.expected) flag('lost', `payment ${p.paymentId} (order ${p.orderId}): the receiver's last state is ${String(receiver)}, the order calls for ${p.expected}`);
    }
    return { paymentId: p.paymentId, expected: p.expected, relay: p.relayState, receiver };
  });

  // Staff and tables: whole lists; the last must equal the sim's, and none may repeat the one before it.
  const lists = (type: string, pick: (info: Record<string, unknown>) => string) => {
    const out: string[] = [];
    for (const e of events) {
      if (e.eventType !== type) continue;
      const s = pick(e.eventInfo);
      if (out.length && out[out.length - 1] === s) flag('duplicate', `${type} seq ${e.seq}: the same list as the one before, under a new eventId`);
      out.push(s);
    }
    return out;
  };
  const staffKey = (xs: Array<{ name?: unknown; sessionOpen?: unknown }>) =>
    JSON.stringify(xs.map((s) => [String(s.name), s.sessionOpen ?? null]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  const staffLists = lists('StaffUpdate', (i) => staffKey((i.staff ?? []) as Array<{ name?: unknown; sessionOpen?: unknown }>));
  if (staffLists.at(-1) !== staffKey(rec.finalStaff)) flag('lost', `the last StaffUpdate does not match the sim's final staff (${rec.finalStaff.length} people)`);
  const tableKey = (xs: Array<{ number?: unknown }>) => JSON.stringify(xs.map((t) => Number(t.number)).sort((a, b) => a - b));
  const tableLists = lists('TablesUpdate', (i) => tableKey((i.tables ?? []) as Array<{ number?: unknown }>));
  if (tableLists.at(-1) !== tableKey(rec.finalTables.map((number) => ({ number })))) flag('lost', 'the last TablesUpdate does not match the sim\'s final tables');

  // Faults: every one must have healed.
  const faultsByKind: ChaosReport['faultsByKind'] = {};
  const heals: number[] = [];
  for (const f of rec.faults) {
    const k = (faultsByKind[f.kind] ??= { count: 0, heal: stats([]), unhealed: 0 });
    k.count++;
    if (f.healMs === null) { k.unhealed++; flag('unhealed', `${f.kind} (${f.detail}) ended ${iso(f.endAt)} and the feed did not recover in time`); } else heals.push(f.healMs);
  }
  for (const kind of Object.keys(faultsByKind)) {
    (faultsByKind[kind] as { heal: Stats }).heal = stats(rec.faults.filter((f) => f.kind === kind && f.healMs !== null).map((f) => f.healMs as number));
  }

  const counts = Object.fromEntries((['lost', 'duplicate', 'order', 'gap', 'signature', 'wrong', 'unhealed', 'malformed'] as ViolationKind[]).map((k) => [k, 0])) as Record<ViolationKind, number>;
  const examples: Violation[] = [];
  for (const v of violations) {
    counts[v.kind]++;
    if (counts[v.kind] <= EXAMPLES_PER_KIND) examples.push(v);
  }
  return {
    ok: violations.length === 0,
    seed: rec.seed,
    minutes: Math.round(((rec.endedAt - rec.startedAt) / 60_000) * 10) / 10,
    counts: {
      deliveries: rec.deliveries.length, accepted, refused: rec.deliveries.length - accepted, eventsDelivered: delivered,
      uniqueEvents: events.length, redelivered: delivered - events.length, byType, orders: finalOf.size, historyChanges,
      statesSeen, statesSkipped: historyChanges - statesSeen, restated, payments: rec.payments.length, faults: rec.faults.length, deletedUnseen,
    },
    violations: counts,
    examples,
    faultsByKind,
    heal: stats(heals),
    delay: { ...stats(delays), worst: worst?.what ?? null },
    payments,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

const fmt = (ms: number | null) => (ms === null ? '—' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

/** The report as the table a person reads at the end of a run. */
export function summary(r: ChaosReport): string {
  const lines: string[] = [];
  lines.push(`chaos: seed ${r.seed}, ${r.minutes} min — ${r.ok ? 'PASS' : 'FAIL'}`);
  lines.push('');
  lines.push('| fault | count | heal p50 | heal max | unhealed |');
  lines.push('|---|---:|---:|---:|---:|');
  for (const [k, f] of Object.entries(r.faultsByKind).sort()) lines.push(`| ${k} | ${f.count} | ${fmt(f.heal.p50)} | ${fmt(f.heal.max)} | ${f.unhealed} |`);
  lines.push(`| **all** | ${r.counts.faults} | ${fmt(r.heal.p50)} | ${fmt(r.heal.max)} | ${r.violations.unhealed} |`);
  lines.push('');
  const c = r.counts;
  lines.push('| checked | |');
  lines.push('|---|---:|');
  lines.push(`| webhook POSTs (accepted / refused or hung) | ${c.deliveries} (${c.accepted} / ${c.refused}) |`);
  lines.push(`| events delivered / unique by eventId | ${c.eventsDelivered} / ${c.uniqueEvents} |`);
  lines.push(`| by type | ${Object.entries(c.byType).map(([k, n]) => `${k} ${n}`).join(', ')} |`);
  lines.push(`| orders / changes in the sim | ${c.orders} / ${c.historyChanges} |`);
  lines.push(`| orders deleted before the companion could list them (never listed by the plugin) | ${c.deletedUnseen} |`);
  lines.push(`| order states seen / skipped between polls / restated | ${c.statesSeen} / ${c.statesSkipped} / ${c.restated} |`);
  const outcomes = new Map<string, number>();
  for (const p of r.payments) outcomes.set(p.expected ?? 'unknown', (outcomes.get(p.expected ?? 'unknown') ?? 0) + 1);
  lines.push(`| payments (by the state their order calls for) | ${c.payments}: ${[...outcomes].sort().map(([k, n]) => `${k} ${n}`).join(', ')} |`);
  lines.push(`| delivery delay p50 / p99 / max | ${fmt(r.delay.p50)} / ${fmt(r.delay.p99)} / ${fmt(r.delay.max)} |`);
  lines.push(`| worst | ${r.delay.worst ?? '—'} |`);
  lines.push('');
  lines.push(`| violation | count |`);
  lines.push('|---|---:|');
  for (const [k, n] of Object.entries(r.violations)) lines.push(`| ${k} | ${n} |`);
  if (r.examples.length) {
    lines.push('');
    for (const v of r.examples) lines.push(`- ${v.kind}: ${v.what}`);
  }
  return lines.join('\n');
}
