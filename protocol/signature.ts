/**
 * The webhook signature: the one implementation the relay signs with and
 * every receiver in this repository (the demo's, the chaos soak's, the tests')
 * checks with. Documented for EVVA's receiver in docs/relay.md ("Webhooks").
 *
 *   X-Evva-Delivery:  dlv_…                 (the batch; the same on every retry)
 *   X-Evva-Timestamp: 1764331200            (unix seconds when this attempt was signed)
 *   X-Evva-Signature: v1=<hex HMAC-SHA256>  of `${delivery}.${timestamp}.${raw body}`, keyed with the secret
 *
 * The timestamp is signed with the body, so a captured delivery is refused
 * once it is older than the receiver's window (SIGNATURE_TOLERANCE_S); the
 * delivery id is signed too, so it cannot be swapped to slip past a receiver's
 * deduplication. Each retry is signed afresh (a new timestamp, the same
 * delivery id and body).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-evva-signature';
export const TIMESTAMP_HEADER = 'x-evva-timestamp';
export const DELIVERY_HEADER = 'x-evva-delivery';
/** The scheme's version tag; a later scheme would be `v2=` beside it. */
export const SIGNATURE_VERSION = 'v1';
/** A receiver refuses a delivery signed more than this long before (or after) its own clock: 5 minutes. */
export const SIGNATURE_TOLERANCE_S = 300;

function mac(secret: string, delivery: string, timestamp: string, body: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`${delivery}.${timestamp}.`).update(body).digest();
}

/** The three headers of one attempt, signed at `nowMs`. */
export function signWebhook(secret: string, delivery: string, body: string | Buffer, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return {
    [DELIVERY_HEADER]: delivery,
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: `${SIGNATURE_VERSION}=${mac(secret, delivery, timestamp, body).toString('hex')}`,
  };
}

export type SignatureRefusal = 'missing' | 'malformed' | 'stale' | 'signature';

/** Header values as a server sees them (Node's IncomingHttpHeaders, or a plain record). */
export type HeaderBag = Record<string, string | string[] | undefined>;

const one = (h: HeaderBag, name: string): string | undefined => {
  const v = h[name];
  return typeof v === 'string' ? v : undefined;
};

/**
 * Checks one delivery as a receiver must: over the raw body bytes, before
 * parsing; the timestamp within `toleranceS` of `nowMs`; the MAC compared in
 * constant time. Never throws.
 */
export function verifyWebhook(
  secret: string, headers: HeaderBag, body: string | Buffer, nowMs: number, toleranceS = SIGNATURE_TOLERANCE_S,
): { ok: true; delivery: string } | { ok: false; reason: SignatureRefusal } {
  const delivery = one(headers, DELIVERY_HEADER);
  const timestamp = one(headers, TIMESTAMP_HEADER);
  const signature = one(headers, SIGNATURE_HEADER);
  if (delivery === undefined || timestamp === undefined || signature === undefined) return { ok: false, reason: 'missing' };
  const m = /^v1=([0-9a-f]{64})$/.exec(signature);
  if (!m || !/^\d{1,12}$/.test(timestamp) || delivery.length === 0 || delivery.length > 128) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceS) return { ok: false, reason: 'stale' };
  const want = mac(secret, delivery, timestamp, body);
  if (!timingSafeEqual(want, Buffer.from(m[1] as string, 'hex'))) return { ok: false, reason: 'signature' };
  return { ok: true, delivery };
}
