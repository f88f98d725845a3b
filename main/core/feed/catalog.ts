/**
 * The iiko GUIDs the staff, tables and menu polls have seen, so order events
 * can name products, tables, waiters and couriers by id as iiko Cloud does
 * (the plugin's orders link them by code, number and name only). The orders
 * poll waits until each of those polls has run once, so a restarted companion
 * does not send orders without the ids it could have known.
 */
import type { FeedStaff, FeedTable } from '../../../protocol/feed.ts';
import type { Catalog } from '../iiko/normalise.ts';

export type CatalogSource = 'staff' | 'tables' | 'menu';

export interface FeedCatalog extends Catalog {
  setStaff(staff: FeedStaff[]): void;
  setTables(tables: FeedTable[]): void;
  setProducts(ids: Map<string, string>): void;
  /** Records that a poll ran (whether it succeeded or not). */
  tried(source: CatalogSource): void;
  /** True once every source has run at least once. */
  primed(): boolean;
}

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Only GUIDs count as ids: iiko Cloud names things by GUID, and a plugin that sent something else would mislead it. */
const asGuid = (v: string | null): string | null => (v !== null && guid.test(v) ? v.toLowerCase() : null);

export function createCatalog(): FeedCatalog {
  let users = new Map<string, string>();
  let tables = new Map<number, string>();
  let products = new Map<string, string>();
  const done = new Set<CatalogSource>();
  return {
    productId: (code) => products.get(code) ?? null,
    tableId: (n) => tables.get(n) ?? null,
    userId: (name) => users.get(name) ?? null,
    setStaff(staff) {
      users = new Map(staff.flatMap((s) => { const id = asGuid(s.id); return id ? [[s.name, id] as const] : []; }));
    },
    setTables(list) {
      tables = new Map(list.flatMap((t) => { const id = asGuid(t.id); return id ? [[t.number, id] as const] : []; }));
    },
    setProducts(ids) {
      products = new Map([...ids].flatMap(([code, id]) => { const g = asGuid(id); return g ? [[code, g] as const] : []; }));
    },
    tried: (s) => { done.add(s); },
    primed: () => done.size === 3,
  };
}
