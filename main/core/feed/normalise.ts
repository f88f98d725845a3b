/**
 * From the plugin's records (PascalCase, shapes partly guessed) to the feed's
 * normalised shapes (protocol/feed.ts). Each record is read field by field from
 * `unknown`: a missing or odd field degrades that one value and is named in
 * `degraded`; only a record without its identity (an order without Id) is
 * skipped. The EVVA status mapping is the table in docs/feed.md.
 */
import crypto from 'node:crypto';
import {
  COURIER_RIGHT, EVVA_PAYMENT_CODE,
  type EvvaStatus, type FeedDelivery, type FeedItem, type FeedModifier, type FeedOrder, type FeedPayment, type FeedProduct,
  type FeedSection, type FeedStaff, type FeedSums, type FeedTable, type MenuCategory, type MenuSection, type MenuWarning,
} from '../../../protocol/feed.ts';

type Rec = Record<string, unknown>;

/** How EVVA's payment type is recognised when the plugin shows no code: a case-insensitive substring of the type's name. */
export interface PaymentRule { nameContains: string }
export const DEFAULT_PAYMENT_RULE: PaymentRule = { nameContains: 'EVVA' };

const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

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

// ---- status ------------------------------------------------------------------

const ITEM_RANK: Record<string, number> = { Added: 0, PrintedNotCooking: 1, CookingStarted: 2, CookingCompleted: 3, Served: 4 };
const DELIVERY_MAP: Record<string, EvvaStatus> = {
  Unconfirmed: 'new', WaitCooking: 'confirmed', ReadyForCooking: 'confirmed', CookingStarted: 'cooking',
  CookingCompleted: 'cooked', Waiting: 'cooked', OnWay: 'sent', Delivered: 'completed', Closed: 'completed', Cancelled: 'cancelled',
};

/** EVVA's status of a table order from its plugin status and live items' statuses (docs/feed.md, "Statuses"). */
export function tableStatus(iikoStatus: string | null, itemStatuses: Array<string | null>): EvvaStatus | null {
  if (iikoStatus === 'Deleted') return 'cancelled';
  if (iikoStatus === 'Closed') return 'completed';
  if (iikoStatus === 'Bill') return 'sent';
  if (iikoStatus !== 'New') return null;
  const ranks = itemStatuses.map((s) => (s === null ? 0 : ITEM_RANK[s] ?? 0));
  if (ranks.length === 0 || ranks.every((r) => r === 0)) return 'new';
  if (ranks.every((r) => r === 4)) return 'sent';
  if (ranks.every((r) => r >= 3)) return 'cooked';
  if (ranks.some((r) => r >= 2)) return 'cooking';
  return 'confirmed';
}

/** EVVA's status of a delivery from the delivery's plugin status; null when unknown. */
export function deliveryStatus(status: string | null): EvvaStatus | null {
  return status === null ? null : DELIVERY_MAP[status] ?? null;
}

// ---- payments ------------------------------------------------------------------

/** Decides whether one payment type is EVVA's: the code EVVAP when a code is shown, otherwise the name rule. */
export function evvaRule(type: { code: string | null; name: string | null }, rule: PaymentRule): { isEvva: boolean; rule: 'code' | 'name' | null } {
  if (type.code !== null && type.code.trim() !== '') return { isEvva: type.code.trim().toUpperCase() === EVVA_PAYMENT_CODE, rule: 'code' };
  if (type.name !== null && rule.nameContains !== '') {
    return { isEvva: type.name.toLowerCase().includes(rule.nameContains.toLowerCase()), rule: 'name' };
  }
  return { isEvva: false, rule: null };
}

function payment(r: Rec, degraded: string[], rule: PaymentRule): FeedPayment | null {
  const p = new Reader(r, degraded, 'Payments.');
  const sum = p.num('Sum', true);
  if (sum === null) return null;
  const typeRec = p.rec('Type');
  const t = typeRec ? new Reader(typeRec, degraded, 'Payments.Type.') : null;
  const code = t ? (t.str('Code') ?? t.str('Alias')) : null;
  const name = t?.str('Name') ?? p.str('TypeName');
  const verdict = evvaRule({ code, name }, rule);
  return {
    id: p.str('Id'), typeId: t?.str('Id') ?? null, typeCode: code, typeName: name, typeKind: t?.str('Kind') ?? null,
    sum, isEvva: verdict.isEvva, rule: verdict.rule, prepay: p.bool('IsPrepay'), external: p.bool('IsExternal'),
  };
}

// ---- orders ---------------------------------------------------------------------

function modifier(r: Rec, degraded: string[]): FeedModifier {
  const m = new Reader(r, degraded, 'Modifiers.');
  return { productCode: lastSegment(m.str('Product')) ?? m.str('ProductCode'), name: m.str('Name'), amount: m.num('Amount'), price: m.num('Price') };
}

function item(r: Rec, guest: number | null, degraded: string[]): FeedItem | null {
  const i = new Reader(r, degraded, 'Items.');
  const id = i.str('Id');
  if (id === null) return null;
  const amount = i.num('Amount');
  const price = i.num('Price');
  const cost = i.num('Cost') ?? i.num('Sum') ?? i.num('ResultSum');
  return {
    id,
    productCode: lastSegment(i.str('Product')) ?? i.str('ProductCode'),
    name: i.str('Name') ?? i.str('ProductName'),
    amount, price,
    sum: cost ?? (amount !== null && price !== null ? round2(amount * price) : null),
    status: i.str('Status'),
    deleted: i.bool('Deleted') ?? false,
    comment: i.str('Comment'),
    guest,
    modifiers: (i.list('Modifiers') ?? []).map((m) => modifier(m, degraded)),
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

/** One delivery record of `/api/deliveries`, normalised; null without an Id. */
export function normaliseDelivery(raw: unknown): { delivery: FeedDelivery; orderId: string | null } | null {
  if (!isRec(raw)) return null;
  const d = new Reader(raw, []);
  const id = d.str('Id');
  if (id === null) return null;
  const orderId = lastSegment(d.str('Order')) ?? d.str('OrderId');
  return {
    delivery: {
      id, number: d.num('Number'), status: d.str('Status'), customerName: d.str('CustomerName'), phone: d.str('Phone'),
      address: address(raw.Address), courier: d.str('CourierName'), expectedTime: d.str('ExpectedTime'),
      comment: d.str('Comment'), selfService: d.bool('IsSelfService'),
    },
    orderId: orderId ? orderId.toLowerCase() : null,
  };
}

function address(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (!isRec(v)) return null;
  const parts = ['City', 'Street', 'House', 'Building', 'Flat'].map((k) => v[k]).filter((x) => typeof x === 'string' || typeof x === 'number');
  return parts.length ? parts.join(', ') : null;
}

/** The order with its delivery block (re)attached: the delivery's status decides EVVA's unless the order is Deleted. */
export function withDelivery(o: FeedOrder, d: FeedDelivery): FeedOrder {
  const status = o.iikoStatus === 'Deleted' ? o.status : deliveryStatus(d.status) ?? o.status;
  return { ...o, kind: 'delivery', delivery: d, status, final: o.final || d.status === 'Closed' || d.status === 'Cancelled' };
}

/**
 * Normalises one plugin order; `delivery` is its record from /api/deliveries when
 * known. Returns null only for a record with no usable Id.
 */
export function normaliseOrder(raw: unknown, rule: PaymentRule = DEFAULT_PAYMENT_RULE, delivery: FeedDelivery | null = null): FeedOrder | null {
  if (!isRec(raw)) return null;
  const degraded: string[] = [];
  const o = new Reader(raw, degraded);
  const id = o.str('Id');
  if (id === null) return null;
  const guests = o.list('Guests', true) ?? [];
  const items: FeedItem[] = [];
  for (const g of guests) {
    const gr = new Reader(g, degraded, 'Guests.');
    const rank = gr.num('Rank');
    for (const it of gr.list('Items') ?? []) {
      const x = item(it, rank, degraded);
      if (x) items.push(x);
    }
  }
  // Some plugin builds may list items on the order itself.
  for (const it of o.list('Items') ?? []) {
    const x = item(it, null, degraded);
    if (x) items.push(x);
  }
  const payments = (o.list('Payments', true) ?? []).map((p) => payment(p, degraded, rule)).filter((p): p is FeedPayment => p !== null);
  const discountsRaw = o.list('Discounts') ?? [];
  const discounts = discountsRaw.map((d) => {
    const r = new Reader(d, degraded, 'Discounts.');
    const name = r.str('Name') ?? (isRec(d.DiscountType) ? new Reader(d.DiscountType, degraded, 'Discounts.DiscountType.').str('Name') : null);
    return { name, sum: r.num('Sum'), percent: r.num('Percent') };
  });
  const iikoStatus = o.str('Status', true);
  const isDelivery = o.bool('IsDeliveryOrder') === true || delivery !== null || (o.str('Delivery') ?? null) !== null
    || /Delivery/i.test(o.str('OrderServiceType') ?? '');
  const live = items.filter((i) => !i.deleted);
  const status = tableStatus(iikoStatus, live.map((i) => i.status));
  const tableNumbers = new Set<number>();
  const tn = o.num('TableNum');
  if (tn !== null) tableNumbers.add(tn);
  for (const t of [o.str('Table'), ...arrayOfStrings(raw.Tables)]) {
    const n = Number(lastSegment(t));
    if (t && Number.isFinite(n)) tableNumbers.add(n);
  }
  const final = iikoStatus === 'Closed' || iikoStatus === 'Deleted';
  const order: FeedOrder = {
    id: id.toLowerCase(),
    number: o.num('Number', true),
    kind: isDelivery ? 'delivery' : 'table',
    iikoStatus,
    status,
    final,
    gone: false,
    revision: o.num('Revision'),
    tableNumbers: [...tableNumbers],
    waiter: o.str('WaiterName') ?? lastSegment(o.str('Waiter')),
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

function arrayOfStrings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

// ---- staff, tables ----------------------------------------------------------------

/** One user: the courier right D_DC0 (or IsCourier) makes a courier; only whether a PIN is set, never the PIN. */
export function normaliseStaff(raw: unknown): FeedStaff | null {
  if (!isRec(raw)) return null;
  const u = new Reader(raw, []);
  const name = u.str('Name');
  if (name === null) return null;
  const rights = arrayOfStrings(raw.Rights).map((r) => r.trim().toUpperCase());
  const hasPinField = u.bool('HasPinCode') ?? u.bool('HasPin');
  return {
    id: u.str('Id'), name, role: u.str('RoleName') ?? u.str('Role'),
    courier: u.bool('IsCourier') === true || rights.some((r) => r === COURIER_RIGHT || r.startsWith(`${COURIER_RIGHT} `)),
    hasPin: hasPinField,
    phone: u.str('Phone'),
    sessionOpen: u.bool('IsSessionOpen'),
  };
}

export function normaliseTable(raw: unknown): FeedTable | null {
  if (!isRec(raw)) return null;
  const t = new Reader(raw, []);
  const number = t.num('Number');
  if (number === null) return null;
  return {
    id: t.str('Id'), number, name: t.str('Name'), seats: t.num('SeatingCapacity') ?? t.num('Seats'),
    section: t.str('SectionName') ?? lastSegment(t.str('Section')), active: t.bool('IsActive'),
  };
}

export function normaliseSection(raw: unknown, tables: FeedTable[]): FeedSection | null {
  if (!isRec(raw)) return null;
  const s = new Reader(raw, []);
  const name = s.str('Name');
  if (name === null) return null;
  const listed = arrayOfStrings(raw.Tables).map((u) => Number(lastSegment(u))).filter(Number.isFinite);
  const byTable = tables.filter((t) => t.section === name).map((t) => t.number);
  return { id: s.str('Id'), name, tables: [...new Set([...listed, ...byTable])].sort((a, b) => a - b) };
}

// ---- menu ---------------------------------------------------------------------------

interface Group { id: string; name: string; parentId: string | null; productCodes: string[] }

/** Flattens groups given flat (ParentId/Parent) or nested (Children) into one list. */
function flattenGroups(raw: unknown[], parentId: string | null = null, out: Group[] = []): Group[] {
  for (const g of raw) {
    if (!isRec(g)) continue;
    const r = new Reader(g, []);
    const id = r.str('Id');
    const name = r.str('Name');
    if (id === null || name === null) continue;
    const parent = r.str('ParentId') ?? lastSegment(r.str('Parent')) ?? r.str('ParentGroup') ?? parentId;
    out.push({ id, name, parentId: parent, productCodes: arrayOfStrings(g.Products).map((u) => lastSegment(u)).filter((c): c is string => c !== null) });
    if (Array.isArray(g.Children)) flattenGroups(g.Children, id, out);
  }
  return out;
}

const NO_SECTION = 'Без раздела';

/**
 * Builds EVVA's 3-level menu (Раздел → категория → товар) from products and
 * groups. A product in a group deeper than level 2 is lifted into its level-2
 * ancestor; a product directly in a level-1 group goes into a category named
 * like the section; a product with no known group into «Без раздела». Every
 * such move is a warning.
 */
export function buildMenu(productsRaw: unknown[], groupsRaw: unknown[]): { sections: MenuSection[]; warnings: MenuWarning[] } {
  const groups = flattenGroups(groupsRaw);
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
  for (const raw of productsRaw) {
    if (!isRec(raw)) continue;
    const r = new Reader(raw, []);
    const code = r.str('Code');
    const name = r.str('Name');
    if (code === null || name === null) continue;
    const product: FeedProduct = { id: r.str('Id'), code, name, price: r.num('Price'), type: r.str('Type'), active: r.bool('IsActive') };
    const groupId = r.str('ParentGroupId') ?? r.str('ParentGroup') ?? lastSegment(r.str('Parent')) ?? groupOfCode.get(code) ?? null;
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
  return { sections: [...sections.values()], warnings };
}

// ---- change detection ------------------------------------------------------------------

/** A stable hash of a normalised value (keys in insertion order, which normalisation fixes). */
export function hashOf(value: unknown): string {
  return crypto.createHash('sha1').update(JSON.stringify(value)).digest('base64url');
}
