/**
 * The console's own API under /console/api (the door has checked the
 * session): the venues list, one venue's detail, its recent events,
 * payments and audit, and "retry the webhook now". Nothing secret leaves
 * here: no token hashes, no webhook secrets, webhook URLs masked.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import {
  BACKLOG_COUNT_MAX, ListQuery, VERDICT_ORDER, type AuditList, type ConsoleWebhook, type PaymentList, type RecentEvents, type VenueDetail,
  type VenuePage, type VenueRow, type Verdict,
} from '../../protocol/console.ts';
import type { Face } from '../../face/face.ts';
import type { FrontStatus, Status } from '../../protocol/local.ts';
import { VenueId } from '../../protocol/relay.ts';
import type { FaceRow, PageSpec, RowExtras } from '../db/console.ts';
import type { RelayStore } from '../db/store.ts';
import { maskUrl } from '../hooks/mask.ts';
import type { Webhooks } from '../webhooks.ts';
import type { Faces } from './faces.ts';
import type { Caller } from './sessions.ts';
import { factsOf, fold, timeIn, verdictOf } from './verdict.ts';

export interface RouteDeps {
  store: RelayStore;
  webhooks: Webhooks;
  faces: Faces;
  clock: Clock;
  log: Logger;
  /** The caller the door found for this request. */
  callerOf(req: Request): Caller;
  /** Audits one support action under the caller's fingerprint and address. */
  audit(req: Request, venueId: string, action: string, outcome: string): void;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * How long a node reuses the counts per verdict of one search: they read
 * every venue (an index-only scan), the page itself reads 50, so the list
 * costs the same at 10 or 10 000 venues and the chips are at most this old.
 */
export const COUNTS_TTL_MS = 2_000;

/** Errors the page shows: Russian, and English beside it. */
export function fail(res: Response, status: number, error: string, message: string, messageEn: string): void {
  res.status(status).json({ error, message, messageEn });
}

/** The cursor of a row: its sort key, tied to the query's shape (a cursor from another query starts at the beginning). */
function keyOf(r: FaceRow & { rank: number }, spec: PageSpec): Array<string | number> {
  if (spec.sort === 'name') return [r.name, r.id];
  if (spec.sort === 'created') return [r.createdAt, r.id];
  return spec.verdict ? [r.since, r.id] : [r.rank, r.since, r.id];
}
const shapeOf = (spec: Pick<PageSpec, 'sort' | 'verdict' | 'q'>) => `${spec.sort}|${spec.verdict ?? ''}|${spec.q ?? ''}`;
function encodeCursor(spec: PageSpec, key: Array<string | number>): string {
  return Buffer.from(JSON.stringify({ s: shapeOf(spec), k: key })).toString('base64url');
}
function decodeCursor(raw: string | undefined, spec: Omit<PageSpec, 'after'>): Array<string | number> | undefined {
  if (!raw) return undefined;
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { s?: unknown; k?: unknown };
    if (c.s !== shapeOf(spec) || !Array.isArray(c.k) || c.k.length > 3) return undefined;
    if (!c.k.every((v) => (typeof v === 'string' && v.length <= 300) || (typeof v === 'number' && Number.isFinite(v)))) return undefined;
    return c.k as Array<string | number>;
  } catch {
    return undefined;
  }
}

/** A webhook error, with any credential of the URL taken out. */
function scrub(text: string | null, raw: string | null): string | null {
  if (!text || !raw) return text;
  try {
    const u = new URL(raw);
    let out = text.split(raw).join(maskUrl(raw));
    for (const s of [u.password, u.username, ...u.searchParams.values()]) if (s && s.length >= 4) out = out.split(s).join('***');
    return out;
  } catch {
    return text;
  }
}

function parse<T>(json: string | null): T | null {
  if (!json) return null;
  try { return JSON.parse(json) as T; } catch { return null; }
}

/** A list row: the verdict in the asked language and what the list shows beside it. */
function rowOf(r: FaceRow, face: Face, ex: RowExtras | undefined, hookEverywhere: boolean): VenueRow {
  const online = r.onlineLink !== null;
  const front = parse<Status>(r.statusJson)?.front ?? parse<FrontStatus>(r.frontJson);
  const hooked = ex ? ex.ownHook || hookEverywhere : hookEverywhere;
  return {
    venueId: r.id, name: r.name, online,
    since: online ? iso(r.connectedAt) : iso(r.lastSeenAt),
    verdict: { tone: face.tone, sentence: face.sentence },
    companionVersion: r.companionVersion, pluginVersion: front?.version ?? null,
    lastEvent: ex?.lastEvent ? { type: ex.lastEvent.type, at: new Date(ex.lastEvent.at).toISOString() } : null,
    webhook: hooked ? { backlog: Math.min(ex?.backlog ?? 0, BACKLOG_COUNT_MAX), more: (ex?.backlog ?? 0) > BACKLOG_COUNT_MAX } : null,
    payments: { waiting: ex?.waiting ?? 0, alarms: ex?.alarms ?? 0 },
  };
}

const limitOf = (raw: unknown, dflt: number, max: number): number => {
  const n = raw === undefined ? dflt : Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= max ? n : dflt;
};

export function consoleRoutes(d: RouteDeps): Router {
  const r = express.Router();
  const db = d.store.console;
  const langOf = (req: Request) => (req.query.lang === 'en' ? 'en' : 'ru');
  const tzOf = (req: Request) => (typeof req.query.tz === 'string' && req.query.tz.length <= 64 ? req.query.tz : undefined);
  const countsCache = new Map<string, { at: number; counts: Promise<Map<Verdict | null, number>> }>();
  const countsOf = (q: string | undefined) => {
    const now = d.clock.mono();
    const hit = countsCache.get(q ?? '');
    if (hit && now - hit.at < COUNTS_TTL_MS) return hit.counts;
    if (countsCache.size > 200) countsCache.clear();
    const counts = db.counts(q);
    countsCache.set(q ?? '', { at: now, counts });
    counts.catch(() => countsCache.delete(q ?? ''));
    return counts;
  };

  /** The venue of `:venueId` as the judge reads it, or an answered 404 and null. */
  const venue = async (req: Request, res: Response): Promise<FaceRow | null> => {
    const id = String(req.params.venueId);
    const row = VenueId.safeParse(id).success ? (await db.faceRows([id]))[0] : undefined;
    if (!row) {
      fail(res, 404, 'unknown_venue', 'Такого заведения на этом сервере нет.', 'No such venue on this relay.');
      return null;
    }
    return row;
  };

  r.get('/console/api/venues', async (req, res, next) => {
    try {
      const t0 = performance.now();
      const parsed = ListQuery.safeParse(req.query);
      if (!parsed.success) return fail(res, 400, 'bad_request', 'Непонятный запрос списка.', 'Malformed list query.');
      const qy = parsed.data;
      // A venue made a moment ago (API or CLI) is judged before it is listed.
      await d.faces.judgeNew();
      const base = { q: qy.q ? fold(qy.q) : undefined, verdict: qy.verdict, sort: qy.sort, dir: qy.dir, limit: qy.limit };
      const spec: PageSpec = { ...base, after: decodeCursor(qy.cursor, base) };
      const t1 = performance.now();
      const rows = await db.page(spec);
      const more = rows.length > spec.limit;
      const page = rows.slice(0, spec.limit);
      if (spec.dir === 'prev') page.reverse();
      const [counts, extras] = await Promise.all([countsOf(spec.q), db.extras(page.map((x) => x.id))]);
      const t2 = performance.now();
      const time = timeIn(tzOf(req));
      const all = [...counts.values()].reduce((a, b) => a + b, 0);
      const first = page[0];
      const last = page[page.length - 1];
      const body: VenuePage = {
        venues: page.map((x) => rowOf(x, verdictOf(factsOf(x), qy.lang, time), extras.get(x.id), d.webhooks.everyVenue)),
        next: last && (spec.dir === 'next' ? more : spec.after !== undefined) ? encodeCursor(spec, keyOf(last, spec)) : null,
        prev: first && (spec.dir === 'prev' ? more : spec.after !== undefined) ? encodeCursor(spec, keyOf(first, spec)) : null,
        total: spec.verdict ? counts.get(spec.verdict) ?? 0 : all,
        counts: { all, ...Object.fromEntries(VERDICT_ORDER.map((v) => [v, counts.get(v) ?? 0])) } as VenuePage['counts'],
      };
      const t3 = performance.now();
      // Server-side time of the answer, for the bench and for anyone reading the network panel.
      res.setHeader('Server-Timing', `judge;dur=${(t1 - t0).toFixed(2)}, db;dur=${(t2 - t1).toFixed(2)}, total;dur=${(t3 - t0).toFixed(2)}`);
      res.json(body);
    } catch (e) { next(e); }
  });

  r.get('/console/api/venues/:venueId', async (req, res, next) => {
    try {
      const row = await venue(req, res);
      if (!row) return;
      const [extras, target, state] = await Promise.all([db.extras([row.id]), d.webhooks.target(row.id), d.store.feed.deliveryState(row.id)]);
      const face = verdictOf(factsOf(row), langOf(req), timeIn(tzOf(req)));
      const webhook: ConsoleWebhook = {
        url: target ? maskUrl(target.url) : null, source: target?.source ?? null, backlog: target ? state.backlog : 0, attempts: state.attempts,
        nextAttemptAt: iso(state.nextAt), lastError: scrub(state.lastError, target?.url ?? null), lastDeliveredAt: iso(state.deliveredAt),
      };
      const body: VenueDetail = {
        venue: rowOf(row, face, extras.get(row.id), d.webhooks.everyVenue),
        face: { tone: face.tone as Verdict, sentence: face.sentence, since: face.since, todo: face.todo, cards: face.cards },
        createdAt: new Date(row.createdAt).toISOString(), pairedAt: iso(row.pairedAt), revoked: row.revokedAt !== null,
        hostname: row.companionHostname, reported: row.statusJson !== null, webhook,
      };
      res.json(body);
    } catch (e) { next(e); }
  });

  r.get('/console/api/venues/:venueId/events', async (req, res, next) => {
    try {
      const row = await venue(req, res);
      if (!row) return;
      const body: RecentEvents = { events: (await db.recentEvents(row.id, limitOf(req.query.limit, 30, 200))).map((e) => ({ storedAt: new Date(e.storedAt).toISOString(), event: e.event })) };
      res.json(body);
    } catch (e) { next(e); }
  });

  r.get('/console/api/venues/:venueId/payments', async (req, res, next) => {
    try {
      const row = await venue(req, res);
      if (!row) return;
      const body: PaymentList = { payments: await db.payments(row.id, limitOf(req.query.limit, 50, 500)) };
      res.json(body);
    } catch (e) { next(e); }
  });

  r.get('/console/api/venues/:venueId/audit', async (req, res, next) => {
    try {
      const row = await venue(req, res);
      if (!row) return;
      const body: AuditList = {
        entries: (await db.audit(row.id, limitOf(req.query.limit, 50, 500))).map((a) => ({ at: new Date(a.at).toISOString(), action: a.action, outcome: a.outcome, by: { key: a.keyFp, ip: a.ip } })),
      };
      res.json(body);
    } catch (e) { next(e); }
  });

  r.post('/console/api/venues/:venueId/webhook/retry', async (req, res, next) => {
    try {
      const row = await venue(req, res);
      if (!row) return;
      const target = await d.webhooks.target(row.id);
      if (!target) {
        d.audit(req, row.id, 'webhook-retry', 'no_webhook');
        return fail(res, 409, 'no_webhook', 'У заведения нет вебхука: повторять нечего.', 'The venue has no webhook: nothing to retry.');
      }
      const due = await db.retryWebhookNow(row.id);
      // Here at once; every other node's worker finds it due at its next poll (a second).
      d.webhooks.kick(row.id);
      d.audit(req, row.id, 'webhook-retry', due ? 'done' : 'nothing_pending');
      d.log.info('console: webhook retry now', { venueId: row.id, by: d.callerOf(req).fp });
      res.json({ ok: true, scheduled: due });
    } catch (e) { next(e); }
  });

  return r;
}
