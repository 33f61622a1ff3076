// Brokers, API keys and the audit log on PostgreSQL: keys are stored as hashes only, verify
// refuses every wrong, revoked or expired key, rotation is atomic, and the audit log pages.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AccessStoreError,
  ApiKeyRepository,
  AuditRepository,
  BrokerRepository,
  apiKeys,
  brokers,
  hashApiKeySecret,
  parseApiKeyToken,
  queryRows,
  sql,
  type BrokerRecord,
  type Database,
} from '@switchyard/db';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';

const TOKEN = /^sy_[a-z2-7]{12}\.[A-Za-z0-9_-]{43}$/;

async function refused(p: Promise<unknown>): Promise<AccessStoreError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AccessStoreError);
  return e as AccessStoreError;
}

describe('access repositories (PostgreSQL)', () => {
  let m: MigratedDatabase;
  let db: Database;
  let keys: ApiKeyRepository;
  let energy: BrokerRecord;
  let compute: BrokerRecord;

  beforeAll(async () => {
    m = await openMigratedDatabase('pg');
    db = m.handle.db;
    keys = new ApiKeyRepository(db);
    const b = new BrokerRepository(db);
    energy = await b.create({ name: 'gridco', kind: 'energy' });
    compute = await b.create({ name: 'gpu-market', kind: 'compute' });
  });
  afterAll(async () => {
    await m?.cleanup();
  });

  describe('BrokerRepository', () => {
    it('lists brokers by name and gets one by id', async () => {
      const b = new BrokerRepository(db);
      expect((await b.list()).map((x) => x.name)).toEqual(['gpu-market', 'gridco']);
      expect(await b.get(energy.id)).toEqual(energy);
      expect(await b.get('00000000-0000-4000-8000-000000000000')).toBeUndefined();
      expect(await b.get('not-a-uuid')).toBeUndefined();
    });

    it('refuses a duplicate name, a bad name and a bad kind', async () => {
      const b = new BrokerRepository(db);
      expect((await refused(b.create({ name: 'gridco', kind: 'energy' }))).code).toBe('BROKER_NAME_TAKEN');
      for (const name of ['', 'Grid Co', '-x', 'a'.repeat(64)])
        expect((await refused(b.create({ name, kind: 'energy' }))).code).toBe('INVALID_INPUT');
      expect((await refused(b.create({ name: 'ok', kind: 'oil' as 'energy' }))).code).toBe('INVALID_INPUT');
    });
  });

  describe('ApiKeyRepository', () => {
    it('issues a token shown once and stores only the hash of its secret', async () => {
      const { key, token } = await keys.create({ role: 'operator', label: 'ops' });
      expect(token).toMatch(TOKEN);
      const parsed = parseApiKeyToken(token)!;
      expect(parsed.prefix).toBe(key.prefix);
      const [row] = await db
        .select()
        .from(apiKeys)
        .where(sql`${apiKeys.id} = ${key.id}`);
      expect(row!.secretHash).toBe(hashApiKeySecret(parsed.secret));
      expect(row!.secretHash).not.toContain(parsed.secret);
      expect(JSON.stringify(row)).not.toContain(parsed.secret);
      expect(key).toMatchObject({ role: 'operator', brokerId: null, label: 'ops', revokedAt: null });
      expect(await keys.verify(token)).toEqual(key);
    });

    it('verifies nothing but the exact token of an active key', async () => {
      const { token } = await keys.create({ role: 'viewer' });
      const { prefix, secret } = parseApiKeyToken(token)!;
      const otherSecret = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
      for (const t of [
        `${prefix}.${otherSecret}`,
        `sy_aaaaaaaaaaaa.${secret}`,
        prefix,
        `${token}x`,
        ` ${token}`,
        '',
        'Bearer ' + token,
      ])
        expect(await keys.verify(t)).toBeNull();
    });

    it('refuses a revoked key and an expired one', async () => {
      const revoked = await keys.create({ role: 'viewer' });
      const first = await keys.revoke(revoked.key.id);
      expect(first?.revokedAt).toBeInstanceOf(Date);
      const again = await keys.revoke(revoked.key.id);
      expect(again?.revokedAt).toEqual(first?.revokedAt);
      expect(await keys.verify(revoked.token)).toBeNull();
      expect(await keys.revoke('00000000-0000-4000-8000-000000000000')).toBeUndefined();

      const soon = new Date(Date.now() + 60_000);
      const expiring = await keys.create({ role: 'viewer', expiresAt: soon });
      expect(await keys.verify(expiring.token)).not.toBeNull();
      const later = new ApiKeyRepository(db, { now: () => new Date(soon.getTime() + 1) });
      expect(await later.verify(expiring.token)).toBeNull();
    });

    it('ties broker roles to a broker of their kind, and the other roles to none', async () => {
      const ok = await keys.create({ role: 'energy-broker', brokerId: energy.id });
      expect(ok.key.brokerId).toBe(energy.id);
      expect((await keys.create({ role: 'compute-broker', brokerId: compute.id })).key.brokerId).toBe(
        compute.id,
      );
      const cases: Array<[Parameters<ApiKeyRepository['create']>[0], string]> = [
        [{ role: 'energy-broker' }, 'BROKER_MISMATCH'],
        [{ role: 'energy-broker', brokerId: compute.id }, 'BROKER_MISMATCH'],
        [{ role: 'compute-broker', brokerId: energy.id }, 'BROKER_MISMATCH'],
        [{ role: 'operator', brokerId: energy.id }, 'BROKER_MISMATCH'],
        [{ role: 'energy-broker', brokerId: '00000000-0000-4000-8000-000000000000' }, 'BROKER_NOT_FOUND'],
        [{ role: 'energy-broker', brokerId: 'nope' }, 'BROKER_NOT_FOUND'],
        [{ role: 'root' as 'operator' }, 'INVALID_INPUT'],
        [{ role: 'viewer', label: 'x'.repeat(101) }, 'INVALID_INPUT'],
        [{ role: 'viewer', expiresAt: new Date(Date.now() - 1000) }, 'INVALID_INPUT'],
      ];
      for (const [input, code] of cases) expect((await refused(keys.create(input))).code).toBe(code);
    });

    it('lists keys without their hashes, all or the active ones of a broker', async () => {
      const mine = await keys.create({ role: 'energy-broker', brokerId: energy.id, label: 'list-me' });
      const all = await keys.list();
      expect(all.length).toBeGreaterThan(3);
      for (const k of all) expect(Object.keys(k)).not.toContain('secretHash');
      const ofBroker = await keys.list({ brokerId: energy.id, activeOnly: true });
      expect(ofBroker.every((k) => k.brokerId === energy.id && k.revokedAt === null)).toBe(true);
      expect(ofBroker.map((k) => k.id)).toContain(mine.key.id);
      await keys.revoke(mine.key.id);
      expect((await keys.list({ brokerId: energy.id, activeOnly: true })).map((k) => k.id)).not.toContain(
        mine.key.id,
      );
      expect(await keys.list({ brokerId: 'nope' })).toEqual([]);
    });

    it('rotates: a new key with the same role, broker and label, and the old one revoked', async () => {
      const old = await keys.create({ role: 'energy-broker', brokerId: energy.id, label: 'rotate-me' });
      const r = (await keys.rotate(old.key.id))!;
      expect(r.key).toMatchObject({ role: 'energy-broker', brokerId: energy.id, label: 'rotate-me' });
      expect(r.key.prefix).not.toBe(old.key.prefix);
      expect(r.previous.revokedAt).toBeInstanceOf(Date);
      expect(await keys.verify(r.token)).not.toBeNull();
      expect(await keys.verify(old.token)).toBeNull();
      expect((await refused(keys.rotate(old.key.id))).code).toBe('KEY_NOT_ACTIVE');
      expect(await keys.rotate('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    });

    it('leaves the old key alone when the rotation fails', async () => {
      const b = await new BrokerRepository(db).create({ name: 'soon-disabled', kind: 'energy' });
      const old = await keys.create({ role: 'energy-broker', brokerId: b.id });
      await db
        .update(brokers)
        .set({ disabledAt: new Date() })
        .where(sql`${brokers.id} = ${b.id}`);
      expect((await refused(keys.rotate(old.key.id))).code).toBe('BROKER_DISABLED');
      expect(await keys.verify(old.token)).not.toBeNull();
      expect((await keys.list({ brokerId: b.id })).length).toBe(1);
    });

    it('records the last use, never moving it back', async () => {
      const { key } = await keys.create({ role: 'viewer' });
      const t1 = new Date('2026-11-22T10:00:00Z');
      await keys.touch(key.id, t1);
      await keys.touch(key.id, new Date('2026-11-22T09:00:00Z'));
      expect((await keys.get(key.id))?.lastUsedAt).toEqual(t1);
    });

    it('says whether a role has an active key', async () => {
      const fresh = await openMigratedDatabase('pg');
      try {
        const k = new ApiKeyRepository(fresh.handle.db);
        expect(await k.hasActive('operator')).toBe(false);
        const { key } = await k.create({ role: 'operator' });
        expect(await k.hasActive('operator')).toBe(true);
        await k.revoke(key.id);
        expect(await k.hasActive('operator')).toBe(false);
      } finally {
        await fresh.cleanup();
      }
    });
  });

  describe('AuditRepository', () => {
    it('appends entries with the actor key and broker, and pages newest first', async () => {
      const audit = new AuditRepository(db);
      const { key } = await keys.create({ role: 'energy-broker', brokerId: energy.id });
      const first = await audit.append({
        actor: key.prefix,
        role: key.role,
        action: 'dispatch.create',
        target: 'dispatch:1',
        detail: { kw: 5 },
        requestId: 'req-1',
      });
      expect(first).toMatchObject({
        actor: key.prefix,
        keyId: key.id,
        brokerId: energy.id,
        action: 'dispatch.create',
        detail: { kw: 5 },
        requestId: 'req-1',
      });
      for (let i = 2; i <= 5; i++)
        await audit.append({ actor: 'cli', role: 'system', action: 'test.page', target: `t:${i}` });
      const p1 = await audit.list({ action: 'test.page', limit: 2 });
      expect(p1.items.map((e) => e.target)).toEqual(['t:5', 't:4']);
      expect(p1.items[0]).toMatchObject({ keyId: null, brokerId: null, detail: null });
      const p2 = await audit.list({ action: 'test.page', limit: 2, cursor: p1.nextCursor! });
      expect(p2.items.map((e) => e.target)).toEqual(['t:3', 't:2']);
      expect(p2.nextCursor).toBeNull();
      expect((await audit.list({ actor: key.prefix })).items.map((e) => e.id)).toEqual([first.id]);
      expect(await audit.list({ cursor: 'x' })).toEqual({ items: [], nextCursor: null });
      const [n] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from audit_log`);
      expect(n!.n).toBeGreaterThanOrEqual(5);
    });
  });
});
