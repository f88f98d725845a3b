/**
 * The relay's HTTP API (docs/relay.md): what the EVVA backend, the relay CLI
 * and the companion's `pair` command send and receive.
 */
import { z } from 'zod';
import { FrontStatus } from './local.ts';

/** Pairing codes: 8 characters from an alphabet without 0/O/1/I, shown as `K7QF-2MXD`. */
export const PAIRING_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
export const PAIRING_CODE_RE = /^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/;
/** How long a pairing code is valid. */
export const PAIRING_TTL_MS = 15 * 60_000;

export const VenueId = z.string().regex(/^ven_[a-z0-9]{8,32}$/);

export const CreateVenueRequest = z.object({ name: z.string().trim().min(1).max(200) });
export type CreateVenueRequest = z.infer<typeof CreateVenueRequest>;

/** `POST /v1/venues`, `POST /v1/venues/:id/pairing` and `evva-relay venue add --json`. */
export const CreateVenueResponse = z.object({
  venueId: z.string(),
  pairingCode: z.string(),
  /** ISO time after which the code is refused. */
  pairingExpiresAt: z.string(),
});
export type CreateVenueResponse = z.infer<typeof CreateVenueResponse>;

export const CompanionInfo = z.object({ version: z.string().min(1).max(64), hostname: z.string().min(1).max(255) });
export type CompanionInfo = z.infer<typeof CompanionInfo>;

/** `POST /v1/pair`: the code is the credential (no API key). Case, spaces and a missing dash are forgiven. */
export const PairRequest = z.object({ pairingCode: z.string().min(1).max(32), companion: CompanionInfo });
export type PairRequest = z.infer<typeof PairRequest>;

export const PairResponse = z.object({ venueId: z.string(), deviceToken: z.string().min(20) });
export type PairResponse = z.infer<typeof PairResponse>;

/** `GET /v1/venues/:id` and each item of `GET /v1/venues`. */
export const VenueView = z.object({
  venueId: z.string(),
  name: z.string(),
  createdAt: z.string(),
  /** True while a tunnel is up. */
  online: z.boolean(),
  /** When the current (or, offline, the last) tunnel connected. */
  connectedAt: z.string().nullable(),
  /** When the relay last heard anything from the venue's companion. */
  lastSeenAt: z.string().nullable(),
  pairedAt: z.string().nullable(),
  /** True when the venue's device token was revoked (pair again with a new code). */
  revoked: z.boolean(),
  companion: CompanionInfo.nullable(),
  /** The plugin state as the companion last reported it. */
  front: FrontStatus.nullable(),
});
export type VenueView = z.infer<typeof VenueView>;

/** Most venues one page of `GET /v1/venues` holds (also the default page size). */
export const VENUE_PAGE_MAX = 1_000;
/** A page of `GET /v1/venues?limit=N&after=CURSOR`: `next` is the cursor of the following page, null on the last. */
export const VenueList = z.object({ venues: z.array(VenueView), next: z.string().nullable().optional() });
export type VenueList = z.infer<typeof VenueList>;

/** Every error the relay answers with. `error` is a stable code, `message` is for people. */
export const ErrorBody = z.object({ error: z.string(), message: z.string().optional() });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Error codes of the relay API (docs/relay.md lists the HTTP status of each). */
export const RelayErrorCode = {
  unauthorized: 'unauthorized',       // 401 no credentials
  forbidden: 'forbidden',             // 403 wrong API key, or the companion refused the path
  unknownVenue: 'unknown_venue',      // 404
  notFound: 'not_found',              // 404 no such route
  badRequest: 'bad_request',          // 400
  invalidCode: 'invalid_code',        // 404 pairing: no such code
  codeExpired: 'code_expired',        // 410 pairing
  codeUsed: 'code_used',              // 409 pairing
  rateLimited: 'rate_limited',        // 429 pairing, with Retry-After
  venueOffline: 'venue_offline',      // 503
  timeout: 'timeout',                 // 504
  unreachable: 'plugin_unreachable',  // 502
  badGateway: 'bad_gateway',          // 502
  unlicensed: 'plugin_unlicensed',    // 502
  tooLarge: 'too_large',              // 413
  overloaded: 'overloaded',           // 503
} as const;

/** A request header the EVVA backend may send to shorten or lengthen one call's timeout (ms); never forwarded. */
export const TIMEOUT_HEADER = 'x-evva-timeout-ms';

// ---- The feed on the relay (docs/relay.md "Events", "Webhooks", "Payments") ----

/** `GET /v1/venues/:id/events?after=SEQ&limit=N`: events with seq > after, in seq order. */
export const EventsQuery = z.object({
  after: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** Its answer: `events` are WebhookEvents (protocol/events.ts); pass `nextAfter` as `after` for the next page. */
export const EventPage = z.object({
  events: z.array(z.unknown()),
  nextAfter: z.number().int().nonnegative(),
  /** True when the page is full: more events may follow. */
  more: z.boolean(),
});
export type EventPage = z.infer<typeof EventPage>;

/** `GET /v1/venues/:id/events/refused?limit=N`: events the relay recorded as refused (never delivered), newest first. */
export const RefusedList = z.object({
  refused: z.array(z.object({ eventId: z.string(), seq: z.number().int(), eventType: z.string().nullable(), reason: z.string(), at: z.string() })),
});
export type RefusedList = z.infer<typeof RefusedList>;

/** Shortest webhook secret accepted: shorter ones are guessable. */
export const MIN_WEBHOOK_SECRET_CHARS = 16;

export const WebhookUrl = z.string().url().max(2000).refine((u) => /^https?:\/\//i.test(u), 'only http(s) URLs');

/** `PUT /v1/venues/:id/webhook`: this venue's events go to `url` instead of the relay-wide one. */
export const WebhookSettings = z.object({
  url: WebhookUrl,
  secret: z.string().min(MIN_WEBHOOK_SECRET_CHARS).max(200),
});
export type WebhookSettings = z.infer<typeof WebhookSettings>;

/** `GET /v1/venues/:id/webhook`: where the venue's events go (never the secret) and how delivery stands. */
export const WebhookView = z.object({
  url: z.string().nullable(),
  /** `venue`: set through the API; `relay`: the relay-wide --webhook-url; null: no webhook. */
  source: z.enum(['venue', 'relay']).nullable(),
  backlog: z.number().int(),
  attempts: z.number().int(),
  nextAttemptAt: z.string().nullable(),
  lastError: z.string().nullable(),
  lastDeliveredAt: z.string().nullable(),
});
export type WebhookView = z.infer<typeof WebhookView>;

/** Extra error codes of the feed routes. */
export const FeedErrorCode = {
  conflict: 'payment_conflict',       // 409 same paymentId, different notice
  unsupported: 'unsupported',         // 501 the companion does not implement the command
  commandFailed: 'command_failed',    // 502 the companion could not run the command
  destination: 'destination_not_allowed', // 400 a webhook URL that is not a public address (docs/relay.md "Webhooks")
} as const;
