/**
 * The support console's queries (relay/console/), on SQLite and Postgres
 * alike: the venues list (search, verdict filter, three sorts, keyset pages:
 * every shape walks an index, so a page costs the same at 10 or 10 000
 * venues), the verdict columns the relay keeps per venue, sessions, the audit
 * of support actions, and a venue's recent events and payments.
 */
import { sql, type Expression, type Kysely, type Selectable, type SqlBool } from 'kysely';
import type { Envelope, PaymentView } from '../../protocol/events.ts';
import { BACKLOG_COUNT_MAX, VERDICT_ORDER, type Verdict, type VenueSort } from '../../protocol/console.ts';
import type { Db } from './open.ts';
import type { Tables } from './schema.ts';

/** What the judge reads of a venue (relay/console/verdict.ts turns it into the companion's face). */
export interface FaceRow {
  id: string;
  name: string;
  createdAt: number;
  pairedAt: number | null;
  revokedAt: number | null;
  companionVersion: string | null;
  companionHostname: string | null;
  connectedAt: number | null;
  lastSeenAt: number | null;
  frontJson: string | null;
  statusJson: string | null;
  onlineLink: string | null;
  tone: Verdict | null;
  since: number;
  judgedAt: number | null;
}

/** The judged verdict written back, with what changed it. */
export interface FaceWrite {
  tone: Verdict;
  /** Written by the judge, which reads the name; a report leaves it as it is. */
  searchKey?: string;
  /** Set (or, with null, clear) the link the venue is online through. */
  onlineLink?: string | null;
  /** Replace the reported status (null: none yet on this connection). */
  statusJson?: string | null;
  lastSeenAt?: number;
}

export interface PageSpec {
  /** Folded like the search key (relay/console/verdict.ts fold). */
  q?: string;
  verdict?: Verdict;
  sort: VenueSort;
  /** The sort key of the row the page starts after (next) or ends before (prev). */
  after?: Array<string | number>;
  dir: 'next' | 'prev';
  limit: number;
}

/** A venue's extras the list shows beside the verdict, for one page of ids. */
export interface RowExtras {
  lastEvent: { type: string; at: number } | null;
  backlog: number;
  ownHook: boolean;
  waiting: number;
  alarms: number;
}

export interface SessionRow { keyFp: string; expiresAt: number }
export interface AuditWrite { venueId: string; at: number; action: string; outcome: string; keyFp: string; ip: string }

/** Verdicts per UPDATE of the judge: six parameters each, far under either dialect's limit. */
const FACE_CHUNK = 100;

/** Payment states a cashier still has to act on, and the alarming ones (protocol/events.ts PaymentState). */
const WAITING = ['queued', 'notified', 'pending-close'];
const ALARMS = ['mismatch', 'order-deleted'];

const FACE_COLUMNS = [
  'id', 'name', 'created_at', 'paired_at', 'revoked_at', 'companion_version', 'companion_hostname', 'connected_at', 'last_seen_at',
  'front_json', 'status_json', 'online_link', 'face_tone', 'face_since', 'face_at',
] as const;

type RawFace = Pick<Selectable<Tables['venues']>, (typeof FACE_COLUMNS)[number]>;
const toFace = (r: RawFace): FaceRow => ({
  id: r.id, name: r.name, createdAt: r.created_at, pairedAt: r.paired_at, revokedAt: r.revoked_at,
  companionVersion: r.companion_version, companionHostname: r.companion_hostname, connectedAt: r.connected_at, lastSeenAt: r.last_seen_at,
  frontJson: r.front_json, statusJson: r.status_json, onlineLink: r.online_link, tone: r.face_tone as Verdict | null,
  since: Number(r.face_since), judgedAt: r.face_at,
});

/** The columns a sort orders by (all in one direction) and whether it runs newest first. */
function keysOf(sort: VenueSort, filtered: boolean): { cols: Array<'face_rank' | 'face_since' | 'name' | 'created_at' | 'id'>; desc: boolean } {
  if (sort === 'name') return { cols: ['name', 'id'], desc: false };
  if (sort === 'created') return { cols: ['created_at', 'id'], desc: true };
  // Under a verdict filter the rank is one value: ordering by it too would keep the planner off the (tone, since, id) index.
  return { cols: filtered ? ['face_since', 'id'] : ['face_rank', 'face_since', 'id'], desc: false };
}

export class ConsoleStore {
  private readonly db: Kysely<Tables>;

  constructor(private readonly base: Db) {
    this.db = base.db;
  }

  // ---- verdicts -------------------------------------------------------------

  /** The venues of these ids as the judge reads them. */
  async faceRows(ids: string[]): Promise<FaceRow[]> {
    if (ids.length === 0) return [];
    return (await this.db.selectFrom('venues').select([...FACE_COLUMNS]).where('id', 'in', ids).execute()).map(toFace);
  }

  /**
   * Venues whose verdict may be out of date because something changed behind
   * this relay's back: never judged (made since), paired or revoked since
   * `changedSince` after they were judged (by another process: the CLI), or
   * online through a tunnel not heard of since `staleBefore` (its node died).
   * At most `limit` of each kind; every query is an index range, not a scan.
   */
  async dirtyRows(staleBefore: number, changedSince: number, limit: number): Promise<FaceRow[]> {
    const base = () => this.db.selectFrom('venues').select([...FACE_COLUMNS]);
    const [unjudged, stale, paired, revoked] = await Promise.all([
      base().where('face_at', 'is', null).limit(limit).execute(),
      base().where('online_link', 'is not', null).where('last_seen_at', '<', staleBefore).where('face_at', 'is not', null).limit(limit).execute(),
      base().where('paired_at', '>=', changedSince).where('paired_at', '>=', (eb) => eb.ref('face_at')).limit(limit).execute(),
      base().where('revoked_at', '>=', changedSince).where('revoked_at', '>=', (eb) => eb.ref('face_at')).limit(limit).execute(),
    ]);
    const seen = new Set<string>();
    return [...unjudged, ...stale, ...paired, ...revoked].filter((r) => !seen.has(r.id) && seen.add(r.id)).map(toFace);
  }

  /** True when some venue was never judged (one probe of a partial index: what every list checks first). */
  async anyUnjudged(): Promise<boolean> {
    return (await this.db.selectFrom('venues').select('id').where('face_at', 'is', null).limit(1).executeTakeFirst()) !== undefined;
  }

  /**
   * Writes a verdict if the venue is still online through `expectLink` (null:
   * offline) as when it was judged: a tunnel that came up or went meanwhile
   * (here or on another node) wins, and judges again itself. The tone's
   * `since` moves only when the tone changes. Returns whether it was written.
   */
  async writeFace(venueId: string, expectLink: string | null, w: FaceWrite, now: number): Promise<boolean> {
    return this.faceUpdate(this.db, venueId, expectLink, w, now);
  }

  /**
   * The judge's verdicts for many venues (tone, search key, and a stale link
   * taken away), each under writeFace's condition, a hundred to a statement in
   * one transaction: judging thousands of venues (a first start, a node's
   * restart) costs a few statements, not a round trip and a commit each.
   */
  async writeFaces(writes: Array<{ venueId: string; expectLink: string | null; w: Pick<FaceWrite, 'tone' | 'searchKey' | 'onlineLink'> }>, now: number): Promise<number> {
    if (writes.length === 0) return 0;
    return this.base.tx(async (t) => {
      let n = 0;
      for (let i = 0; i < writes.length; i += FACE_CHUNK) {
        const rows = sql.join(writes.slice(i, i + FACE_CHUNK).map((x) => sql`(${x.venueId}, ${x.w.tone}, ${String(VERDICT_ORDER.indexOf(x.w.tone))}, ${x.w.searchKey ?? null}, ${x.expectLink}, ${x.w.onlineLink === null ? '1' : '0'})`));
        // VALUES columns are column1..column6 on both dialects; Postgres reads the parameters as text.
        const r = await sql`update venues set
            face_tone = v.column2, face_rank = cast(v.column3 as integer),
            face_since = case when venues.face_tone is null or venues.face_tone <> v.column2 then ${now} else venues.face_since end,
            face_at = ${now}, search_key = coalesce(v.column4, venues.search_key),
            online_link = case when v.column6 = '1' then null else venues.online_link end
          from (values ${rows}) as v
          where venues.id = v.column1 and (venues.online_link = v.column5 or (venues.online_link is null and v.column5 is null))`.execute(t);
        n += Number(r.numAffectedRows ?? 0n);
      }
      return n;
    });
  }

  private async faceUpdate(db: Kysely<Tables>, venueId: string, expectLink: string | null, w: FaceWrite, now: number): Promise<boolean> {
    const r = await db.updateTable('venues')
      .set((eb) => ({
        face_tone: w.tone,
        face_rank: VERDICT_ORDER.indexOf(w.tone),
        face_since: eb.case().when(eb.or([eb('face_tone', 'is', null), eb('face_tone', '<>', w.tone)])).then(now).else(eb.ref('face_since')).end(),
        face_at: now,
        ...(w.searchKey !== undefined ? { search_key: w.searchKey } : {}),
        ...(w.onlineLink !== undefined ? { online_link: w.onlineLink } : {}),
        ...(w.statusJson !== undefined ? { status_json: w.statusJson } : {}),
        ...(w.lastSeenAt !== undefined ? { last_seen_at: sql<number>`case when coalesce(last_seen_at, 0) < ${w.lastSeenAt} then ${w.lastSeenAt} else last_seen_at end` } : {}),
      }))
      .where('id', '=', venueId)
      .where((eb) => (expectLink === null ? eb('online_link', 'is', null) : eb('online_link', '=', expectLink)))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Marks the venue online through `link` (whatever held it before: the newest tunnel is the venue's). */
  async linkUp(venueId: string, link: string): Promise<void> {
    await this.db.updateTable('venues').set({ online_link: link, status_json: null, face_at: null }).where('id', '=', venueId).execute();
  }

  /**
   * Forgets the links a node held before it restarted (`<node>/…`), or every
   * link (a single relay: no other node holds any), and has those venues
   * judged again (offline now, unless their companion is back already).
   */
  async forgetLinks(node: string | null): Promise<number> {
    const prefix = `${node}/`;
    const r = await this.db.updateTable('venues').set({ online_link: null, face_at: null })
      .where('online_link', 'is not', null)
      .$if(node !== null, (q) => q.where(sql<string>`substr(online_link, 1, ${sql.lit(prefix.length)})`, '=', prefix))
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  // ---- the list ----------------------------------------------------------------

  /** One page in the spec's order, plus one more row when there is more in that direction. */
  async page(spec: PageSpec): Promise<Array<FaceRow & { rank: number }>> {
    const { cols, desc } = keysOf(spec.sort, spec.verdict !== undefined);
    // prev walks backwards from the cursor; the caller reverses the rows.
    const forward = spec.dir === 'next';
    const ascending = forward !== desc;
    let q = this.db.selectFrom('venues').select([...FACE_COLUMNS, 'face_rank']);
    if (spec.verdict) q = q.where('face_tone', '=', spec.verdict);
    if (spec.q) q = q.where(contains(spec.q));
    if (spec.after && spec.after.length === cols.length) {
      const left = sql.join(cols.map((c) => sql.ref(c)));
      const right = sql.join(spec.after.map((v) => sql`${v}`));
      q = q.where(sql<SqlBool>`(${left}) ${sql.raw(ascending ? '>' : '<')} (${right})` as Expression<SqlBool>);
    }
    for (const c of cols) q = q.orderBy(c, ascending ? 'asc' : 'desc');
    const rows = await q.limit(spec.limit + 1).execute();
    return rows.map((r) => ({ ...toFace(r), rank: r.face_rank }));
  }

  /** How many venues match the search, per tone (never-judged ones under null). */
  async counts(q?: string): Promise<Map<Verdict | null, number>> {
    const rows = await this.db.selectFrom('venues').select(['face_tone', (eb) => eb.fn.countAll<number>().as('n')])
      .$if(!!q, (x) => x.where(contains(q!)))
      .groupBy('face_tone').execute();
    return new Map(rows.map((r) => [r.face_tone as Verdict | null, Number(r.n)]));
  }

  /**
   * The list's extras for a page of venues, in three statements planned once
   * each (not a subquery per venue: Postgres would plan every one of them):
   * the last event, the webhook backlog past the venue's delivery cursor
   * (counted up to `cap` + 1 on the (venue, id) index), whether it
   * has its own receiver, payments waiting and alarms.
   */
  async extras(ids: string[], cap = BACKLOG_COUNT_MAX): Promise<Map<string, RowExtras>> {
    if (ids.length === 0) return new Map();
    const after = sql`coalesce(s.delivered_id, 0)`;
    const [heads, pays] = await Promise.all([
      sql<{ venue_id: string; last_id: number | null; backlog: number; own_hook: number }>`select v.id as venue_id,
        (select max(e.id) from feed_events e where e.venue_id = v.id) as last_id,
        (select count(*) from feed_events e where e.venue_id = v.id and e.id > ${after} and e.id <= coalesce(
          (select e2.id from feed_events e2 where e2.venue_id = v.id and e2.id > ${after} order by e2.id limit 1 offset ${sql.lit(Math.floor(cap))}),
          ${sql.lit(Number.MAX_SAFE_INTEGER)})) as backlog,
        (select count(*) from webhook_targets t where t.venue_id = v.id) as own_hook
        from venues v left join webhook_state s on s.venue_id = v.id
        where v.id in (${sql.join(ids)})`.execute(this.db),
      this.db.selectFrom('payments').select(['venue_id', 'state', (eb) => eb.fn.countAll<number>().as('n')])
        .where('venue_id', 'in', ids).where('state', 'in', [...WAITING, ...ALARMS]).groupBy(['venue_id', 'state']).execute(),
    ]);
    const lastIds = heads.rows.map((h) => h.last_id).filter((x): x is number => x !== null).map(Number);
    const last = lastIds.length
      ? await this.db.selectFrom('feed_events').select(['id', 'event_type', 'stored_at']).where('id', 'in', lastIds).execute()
      : [];
    const byId = new Map(last.map((e) => [Number(e.id), e]));
    const out = new Map<string, RowExtras>(heads.rows.map((h) => {
      const e = h.last_id !== null ? byId.get(Number(h.last_id)) : undefined;
      return [h.venue_id, { lastEvent: e ? { type: e.event_type, at: Number(e.stored_at) } : null, backlog: Number(h.backlog), ownHook: Number(h.own_hook) > 0, waiting: 0, alarms: 0 }];
    }));
    for (const p of pays) {
      const x = out.get(p.venue_id);
      if (!x) continue;
      if (WAITING.includes(p.state)) x.waiting += Number(p.n);
      else x.alarms += Number(p.n);
    }
    return out;
  }

  // ---- one venue -------------------------------------------------------------------

  /** The venue's newest events first. */
  async recentEvents(venueId: string, limit: number): Promise<Array<{ storedAt: number; event: Envelope }>> {
    const rows = await this.db.selectFrom('feed_events').select(['body', 'stored_at']).where('venue_id', '=', venueId).orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({ storedAt: Number(r.stored_at), event: JSON.parse(r.body) as Envelope }));
  }

  /** The venue's payments, newest first. */
  async payments(venueId: string, limit: number): Promise<PaymentView[]> {
    const rows = await this.db.selectFrom('payments').select('view').where('venue_id', '=', venueId).orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => JSON.parse(r.view) as PaymentView);
  }

  /** "Retry now": the venue's next webhook attempt is due at once (whichever node's worker polls next takes it). */
  async retryWebhookNow(venueId: string): Promise<boolean> {
    const r = await this.db.updateTable('webhook_state').set({ next_at: null }).where('venue_id', '=', venueId).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  // ---- sessions ----------------------------------------------------------------------

  async addSession(idHash: string, keyFp: string, ip: string, now: number, expiresAt: number): Promise<void> {
    await this.db.insertInto('console_sessions').values({ id: idHash, key_fp: keyFp, ip: ip.slice(0, 64), created_at: now, expires_at: expiresAt }).execute();
  }

  /** The live session of this id hash, or null (unknown, ended, or expired by `now`). */
  async session(idHash: string, now: number): Promise<SessionRow | null> {
    const r = await this.db.selectFrom('console_sessions').select(['key_fp', 'expires_at']).where('id', '=', idHash).executeTakeFirst();
    return r && Number(r.expires_at) > now ? { keyFp: r.key_fp, expiresAt: Number(r.expires_at) } : null;
  }

  async endSession(idHash: string): Promise<void> {
    await this.db.deleteFrom('console_sessions').where('id', '=', idHash).execute();
  }

  /** Drops expired sessions; returns how many. */
  async purgeSessions(now: number): Promise<number> {
    const r = await this.db.deleteFrom('console_sessions').where('expires_at', '<=', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  // ---- audit -------------------------------------------------------------------------

  async addAudit(a: AuditWrite): Promise<void> {
    await this.db.insertInto('support_audit').values({
      venue_id: a.venueId, at: a.at, action: a.action.slice(0, 40), outcome: a.outcome.slice(0, 40), key_fp: a.keyFp.slice(0, 32), ip: a.ip.slice(0, 64),
    }).execute();
  }

  /** The venue's audited support actions, newest first. */
  async audit(venueId: string, limit: number): Promise<AuditWrite[]> {
    const rows = await this.db.selectFrom('support_audit').selectAll().where('venue_id', '=', venueId).orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({ venueId: r.venue_id, at: Number(r.at), action: r.action, outcome: r.outcome, keyFp: r.key_fp, ip: r.ip }));
  }
}

/** The search as a LIKE pattern, matched anywhere; `%`, `_` and the backslash in it are taken literally (an explicit ESCAPE: SQLite has no default one). */
function contains(needle: string) {
  return sql<SqlBool>`search_key like ${`%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} escape '\\'`;
}
