/**
 * The plugin page's fingerprint, computed the same way by the relay (probing
 * back) and the companion (its own page). Apart from diagnostics.ts so that
 * the UI, which reads the diagnostics' shapes, does not pull in node:crypto.
 */
import { createHash } from 'node:crypto';

/**
 * What identifies the plugin's root page across machines: its text with the
 * whitespace collapsed, hashed. The relay and the companion compute it the same way.
 */
export function pageFingerprint(html: string): string {
  return createHash('sha256').update(html.replace(/\s+/g, ' ').trim()).digest('hex').slice(0, 16);
}
