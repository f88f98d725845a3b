/**
 * Keeps every event within one tunnel control frame (64 KiB): an event that
 * cannot be sent would block the outbox for ever. A huge order loses its
 * modifiers, then its items beyond what fits (named in `degraded`); a huge menu
 * is split by section into parts.
 */
import type { FeedOrder, MenuInfo, MenuSection, MenuWarning } from '../../../protocol/feed.ts';
import { MAX_EVENT_BYTES } from '../../../protocol/events.ts';
import { MAX_CONTROL_FRAME_BYTES } from '../../../protocol/tunnel.ts';

/**
 * Room for eventInfo: inside one frame (with space for the envelope and the
 * frame around it) and inside the largest event the relay stores (MAX_EVENT_BYTES).
 */
export const MAX_INFO_BYTES = Math.min(MAX_CONTROL_FRAME_BYTES - 4 * 1024, MAX_EVENT_BYTES - 2 * 1024);

const size = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

/** The order as it fits one event; unchanged when it already does. */
export function fitOrder(order: FeedOrder): FeedOrder {
  if (size({ order }) <= MAX_INFO_BYTES) return order;
  const bare = { ...order, items: order.items.map((i) => ({ ...i, modifiers: [] })), degraded: [...order.degraded, 'items.modifiers(too large)'] };
  if (size({ order: bare }) <= MAX_INFO_BYTES) return bare;
  const items = [...bare.items];
  const cut = { ...bare, items, degraded: [...bare.degraded, 'items(too large)'] };
  while (items.length > 0 && size({ order: cut }) > MAX_INFO_BYTES) items.splice(Math.max(0, items.length - Math.ceil(items.length / 4)));
  return cut;
}

/** The menu as one or more MenuSnapshot infos, each within one event. */
export function splitMenu(snapshotId: string, reason: string, sections: MenuSection[], warnings: MenuWarning[]): MenuInfo[] {
  const whole: MenuInfo = { snapshotId, part: 1, parts: 1, sections, warnings, reason };
  if (size(whole) <= MAX_INFO_BYTES) return [whole];
  // Pieces: each section, or, for a section too large on its own, each of its categories (or product chunks) under the section's name.
  const pieces: MenuSection[] = [];
  for (const s of sections) {
    if (size(s) <= MAX_INFO_BYTES / 2) { pieces.push(s); continue; }
    for (const c of s.categories) {
      let chunk: typeof c.products = [];
      for (const p of c.products) {
        chunk.push(p);
        if (size(chunk) > MAX_INFO_BYTES / 2) {
          pieces.push({ ...s, categories: [{ ...c, products: chunk }] });
          chunk = [];
        }
      }
      if (chunk.length) pieces.push({ ...s, categories: [{ ...c, products: chunk }] });
    }
  }
  const parts: MenuInfo[] = [];
  let current: MenuSection[] = [];
  const flush = () => { if (current.length) parts.push({ snapshotId, part: 0, parts: 0, sections: current, warnings: [], reason }); current = []; };
  for (const p of pieces) {
    if (current.length && size([...current, p]) > MAX_INFO_BYTES - 1024) flush();
    current.push(p);
  }
  flush();
  // Warnings go in parts that still have room, or parts of their own.
  const w = [...warnings];
  for (const part of parts) {
    while (w.length && size({ ...part, warnings: [...part.warnings, w[0]] }) <= MAX_INFO_BYTES) part.warnings.push(w.shift()!);
  }
  while (w.length) {
    const part: MenuInfo = { snapshotId, part: 0, parts: 0, sections: [], warnings: [], reason };
    while (w.length && (part.warnings.length === 0 || size({ ...part, warnings: [...part.warnings, w[0]] }) <= MAX_INFO_BYTES)) part.warnings.push(w.shift()!);
    parts.push(part);
  }
  return parts.map((p, i) => ({ ...p, part: i + 1, parts: parts.length }));
}

/**
 * `info` as one event, or, when its `listKey` array makes it too large, as parts
 * of that list, each with `part` and `parts` (1-based) and the other fields repeated.
 */
export function splitList(info: Record<string, unknown>, listKey: string): Array<Record<string, unknown>> {
  if (size(info) <= MAX_INFO_BYTES) return [info];
  const list = Array.isArray(info[listKey]) ? (info[listKey] as unknown[]) : [];
  const chunks: unknown[][] = [];
  let chunk: unknown[] = [];
  for (const x of list) {
    if (chunk.length && size({ ...info, [listKey]: [...chunk, x], part: 0, parts: 0 }) > MAX_INFO_BYTES) {
      chunks.push(chunk);
      chunk = [];
    }
    chunk.push(x);
  }
  chunks.push(chunk);
  return chunks.map((c, i) => ({ ...info, [listKey]: c, part: i + 1, parts: chunks.length }));
}
