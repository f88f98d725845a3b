/**
 * The relay store's contract, held on both dialects: the embedded SQLite file
 * and a real Postgres. Two stores opened on one database stand for two
 * processes (the server and the CLI) or two relay nodes.
 */
import Database from 'better-sqlite3';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PaymentNotice, PaymentView } from '../../../protocol/events.ts';
import type { FrontStatus } from '../../../protocol/local.ts';
import { openStore, type RelayStore } from '../../../relay/db/store.ts';
import { STORE_FILE } from '../../../relay/db/open.ts';
import { arrivals, envelope } from '../../helpers/feedpeers.ts';
import { tempDir } from '../../helpers/relay.ts';
import { postgresBackend, sqliteBackend } from '../../helpers/stores.ts';

const COMPANION = { version: '1.2.3', hostname: 'pos-1' };
const V = 'ven_aaaaaaaaaaaaaaaa';
const FRONT: FrontStatus = { state: 'up', url: 'https://127.0.0.1:8043', latencyMs: 12, checkedAt: '2026-01-01T00:00:00.000Z', since: null, source: 'discovery' };

describe.each([sqliteBackend(), postgresBackend()])('relay store on $name', (backend) => {
  beforeAll(() => backend.start(), 60_000);
  afterAll(() => backend.stop(), 60_000);
  beforeEach(() => backend.fresh(), 30_000);

  let n = 0;
  const newId = () => `dlv_${++n}`;
  async function venue(store: RelayStore, id = V, at = 0): Promise<string> {
    await store.addVenue(id, `Cafe ${id}`, at);
    return id;
  }

  it(`says which dialect it is and how fast a round trip is`, async () => {
    const s = await backend.open();
    expect(s.dialect).toBe(backend.name);
    const ms = await s.ping();
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(5_000);
  });

  describe('pairing codes', () => {
    it('work once: the second claim is told the code was used', async () => {
      const s = await backend.open();
      await venue(s);
      await s.addPairingCode(V, 'code1', 1_000, 2_000);
      expect(await s.claimPairingCode('code1', 'tokA', COMPANION, 1_500)).toEqual({ ok: true, venueId: V });
      expect(await s.claimPairingCode('code1', 'tokB', COMPANION, 1_600)).toEqual({ ok: false, reason: 'used' });
      const row = await s.getVenue(V);
      expect(row).toMatchObject({ tokenHash: 'tokA', pendingTokenHash: null, pairedAt: 1_500, revokedAt: null, companion: COMPANION });
    });

    it('refuse an unknown code and an expired one, and a new code replaces the unused one', async () => {
      const s = await backend.open();
      await venue(s);
      expect(await s.claimPairingCode('nope', 'tok', COMPANION, 0)).toEqual({ ok: false, reason: 'invalid' });
      await s.addPairingCode(V, 'old', 0, 1_000);
      expect(await s.claimPairingCode('old', 'tok', COMPANION, 1_000)).toEqual({ ok: false, reason: 'expired' });
      await s.addPairingCode(V, 'new', 1_000, 5_000);
      expect(await s.claimPairingCode('old', 'tok', COMPANION, 1_001)).toEqual({ ok: false, reason: 'invalid' });
      expect((await s.claimPairingCode('new', 'tok', COMPANION, 1_001)).ok).toBe(true);
    });

    it('pairing again swaps the token in two phases: both work until the new one is promoted', async () => {
      const s = await backend.open();
      await venue(s);
      await s.addPairingCode(V, 'c1', 0, 10_000);
      await s.claimPairingCode('c1', 'tokA', COMPANION, 1);
      await s.addPairingCode(V, 'c2', 2, 10_000);
      await s.claimPairingCode('c2', 'tokB', { version: '2', hostname: 'pos-2' }, 3);
      expect(await s.tokenHashesOf(V)).toEqual(['tokA', 'tokB']);
      expect(await s.tokenHashOf(V)).toBe('tokA');
      expect(await s.venueByTokenHash('tokA')).toBe(V);
      expect(await s.venueByTokenHash('tokB')).toBe(V);
      expect(await s.promoteToken(V, 'tokA')).toBe(false);
      expect(await s.promoteToken(V, 'tokB')).toBe(true);
      expect(await s.tokenHashesOf(V)).toEqual(['tokB']);
      expect(await s.venueByTokenHash('tokA')).toBeNull();
      expect((await s.tokenHashes()).get(V)).toEqual(['tokB']);
    });

    it('revocation refuses current and pending tokens and unused codes; an unknown venue is false', async () => {
      const s = await backend.open();
      await venue(s);
      await s.addPairingCode(V, 'c1', 0, 10_000);
      await s.claimPairingCode('c1', 'tokA', COMPANION, 1);
      await s.addPairingCode(V, 'c2', 2, 10_000);
      await s.claimPairingCode('c2', 'tokB', COMPANION, 3);
      await s.addPairingCode(V, 'c3', 4, 10_000);
      expect(await s.revoke(V, 5)).toBe(true);
      expect(await s.tokenHashesOf(V)).toEqual([]);
      expect(await s.venueByTokenHash('tokA')).toBeNull();
      expect(await s.venueByTokenHash('tokB')).toBeNull();
      expect(await s.claimPairingCode('c3', 'tokC', COMPANION, 6)).toEqual({ ok: false, reason: 'invalid' });
      expect((await s.getVenue(V))?.revokedAt).toBe(5);
      expect(await s.revoke('ven_nope', 5)).toBe(false);
      // A revoked venue pairs afresh: the new token is current at once.
      await s.addPairingCode(V, 'c4', 7, 10_000);
      await s.claimPairingCode('c4', 'tokD', COMPANION, 8);
      expect(await s.getVenue(V)).toMatchObject({ tokenHash: 'tokD', pendingTokenHash: null, revokedAt: null });
    });

    it('tell this store\'s listeners after every claim and revocation, and the token mark moves for every other store', async () => {
      const s = await backend.open();
      const other = await backend.open();
      const heard: string[] = [];
      const off = s.onTokenChange((id) => { heard.push(id); });
      await venue(s);
      const m0 = await other.tokenMark();
      await s.addPairingCode(V, 'c1', 0, 10_000);
      expect(await other.tokenMark()).toBe(m0);
      await s.claimPairingCode('c1', 'tokA', COMPANION, 1);
      const m1 = await other.tokenMark();
      expect(m1).toBeGreaterThan(m0);
      await s.addPairingCode(V, 'c2', 2, 10_000);
      await s.claimPairingCode('c2', 'tokB', COMPANION, 3);
      const m2 = await other.tokenMark();
      expect(m2).toBeGreaterThan(m1);
      await s.promoteToken(V, 'tokB');
      const m3 = await other.tokenMark();
      expect(m3).toBeGreaterThan(m2);
      await s.markSeen(V, 4);
      await s.promoteToken(V, 'tokB'); // nothing pending: no change
      expect(await other.tokenMark()).toBe(m3);
      await other.revoke(V, 5); // made elsewhere: only the mark tells s
      expect(await s.tokenMark()).toBeGreaterThan(m3);
      expect(heard).toEqual([V, V]);
      off();
      await s.revoke(V, 6);
      expect(heard).toEqual([V, V]);
    });
  });

  describe('venues', () => {
    it('list and page in creation order with a cursor, and count', async () => {
      const s = await backend.open();
      for (const [id, at] of [['ven_c', 2], ['ven_a', 1], ['ven_b', 2], ['ven_d', 3], ['ven_e', 0]] as const) await venue(s, id, at);
      const order = ['ven_e', 'ven_a', 'ven_b', 'ven_c', 'ven_d'];
      expect((await s.listVenues()).map((v) => v.id)).toEqual(order);
      expect(await s.countVenues()).toBe(5);
      const p1 = await s.pageVenues(null, 2);
      const p2 = await s.pageVenues(p1.at(-1)!.id, 2);
      const p3 = await s.pageVenues(p2.at(-1)!.id, 2);
      expect([...p1, ...p2, ...p3].map((v) => v.id)).toEqual(order);
      expect(await s.pageVenues('ven_d', 2)).toEqual([]);
      expect(await s.pageVenues('ven_nope', 2)).toEqual([]);
      expect(await s.getVenue('ven_nope')).toBeNull();
      await expect(s.addVenue('ven_a', 'again', 9)).rejects.toThrow();
    });

    it('record tunnels, front status and last-seen times', async () => {
      const s = await backend.open();
      await venue(s);
      await venue(s, 'ven_b');
      await s.markConnected(V, COMPANION, FRONT, 10);
      expect(await s.getVenue(V)).toMatchObject({ connectedAt: 10, lastSeenAt: 10, companion: COMPANION, front: FRONT });
      // No status in the hello: the last one known stays.
      await s.markConnected(V, { version: '2', hostname: 'pos-2' }, null, 20);
      expect(await s.getVenue(V)).toMatchObject({ connectedAt: 20, companion: { version: '2', hostname: 'pos-2' }, front: FRONT });
      await s.setFront(V, { ...FRONT, state: 'down' });
      expect((await s.getVenue(V))?.front?.state).toBe('down');
      await s.markSeen(V, 30);
      await s.markSeenMany([[V, 40], ['ven_b', 41]]);
      await s.markSeenMany([]);
      expect((await s.getVenue(V))?.lastSeenAt).toBe(40);
      expect((await s.getVenue('ven_b'))?.lastSeenAt).toBe(41);
    });
  });

  describe('feed', () => {
    it('stores an eventId once however often and through whichever store it comes', async () => {
      const a = await backend.open();
      const b = await backend.open();
      await venue(a);
      const e = envelope(V, 1);
      expect(await a.feed.appendEvents(V, arrivals([e, e]), 0)).toEqual({ inserted: 1, duplicates: 1, refused: [] });
      expect(await b.feed.appendEvents(V, arrivals([e, envelope(V, 2)]), 0)).toEqual({ inserted: 1, duplicates: 1, refused: [] });
      expect((await b.feed.listEvents(V, 0, 10)).map((x) => x.seq)).toEqual([1, 2]);
      expect(await b.feed.listEvents(V, 0, 10).then((l) => l[0])).toEqual(e);
      expect((await a.feed.listEvents(V, 1, 10)).map((x) => x.seq)).toEqual([2]);
      expect((await a.feed.listEvents(V, 0, 1)).map((x) => x.seq)).toEqual([1]);
    });

    it('lets one owner hold a batch; another takes the same batch only after the lease ends, and only the holder finishes it', async () => {
      const a = (await backend.open()).feed;
      const b = (await backend.open()).feed;
      await venue(await backend.open());
      await a.appendEvents(V, arrivals([1, 2, 3].map((s) => envelope(V, s))), 1_000);
      const held = await a.claimBatch(V, 'node-a', 1_000, 11_000, 100, newId);
      expect(held?.events.map((e) => e.envelope.seq)).toEqual([1, 2, 3]);
      expect(held?.events[0]?.storedAt).toBe(1_000);
      expect(await b.claimBatch(V, 'node-b', 5_000, 15_000, 100, newId)).toBeNull();
      await b.appendEvents(V, arrivals([envelope(V, 4)]), 6_000);
      const taken = await b.claimBatch(V, 'node-b', 12_000, 22_000, 100, newId);
      expect(taken?.deliveryId).toBe(held?.deliveryId);
      expect(taken?.events.map((e) => e.envelope.seq)).toEqual([1, 2, 3]);
      expect(await a.finishBatch(V, 'node-a', held!.deliveryId, 12_500)).toBe(false);
      expect(await b.finishBatch(V, 'node-b', taken!.deliveryId, 13_000)).toBe(true);
      const next = await a.claimBatch(V, 'node-a', 13_000, 23_000, 100, newId);
      expect(next?.events.map((e) => e.envelope.seq)).toEqual([4]);
      expect(next?.deliveryId).not.toBe(held?.deliveryId);
      expect(await a.deliveryState(V)).toMatchObject({ deliveredId: taken!.events[2]!.id, backlog: 1, deliveredAt: 13_000 });
    });

    it('caps a batch at max events and holds a failed batch back until its retry time', async () => {
      const s = await backend.open();
      await venue(s);
      const f = s.feed;
      await f.appendEvents(V, arrivals([1, 2, 3].map((q) => envelope(V, q))), 0);
      const first = await f.claimBatch(V, 'n', 0, 10_000, 2, newId);
      expect(first?.events.map((e) => e.envelope.seq)).toEqual([1, 2]);
      await f.failBatch(V, 'n', first!.deliveryId, 'HTTP 500', 5_000);
      expect(await f.claimBatch(V, 'n', 4_999, 15_000, 100, newId)).toBeNull();
      const retry = await f.claimBatch(V, 'n', 5_000, 15_000, 100, newId);
      expect([retry?.deliveryId, retry?.attempts, retry?.events.length]).toEqual([first?.deliveryId, 1, 2]);
      expect(await f.deliveryState(V)).toMatchObject({ backlog: 3, attempts: 1, lastError: 'HTTP 500', nextAt: 5_000 });
      expect(await f.webhookBacklog(true)).toBe(3);
      expect(await f.webhookBacklog(false)).toBe(0);
      expect(await f.pendingWebhookVenues(true)).toEqual([V]);
      expect(await f.pendingWebhookVenues(false)).toEqual([]);
    });

    it('keeps a venue\'s own webhook target, and a new target is tried at once', async () => {
      const s = await backend.open();
      await venue(s);
      await venue(s, 'ven_b');
      const f = s.feed;
      await f.appendEvents(V, arrivals([envelope(V, 1)]), 0);
      await f.appendEvents('ven_b', arrivals([envelope('ven_b', 1)]), 0);
      expect(await f.getWebhook(V)).toBeNull();
      await f.setWebhook(V, { url: 'https://a.example/hook', secret: 's1', format: 'evva', authToken: null }, 1);
      await f.setWebhook(V, { url: 'https://b.example/hook', secret: 's2', format: 'evva', authToken: null }, 2);
      expect(await f.getWebhook(V)).toEqual({ url: 'https://b.example/hook', secret: 's2', format: 'evva', authToken: null });
      expect(await f.pendingWebhookVenues(false)).toEqual([V]);
      expect((await f.pendingWebhookVenues(true)).sort()).toEqual([V, 'ven_b']);
      expect(await f.webhookBacklog(false)).toBe(1);
      const b = await f.claimBatch(V, 'n', 0, 1_000, 10, newId);
      await f.failBatch(V, 'n', b!.deliveryId, 'refused', 60_000);
      expect(await f.claimBatch(V, 'n', 10, 1_000, 10, newId)).toBeNull();
      await f.setWebhook(V, { url: 'https://c.example/hook', secret: 's3', format: 'evva', authToken: null }, 3);
      expect((await f.claimBatch(V, 'n', 10, 1_000, 10, newId))?.deliveryId).toBe(b!.deliveryId);
      await f.setWebhook(V, null, 4);
      expect(await f.getWebhook(V)).toBeNull();
    });

    it('keeps an iiko-cloud target (token, no secret) and the venue\'s iiko ids', async () => {
      const s = await backend.open();
      await venue(s);
      await venue(s, 'ven_b');
      const f = s.feed;
      await f.setWebhook(V, { url: 'https://cloud.example/hook', secret: null, format: 'iiko-cloud', authToken: 'tok' }, 1);
      expect(await f.getWebhook(V)).toEqual({ url: 'https://cloud.example/hook', secret: null, format: 'iiko-cloud', authToken: 'tok' });
      expect(await f.getIikoIds(V)).toEqual({ organizationId: null, terminalGroupId: null });
      const org = '7f0b1c1e-4f6a-4d2b-9a51-0c9d3e2f1a10';
      const tg = '0b5e2a6c-1111-4c7e-8d2a-5f3e9b7c6d40';
      expect(await f.setIikoIds(V, { organizationId: org }, 2)).toEqual({ organizationId: org, terminalGroupId: null });
      expect(await f.setIikoIds(V, { terminalGroupId: tg }, 3)).toEqual({ organizationId: org, terminalGroupId: tg });
      expect(await f.getIikoIds(V)).toEqual({ organizationId: org, terminalGroupId: tg });
      expect(await f.getIikoIds('ven_b')).toEqual({ organizationId: null, terminalGroupId: null });
      expect(await f.setIikoIds(V, { organizationId: null }, 4)).toEqual({ organizationId: null, terminalGroupId: tg });
    });

    it('keeps payments once per paymentId; a venue may only move a payment EVVA posted, along its moves, never its order or amount', async () => {
      const s = await backend.open();
      await venue(s);
      await venue(s, 'ven_b');
      const f = s.feed;
      const notice: PaymentNotice = { paymentId: 'pay-1', orderId: 'O-1', amount: 100, paidAt: '2026-01-01T00:00:00.000Z', tips: 5 };
      const first = await f.addPayment(V, notice, Date.UTC(2026, 0, 1));
      expect(first.created).toBe(true);
      expect(first.row).toEqual({ notice, view: { ...notice, state: 'queued', updatedAt: '2026-01-01T00:00:00.000Z' } });
      const again = await f.addPayment(V, { ...notice, amount: 999 }, 5);
      expect(again).toEqual({ created: false, row: first.row });
      await f.addPayment(V, { ...notice, paymentId: 'pay-2' }, 6);
      await f.addPayment('ven_b', { ...notice, paymentId: 'pay-3' }, 7);
      expect((await f.queuedPayments(V)).map((p) => p.notice.paymentId)).toEqual(['pay-1', 'pay-2']);
      expect((await f.venuesWithQueuedPayments()).sort()).toEqual([V, 'ven_b']);

      const view = (state: PaymentView['state'], at: string, more: Partial<PaymentView> = {}): PaymentView => ({ ...notice, state, updatedAt: at, ...more });
      let seq = 0;
      const update = (v: PaymentView, venueId = V) => f.appendEvents(venueId, arrivals([envelope(venueId, ++seq, { eventType: 'PaymentUpdate', eventInfo: v })]), 8);
      await f.paymentNotified(V, view('notified', 'a'));
      expect((await f.getPayment(V, 'pay-1'))?.view.state).toBe('notified');
      // An update event moved it on (the companion keeps order ids in lower case); the notice's late answer does not move it back.
      expect((await update(view('reconciled', 'b', { orderId: 'o-1', detail: 'закрыт', orderNumber: 12 }))).inserted).toBe(1);
      await f.paymentNotified(V, view('notified', 'c'));
      expect((await f.getPayment(V, 'pay-1'))?.view).toEqual(view('reconciled', 'b', { detail: 'закрыт', orderNumber: 12 }));
      // Refused and recorded, the payment untouched: a final state moved on, another amount, another order,
      // another venue's payment, a payment EVVA never posted (not even created from the event).
      const refusals = [
        await update(view('mismatch', 'd')),
        await update({ ...view('reconciled', 'e'), paymentId: 'pay-2', amount: 1 }),
        await update({ ...view('notified', 'f'), paymentId: 'pay-2', orderId: 'another-order' }),
        await update({ ...view('notified', 'g'), paymentId: 'pay-3' }),
        await update({ ...view('reconciled', 'h'), paymentId: 'pay-till' }),
      ];
      expect(refusals.map((r) => [r.inserted, r.refused.length])).toEqual([[0, 1], [0, 1], [0, 1], [0, 1], [0, 1]]);
      expect(refusals.map((r) => r.refused[0]!.reason)).toEqual([
        'payment pay-1: reconciled → mismatch is not a move a payment makes', 'payment pay-2: the update changes the amount',
        'payment pay-2: the update names another order', 'no payment pay-3 was posted by EVVA for this venue',
        'no payment pay-till was posted by EVVA for this venue',
      ]);
      expect((await f.getPayment(V, 'pay-1'))?.view.state).toBe('reconciled');
      expect((await f.getPayment(V, 'pay-2'))?.view).toMatchObject({ state: 'queued', amount: 100, orderId: 'O-1' });
      expect(await f.getPayment(V, 'pay-till')).toBeNull();
      expect((await f.queuedPayments(V)).map((p) => p.notice.paymentId)).toEqual(['pay-2']);
      expect((await f.listRefused(V, 10)).map((r) => r.seq)).toEqual([6, 5, 4, 3, 2]);
      // Refused events are never delivered: only the one accepted update is in the feed.
      expect((await f.listEvents(V, 0, 10)).map((e) => e.seq)).toEqual([1]);
    });

    it('stores a new event only after the venue\'s last one, and continues the numbering of a companion that starts again at 1', async () => {
      const s = await backend.open();
      await venue(s);
      const f = s.feed;
      await f.appendEvents(V, arrivals([1, 2].map((q) => envelope(V, q))), 0);
      // Far ahead, at 2^53 - 1, and behind: refused and not counted, so the next good one still follows.
      const jump = await f.appendEvents(V, arrivals([envelope(V, 2 + 1_000_001), envelope(V, Number.MAX_SAFE_INTEGER), envelope(V, 2, { eventId: 'evt_behind' })]), 1);
      expect(jump.refused.map((r) => r.seq)).toEqual([1_000_003, Number.MAX_SAFE_INTEGER, 2]);
      expect(jump.refused[1]!.reason).toMatch(/does not follow the venue's last event \(seq 2\)/);
      expect((await f.appendEvents(V, arrivals([envelope(V, 3), envelope(V, 5)]), 2)).inserted).toBe(2);
      // Its data dir wiped and paired anew, the companion counts from 1 again: the venue's numbering goes on.
      const wiped = [1, 2, 3].map((q) => envelope(V, q));
      expect((await f.appendEvents(V, arrivals(wiped), 3)).inserted).toBe(3);
      expect((await f.appendEvents(V, arrivals([envelope(V, 4)]), 4)).inserted).toBe(1);
      const all = await f.listEvents(V, 0, 100);
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 5, 6, 7, 8, 9]);
      expect(all.slice(4, 7).map((e) => e.eventId)).toEqual(wiped.map((e) => e.eventId));
      // A puller paging by seq sees every event after a refused jump.
      expect((await f.listEvents(V, 5, 100)).map((e) => e.seq)).toEqual([6, 7, 8, 9]);
      // A refused event sent again is a duplicate (acked, nothing new).
      expect(await f.appendEvents(V, arrivals([{ ...envelope(V, 2), eventId: 'evt_behind' }]), 5)).toEqual({ inserted: 0, duplicates: 1, refused: [] });
    });

    it('deletes, past the retention, what no receiver needs: delivered events of venues with one, every event of venues EVVA pulls', async () => {
      const s = await backend.open();
      await venue(s);
      await venue(s, 'ven_b');
      const f = s.feed;
      await f.setWebhook(V, { url: 'https://a.example/hook', secret: 's1', format: 'evva', authToken: null }, 0);
      await f.appendEvents(V, arrivals([1, 2, 3].map((q) => envelope(V, q))), 1_000);
      await f.appendEvents('ven_b', arrivals([1, 2].map((q) => envelope('ven_b', q))), 1_000);
      await f.appendEvents(V, arrivals([envelope(V, 99_999_999)]), 1_000);
      await f.appendEvents(V, arrivals([envelope(V, 4)]), 50_000);
      const b = await f.claimBatch(V, 'n', 1_000, 2_000, 2, newId);
      await f.finishBatch(V, 'n', b!.deliveryId, 1_500);
      // Cutoff 10 000: V's events 1-2 (delivered) go, 3 (not delivered) stays; ven_b (pulled) loses both; the refusal goes.
      expect(await f.prune(10_000, false, 100)).toBe(5);
      expect((await f.listEvents(V, 0, 10)).map((e) => e.seq)).toEqual([3, 4]);
      expect(await f.listEvents('ven_b', 0, 10)).toEqual([]);
      expect(await f.listRefused(V, 10)).toEqual([]);
      expect(await f.deliveryState(V)).toMatchObject({ backlog: 2 });
      // A relay-wide receiver means every venue has one: nothing undelivered goes.
      await f.appendEvents('ven_b', arrivals([envelope('ven_b', 3)]), 1_000);
      expect(await f.prune(10_000, true, 100)).toBe(0);
      expect(await f.prune(100_000, false, 1)).toBe(1);
    });
  });
});

describe('the SQLite file', () => {
  it('is readable by the relay\'s user only (0600, also its WAL), and an older 0644 file is tightened on open', async () => {
    const d = tempDir('store-mode');
    try {
      const s = await openStore({ dataDir: d.dir });
      await s.addVenue(V, 'Cafe', 0);
      for (const f of [STORE_FILE, `${STORE_FILE}-wal`]) expect({ f, mode: statSync(join(d.dir, f)).mode & 0o777 }).toEqual({ f, mode: 0o600 });
      await s.close();
      chmodSync(join(d.dir, STORE_FILE), 0o644);
      const again = await openStore({ dataDir: d.dir });
      expect(statSync(join(d.dir, STORE_FILE)).mode & 0o777).toBe(0o600);
      expect(await again.getVenue(V)).toMatchObject({ name: 'Cafe' });
      await again.close();
    } finally {
      d.remove();
    }
  });
});

describe('an existing relay.sqlite from the hand-written store', () => {
  it('is adopted as it is: its venues, codes, events and delivery state stay, and the new schema works on it', async () => {
    const d = tempDir('store-old');
    try {
      const old = new Database(join(d.dir, STORE_FILE));
      old.pragma('journal_mode = WAL');
      // The schema exactly as relay/store.ts (user_version 2) and relay/feedstore.ts (feed 1) made it.
      old.exec(OLD_SCHEMA);
      old.pragma('user_version = 2');
      old.exec(`INSERT INTO schema_parts VALUES ('feed', 1);
        INSERT INTO venues (id, name, created_at, token_hash, paired_at, companion_version, companion_hostname, pending_token_hash)
          VALUES ('${V}', 'Old cafe', 100, 'tokOld', 150, '0.9', 'pos-old', 'tokNew');
        INSERT INTO pairing_codes VALUES ('codeOld', '${V}', 200, 9999999999999, NULL);
        INSERT INTO feed_events (venue_id, event_id, seq, event_type, body, stored_at)
          VALUES ('${V}', 'evt_1', 1, 'TableOrderUpdate', '${JSON.stringify(envelope(V, 1, { eventId: 'evt_1' }))}', 300);
        INSERT INTO webhook_state (venue_id, delivered_id, attempts) VALUES ('${V}', 0, 2);`);
      old.close();

      const s = await openStore({ dataDir: d.dir });
      try {
        expect(await s.getVenue(V)).toMatchObject({ name: 'Old cafe', tokenHash: 'tokOld', pendingTokenHash: 'tokNew', companion: { version: '0.9', hostname: 'pos-old' } });
        expect((await s.feed.listEvents(V, 0, 10)).map((e) => e.eventId)).toEqual(['evt_1']);
        expect(await s.feed.deliveryState(V)).toMatchObject({ backlog: 1, attempts: 2 });
        expect(await s.feed.appendEvents(V, arrivals([envelope(V, 1, { eventId: 'evt_1' }), envelope(V, 2)]), 400)).toEqual({ inserted: 1, duplicates: 1, refused: [] });
        const mark = await s.tokenMark();
        expect(await s.promoteToken(V, 'tokNew')).toBe(true);
        expect(await s.tokenMark()).toBeGreaterThan(mark);
        expect(await s.claimPairingCode('codeOld', 'tokNewer', COMPANION, 500)).toEqual({ ok: true, venueId: V });
      } finally {
        await s.close();
      }
      // Opening again finds nothing left to migrate and the same data.
      const again = await openStore({ dataDir: d.dir });
      expect((await again.feed.listEvents(V, 0, 10)).length).toBe(2);
      await again.close();
    } finally {
      d.remove();
    }
  });
});

describe('migrating a SQLite file', () => {
  /** A migrated file with its migration records changed by `edit`, then opened again. */
  async function reopenAfter(edit: string): Promise<RelayStore> {
    const d = tempDir('store-migrations');
    try {
      await (await openStore({ dataDir: d.dir })).close();
      const raw = new Database(join(d.dir, STORE_FILE));
      raw.exec(edit);
      raw.close();
      return await openStore({ dataDir: d.dir });
    } finally {
      d.remove();
    }
  }

  it('runs a migration the file has no record of, rather than taking the file as current', async () => {
    // 0005's first step adds a column the file already has: running it again is what fails here.
    await expect(reopenAfter("DELETE FROM kysely_migration WHERE name = '0005_console'")).rejects.toThrow(/store migration 0005_console failed: .*status_json/);
  });

  it('refuses a file migrated by a newer relay (a migration it does not know)', async () => {
    await expect(reopenAfter("INSERT INTO kysely_migration VALUES ('0099_future', '2030-01-01T00:00:00.000Z')")).rejects.toThrow(/0099_future is missing/);
  });

  it('leaves the file as it was: the steps before it are rolled back with it, and the error names it', async () => {
    const d = tempDir('store-failed-migration');
    try {
      // A venues table that already has a column 0005_console adds: 0001-0004 pass on it, 0005 cannot.
      const odd = new Database(join(d.dir, STORE_FILE));
      odd.exec('CREATE TABLE venues (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL, token_hash TEXT, pending_token_hash TEXT, status_json TEXT)');
      odd.close();
      await expect(openStore({ dataDir: d.dir })).rejects.toThrow(/store migration 0005_console failed: .*status_json/);
      const after = new Database(join(d.dir, STORE_FILE), { readonly: true });
      try {
        const tables = after.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
        const columns = after.prepare('SELECT name FROM pragma_table_info(\'venues\') ORDER BY cid').pluck().all();
        expect({ tables, columns }).toEqual({ tables: ['venues'], columns: ['id', 'name', 'created_at', 'token_hash', 'pending_token_hash', 'status_json'] });
      } finally {
        after.close();
      }
    } finally {
      d.remove();
    }
  });
});

/** Copied verbatim from the hand-written stores' migrations (relay/store.ts v1+v2, relay/feedstore.ts v1, before relay/db/). */
const OLD_SCHEMA = `
  CREATE TABLE venues (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     token_hash TEXT,
     paired_at INTEGER,
     revoked_at INTEGER,
     companion_version TEXT,
     companion_hostname TEXT,
     connected_at INTEGER,
     last_seen_at INTEGER,
     front_json TEXT
   );
   CREATE UNIQUE INDEX venues_token_hash ON venues(token_hash) WHERE token_hash IS NOT NULL;
   CREATE TABLE pairing_codes (
     code_hash TEXT PRIMARY KEY,
     venue_id TEXT NOT NULL REFERENCES venues(id),
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER
   );
   CREATE INDEX pairing_codes_venue ON pairing_codes(venue_id);
  ALTER TABLE venues ADD COLUMN pending_token_hash TEXT;
   CREATE UNIQUE INDEX venues_pending_token_hash ON venues(pending_token_hash) WHERE pending_token_hash IS NOT NULL;
  CREATE TABLE IF NOT EXISTS schema_parts (part TEXT PRIMARY KEY, version INTEGER NOT NULL);
  CREATE TABLE feed_events (
     id INTEGER PRIMARY KEY,
     venue_id TEXT NOT NULL,
     event_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     event_type TEXT NOT NULL,
     body TEXT NOT NULL,
     stored_at INTEGER NOT NULL,
     UNIQUE (venue_id, event_id)
   );
   CREATE INDEX feed_events_seq ON feed_events (venue_id, seq, id);
   CREATE INDEX feed_events_order ON feed_events (venue_id, id);
   CREATE TABLE webhook_targets (
     venue_id TEXT PRIMARY KEY,
     url TEXT NOT NULL,
     secret TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE webhook_state (
     venue_id TEXT PRIMARY KEY,
     delivered_id INTEGER NOT NULL,
     delivered_at INTEGER,
     batch_last_id INTEGER,
     delivery_id TEXT,
     attempts INTEGER NOT NULL,
     next_at INTEGER,
     lease_owner TEXT,
     lease_until INTEGER,
     last_error TEXT
   );
   CREATE TABLE payments (
     id INTEGER PRIMARY KEY,
     venue_id TEXT NOT NULL,
     payment_id TEXT NOT NULL,
     notice TEXT NOT NULL,
     state TEXT NOT NULL,
     view TEXT NOT NULL,
     updated_seq INTEGER,
     created_at INTEGER NOT NULL,
     UNIQUE (venue_id, payment_id)
   );
   CREATE INDEX payments_state ON payments (state, venue_id, id);`;
