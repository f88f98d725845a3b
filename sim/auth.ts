/**
 * Sessions and licence slots. A token holds one slot from login until logout
 * or expiry; expiry is absolute (a fixed lifetime from login, not extended by
 * use). When every slot is held, a login is refused the way the plugin refuses
 * an unlicensed module. Lifetimes count wall time, not restaurant time.
 */
import { randomUUID } from 'node:crypto';

interface Session { moduleId: string; issuedAt: number; expiresAt: number }

export type LoginResult = { ok: true; token: string } | { ok: false; message: string };

export class Sessions {
  private readonly tokens = new Map<string, Session>();
  private loginCount = 0;

  constructor(
    private readonly now: () => number,
    /** Lifetime of tokens issued from now on. */
    public ttlMs: number,
    /** How many tokens may be live at once. */
    public slots: number,
  ) {}

  /** Issues a token if a slot is free. Expired tokens give their slot back first. */
  login(moduleId: string): LoginResult {
    const live = this.live();
    if (live >= this.slots) {
      return { ok: false, message: `Module ${moduleId} isn't licensed: all ${this.slots} licence slots are in use` };
    }
    const token = randomUUID();
    const now = this.now();
    this.tokens.set(token, { moduleId, issuedAt: now, expiresAt: now + this.ttlMs });
    this.loginCount++;
    return { ok: true, token };
  }

  /** Frees the token's slot. Returns whether the token was live. */
  logout(token: string): boolean {
    const live = this.valid(token);
    this.tokens.delete(token);
    return live;
  }

  /** True when the token was issued here, has not expired and was not logged out. */
  valid(token: string): boolean {
    const s = this.tokens.get(token);
    if (!s) return false;
    if (s.expiresAt <= this.now()) {
      this.tokens.delete(token);
      return false;
    }
    return true;
  }

  /** Live tokens, after forgetting the expired ones. */
  live(): number {
    const now = this.now();
    for (const [token, s] of this.tokens) if (s.expiresAt <= now) this.tokens.delete(token);
    return this.tokens.size;
  }

  logins(): number {
    return this.loginCount;
  }

  /** A plugin restart: every token is forgotten, so every client gets 401 next. */
  dropAll(): void {
    this.tokens.clear();
  }
}
