/**
 * The relay's HTTP API (docs/relay.md): what the EVVA backend, the relay CLI
 * and the companion's `pair` command send and receive.
 */
import { z } from 'zod';
import { FrontStatus } from './local.ts';

/** Pairing codes: 8 characters from an alphabet without 0/O/1/I, shown as `K7QF-2MXD`. */
export const PAIRING_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
export const PAIRING_CODE_RE = /^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/;

/** A pairing code as typed (any case, with or without the dash or spaces) in its one form, or null when it cannot be one. */
export function normalizePairingCode(typed: string): string | null {
  const code = typed.toUpperCase().replace(/[\s-]/g, '');
  const pretty = `${code.slice(0, 4)}-${code.slice(4)}`;
  return PAIRING_CODE_RE.test(pretty) ? pretty : null;
}
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

/** `venueName` (since issue 20): the name EVVA gave the venue, so the companion shows it instead of the id. */
export const PairResponse = z.object({ venueId: z.string(), deviceToken: z.string().min(20), venueName: z.string().max(200).optional() });
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

/**
 * How a receiver takes the events: `evva`, the relay's own envelope signed with
 * the secret; `iiko-cloud`, the body an iiko Cloud webhook handler takes
 * (docs/relay.md "iiko Cloud format"), authenticated with its `authToken`.
 */
export const WebhookFormat = z.enum(['evva', 'iiko-cloud']);
export type WebhookFormat = z.infer<typeof WebhookFormat>;

/** An iiko id (organization, terminal group): a UUID, as iiko Cloud writes them. */
export const IikoId = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'a UUID').transform((v) => v.toLowerCase());

/**
 * `PUT /v1/venues/:id/webhook`: this venue's events go to `url` instead of the
 * relay-wide one. `evva` needs the HMAC `secret`; `iiko-cloud` needs the
 * `authToken` a Cloud handler registered (sent as `Authorization`), and signs
 * with the secret too when one is given.
 */
export const WebhookSettings = z.object({
  url: WebhookUrl,
  secret: z.string().min(MIN_WEBHOOK_SECRET_CHARS).max(200).optional(),
  format: WebhookFormat.default('evva'),
  authToken: z.string().min(1).max(500).optional(),
}).superRefine((v, ctx) => {
  if (v.format === 'evva' && !v.secret) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'the evva format needs a secret' });
  if (v.format === 'iiko-cloud' && !v.authToken) ctx.addIssue({ code: 'custom', path: ['authToken'], message: 'the iiko-cloud format needs the authToken the handler expects' });
});
export type WebhookSettings = z.infer<typeof WebhookSettings>;

/** `PUT /v1/venues/:id`: the venue's iiko ids, which the iiko-cloud webhook format names (null clears one). */
export const VenueIikoSettings = z.strictObject({
  iikoOrganizationId: IikoId.nullable().optional(),
  /** Cloud's order bodies require a terminal group; without one they carry the empty GUID. */
  iikoTerminalGroupId: IikoId.nullable().optional(),
});
export type VenueIikoSettings = z.infer<typeof VenueIikoSettings>;

/** `GET /v1/venues/:id/webhook`: where the venue's events go (never the secret) and how delivery stands. */
export const WebhookView = z.object({
  url: z.string().nullable(),
  /** `venue`: set through the API; `relay`: the relay-wide --webhook-url; null: no webhook. */
  source: z.enum(['venue', 'relay']).nullable(),
  /** The receiver's format; null without a webhook. */
  format: WebhookFormat.nullable().optional(),
  /** Why nothing can be delivered now, in English, e.g. the iiko-cloud format without the venue's iiko organization id. */
  problem: z.string().nullable().optional(),
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
