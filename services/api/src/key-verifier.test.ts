import { describe, expect, it } from '@jest/globals';
import { hashApiKeySecret, type ApiKeyCredentials, type ApiKeyRecord } from '@switchyard/db';
import { KeyVerifier } from './key-verifier.ts';

const PREFIX = 'sy_abcdefghijkl';
const SECRET = 'A'.repeat(43);
const TOKEN = `${PREFIX}.${SECRET}`;

function fixture(over: Partial<ApiKeyRecord> = {}) {
  let key: ApiKeyRecord = {
    id: '11111111-1111-4111-8111-111111111111',
    prefix: PREFIX,
    role: 'energy-broker',
    brokerId: '22222222-2222-4222-8222-222222222222',
    label: null,
    createdAt: new Date(0),
    lastUsedAt: null,
    expiresAt: null,
    revokedAt: null,
    ...over,
  };
  let clock = 1_000_000;
  const lookups: string[] = [];
  const touches: Array<[string, number]> = [];
  let failLookup = false;
  const verifier = new KeyVerifier({
    lookup: async (prefix) => {
      lookups.push(prefix);
      if (failLookup) throw new Error('database away');
      return prefix === PREFIX ? ({ key, secretHash: hashApiKeySecret(SECRET) } as ApiKeyCredentials) : null;
    },
    touch: async (id, at) => void touches.push([id, at.getTime()]),
    ttlMs: 5000,
    touchIntervalMs: 60_000,
    now: () => clock,
  });
  return {
    verifier,
    lookups,
    touches,
    tick: (ms: number) => (clock += ms),
    update: (o: Partial<ApiKeyRecord>) => (key = { ...key, ...o }),
    failLookups: (v: boolean) => (failLookup = v),
  };
}

describe('KeyVerifier', () => {
  it('returns the principal of a valid key, reading the database once per TTL', async () => {
    const f = fixture();
    const p = await f.verifier.verify(TOKEN);
    expect(p).toEqual({
      keyId: '11111111-1111-4111-8111-111111111111',
      prefix: PREFIX,
      role: 'energy-broker',
      brokerId: '22222222-2222-4222-8222-222222222222',
    });
    await Promise.all([f.verifier.verify(TOKEN), f.verifier.verify(TOKEN)]);
    f.tick(4999);
    await f.verifier.verify(TOKEN);
    expect(f.lookups).toHaveLength(1);
    f.tick(1);
    await f.verifier.verify(TOKEN);
    expect(f.lookups).toHaveLength(2);
  });

  it('shares one read among concurrent requests', async () => {
    const f = fixture();
    await Promise.all(Array.from({ length: 20 }, () => f.verifier.verify(TOKEN)));
    expect(f.lookups).toHaveLength(1);
  });

  it('refuses a wrong secret even with the key cached, and malformed tokens without a read', async () => {
    const f = fixture();
    await f.verifier.verify(TOKEN);
    expect(await f.verifier.verify(`${PREFIX}.${'B'.repeat(43)}`)).toBeNull();
    for (const t of ['', PREFIX, `${TOKEN} `, 'sy_ABCDEFGHIJKL.' + SECRET, `${TOKEN}.x`])
      expect(await f.verifier.verify(t)).toBeNull();
    expect(f.lookups).toEqual([PREFIX]);
  });

  it('caches unknown prefixes too', async () => {
    const f = fixture();
    const unknown = `sy_zzzzzzzzzzzz.${SECRET}`;
    expect(await f.verifier.verify(unknown)).toBeNull();
    expect(await f.verifier.verify(unknown)).toBeNull();
    expect(f.lookups).toEqual(['sy_zzzzzzzzzzzz']);
  });

  it('sees a revocation made elsewhere once the TTL is over, and at once after forget', async () => {
    const f = fixture();
    expect(await f.verifier.verify(TOKEN)).not.toBeNull();
    f.update({ revokedAt: new Date(0) });
    f.tick(1000);
    expect(await f.verifier.verify(TOKEN)).not.toBeNull(); // within the TTL: still cached
    f.tick(4000);
    expect(await f.verifier.verify(TOKEN)).toBeNull();

    const g = fixture();
    await g.verifier.verify(TOKEN);
    g.update({ revokedAt: new Date(0) });
    g.verifier.forget(PREFIX);
    expect(await g.verifier.verify(TOKEN)).toBeNull();
  });

  it('checks expiry against the clock on every request', async () => {
    const f = fixture({ expiresAt: new Date(1_000_500) });
    expect(await f.verifier.verify(TOKEN)).not.toBeNull();
    f.tick(500);
    expect(await f.verifier.verify(TOKEN)).toBeNull();
    expect(f.lookups).toHaveLength(1);
  });

  it('records a use at most once a minute per key', async () => {
    const f = fixture();
    for (let i = 0; i < 10; i++) {
      await f.verifier.verify(TOKEN);
      f.tick(10_000);
    }
    await f.verifier.drain();
    // at 0 s and at 60 s (the key is read again every 5 s, each read saying lastUsedAt: null)
    expect(f.touches.map(([, at]) => at - 1_000_000)).toEqual([0, 60_000]);
  });

  it('does not cache a failed read, and rejects so the request can fail', async () => {
    const f = fixture();
    f.failLookups(true);
    await expect(f.verifier.verify(TOKEN)).rejects.toThrow('database away');
    f.failLookups(false);
    expect(await f.verifier.verify(TOKEN)).not.toBeNull();
    expect(f.lookups).toHaveLength(2);
  });
});
