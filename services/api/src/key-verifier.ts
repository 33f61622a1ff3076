// Checks presented API keys against the stored hashes, with a short in-memory cache so that a
// busy API does not read api_keys on every request.
//
// What the cache means for revocation: a key's row is cached for `ttlMs` (default 5 s) after it
// is read, so a key revoked through another API process (or the CLI) keeps working on this one
// for at most that long. Revoking through this process's API takes effect at once (`forget`).
// Expiry is checked against the clock on every request, and the secret's hash on every request
// too (a cached row never lets a wrong secret through).
//
// last_used_at is written at most once per `touchIntervalMs` (default 1 min) per key, in the
// background; a failed write is reported and never fails the request.
import { parseApiKeyToken, secretMatches, type ApiKeyCredentials, type ApiKeyRole } from '@switchyard/db';

/** Who is calling: set on every authenticated request as `request.principal`. */
export interface Principal {
  keyId: string;
  /** The key's public prefix, the actor in audit entries. */
  prefix: string;
  role: ApiKeyRole;
  /** The broker the key acts for; null for operator and viewer keys. */
  brokerId: string | null;
}

export const DEFAULT_KEY_CACHE_TTL_MS = 5000;
export const DEFAULT_TOUCH_INTERVAL_MS = 60_000;
const DEFAULT_MAX_ENTRIES = 10_000;

export interface KeyVerifierOptions {
  /** The key with that prefix and its hash, or null (ApiKeyRepository.credentials). */
  lookup: (prefix: string) => Promise<ApiKeyCredentials | null>;
  /** Records a use (ApiKeyRepository.touch). */
  touch: (keyId: string, at: Date) => Promise<unknown>;
  ttlMs?: number;
  touchIntervalMs?: number;
  /** Prefixes cached at most (unknown prefixes included); the oldest go first. */
  maxEntries?: number;
  /** The clock, ms (tests). */
  now?: () => number;
  onTouchError?: (err: unknown, keyId: string) => void;
}

interface Known {
  creds: ApiKeyCredentials;
  principal: Principal;
  revokedAt: number | null;
  expiresAt: number | null;
}

interface Entry {
  readAt: number;
  value: Promise<Known | null>;
}

function known(creds: ApiKeyCredentials | null): Known | null {
  if (!creds) return null;
  const k = creds.key;
  return {
    creds,
    principal: Object.freeze({ keyId: k.id, prefix: k.prefix, role: k.role, brokerId: k.brokerId }),
    revokedAt: k.revokedAt?.getTime() ?? null,
    expiresAt: k.expiresAt?.getTime() ?? null,
  };
}

export class KeyVerifier {
  readonly #opts: KeyVerifierOptions;
  readonly #ttlMs: number;
  readonly #touchIntervalMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  /** When each key was last touched by this process, ms. */
  readonly #touched = new Map<string, number>();
  readonly #pendingTouches = new Set<Promise<unknown>>();

  constructor(opts: KeyVerifierOptions) {
    this.#opts = opts;
    this.#ttlMs = Math.max(0, opts.ttlMs ?? DEFAULT_KEY_CACHE_TTL_MS);
    this.#touchIntervalMs = Math.max(0, opts.touchIntervalMs ?? DEFAULT_TOUCH_INTERVAL_MS);
    this.#maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_MAX_ENTRIES);
    this.#now = opts.now ?? Date.now;
  }

  /**
   * The principal of a valid, active key; null for a malformed token, an unknown key, a wrong
   * secret, or a revoked or expired key. Rejects when the keys cannot be read.
   */
  async verify(token: string): Promise<Principal | null> {
    const parsed = parseApiKeyToken(token);
    if (!parsed) return null;
    const k = await this.#read(parsed.prefix);
    if (!k || !secretMatches(parsed.secret, k.creds.secretHash)) return null;
    const now = this.#now();
    if (k.revokedAt !== null || (k.expiresAt !== null && k.expiresAt <= now)) return null;
    this.#maybeTouch(k, now);
    return k.principal;
  }

  /** Drops a prefix from the cache: the next request reads the key again. */
  forget(prefix: string): void {
    this.#entries.delete(prefix);
  }

  /** Waits for the last_used_at writes under way (on close). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#pendingTouches]);
  }

  #read(prefix: string): Promise<Known | null> {
    const now = this.#now();
    const cached = this.#entries.get(prefix);
    if (cached && now - cached.readAt < this.#ttlMs) return cached.value;
    // Concurrent requests with the same key share one read.
    const value = this.#opts.lookup(prefix).then(known);
    this.#entries.delete(prefix);
    this.#entries.set(prefix, { readAt: now, value });
    value.catch(() => {
      // A failed read is not cached.
      if (this.#entries.get(prefix)?.value === value) this.#entries.delete(prefix);
    });
    this.#trim(this.#entries);
    return value;
  }

  #maybeTouch(k: Known, now: number): void {
    const id = k.principal.keyId;
    const last = this.#touched.get(id) ?? k.creds.key.lastUsedAt?.getTime() ?? Number.NEGATIVE_INFINITY;
    if (now - last < this.#touchIntervalMs) return;
    this.#touched.delete(id);
    this.#touched.set(id, now);
    this.#trim(this.#touched);
    const p: Promise<unknown> = this.#opts
      .touch(id, new Date(now))
      .catch((err: unknown) => this.#opts.onTouchError?.(err, id))
      .finally(() => this.#pendingTouches.delete(p));
    this.#pendingTouches.add(p);
  }

  #trim(map: Map<string, unknown>): void {
    while (map.size > this.#maxEntries) {
      const oldest = map.keys().next().value;
      if (oldest === undefined) return;
      map.delete(oldest);
    }
  }
}
