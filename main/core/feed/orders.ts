/**
 * The orders (and deliveries) poll: finds every order that changed since the
 * last poll, normalises it, and hands the changed ones to `write` with the
 * seen-rows that record them, so an order is emitted once per change.
 *
 * Cheap on a busy POS (the plugin keeps ~300 finished orders):
 * - `revision` mode, when the plugin's orders carry a world-wide `Revision`:
 *   `$filter=Revision gt N&$orderby=Revision&$top=500` returns only changed
 *   orders; every `sweepMs` the open orders are listed in full
 *   (`$filter=Status eq …'New' or …'Bill'`) to catch anything missed and
 *   orders that left the list;
 * - `full` mode otherwise, or as soon as the plugin refuses a filter (400):
 *   the whole list each time, changes found by the normalised hash.
 * An open order that is no longer listed is fetched by id: its final state
 * is emitted, or, on 404, the last known state with `gone: true`. The plugin
 * leaves Deleted orders out of its list (the SDK's GetOrders does), so a
 * deleted order is usually found this way.
 */
import type { FeedOrder } from '../../../protocol/feed.ts';
import type { FrontClient } from '../front/client.ts';
import { FrontError } from '../front/errors.ts';
import type { Logger } from '../../../common/logger.ts';
import type { Catalog } from '../iiko/normalise.ts';
import { withDelivery } from '../iiko/normalise.ts';
import { readDeliveries, readOrder, readOrders, type DeliveryRecord } from '../iiko/reader.ts';
import type { PaymentRule } from '../iiko/rules.ts';
import type { Batch, NewEvent, Outbox } from '../outbox/store.ts';
import { hashOf } from './hash.ts';
import type { PollSpec } from './poller.ts';
import { fitOrder } from './size.ts';

/** Changed orders per revision-mode call; a full page means more follow at once. */
export const REVISION_PAGE = 500;
/** Finished orders are forgotten this long after they finished (revision mode; full mode forgets them when unlisted). */
const FORGET_FINISHED_MS = 6 * 3_600_000;
/** Orders written per transaction. */
const CHUNK = 25;
/**
 * In revision mode, list every open order this often. The plugin leaves Deleted
 * orders out of its lists, so a deletion shows only as an open order gone
 * missing: this bounds how late it is noticed (a payment's order-deleted alarm).
 */
export const DEFAULT_SWEEP_MS = 5_000;
const STATUS_ENUM = 'Resto.Front.Api.V5.Data.Orders.OrderStatus';
const OPEN_FILTER = `Status eq ${STATUS_ENUM}'New' or Status eq ${STATUS_ENUM}'Bill'`;

export interface OrdersOptions {
  venueId: string;
  intervalMs: number;
  outbox: Outbox;
  rule: PaymentRule;
  /** The ids other polls have seen; the poll waits until it is primed. */
  catalog: Catalog & { primed(): boolean };
  now: () => number;
  logger: Logger;
  sweepMs?: number;
  /** Writes the events and seen rows atomically (throws on a disk error); `orders` are the changed ones. */
  write(batch: Batch, orders: FeedOrder[]): void;
  /** Told when an order names a product the catalog has no GUID for (the menu may have grown). */
  unknownProduct?(): void;
}

export interface OrdersPoll extends PollSpec {
  /** One poll through `client`; returns the mode used. */
  poll(client: FrontClient): Promise<string>;
  /** The last emitted state of an order, if known. */
  order(id: string): FeedOrder | null;
  /** Fetches one order now (a payment notice for an order not seen yet) and emits it if it changed. */
  fetch(client: FrontClient, id: string): Promise<FeedOrder | null>;
}

interface Known { hash: string; order: FeedOrder }

export function createOrdersPoll(o: OrdersOptions): OrdersPoll {
  const log = o.logger.child({ part: 'orders' });
  const prefix = `${o.venueId}|order:`;
  const known = new Map<string, Known>();
  for (const [key, row] of o.outbox.seenWith(prefix)) {
    const parsed = row.info as FeedOrder | null;
    if (parsed) known.set(key.slice(prefix.length), { hash: row.hash, order: parsed });
  }
  // When each known order was first seen finished (monotonic ms); orders loaded from disk count from now.
  const finishedAt = new Map<string, number>();
  for (const [id, k] of known) if (k.order.final) finishedAt.set(id, o.now());
  let mode: 'start' | 'revision' | 'full' = 'start';
  let maxRev = 0;
  for (const k of known.values()) maxRev = Math.max(maxRev, k.order.revision ?? 0);
  let lastSweep = -Infinity;
  let deliveriesOff = false;
  const sweepMs = o.sweepMs ?? DEFAULT_SWEEP_MS;
  const ctx = { rule: o.rule, catalog: o.catalog };

  async function deliveries(client: FrontClient): Promise<Map<string, DeliveryRecord>> {
    if (deliveriesOff) return new Map();
    const found = await readDeliveries(client, ctx);
    if (found === null) {
      // A plugin without deliveries is a table-service venue: stop asking.
      deliveriesOff = true;
      log.info('the plugin has no /api/deliveries; polling orders only');
      return new Map();
    }
    return found;
  }

  const refused = (e: unknown) => e instanceof FrontError && e.code === 'http' && (e.status === 400 || e.status === 501);

  async function list(client: FrontClient): Promise<{ raws: FeedOrder[]; complete: boolean; openOnly: boolean }> {
    if (mode === 'revision') {
      const raws: FeedOrder[] = [];
      let from = maxRev;
      try {
        for (let page = 0; page < 20; page++) {
          const q = `$filter=${encodeURIComponent(`Revision gt ${from}`)}&$orderby=Revision&$top=${REVISION_PAGE}`;
          const got = await readOrders(client, q, ctx);
          raws.push(...got);
          if (got.length < REVISION_PAGE) break;
          from = Math.max(from, ...got.map(revisionOf));
        }
        // A skipped revision is a change the list did not show, e.g. an order deleted (and so left out): look now.
        if (skips(maxRev, raws.map(revisionOf))) lastSweep = -Infinity;
      } catch (e) {
        if (!refused(e)) throw e;
        log.warn('the plugin refuses $filter on Revision; polling the whole order list', { err: (e as Error).message });
        mode = 'full';
      }
      if (mode === 'revision') {
        if (o.now() - lastSweep < sweepMs) return { raws, complete: false, openOnly: false };
        try {
          const open = await readOrders(client, `$filter=${encodeURIComponent(OPEN_FILTER)}`, ctx);
          lastSweep = o.now();
          return { raws: [...raws, ...open], complete: true, openOnly: true };
        } catch (e) {
          if (!refused(e)) throw e;
          const all = await readOrders(client, '', ctx);
          lastSweep = o.now();
          return { raws: [...raws, ...all], complete: true, openOnly: false };
        }
      }
    }
    const raws = await readOrders(client, '', ctx);
    if (mode === 'start') {
      const revs = raws.map(revisionOf).filter((r) => r > 0);
      // Revision filtering only finds every change if revisions are one world-wide counter: distinct across orders.
      mode = revs.length > 0 && revs.length === raws.length && new Set(revs).size === revs.length ? 'revision' : 'full';
      lastSweep = o.now();
      log.info('orders poll mode chosen', { mode });
    }
    return { raws, complete: true, openOnly: false };
  }

  /** Collects an order's event if it differs from what was last emitted. */
  function consider(n: FeedOrder, events: NewEvent[], seen: NonNullable<Batch['seen']>, changed: Map<string, Known>): void {
    const fitted = fitOrder(n);
    const hash = hashOf(fitted);
    const prev = changed.get(n.id) ?? known.get(n.id);
    if (prev?.hash === hash) return;
    // A pickup is a delivery in iiko (DeliveryPickup; Cloud's DeliveryByClient), so it goes as a DeliveryOrderUpdate, as iiko Cloud sends it.
    events.push({ type: fitted.kind === 'table' ? 'TableOrderUpdate' : 'DeliveryOrderUpdate', info: { order: fitted }, key: `order:${n.id}`, status: fitted.status });
    seen.push({ key: prefix + n.id, hash, info: fitted });
    changed.set(n.id, { hash, order: fitted });
  }

  const one = (client: FrontClient, id: string): Promise<FeedOrder | null> => readOrder(client, id, ctx);

  /**
   * Writes the changes in chunks of CHUNK orders (each chunk one transaction), so a nearly full disk
   * still takes what fits; the revision cursor moves only when every chunk is written.
   */
  function commit(events: NewEvent[], seen: NonNullable<Batch['seen']>, changed: Map<string, Known>, revs: number[]): void {
    const ids = [...changed.keys()];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const part = new Set(ids.slice(i, i + CHUNK));
      const chunk = events.filter((e) => part.has(e.key?.slice('order:'.length) ?? ''));
      const rows = seen.filter((r) => !('delete' in r) && part.has(r.key.slice(prefix.length)));
      o.write({ events: chunk, seen: rows }, [...part].map((id) => changed.get(id)!.order));
      for (const id of part) {
        known.set(id, changed.get(id)!);
        if (changed.get(id)!.order.final && !finishedAt.has(id)) finishedAt.set(id, o.now());
      }
    }
    const forget = seen.filter((r) => 'delete' in r);
    if (forget.length) {
      o.write({ events: [], seen: forget }, []);
      for (const r of forget) {
        known.delete(r.key.slice(prefix.length));
        finishedAt.delete(r.key.slice(prefix.length));
      }
    }
    for (const r of revs) if (r > maxRev) maxRev = r;
  }

  return {
    name: 'orders',
    intervalMs: o.intervalMs,
    // Orders name products, tables and staff by GUID when the other polls have seen them: wait for their first round.
    ready: () => o.catalog.primed(),
    async poll(client) {
      const byOrder = await deliveries(client);
      const { raws, complete, openOnly } = await list(client);
      const events: NewEvent[] = [];
      const seen: NonNullable<Batch['seen']> = [];
      const changed = new Map<string, Known>();
      const listed = new Set<string>();
      const revs: number[] = [];
      for (const n of raws) {
        listed.add(n.id);
        revs.push(n.revision ?? 0);
        const d = byOrder.get(n.id);
        consider(d ? withDelivery(n, d.delivery) : n, events, seen, changed);
      }
      // A delivery can move without its order's Revision changing, and its order may have left /api/orders
      // (a cancelled delivery's order is Deleted): the delivery record is that order too, so it is read as one.
      for (const [orderId, d] of byOrder) {
        if (listed.has(orderId)) continue;
        const k = changed.get(orderId) ?? known.get(orderId);
        if (!k || k.order.gone) continue;
        const fresher = d.order !== null && (d.order.revision ?? 0) >= (k.order.revision ?? 0) ? d.order : null;
        consider(fresher ?? withDelivery(k.order, d.delivery), events, seen, changed);
      }
      if (complete) {
        for (const [id, k] of known) {
          if (listed.has(id) || changed.has(id)) continue;
          // A paid delivery still on its way is not an open order; the deliveries list keeps it current.
          if (openOnly && byOrder.has(id)) continue;
          if (k.order.final) {
            // Finished and no longer listed (the plugin prunes): forget it quietly.
            // In revision mode finished orders are not listed: forget them some hours after they finished,
            // so the seen table stays small (only a real change, a new Revision, would bring one back).
            if (!openOnly || o.now() - (finishedAt.get(id) ?? o.now()) > FORGET_FINISHED_MS) seen.push({ key: prefix + id, delete: true });
            continue;
          }
          const n = await one(client, id);
          if (n) {
            revs.push(n.revision ?? 0);
            const d = byOrder.get(n.id);
            consider(d ? withDelivery(n, d.delivery) : n, events, seen, changed);
          } else {
            consider({ ...k.order, gone: true, final: true }, events, seen, changed);
          }
        }
      }
      commit(events, seen, changed, revs);
      if (o.unknownProduct && [...changed.values()].some((k) => k.order.items.some((i) => i.productCode !== null && i.productId === null))) o.unknownProduct();
      return mode;
    },
    order: (id) => known.get(id.toLowerCase())?.order ?? null,
    async fetch(client, id) {
      const n = await one(client, id.toLowerCase());
      if (!n) return null;
      const events: NewEvent[] = [];
      const seen: NonNullable<Batch['seen']> = [];
      const changed = new Map<string, Known>();
      const prev = known.get(n.id)?.order.delivery;
      consider(prev ? withDelivery(n, prev) : n, events, seen, changed);
      // Only the order's own revision is known here; maxRev must not jump past other orders' changes.
      commit(events, seen, changed, []);
      return known.get(n.id)?.order ?? null;
    },
  };
}

function revisionOf(o: FeedOrder): number {
  return o.revision ?? 0;
}

/** True when the revisions after `from` are not consecutive: some change was not listed. */
function skips(from: number, revs: number[]): boolean {
  let prev = from;
  for (const r of [...new Set(revs)].sort((a, b) => a - b)) {
    if (r > prev + 1) return true;
    prev = r;
  }
  return false;
}
