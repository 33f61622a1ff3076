// API keys. A key is `<prefix>.<secret>`: the prefix (`sy_` and 12 base32 characters) is public
// and finds the row; the secret (32 random bytes, base64url) is shown once, when the key is made,
// and only its SHA-256 is stored. The secret carries 256 bits of entropy, so a fast hash is the
// right one (a slow password hash protects guessable secrets, and would cost every request).
// Keys are never deleted: revoking one stamps revoked_at, so audit entries keep their actor.
import { createHash, randomBytes as cryptoRandomBytes, timingSafeEqual } from 'node:crypto';
import { and, desc, eq, gt, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { AccessStoreError } from './access-store-error.ts';
import type { Database } from './database.ts';
import { API_KEY_ROLES, BROKER_ROLES, apiKeys, brokers, type ApiKeyRole, type BrokerKind } from './schema.ts';
import { UUID } from './keyset.ts';

export const API_KEY_PREFIX = 'sy_';
/** Base32 characters after `sy_` in a prefix (60 random bits). */
const PREFIX_CHARS = 12;
const SECRET_BYTES = 32;
/** A key as sent by a client: `sy_<12 base32>.<43 base64url>`. */
const TOKEN = /^(sy_[a-z2-7]{12})\.([A-Za-z0-9_-]{43})$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
export const MAX_KEY_LABEL_LENGTH = 100;

/** The broker kind a broker role acts for. */
export const BROKER_KIND_OF_ROLE: Readonly<Record<(typeof BROKER_ROLES)[number], BrokerKind>> = {
  'compute-broker': 'compute',
  'energy-broker': 'energy',
};

/** An API key without its secret hash: what lists and lookups show. */
export interface ApiKeyRecord {
  id: string;
  prefix: string;
  role: ApiKeyRole;
  /** Set for broker roles only. */
  brokerId: string | null;
  label: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/** A key with its stored hash, for whoever checks a presented token (see `secretMatches`). */
export interface ApiKeyCredentials {
  key: ApiKeyRecord;
  secretHash: string;
}

export interface CreateApiKeyInput {
  role: ApiKeyRole;
  /** Required for compute-broker and energy-broker keys, refused for the others. */
  brokerId?: string | null;
  label?: string | null;
  expiresAt?: Date | null;
}

/** A new key and its token, which is shown once and never stored. */
export interface IssuedApiKey {
  key: ApiKeyRecord;
  token: string;
}

export interface RotatedApiKey extends IssuedApiKey {
  /** The key it replaces, now revoked. */
  previous: ApiKeyRecord;
}

export interface ApiKeyRepositoryOptions {
  /** Randomness (tests); defaults to crypto.randomBytes. */
  randomBytes?: (size: number) => Buffer;
  /** The clock (tests). */
  now?: () => Date;
}

/** The prefix and secret of a well-formed token, or null. */
export function parseApiKeyToken(token: string): { prefix: string; secret: string } | null {
  const m = typeof token === 'string' ? TOKEN.exec(token) : null;
  return m ? { prefix: m[1]!, secret: m[2]! } : null;
}

/** SHA-256 of the secret part, hex: what api_keys.secret_hash holds. */
export function hashApiKeySecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Compares the secret's hash with the stored one in constant time. */
export function secretMatches(secret: string, secretHash: string): boolean {
  const expected = Buffer.from(secretHash, 'hex');
  const actual = createHash('sha256').update(secret, 'utf8').digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Neither revoked nor expired at `now`. */
export function isKeyActive(key: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt'>, now: Date): boolean {
  return key.revokedAt === null && (key.expiresAt === null || key.expiresAt.getTime() > now.getTime());
}

function base32(bytes: Uint8Array, chars: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

type Row = typeof apiKeys.$inferSelect;

const toRecord = (r: Row): ApiKeyRecord => ({
  id: r.id,
  prefix: r.prefix,
  role: r.role,
  brokerId: r.brokerId,
  label: r.label,
  createdAt: r.createdAt,
  lastUsedAt: r.lastUsedAt,
  expiresAt: r.expiresAt,
  revokedAt: r.revokedAt,
});

const isBrokerRole = (role: ApiKeyRole): role is keyof typeof BROKER_KIND_OF_ROLE =>
  (BROKER_ROLES as readonly string[]).includes(role);

function checkInput(input: CreateApiKeyInput, now: Date): void {
  if (!(API_KEY_ROLES as readonly string[]).includes(input.role))
    throw new AccessStoreError(
      'INVALID_INPUT',
      `role must be one of ${API_KEY_ROLES.join(', ')} (got ${JSON.stringify(input.role)})`,
    );
  const label = input.label ?? null;
  if (label !== null && (typeof label !== 'string' || label.length > MAX_KEY_LABEL_LENGTH))
    throw new AccessStoreError('INVALID_INPUT', `label must be at most ${MAX_KEY_LABEL_LENGTH} characters`);
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt !== null && !(expiresAt.getTime() > now.getTime()))
    throw new AccessStoreError('INVALID_INPUT', 'expiresAt must be a time in the future');
  const brokerId = input.brokerId ?? null;
  if (isBrokerRole(input.role) && brokerId === null)
    throw new AccessStoreError('BROKER_MISMATCH', `a key with role ${input.role} needs a broker`);
  if (!isBrokerRole(input.role) && brokerId !== null)
    throw new AccessStoreError(
      'BROKER_MISMATCH',
      `a key with role ${input.role} acts for no broker; leave the broker out`,
    );
}

export class ApiKeyRepository {
  readonly #db: Database;
  readonly #randomBytes: (size: number) => Buffer;
  readonly #now: () => Date;

  /** `db` may be a transaction, to issue a key together with other writes (an audit entry). */
  constructor(db: Database, opts: ApiKeyRepositoryOptions = {}) {
    this.#db = db;
    this.#randomBytes = opts.randomBytes ?? cryptoRandomBytes;
    this.#now = opts.now ?? (() => new Date());
  }

  /**
   * Issues a key. Broker keys must name an enabled broker of the matching kind
   * (compute-broker → compute, energy-broker → energy). Throws AccessStoreError.
   */
  async create(input: CreateApiKeyInput): Promise<IssuedApiKey> {
    checkInput(input, this.#now());
    const brokerId = input.brokerId ?? null;
    return this.#db.transaction(async (tx) => {
      if (brokerId !== null && isBrokerRole(input.role)) {
        const [broker] = UUID.test(brokerId)
          ? await tx.select().from(brokers).where(eq(brokers.id, brokerId)).for('share')
          : [];
        if (!broker) throw new AccessStoreError('BROKER_NOT_FOUND', `no broker ${brokerId}`);
        if (broker.disabledAt)
          throw new AccessStoreError('BROKER_DISABLED', `broker ${broker.name} is disabled`);
        const kind = BROKER_KIND_OF_ROLE[input.role];
        if (broker.kind !== kind)
          throw new AccessStoreError(
            'BROKER_MISMATCH',
            `a key with role ${input.role} needs a ${kind} broker; ${broker.name} is a ${broker.kind} broker`,
          );
      }
      const prefix = `${API_KEY_PREFIX}${base32(this.#randomBytes(8), PREFIX_CHARS)}`;
      const secret = this.#randomBytes(SECRET_BYTES).toString('base64url');
      const [row] = await tx
        .insert(apiKeys)
        .values({
          prefix,
          secretHash: hashApiKeySecret(secret),
          role: input.role,
          brokerId,
          label: input.label || null,
          expiresAt: input.expiresAt ?? null,
        })
        .returning();
      if (!row) throw new Error('api key insert returned no row');
      return { key: toRecord(row), token: `${prefix}.${secret}` };
    });
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db.select().from(apiKeys).where(eq(apiKeys.id, id));
    return row ? toRecord(row) : undefined;
  }

  /** The key with that prefix and its stored hash, whatever its state; null when unknown. */
  async credentials(prefix: string): Promise<ApiKeyCredentials | null> {
    const [row] = await this.#db.select().from(apiKeys).where(eq(apiKeys.prefix, prefix));
    return row ? { key: toRecord(row), secretHash: row.secretHash } : null;
  }

  /** The key a token belongs to, if the token is right and the key neither revoked nor expired. */
  async verify(token: string): Promise<ApiKeyRecord | null> {
    const parsed = parseApiKeyToken(token);
    if (!parsed) return null;
    const found = await this.credentials(parsed.prefix);
    if (!found || !secretMatches(parsed.secret, found.secretHash)) return null;
    return isKeyActive(found.key, this.#now()) ? found.key : null;
  }

  /** Newest first; never the hashes. Revoked keys are included unless `activeOnly`. */
  async list(opts: { brokerId?: string; activeOnly?: boolean } = {}): Promise<ApiKeyRecord[]> {
    const where: SQL[] = [];
    if (opts.brokerId !== undefined) {
      if (!UUID.test(opts.brokerId)) return [];
      where.push(eq(apiKeys.brokerId, opts.brokerId));
    }
    if (opts.activeOnly) where.push(...this.#activeAt(this.#now()));
    const rows = await this.#db
      .select()
      .from(apiKeys)
      .where(and(...where))
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
    return rows.map(toRecord);
  }

  /** Whether some key of the role is neither revoked nor expired. */
  async hasActive(role: ApiKeyRole): Promise<boolean> {
    const rows = await this.#db
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(eq(apiKeys.role, role), ...this.#activeAt(this.#now())))
      .limit(1);
    return rows.length > 0;
  }

  /**
   * Revokes the key; revoking it again keeps the first time. Returns the key as it now is,
   * undefined when unknown.
   */
  async revoke(id: string): Promise<ApiKeyRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${this.#now().toISOString()}::timestamptz)` })
      .where(eq(apiKeys.id, id))
      .returning();
    return row ? toRecord(row) : undefined;
  }

  /**
   * Issues a new key with the old one's role, broker, label and (unless given) expiry, and
   * revokes the old one, in one transaction. Undefined when the key is unknown; a revoked or
   * expired key throws AccessStoreError KEY_NOT_ACTIVE.
   */
  async rotate(id: string, opts: { expiresAt?: Date | null } = {}): Promise<RotatedApiKey | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.#db.transaction(async (tx) => {
      const [old] = await tx.select().from(apiKeys).where(eq(apiKeys.id, id)).for('update');
      if (!old) return undefined;
      const now = this.#now();
      if (!isKeyActive(old, now))
        throw new AccessStoreError(
          'KEY_NOT_ACTIVE',
          `key ${old.prefix} is ${old.revokedAt ? 'revoked' : 'expired'}; create a new key instead`,
        );
      const issued = await new ApiKeyRepository(tx, {
        randomBytes: this.#randomBytes,
        now: this.#now,
      }).create({
        role: old.role,
        brokerId: old.brokerId,
        label: old.label,
        expiresAt: opts.expiresAt !== undefined ? opts.expiresAt : old.expiresAt,
      });
      const [revoked] = await tx
        .update(apiKeys)
        .set({ revokedAt: now })
        .where(eq(apiKeys.id, id))
        .returning();
      return { ...issued, previous: toRecord(revoked!) };
    });
  }

  /** Records a use of the key; an earlier time than the stored one changes nothing. */
  async touch(id: string, at: Date): Promise<void> {
    if (!UUID.test(id)) return;
    await this.#db
      .update(apiKeys)
      .set({ lastUsedAt: at })
      .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, at))));
  }

  #activeAt(now: Date): SQL[] {
    return [isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now))!];
  }
}
