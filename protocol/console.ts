/**
 * The support console's contract (docs/console.md): what the page served at
 * /console/ sends to the relay under /console/api/ and gets back. The venue's
 * verdict in these answers is the companion's own face (face/face.ts),
 * computed by the relay from what the companion reported.
 */
import { z } from 'zod';
import { Envelope, PaymentView } from './events.ts';

/** The session cookie: HttpOnly, SameSite=Strict, Path=/console; its value is a random session id, never the API key. */
export const CONSOLE_COOKIE = 'evva_console';
/** A session ends this long after sign-in, used or not (a support shift); then the key is asked again. */
export const SESSION_TTL_MS = 8 * 3600_000;
/** A wrong key is answered this long after it arrived: guessing goes no faster than this per connection. */
export const SIGNIN_FAIL_DELAY_MS = 1_000;
/** Venues on one page of the list unless the page asks for another size (at most VENUE_PAGE_MAX). */
export const VENUE_PAGE = 50;
export const VENUE_PAGE_MAX = 200;
/** Backlogs are counted up to this (a receiver down for days would make the count itself slow); above it the page says "more than". */
export const BACKLOG_COUNT_MAX = 10_000;

/** The verdict's tone, as the companion's face names it (face/face.ts Tone). */
export const Verdict = z.enum(['red', 'amber', 'green', 'grey']);
export type Verdict = z.infer<typeof Verdict>;
/** Worst first: the order the default sort and the filter chips use. */
export const VERDICT_ORDER: readonly Verdict[] = ['red', 'amber', 'grey', 'green'];

/** verdict: worst first, longest in that state first; name: A→Я; created: newest first. */
export const VenueSort = z.enum(['verdict', 'name', 'created']);
export type VenueSort = z.infer<typeof VenueSort>;

export const Lang = z.enum(['ru', 'en']);

/** `POST /console/api/session`: sign in with an API key (the body is the only place the key travels). */
export const SignInRequest = z.strictObject({ key: z.string().min(1).max(512) });
/** The session, as the page may know it: who (the key's fingerprint, never the key) and until when. */
export const SessionView = z.object({ key: z.string(), expiresAt: z.string() });
export type SessionView = z.infer<typeof SessionView>;

/** `GET /console/api/venues?…`: search (name or id), filter, sort, and a page after (or before) a cursor. */
export const ListQuery = z.object({
  q: z.string().trim().max(100).optional(),
  verdict: Verdict.optional(),
  sort: VenueSort.default('verdict'),
  /** An opaque cursor from a previous page's `next` or `prev`. */
  cursor: z.string().max(600).optional(),
  dir: z.enum(['next', 'prev']).default('next'),
  limit: z.coerce.number().int().min(1).max(VENUE_PAGE_MAX).default(VENUE_PAGE),
  lang: Lang.default('ru'),
  /** The reader's time zone (IANA), for the times inside sentences; default the relay's. */
  tz: z.string().max(64).optional(),
});
export type ListQuery = z.infer<typeof ListQuery>;

/** A card of the face (face/face.ts Card). */
export const CardView = z.object({
  id: z.enum(['front', 'tunnel', 'port', 'feed']),
  title: z.string(),
  tone: z.enum(['green', 'amber', 'red', 'grey', 'none']),
  state: z.string(),
  detail: z.string().nullable(),
});
/** The venue's face (face/face.ts Face) in the asked language. */
export const FaceView = z.object({
  tone: Verdict,
  sentence: z.string(),
  since: z.string().nullable(),
  todo: z.string().nullable(),
  cards: z.array(CardView),
});
export type FaceView = z.infer<typeof FaceView>;

/** One row of the venues list. */
export const VenueRow = z.object({
  venueId: z.string(),
  name: z.string(),
  /** A tunnel is up on some relay node now. */
  online: z.boolean(),
  /** Online: since the tunnel came up; offline: since the relay last heard the companion (null: never). */
  since: z.string().nullable(),
  verdict: z.object({ tone: Verdict, sentence: z.string() }),
  companionVersion: z.string().nullable(),
  pluginVersion: z.string().nullable(),
  lastEvent: z.object({ type: z.string(), at: z.string() }).nullable(),
  /** Events stored and not yet delivered, or null when no webhook is set for the venue; `more`: at least that many. */
  webhook: z.object({ backlog: z.number().int(), more: z.boolean() }).nullable(),
  /** EVVA PAY payments not yet closed in iiko (queued, notified, pending-close), and alarms (mismatch, order deleted). */
  payments: z.object({ waiting: z.number().int(), alarms: z.number().int() }),
});
export type VenueRow = z.infer<typeof VenueRow>;

export const VenuePage = z.object({
  venues: z.array(VenueRow),
  /** Cursors of the following and the preceding page (null at either end). */
  next: z.string().nullable(),
  prev: z.string().nullable(),
  /** Venues matching the search and the filter, and per verdict those matching the search. */
  total: z.number().int(),
  counts: z.object({ all: z.number().int(), red: z.number().int(), amber: z.number().int(), green: z.number().int(), grey: z.number().int() }),
});
export type VenuePage = z.infer<typeof VenuePage>;

/** Where the venue's events go and how delivery stands (protocol/relay.ts WebhookView, with the URL's credentials masked). */
export const ConsoleWebhook = z.object({
  url: z.string().nullable(),
  source: z.enum(['venue', 'relay']).nullable(),
  backlog: z.number().int(),
  attempts: z.number().int(),
  nextAttemptAt: z.string().nullable(),
  lastError: z.string().nullable(),
  lastDeliveredAt: z.string().nullable(),
});
export type ConsoleWebhook = z.infer<typeof ConsoleWebhook>;

/** `GET /console/api/venues/:id`: the row, the face with its cards, and what the page shows around it. */
export const VenueDetail = z.object({
  venue: VenueRow,
  face: FaceView,
  createdAt: z.string(),
  pairedAt: z.string().nullable(),
  revoked: z.boolean(),
  /** The POS PC's name as the companion reported it. */
  hostname: z.string().nullable(),
  /** True when the verdict comes from the companion's own status; false when the relay only knows the plugin state (an older companion, or never connected). */
  reported: z.boolean(),
  webhook: ConsoleWebhook,
});
export type VenueDetail = z.infer<typeof VenueDetail>;

/** `GET /console/api/venues/:id/events`: the newest events first. */
export const RecentEvents = z.object({ events: z.array(z.object({ storedAt: z.string(), event: Envelope })) });
export type RecentEvents = z.infer<typeof RecentEvents>;

/** `GET /console/api/venues/:id/payments`: newest first. */
export const PaymentList = z.object({ payments: z.array(PaymentView) });
export type PaymentList = z.infer<typeof PaymentList>;

/** One support action on a venue, as the relay audited it. */
export const AuditRow = z.object({
  at: z.string(),
  /** diagnose, logs, bundle, pairing, revoke, webhook-retry */
  action: z.string(),
  /** done, or why not (disabled, venue_offline, timeout, …) */
  outcome: z.string(),
  /** The caller's API-key fingerprint and address. */
  by: z.object({ key: z.string(), ip: z.string() }),
});
export type AuditRow = z.infer<typeof AuditRow>;
export const AuditList = z.object({ entries: z.array(AuditRow) });
export type AuditList = z.infer<typeof AuditList>;

/** Every console error: a stable code, Russian for people, English beside it. */
export const ConsoleError = z.object({ error: z.string(), message: z.string(), messageEn: z.string() });
export type ConsoleError = z.infer<typeof ConsoleError>;
