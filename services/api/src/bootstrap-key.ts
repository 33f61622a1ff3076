// The first operator key for standalone mode. With embedded PGlite no other process can reach
// the database to run `switchyard keys create`, so the API issues one operator key itself when
// the database has no usable one, and its caller shows the token once, on the console (never in
// the log).
import { ApiKeyRepository, AuditRepository, type Database, type IssuedApiKey } from '@switchyard/db';

export const BOOTSTRAP_KEY_LABEL = 'standalone bootstrap';

/** A new operator key when none is active, else undefined; recorded in the audit log. */
export async function ensureOperatorKey(db: Database): Promise<IssuedApiKey | undefined> {
  return db.transaction(async (tx) => {
    const keys = new ApiKeyRepository(tx);
    if (await keys.hasActive('operator')) return undefined;
    const issued = await keys.create({ role: 'operator', label: BOOTSTRAP_KEY_LABEL });
    await new AuditRepository(tx).append({
      actor: 'system',
      role: 'system',
      action: 'key.create',
      target: `key:${issued.key.id}`,
      detail: {
        prefix: issued.key.prefix,
        role: 'operator',
        label: BOOTSTRAP_KEY_LABEL,
        reason: 'no operator key',
      },
    });
    return issued;
  });
}
