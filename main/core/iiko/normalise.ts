/**
 * From the plugin's records (PascalCase; docs/iiko-front-web-api.md names the
 * source of each field read here) to the feed's shapes (protocol/feed.ts).
 * Each record is read field by field from `unknown`: a missing or odd field
 * degrades that one value and is named in `degraded`; only a record without
 * its identity (an order without Id) is skipped. Every decision about what a
 * value means is rules.ts's.
 */
import type {
  FeedDelivery, FeedItem, FeedModifier, FeedOrder, FeedPayment, FeedProduct, FeedSection, FeedStaff, FeedSums, FeedTable,
  MenuCategory, MenuSection, MenuWarning, OrderKind,
} from '../../../protocol/feed.ts';
import {
  deliveryStatus, evvaPayment, evvaStatus, isCourier, isFinal, itemStatus, orderKind, orderStatus, processingDone, serviceType,
  DEFAULT_PAYMENT_RULE, type CourierList, type PaymentRule,
} from './rules.ts';

type Rec = Record<string, unknown>;

const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** iiko GUIDs of things other polls have seen, so events can name them as iiko Cloud does. */
export interface Catalog {
  /** A product's GUID by its code (the menu poll). */
  productId(code: string): string | null;
  /** A table's GUID by its number (the tables poll). */
  tableId(number: number): string | null;
  /** A user's GUID by their name (the staff poll). */
  userId(name: string): string | null;
}

/** What reading an order needs besides the record: the payment rule and the ids seen so far. */
export interface OrderContext {
  rule: PaymentRule;
  catalog?: Catalog;
}

const DEFAULT_CONTEXT: OrderContext = { rule: DEFAULT_PAYMENT_RULE };

/** Reads fields of one record, remembering which ones were present but unusable. */
class Reader {
  constructor(readonly r: Rec, readonly degraded: string[], readonly prefix = '') {}
  private bad(k: string): void {
    const name = this.prefix + k;
    if (!this.degraded.includes(name)) this.degraded.push(name);
  }
  /** A string, or null; `need` marks an absent field as degraded too. */
  str(k: string, need = false): string | null {
    const v = this.r[k];
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    if (v !== null && v !== undefined) this.bad(k);
    else if (need) this.bad(k);
    return null;
  }
  num(k: string, need = false): number | null {
    const v = this.r[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    if (v !== null && v !== undefined) this.bad(k);
    else if (need) this.bad(k);
    return null;
  }
  bool(k: string): boolean | null {
    const v = this.r[k];
    if (typeof v === 'boolean') return v;
    if (v !== null && v !== undefined) this.bad(k);
    return null;
  }
  /** An enum value as it came (a name or a number), for rules.ts to read; degraded when neither. */
  enumValue(k: string, need = false): string | number | null {
    const v = this.r[k];
    if (typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v))) return v;
    if (v !== null && v !== undefined) this.bad(k);
    else if (need) this.bad(k);
    return null;
  }
  /** An array of records (non-records dropped); null when absent, degraded when not an array. */
  list(k: string, need = false): Rec[] | null {
    const v = this.r[k];
    if (Array.isArray(v)) return v.filter(isRec);
    if (v !== null && v !== undefined) this.bad(k);
    else if (need) this.bad(k);
    return null;
  }
  rec(k: string): Rec | null {
    const v = this.r[k];
    if (isRec(v)) return v;
    if (v !== null && v !== undefined && typeof v !== 'string') this.bad(k);
    return null;
  }
}

/** The last path segment of an absolute plugin link (`…/api/products/02401` → `02401`), decoded. */
export function lastSegment(url: string | null): string | null {
  if (!url) return null;
  const seg = url.split('?')[0]?.replace(/\/+$/, '').split('/').pop();
  if (!seg) return null;
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

const round2 = (n: number): number => Math.round(n * 100) / 100;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

// ---- payments ------------------------------------------------------------------

function payment(r: Rec, degraded: string[], rule: PaymentRule): FeedPayment | null {
  const p = new Reader(r, degraded, 'Payments.');
  const sum = p.num('Sum', true);
  if (sum === null) return null;
  const typeRec = p.rec('Type');
  const t = typeRec ? new Reader(typeRec, degraded, 'Payments.Type.') : null;
  const code = t?.str('Code') ?? null;
  const name = t?.str('Name') ?? null;
  const verdict = evvaPayment({ code, name }, rule);
  const kind = t?.enumValue('Kind') ?? null;
  return {
    id: p.str('Id'), typeId: t?.str('Id') ?? null, typeCode: code, typeName: name, typeKind: kind === null ? null : String(kind),
    sum, isEvva: verdict.isEvva, rule: verdict.rule, prepay: p.bool('IsPrepay'), external: p.bool('IsExternal'),
  };
}

// ---- items ------------------------------------------------------------------------

function modifier(v: unknown, degraded: string[], catalog: Catalog | undefined): FeedModifier | null {
  const id = (code: string | null) => (code !== null ? catalog?.productId(code) ?? null : null);
  // A public client types order modifiers as strings (links); the recorded kitchen ones are objects.
  if (typeof v === 'string') {
    const code = lastSegment(v);
    return { productCode: code, productId: id(code), name: null, amount: null, price: null };
  }
  if (!isRec(v)) return null;
  const m = new Reader(v, degraded, 'Modifiers.');
  const code = lastSegment(m.str('Product'));
  return { productCode: code, productId: id(code), name: m.str('Name') ?? m.str('ProductName'), amount: m.num('Amount'), price: m.num('Price') };
}

/** A compound item's component: `{ Product: link }` (recorded) or the link itself. */
function componentCode(v: unknown): string | null {
  if (typeof v === 'string') return lastSegment(v);
  if (isRec(v) && typeof v.Product === 'string') return lastSegment(v.Product);
  return null;
}

/** A size or template: `{ Name }` (recorded in kitchen orders) or a string (a public client's type for orders). */
function nameOf(v: unknown): string | null {
  if (typeof v === 'string') return /^https?:\/\//i.test(v) ? lastSegment(v) : v;
  if (isRec(v) && typeof v.Name === 'string') return v.Name;
  return null;
}

/**
 * One item. A compound (template) item has `Product: null` and its product
 * under PrimaryComponent.Product (recorded), with SecondaryComponent for a
 * second half, Size and Template.
 */
function item(r: Rec, guest: number | null, degraded: string[], catalog: Catalog | undefined): FeedItem | null {
  const i = new Reader(r, degraded, 'Items.');
  const id = i.str('Id');
  if (id === null) return null;
  const amount = i.num('Amount');
  const price = i.num('Price');
  const cost = i.num('Cost');
  const primary = componentCode(r.PrimaryComponent);
  const compound = i.bool('IsCompound') === true || (primary !== null && (r.Product === null || r.Product === undefined));
  const productCode = lastSegment(i.str('Product')) ?? primary;
  const status = itemStatus(i.enumValue('Status'));
  return {
    id,
    productCode,
    productId: productCode !== null ? catalog?.productId(productCode) ?? null : null,
    name: i.str('Name') ?? i.str('ProductName'),
    amount, price,
    sum: cost ?? (amount !== null && price !== null ? round2(amount * price) : null),
    status,
    deleted: i.bool('Deleted') ?? false,
    comment: i.str('Comment'),
    guest,
    modifiers: (Array.isArray(r.Modifiers) ? r.Modifiers : []).map((m) => modifier(m, degraded, catalog)).filter((m): m is FeedModifier => m !== null),
    compound,
    secondaryProductCode: componentCode(r.SecondaryComponent),
    size: nameOf(r.Size),
    template: nameOf(r.Template),
  };
}

function sums(o: Reader, items: FeedItem[], discounts: FeedOrder['discounts'], payments: FeedPayment[]): FeedSums {
  const live = items.filter((i) => !i.deleted);
  const fromItems = round2(live.reduce((s, i) => s + (i.sum ?? 0), 0));
  const full = o.num('FullSum', true) ?? fromItems;
  const paidField = o.num('ProcessedPaymentsSum');
  const paid = paidField ?? (payments.length ? round2(payments.reduce((s, p) => s + p.sum, 0)) : null);
  const entries = discounts.map((d) => d.sum ?? (d.percent !== null ? round2((full * d.percent) / 100) : null));
  const fromEntries = discounts.length > 0 && entries.every((e) => e !== null);
  if (fromEntries) {
    // iiko lists surcharges as discounts with a negative sum.
    const discount = round2(entries.reduce<number>((s, e) => s + Math.max(0, e ?? 0), 0));
    const surcharge = round2(entries.reduce<number>((s, e) => s + Math.max(0, -(e ?? 0)), 0));
    const result = o.num('ResultSum', true) ?? round2(full - discount + surcharge);
    return { full, result, discount, surcharge, paid, source: 'discounts' };
  }
  const result = o.num('ResultSum', true) ?? full;
  const diff = round2(full - result);
  return { full, result, discount: Math.max(0, diff), surcharge: Math.max(0, -diff), paid, source: 'derived' };
}

// ---- deliveries -----------------------------------------------------------------------

/**
 * One record of `/api/deliveries` (an SDK IDeliveryOrder: an order with the
 * same Id, plus its delivery's own DeliveryStatus); null without an Id.
 */
export function normaliseDelivery(raw: unknown, catalog?: Catalog): { delivery: FeedDelivery; orderId: string } | null {
  if (!isRec(raw)) return null;
  const d = new Reader(raw, []);
  const id = d.str('Id');
  if (id === null) return null;
  const courier = isRec(raw.Courier) ? new Reader(raw.Courier, []).str('Name') : lastSegment(d.str('Courier'));
  const kind = orderKind({
    serviceType: serviceType(d.enumValue('OrderServiceType')), isDelivery: true, orderType: d.str('OrderType'), selfService: d.bool('IsDeliverySelfService'),
  });
  const status = deliveryStatus(d.enumValue('DeliveryStatus'));
  return {
    delivery: {
      id: id.toLowerCase(), number: d.num('Number'), status: status === null ? null : String(status),
      customerName: d.str('ClientName'), phone: d.str('Phone'), address: address(raw.Address),
      courier, courierId: courier !== null ? catalog?.userId(courier) ?? null : null,
      expectedTime: d.str('ExpectedDeliverTime'), sendTime: d.str('SendTime'), deliveredTime: d.str('ActualDeliverTime'),
      comment: d.str('Comment'), selfService: kind === 'pickup',
    },
    orderId: id.toLowerCase(),
  };
}

/** An address as text: a string, or an SDK IAddress-like record (Street may be a record with Name and City). */
function address(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (!isRec(v)) return null;
  const named = (x: unknown): string | null => (typeof x === 'string' ? x : isRec(x) && typeof x.Name === 'string' ? x.Name : null);
  const street = v.Street;
  const city = named(v.City) ?? (isRec(street) ? named(street.City) : null);
  const parts = [city, named(street), ...['House', 'Building', 'Flat'].map((k) => v[k])]
    .filter((x): x is string | number => typeof x === 'string' || typeof x === 'number');
  return parts.length ? parts.join(', ') : null;
}

/**
 * The order with its delivery attached: kind, EVVA status and `final` follow
 * the delivery's own status (a Deleted order stays cancelled).
 */
export function withDelivery(o: FeedOrder, d: FeedDelivery): FeedOrder {
  const kind: OrderKind = d.selfService ? 'pickup' : o.kind === 'pickup' ? 'pickup' : 'delivery';
  const live = o.items.filter((i) => !i.deleted).map((i) => i.status);
  return {
    ...o, kind, delivery: d,
    status: evvaStatus({ kind, order: o.iikoStatus, delivery: d.status, items: live }),
    final: isFinal(kind, o.iikoStatus, d.status),
  };
}

// ---- orders ---------------------------------------------------------------------------

/**
 * Normalises one plugin order; `delivery` is its record from /api/deliveries
 * when known. Returns null only for a record with no usable Id.
 */
export function normaliseOrder(raw: unknown, ctx: OrderContext = DEFAULT_CONTEXT, delivery: FeedDelivery | null = null): FeedOrder | null {
  if (!isRec(raw)) return null;
  const degraded: string[] = [];
  const o = new Reader(raw, degraded);
  const id = o.str('Id');
  if (id === null) return null;
  const items: FeedItem[] = [];
  for (const g of o.list('Guests', true) ?? []) {
    const gr = new Reader(g, degraded, 'Guests.');
    const rank = gr.num('Rank');
    for (const it of gr.list('Items') ?? []) {
      const x = item(it, rank, degraded, ctx.catalog);
      if (x) items.push(x);
    }
  }
  const payments = (o.list('Payments') ?? []).map((p) => payment(p, degraded, ctx.rule)).filter((p): p is FeedPayment => p !== null);
  const discounts = (o.list('Discounts') ?? []).map((d) => {
    const r = new Reader(d, degraded, 'Discounts.');
    const name = r.str('Name') ?? (isRec(d.DiscountType) ? new Reader(d.DiscountType, degraded, 'Discounts.DiscountType.').str('Name') : null);
    return { name, sum: r.num('Sum'), percent: r.num('Percent') };
  });
  const status = orderStatus(o.enumValue('Status', true));
  const iikoStatus = status === null ? null : String(status);
  const orderType = o.str('OrderType');
  const kind = orderKind({
    serviceType: serviceType(o.enumValue('OrderServiceType')), orderType,
    isDelivery: o.bool('IsDeliveryOrder') === true || delivery !== null || (raw.Delivery !== null && raw.Delivery !== undefined),
  });
  const tableNumbers = new Set<number>();
  const tn = o.num('TableNum');
  if (tn !== null) tableNumbers.add(tn);
  for (const t of [o.str('Table'), ...strings(raw.Tables)]) {
    const n = Number(lastSegment(t));
    if (t && Number.isFinite(n)) tableNumbers.add(n);
  }
  const waiter = o.str('WaiterName') ?? lastSegment(o.str('Waiter'));
  const catalog = ctx.catalog;
  const live = items.filter((i) => !i.deleted).map((i) => i.status);
  const order: FeedOrder = {
    id: id.toLowerCase(),
    number: o.num('Number', true),
    kind,
    iikoStatus,
    status: evvaStatus({ kind, order: iikoStatus, delivery: null, items: live }),
    final: isFinal(kind, iikoStatus, null),
    gone: false,
    revision: o.num('Revision'),
    tableNumbers: [...tableNumbers],
    tableIds: catalog ? [...tableNumbers].map((n) => catalog.tableId(n)).filter((x): x is string => x !== null) : [],
    waiter,
    waiterId: waiter !== null ? catalog?.userId(waiter) ?? null : null,
    orderType,
    cashier: o.str('CashierName'),
    items,
    sums: sums(o, items, discounts, payments),
    discounts,
    payments,
    openTime: o.str('OpenTime'),
    billTime: o.str('BillTime'),
    closeTime: o.str('CloseTime'),
    delivery: null,
    degraded,
  };
  return delivery ? withDelivery(order, delivery) : order;
}

// ---- kitchen orders -----------------------------------------------------------------------

/** One item of a kitchen order, as the kitchen screen sees it. */
export interface KitchenItemView {
  id: string;
  productCode: string | null;
  name: string | null;
  amount: number | null;
  compound: boolean;
  size: string | null;
  template: string | null;
  /** The kitchen (a section) that cooks it. */
  kitchen: string | null;
  deleted: boolean;
  /** Processed or served (ProcessingStatus 5 or 6); null when the plugin did not say. */
  done: boolean | null;
}

export interface KitchenOrderView {
  /** The order it belongs to (the end of BaseOrder), lower case. */
  orderId: string | null;
  number: number | null;
  kind: OrderKind;
  items: KitchenItemView[];
}

/** One record of `/api/kitchenorders` (the recorded shape); null without an Id. */
export function normaliseKitchenOrder(raw: unknown): KitchenOrderView | null {
  if (!isRec(raw)) return null;
  const k = new Reader(raw, []);
  if (k.str('Id') === null) return null;
  const items: KitchenItemView[] = [];
  for (const r of k.list('Items') ?? []) {
    const i = new Reader(r, []);
    const id = i.str('Id');
    if (id === null) continue;
    const primary = componentCode(r.PrimaryComponent);
    items.push({
      id, productCode: lastSegment(i.str('Product')) ?? primary, name: i.str('ProductName'), amount: i.num('Amount'),
      compound: i.bool('IsCompound') === true, size: nameOf(r.Size), template: nameOf(r.Template),
      kitchen: i.str('KitchenName') ?? lastSegment(i.str('Kitchen')), deleted: i.bool('Deleted') ?? false,
      done: processingDone(i.enumValue('ProcessingStatus')),
    });
  }
  return {
    orderId: lastSegment(k.str('BaseOrder'))?.toLowerCase() ?? null,
    number: k.num('Number'),
    kind: orderKind({
      serviceType: serviceType(k.enumValue('OrderServiceType')), selfService: k.bool('IsDeliverySelfService'),
      orderType: k.str('OrderType'), isDelivery: k.bool('IsDeliverySelfService') === true,
    }),
    items,
  };
}

/** The kitchens the kitchen orders name (their items' sections): these sections are not halls. */
export function kitchensOf(orders: KitchenOrderView[]): Set<string> {
  const out = new Set<string>();
  for (const o of orders) for (const i of o.items) if (i.kitchen) out.add(i.kitchen);
  return out;
}

// ---- staff, tables ----------------------------------------------------------------

/**
 * One user of the plugin's user contract (Id, Name, Code, CellPhone, …). It shows
 * no role, rights or PIN: `courier` is the venue's list's verdict (null without
 * one), `hasPin` is always null.
 */
export function normaliseStaff(raw: unknown, couriers: CourierList = []): FeedStaff | null {
  if (!isRec(raw)) return null;
  const u = new Reader(raw, []);
  const name = u.str('Name');
  if (name === null) return null;
  const code = u.str('Code');
  return {
    id: u.str('Id'), name, code, role: null,
    courier: isCourier({ code, name }, couriers),
    hasPin: null,
    phone: u.str('CellPhone'),
    sessionOpen: u.bool('IsSessionOpen'),
  };
}

/** One table (Id, Number, Name, SeatingCapacity, IsActive); its hall comes from the sections. */
export function normaliseTable(raw: unknown): FeedTable | null {
  if (!isRec(raw)) return null;
  const t = new Reader(raw, []);
  const number = t.num('Number');
  if (number === null) return null;
  return { id: t.str('Id'), number, name: t.str('Name'), seats: t.num('SeatingCapacity'), section: null, active: t.bool('IsActive') };
}

/** One section (Id, Name, Tables as links); halls and kitchens alike. */
export function normaliseSection(raw: unknown): FeedSection | null {
  if (!isRec(raw)) return null;
  const s = new Reader(raw, []);
  const name = s.str('Name');
  if (name === null) return null;
  const tables = strings(raw.Tables).map((u) => Number(lastSegment(u))).filter(Number.isFinite);
  return { id: s.str('Id'), name, tables: [...new Set(tables)].sort((a, b) => a - b) };
}

// ---- menu ---------------------------------------------------------------------------

interface Group { id: string; name: string; parentId: string | null; productCodes: string[]; childIds: string[] }

/** Groups as the contract has them: Parent and ChildGroups/ChildProducts links (or ids). */
function readGroups(raw: unknown[]): Group[] {
  const out: Group[] = [];
  for (const g of raw) {
    if (!isRec(g)) continue;
    const r = new Reader(g, []);
    const id = r.str('Id');
    const name = r.str('Name');
    if (id === null || name === null) continue;
    out.push({
      id, name, parentId: lastSegment(r.str('Parent')),
      productCodes: strings(g.ChildProducts).map(lastSegment).filter((c): c is string => c !== null),
      childIds: strings(g.ChildGroups).map(lastSegment).filter((c): c is string => c !== null),
    });
  }
  // A group listed as a child names its parent even when the child's own Parent is missing.
  const byId = new Map(out.map((g) => [g.id.toLowerCase(), g]));
  for (const g of out) for (const c of g.childIds) {
    const child = byId.get(c.toLowerCase());
    if (child && child.parentId === null) child.parentId = g.id;
  }
  return out;
}

const NO_SECTION = 'Без раздела';

/** A product's code: Number (the code its links end with), else the end of its Url. */
function productCode(r: Reader): string | null {
  return r.str('Number') ?? lastSegment(r.str('Url'));
}

/** Products' GUIDs by code, from `/api/products` (for the Catalog). */
export function productIds(productsRaw: unknown[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of productsRaw) {
    if (!isRec(raw)) continue;
    const r = new Reader(raw, []);
    const code = productCode(r);
    const id = r.str('Id');
    if (code !== null && id !== null) out.set(code, id.toLowerCase());
  }
  return out;
}

/**
 * Builds EVVA's 3-level menu (Раздел → категория → товар) from products and
 * groups. A product in a group deeper than level 2 is lifted into its level-2
 * ancestor; a product directly in a level-1 group goes into a category named
 * like the section; a product with no known group into «Без раздела». Every
 * such move is a warning; `depth` is the deepest group level seen.
 */
export function buildMenu(productsRaw: unknown[], groupsRaw: unknown[]): { sections: MenuSection[]; warnings: MenuWarning[]; depth: number; groups: number; products: number } {
  const groups = readGroups(groupsRaw);
  const byId = new Map(groups.map((g) => [g.id.toLowerCase(), g]));
  const groupOfCode = new Map<string, string>();
  for (const g of groups) for (const c of g.productCodes) groupOfCode.set(c, g.id);
  const chain = (id: string): Group[] => {
    const out: Group[] = [];
    const seen = new Set<string>();
    let g = byId.get(id.toLowerCase());
    while (g && !seen.has(g.id) && out.length < 64) {
      seen.add(g.id);
      out.unshift(g);
      g = g.parentId ? byId.get(g.parentId.toLowerCase()) : undefined;
    }
    return out;
  };
  const depth = Math.max(0, ...groups.map((g) => chain(g.id).length));
  const sections = new Map<string, MenuSection>();
  const categories = new Map<string, MenuCategory>();
  const warnings: MenuWarning[] = [];
  const place = (sec: { id: string | null; name: string }, cat: { id: string | null; name: string }, p: FeedProduct) => {
    const sKey = sec.id ?? `name:${sec.name}`;
    let s = sections.get(sKey);
    if (!s) { s = { id: sec.id, name: sec.name, categories: [] }; sections.set(sKey, s); }
    const cKey = `${sKey}/${cat.id ?? `name:${cat.name}`}`;
    let c = categories.get(cKey);
    if (!c) { c = { id: cat.id, name: cat.name, products: [] }; categories.set(cKey, c); s.categories.push(c); }
    c.products.push(p);
  };
  let count = 0;
  for (const raw of productsRaw) {
    if (!isRec(raw)) continue;
    const r = new Reader(raw, []);
    const code = productCode(r);
    const name = r.str('Name');
    if (code === null || name === null) continue;
    count++;
    const type = r.enumValue('Type');
    const product: FeedProduct = { id: r.str('Id'), code, name, price: r.num('Price'), type: type === null ? null : String(type), active: r.bool('IsActive') };
    const groupId = lastSegment(r.str('Parent')) ?? groupOfCode.get(code) ?? null;
    const path = groupId ? chain(groupId) : [];
    const [top, second] = path;
    const from = path.map((g) => g.name).join(' › ') || '(без группы)';
    if (!top) {
      place({ id: null, name: NO_SECTION }, { id: null, name: NO_SECTION }, product);
      warnings.push({ productCode: code, name, from, to: `${NO_SECTION} › ${NO_SECTION}` });
    } else if (!second) {
      place(top, top, product);
      warnings.push({ productCode: code, name, from, to: `${top.name} › ${top.name}` });
    } else {
      place(top, second, product);
      if (path.length > 2) warnings.push({ productCode: code, name, from, to: `${top.name} › ${second.name}` });
    }
  }
  return { sections: [...sections.values()], warnings, depth, groups: groups.length, products: count };
}
