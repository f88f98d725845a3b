/** Change detection for the feed: an event is emitted only when its value's hash changed. */
import crypto from 'node:crypto';

/** A stable hash of a normalised value (keys in insertion order, which normalisation fixes). */
export function hashOf(value: unknown): string {
  return crypto.createHash('sha1').update(JSON.stringify(value)).digest('base64url');
}
