/**
 * The restaurant's automatic day: every few seconds (divided by `speed`) one
 * thing happens, chosen from a seeded stream among what the current state
 * allows: a table sits down, orders more, the kitchen moves, a bill is printed,
 * a bill is paid (cash, card or EVVA), an order or an item is deleted, a
 * delivery comes in or moves on, someone's shift opens or closes.
 * `stop()` leaves no timer behind.
 */
import { pickItem } from './seed.ts';
import { Rng } from './random.ts';
import type { DeliveryRec, OrderRec, World } from './world.ts';
import { SimError } from './world.ts';

/** Mean wall time between two automatic events at speed 1. */
export const EVENT_INTERVAL_MS = 4000;
/** Most open table orders the day lets itself have. */
const MAX_OPEN_ORDERS = 10;
/** Most deliveries in progress at once. */
const MAX_ACTIVE_DELIVERIES = 3;

type Kind =
  | 'open' | 'more' | 'kitchen' | 'bill' | 'pay' | 'deleteOrder' | 'deleteItem' | 'discount'
  | 'newDelivery' | 'moveDelivery' | 'shift';

export class Day {
  private timer: NodeJS.Timeout | null = null;
  private count = 0;
  private readonly rng: Rng;

  constructor(
    private readonly world: World,
    seed: number,
    private readonly speed: () => number,
  ) {
    this.rng = Rng.derive(seed, 'day');
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** Automatic events applied so far (timer and `step` alike). */
  events(): number {
    return this.count;
  }

  start(): void {
    if (this.timer) return;
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    const speed = Math.max(0.001, this.speed());
    const wait = Math.max(1, (EVENT_INTERVAL_MS * (0.5 + this.rng.next())) / speed);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.step();
      this.schedule();
    }, wait);
    this.timer.unref();
  }

  /** Makes one thing happen now. Returns what happened, or null when nothing could. */
  step(): string | null {
    const w = this.world;
    const rng = this.rng;
    const open = w.orders.filter((o) => w.isOpen(o) && o.serviceType === 'Common');
    const fresh = open.filter((o) => o.status === 'New');
    const cooking = open.filter((o) => w.liveItems(o).some((i) => i.status !== 'Served'));
    const ready = fresh.filter((o) => w.liveItems(o).length > 0 && w.liveItems(o).every((i) => i.status === 'Served' || i.status === 'CookingCompleted'));
    const billed = open.filter((o) => o.status === 'Bill');
    const busy = new Set(open.map((o) => o.tableNum));
    const free = w.tables.filter((t) => t.active && !busy.has(t.number));
    const active = w.deliveries.filter((d) => d.status !== 'Closed' && d.status !== 'Cancelled');
    const products = w.products.filter((p) => p.active);

    const weights: Record<Kind, number> = {
      open: open.length < MAX_OPEN_ORDERS && free.length > 0 && products.length > 0 ? 3 : 0,
      more: fresh.length > 0 && products.length > 0 ? 1.5 : 0,
      kitchen: cooking.length > 0 ? 4 : 0,
      bill: ready.length > 0 ? 3 : 0,
      pay: billed.length > 0 ? 3 : 0,
      deleteOrder: fresh.length > 2 ? 0.2 : 0,
      deleteItem: fresh.some((o) => w.liveItems(o).length > 1) ? 0.3 : 0,
      discount: fresh.some((o) => o.discounts.length === 0) ? 0.2 : 0,
      newDelivery: active.length < MAX_ACTIVE_DELIVERIES && products.length > 0 ? 0.6 : 0,
      moveDelivery: active.length > 0 ? 2 : 0,
      shift: w.staff.length > 0 ? 0.15 : 0,
    };
    if (Object.values(weights).every((x) => x <= 0)) return null;
    const kind = rng.weighted(weights);
    const items = (n: number) => Array.from({ length: n }, () => pickItem(w, rng.pick(products)));
    const one = <T>(xs: T[]): T => rng.pick(xs);
    let what: string;
    try {
      switch (kind) {
        case 'open': {
          const o = w.createOrder({ tableNum: one(free).number, items: items(rng.int(1, 4)), guests: rng.int(1, 3) });
          what = `order ${o.number} opened`;
          break;
        }
        case 'more': { const o = one(fresh); w.addItems(o, items(rng.int(1, 2))); what = `order ${o.number}: more items`; break; }
        case 'kitchen': { const o = one(cooking); w.kitchen(o); what = `order ${o.number}: kitchen moved`; break; }
        case 'bill': { const o = one(ready); w.bill(o); what = `order ${o.number}: bill`; break; }
        case 'pay': {
          const o = one(billed);
          const type = rng.weighted({ 'Наличные': 3, 'Банковская карта': 4, EVVA: 3 });
          w.pay(o, type);
          what = `order ${o.number}: paid by ${type}`;
          break;
        }
        case 'deleteOrder': { const o = one(fresh); w.deleteOrder(o); what = `order ${o.number}: deleted`; break; }
        case 'deleteItem': {
          const o = one(fresh.filter((x) => w.liveItems(x).length > 1));
          w.deleteItem(o, one(w.liveItems(o)).id);
          what = `order ${o.number}: item deleted`;
          break;
        }
        case 'discount': {
          const o = one(fresh.filter((x) => x.discounts.length === 0));
          w.addDiscount(o, 'Скидка постоянного гостя', 5);
          what = `order ${o.number}: discount`;
          break;
        }
        case 'newDelivery': {
          const d = w.createDelivery({ items: items(rng.int(1, 4)), customerName: 'Гость доставки', phone: `+7903${String(rng.int(0, 9_999_999)).padStart(7, '0')}`, selfService: rng.chance(0.2) });
          what = `delivery ${d.number} taken`;
          break;
        }
        case 'moveDelivery': { const d = one(active); what = this.moveDelivery(d); break; }
        case 'shift': { const s = one(w.staff); w.toggleSession(s.name); what = `${s.name}: shift toggled`; break; }
      }
    } catch (e) {
      if (!(e instanceof SimError)) throw e;
      what = `nothing (${e.message})`;
    }
    this.count++;
    return what;
  }

  private moveDelivery(d: DeliveryRec): string {
    const beforeOnWay = d.status === 'Unconfirmed' || d.status === 'New' || d.status === 'Waiting';
    const order: OrderRec | undefined = this.world.orderOf(d);
    if (beforeOnWay && this.rng.chance(0.05)) {
      this.world.advanceDelivery(d, 'Cancelled');
    } else if (!d.selfService && (d.status === 'New' || d.status === 'Waiting') && order && this.world.isOpen(order) && this.rng.chance(0.2)) {
      // Paid online in advance: the order closes while the delivery goes on.
      this.world.prepayDelivery(d, 'Банковская карта');
    } else {
      // A pickup is collected at the counter after Waiting: no courier, straight to Closed (its flow has no OnWay).
      this.world.advanceDelivery(d);
    }
    return `delivery ${d.number}: ${d.status}${order ? '' : ' (no order)'}`;
  }
}
