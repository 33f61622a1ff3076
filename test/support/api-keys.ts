// API keys for tests that call the API: issued straight in the test's database.
import { ApiKeyRepository, type ApiKeyRole, type Database } from '@switchyard/db';

export interface TestKey {
  id: string;
  prefix: string;
  token: string;
  /** `{ authorization: 'Bearer <token>' }`, for app.inject and fetch. */
  headers: { authorization: string };
}

export async function issueTestKey(db: Database, role: ApiKeyRole, brokerId?: string): Promise<TestKey> {
  const { key, token } = await new ApiKeyRepository(db).create({
    role,
    brokerId: brokerId ?? null,
    label: 'test',
  });
  return { id: key.id, prefix: key.prefix, token, headers: { authorization: `Bearer ${token}` } };
}
