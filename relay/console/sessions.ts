/**
 * Console sessions: an API key, checked once at sign-in, is exchanged for a
 * random session id carried by an HttpOnly cookie. The store keeps only the
 * id's SHA-256 and the key's fingerprint, so any node of a cluster (one
 * Postgres) checks any session, a signed-out session ends everywhere at once,
 * and a key taken out of the relay's configuration ends its sessions too.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { SESSION_TTL_MS } from '../../protocol/console.ts';
import { keyFingerprint, keyMatches } from '../auth.ts';
import type { ConsoleStore } from '../db/console.ts';

/** Shape of a session id on the wire: 32 random bytes, base64url. */
const ID_RE = /^[A-Za-z0-9_-]{43}$/;

export interface Caller {
  /** The configured API key the session stands for (stays in this process; never sent anywhere). */
  key: string;
  /** Its fingerprint: what audits and the page name the caller by. */
  fp: string;
  expiresAt: number;
  /** The session id (to sign out). */
  id: string;
}

const hash = (id: string) => createHash('sha256').update(id).digest('hex');

export class Sessions {
  private readonly byFp: Map<string, string>;
  private readonly digests: Buffer[];

  constructor(private readonly db: ConsoleStore, private readonly clock: Clock, keys: string[], private readonly ttlMs = SESSION_TTL_MS) {
    this.byFp = new Map(keys.map((k) => [keyFingerprint(k), k]));
    this.digests = keys.map((k) => createHash('sha256').update(k).digest());
  }

  /** A new session for a configured key, or null for any other (compared in constant time). */
  async signIn(presented: string, ip: string): Promise<Caller | null> {
    if (!keyMatches(presented, this.digests)) return null;
    const id = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const expiresAt = now + this.ttlMs;
    const fp = keyFingerprint(presented);
    // Sign-ins are rare: the expired rows of everyone go with them.
    await this.db.purgeSessions(now);
    await this.db.addSession(hash(id), fp, ip, now, expiresAt);
    return { key: presented, fp, expiresAt, id };
  }

  /** The caller of a live session id, or null (malformed, unknown, signed out, expired, or its key no longer configured). */
  async resolve(id: string | null): Promise<Caller | null> {
    if (!id || !ID_RE.test(id)) return null;
    const s = await this.db.session(hash(id), this.clock.now());
    const key = s ? this.byFp.get(s.keyFp) : undefined;
    return s && key ? { key, fp: s.keyFp, expiresAt: s.expiresAt, id } : null;
  }

  async signOut(id: string): Promise<void> {
    if (ID_RE.test(id)) await this.db.endSession(hash(id));
  }
}
