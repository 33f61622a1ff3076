// Brokers: the compute brokers that buy GPU capacity and the energy brokers that send grid
// dispatches. A broker is the tenant its API keys, orders and dispatches belong to.
import { asc, eq } from 'drizzle-orm';
import { AccessStoreError } from './access-store-error.ts';
import type { Database } from './database.ts';
import { BROKER_KINDS, brokers, type BrokerKind } from './schema.ts';
import { UUID } from './keyset.ts';

/** Lower-case letters, digits and inner hyphens, 1 to 63 characters (a DNS label). */
export const BROKER_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
const BROKER_NAME = new RegExp(BROKER_NAME_PATTERN);

export interface BrokerRecord {
  id: string;
  name: string;
  kind: BrokerKind;
  createdAt: Date;
  disabledAt: Date | null;
}

export interface CreateBrokerInput {
  name: string;
  kind: BrokerKind;
}

type Row = typeof brokers.$inferSelect;

const toRecord = (r: Row): BrokerRecord => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  createdAt: r.createdAt,
  disabledAt: r.disabledAt,
});

export class BrokerRepository {
  readonly #db: Database;
  /** `db` may be a transaction, to create a broker together with other writes. */
  constructor(db: Database) {
    this.#db = db;
  }

  /** Throws AccessStoreError INVALID_INPUT for a bad name or kind, BROKER_NAME_TAKEN for a duplicate. */
  async create(input: CreateBrokerInput): Promise<BrokerRecord> {
    if (typeof input.name !== 'string' || !BROKER_NAME.test(input.name))
      throw new AccessStoreError(
        'INVALID_INPUT',
        `broker name must be 1 to 63 lower-case letters, digits and inner hyphens (got ${JSON.stringify(input.name)})`,
      );
    if (!(BROKER_KINDS as readonly string[]).includes(input.kind))
      throw new AccessStoreError(
        'INVALID_INPUT',
        `broker kind must be one of ${BROKER_KINDS.join(', ')} (got ${JSON.stringify(input.kind)})`,
      );
    const [row] = await this.#db
      .insert(brokers)
      .values({ name: input.name, kind: input.kind })
      .onConflictDoNothing({ target: brokers.name })
      .returning();
    if (!row) throw new AccessStoreError('BROKER_NAME_TAKEN', `a broker named ${input.name} exists already`);
    return toRecord(row);
  }

  async get(id: string): Promise<BrokerRecord | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.#db.select().from(brokers).where(eq(brokers.id, id));
    return row ? toRecord(row) : undefined;
  }

  /** Every broker, by name. */
  async list(): Promise<BrokerRecord[]> {
    const rows = await this.#db.select().from(brokers).orderBy(asc(brokers.name));
    return rows.map(toRecord);
  }
}
