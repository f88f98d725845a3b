import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../../protocol/events.ts';
import type { FeedOrder, MenuSection } from '../../../protocol/feed.ts';
import { encodeControl } from '../../../protocol/tunnel.ts';
import { fitOrder, splitList, splitMenu } from '../../../main/core/feed/size.ts';
import { normaliseOrder } from '../../../main/core/iiko/normalise.ts';

/** The event frame the link would send for `info`: it must encode (≤ 64 KiB) or the outbox would stall. */
const frame = (info: Record<string, unknown>) => {
  const e: Envelope = { eventId: '00000000-0000-0000-0000-000000000000', venueId: 'v'.repeat(36), seq: 1_000_000, eventType: 'TableOrderUpdate', eventTime: new Date().toISOString(), eventInfo: info };
  return encodeControl({ t: 'event', eventId: e.eventId, seq: e.seq, event: e });
};

describe('events always fit one control frame', () => {
  it('a huge order loses modifiers, then items, and says so', () => {
    const items = Array.from({ length: 600 }, (_, i) => ({
      Id: `item-${i}`, Amount: 1, Price: 100, Name: `Блюдо ${i} ${'с'.repeat(40)}`, Status: 'Added',
      Modifiers: Array.from({ length: 3 }, (_, j) => ({ Name: `Добавка ${j}`, Amount: 1, Price: 10 })),
    }));
    const order = normaliseOrder({ Id: 'big', Number: 1, Status: 'New', Guests: [{ Id: 'g', Items: items }] })!;
    expect(() => frame({ order })).toThrow();
    const fitted: FeedOrder = fitOrder(order);
    expect(() => frame({ order: fitted })).not.toThrow();
    expect(fitted.degraded).toContain('items(too large)');
    expect(fitted.items.length).toBeGreaterThan(50);
    const small = normaliseOrder({ Id: 'small', Number: 2, Status: 'New' })!;
    expect(fitOrder(small)).toBe(small);
  });

  it('a huge menu is split into parts that share a snapshot id and hold every product once', () => {
    const sections: MenuSection[] = Array.from({ length: 4 }, (_, s) => ({
      id: `s${s}`, name: `Раздел ${s}`,
      categories: Array.from({ length: 10 }, (_, c) => ({
        id: `c${s}-${c}`, name: `Категория ${c}`,
        products: Array.from({ length: 40 }, (_, p) => ({ id: null, code: `${s}-${c}-${p}`, name: `Товар ${'т'.repeat(30)}`, price: 100, type: 'Dish', active: true })),
      })),
    }));
    const warnings = Array.from({ length: 300 }, (_, i) => ({ productCode: `w${i}`, name: 'x'.repeat(50), from: 'a › b › c › d', to: 'a › b' }));
    const parts = splitMenu('snap', 'daily', sections, warnings);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) {
      expect(() => frame(p as unknown as Record<string, unknown>)).not.toThrow();
      expect([p.snapshotId, p.parts]).toEqual(['snap', parts.length]);
    }
    expect(parts.map((p) => p.part)).toEqual(parts.map((_, i) => i + 1));
    const codes = parts.flatMap((p) => p.sections.flatMap((s) => s.categories.flatMap((c) => c.products.map((x) => x.code))));
    expect(codes.length).toBe(1600);
    expect(new Set(codes).size).toBe(1600);
    expect(parts.flatMap((p) => p.warnings)).toHaveLength(300);
  });

  it('a huge staff list is split into numbered parts; a normal one stays whole', () => {
    const staff = Array.from({ length: 1500 }, (_, i) => ({ id: `u${i}`, name: `Сотрудник ${i}`, role: 'Официант', courier: false, hasPin: true, phone: null, sessionOpen: true }));
    const parts = splitList({ staff }, 'staff');
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(() => frame(p)).not.toThrow();
    expect(parts.flatMap((p) => p.staff as unknown[])).toHaveLength(1500);
    expect(splitList({ staff: staff.slice(0, 10) }, 'staff')).toEqual([{ staff: staff.slice(0, 10) }]);
  });
});
