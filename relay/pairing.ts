/**
 * Venues and pairing: short single-use codes that expire, exchanged once for a
 * device token of which the relay keeps only a SHA-256 hash. Attempts are
 * rate-limited per client address and globally.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Clock } from '../common/clock.ts';
import { PAIRING_ALPHABET, PAIRING_TTL_MS, type CompanionInfo, type CreateVenueResponse } from '../protocol/relay.ts';
import type { RelayStore } from './db/store.ts';

/** Prefix of device tokens, so a leaked one is recognisable in a secret scanner. */
const TOKEN_PREFIX = 'evd_';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A fresh code like `K7QF-2MXD`: 8 uniformly random symbols of PAIRING_ALPHABET (40 bits). */
export function newPairingCode(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += PAIRING_ALPHABET[randomInt(PAIRING_ALPHABET.length)];
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/** The canonical form of what a person typed (case, spaces, dashes forgiven), or null if it cannot be a code. */
export function normalizePairingCode(input: string): string | null {
  const s = input.toUpperCase().replace(/[\s-]/g, '');
  if (s.length !== 8) return null;
  for (const ch of s) if (!PAIRING_ALPHABET.includes(ch)) return null;
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

export function newDeviceToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function newVenueId(): string {
  // 16 base32 symbols (80 bits): unguessable enough that ids can appear in URLs and logs.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(16);
  let s = '';
  for (const b of bytes) s += alphabet[b & 31];
  return `ven_${s}`;
}

export interface RateLimit {
  /** Attempts allowed per window. */
  max: number;
  windowMs: number;
}

/** Default pairing limits: enough for a person retyping a code, far too few to guess 40 bits. */
export const PAIR_LIMIT_PER_IP: RateLimit = { max: 10, windowMs: 60_000 };
export const PAIR_LIMIT_GLOBAL: RateLimit = { max: 120, windowMs: 60_000 };
/** Most client addresses the limiter remembers; beyond it the oldest windows are forgotten. */
const MAX_TRACKED_IPS = 10_000;

/**
 * The rate-limit key of a client address: IPv4 as is (also when IPv4-mapped),
 * IPv6 by its /64, since one host or home line is routinely given a whole /64
 * and could otherwise count as 2^64 sources.
 */
export function sourceKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1] as string;
  if (!isIPv6(ip)) return ip;
  const bare = ip.split('%')[0] as string;
  const [head = '', tail = ''] = bare.split('::');
  const left = head ? head.split(':') : [];
  const right = bare.includes('::') ? (tail ? tail.split(':') : []) : [];
  // An embedded IPv4 tail (::1.2.3.4) counts as two groups; only the first four groups matter here.
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

/** Fixed-window counters; `take` says whether one more attempt is allowed now, and if not, for how long to wait. */
export class RateLimiter {
  private readonly perIp = new Map<string, { start: number; count: number }>();
  private global = { start: 0, count: 0 };

  constructor(private readonly clock: Clock, private readonly ipLimit: RateLimit, private readonly globalLimit: RateLimit) {}

  /**
   * One attempt from `ip` (keyed per sourceKey). A source over its own limit is
   * refused without touching the global budget, so one source spends at most
   * its own share of what everyone else needs.
   */
  take(ip: string): { ok: true } | { ok: false; retryAfterMs: number } {
    ip = sourceKey(ip);
    const now = this.clock.mono();
    if (now - this.global.start >= this.globalLimit.windowMs) this.global = { start: now, count: 0 };
    let w = this.perIp.get(ip);
    if (!w || now - w.start >= this.ipLimit.windowMs) {
      w = { start: now, count: 0 };
      this.perIp.delete(ip);
      this.perIp.set(ip, w);
      if (this.perIp.size > MAX_TRACKED_IPS) {
        const oldest = this.perIp.keys().next().value;
        if (oldest !== undefined) this.perIp.delete(oldest);
      }
    }
    if (w.count >= this.ipLimit.max) return { ok: false, retryAfterMs: w.start + this.ipLimit.windowMs - now };
    if (this.global.count >= this.globalLimit.max) return { ok: false, retryAfterMs: this.global.start + this.globalLimit.windowMs - now };
    w.count++;
    this.global.count++;
    return { ok: true };
  }
}

export type PairOutcome =
  | { ok: true; venueId: string; deviceToken: string }
  | { ok: false; reason: 'malformed' | 'invalid' | 'expired' | 'used' };

/** Venue creation and pairing over the store; the only code that sees a pairing code or a device token in clear. */
export class Pairing {
  constructor(private readonly store: RelayStore, private readonly clock: Clock, private readonly ttlMs: number = PAIRING_TTL_MS) {}

  /** Creates a venue with a fresh pairing code. */
  async createVenue(name: string): Promise<CreateVenueResponse> {
    const venueId = newVenueId();
    await this.store.addVenue(venueId, name, this.clock.now());
    return this.issueCode(venueId);
  }

  /** Issues a new pairing code for an existing venue (its previous unused code stops working). */
  async issueCode(venueId: string): Promise<CreateVenueResponse> {
    const code = newPairingCode();
    const now = this.clock.now();
    const expiresAt = now + this.ttlMs;
    await this.store.addPairingCode(venueId, sha256(code), now, expiresAt);
    return { venueId, pairingCode: code, pairingExpiresAt: new Date(expiresAt).toISOString() };
  }

  /** Exchanges a code for a new device token, at most once per code; a previous token of the venue works until the new one connects. */
  async pair(codeInput: string, companion: CompanionInfo): Promise<PairOutcome> {
    const code = normalizePairingCode(codeInput);
    if (!code) return { ok: false, reason: 'malformed' };
    const deviceToken = newDeviceToken();
    const r = await this.store.claimPairingCode(sha256(code), sha256(deviceToken), companion, this.clock.now());
    if (!r.ok) return r;
    return { ok: true, venueId: r.venueId, deviceToken };
  }

  /** The venue a presented device token belongs to, or null. Hash lookup: the stored value is not the secret. */
  async authenticate(deviceToken: string): Promise<{ venueId: string; tokenHash: string } | null> {
    if (!deviceToken.startsWith(TOKEN_PREFIX) || deviceToken.length > 200) return null;
    const tokenHash = sha256(deviceToken);
    const venueId = await this.store.venueByTokenHash(tokenHash);
    return venueId ? { venueId, tokenHash } : null;
  }
}
