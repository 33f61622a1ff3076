// `switchyard keys` and `switchyard brokers` against PostgreSQL: the first operator key made with
// the real command before any key exists, then brokers and broker keys, rotation and revocation
// (in-process, through the same command table), and the usage errors.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ApiKeyRepository, AuditRepository, openDatabase, type DatabaseHandle } from '@switchyard/db';
import { runCli } from '../../services/cli/src/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/databases.ts';

const MAIN = join(process.cwd(), 'services/cli/src/main.ts');
const TOKEN = /^ {2}(sy_[a-z2-7]{12}\.[A-Za-z0-9_-]{43})$/m;

function spawnCli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      },
    );
  });
}

describe('switchyard keys and brokers', () => {
  let testDb: TestDatabase;
  let db: DatabaseHandle;
  let env: Record<string, string>;

  /** The CLI in this process: its exit code and output. */
  async function cli(args: string[], extraEnv: Record<string, string> = {}) {
    let stdout = '';
    let stderr = '';
    const out = new PassThrough().on('data', (c: Buffer) => (stdout += c.toString()));
    const err = new PassThrough().on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await runCli(args, { env: { ...env, ...extraEnv }, stdout: out, stderr: err });
    return { code, stdout, stderr };
  }
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await cli([...args, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  beforeAll(async () => {
    testDb = await createTestDatabase();
    env = { DATABASE_URL: testDb.url };
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('makes the first operator key on an empty database, showing the token once', async () => {
    const r = await spawnCli(['keys', 'create', '--role', 'operator', '--label', 'first operator'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^created operator key sy_[a-z2-7]{12} \(id [0-9a-f-]{36}\)$/m);
    expect(r.stdout).toContain('shown this once and never again');
    const token = TOKEN.exec(r.stdout)?.[1];
    expect(token).toBeDefined();

    db = await openDatabase({ url: testDb.url });
    const key = await new ApiKeyRepository(db.db).verify(token!);
    expect(key).toMatchObject({ role: 'operator', label: 'first operator', brokerId: null });
    const audit = await new AuditRepository(db.db).list({ target: `key:${key!.id}` });
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ action: 'key.create', role: 'system' });
    expect(audit.items[0]!.actor).toMatch(/^cli/);
    // The list never shows it again.
    const list = await cli(['keys', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(key!.prefix);
    expect(list.stdout).not.toContain(token!.split('.')[1]);
  });

  it('creates brokers and their keys, rotates and revokes keys', async () => {
    const broker = await json<{ id: string; name: string; kind: string }>([
      'brokers',
      'create',
      '--name',
      'gridco',
      '--kind',
      'energy',
    ]);
    expect(broker).toMatchObject({ name: 'gridco', kind: 'energy' });
    const listed = await cli(['brokers', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`^${broker.id}\\s+gridco\\s+energy\\s+enabled$`, 'm'));

    const issued = await json<{ key: { id: string; brokerId: string; state: string }; token: string }>([
      'keys',
      'create',
      '--role',
      'energy-broker',
      '--broker',
      broker.id,
      '--expires-at',
      '2099-01-01T00:00:00Z',
    ]);
    expect(issued.key).toMatchObject({ brokerId: broker.id, state: 'active' });
    const keys = new ApiKeyRepository(db.db);
    expect(await keys.verify(issued.token)).not.toBeNull();

    const ofBroker = await json<{ items: Array<{ id: string }> }>(['keys', 'list', '--broker', broker.id]);
    expect(ofBroker.items.map((k) => k.id)).toEqual([issued.key.id]);

    const rotated = await cli(['keys', 'rotate', issued.key.id]);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain('rotated: new energy-broker key');
    const newToken = TOKEN.exec(rotated.stdout)?.[1];
    expect(await keys.verify(newToken!)).toMatchObject({ brokerId: broker.id });
    expect(await keys.verify(issued.token)).toBeNull();

    const newId = (await keys.verify(newToken!))!.id;
    const revoked = await cli(['keys', 'revoke', newId]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked key sy_/);
    expect(await keys.verify(newToken!)).toBeNull();
    const active = await json<{ items: unknown[] }>(['keys', 'list', '--broker', broker.id, '--active']);
    expect(active.items).toEqual([]);
  });

  it.each([
    [['keys', 'create'], 2, '--role must be one of operator, viewer, compute-broker, energy-broker'],
    [['keys', 'create', '--role', 'root'], 2, '--role must be one of'],
    [
      ['keys', 'create', '--role', 'viewer', '--expires-at', 'soon'],
      2,
      '--expires-at must be an ISO-8601 time',
    ],
    [['keys', 'create', '--role', 'energy-broker'], 1, 'a key with role energy-broker needs a broker'],
    [['keys', 'create', '--role', 'viewer', '--broker', 'x'], 1, 'acts for no broker'],
    [['keys', 'revoke'], 2, 'expects one key id'],
    [
      ['keys', 'revoke', '00000000-0000-4000-8000-000000000000'],
      1,
      'no key 00000000-0000-4000-8000-000000000000',
    ],
    [['keys', 'rotate', 'a', 'b'], 2, 'expects one key id'],
    [['brokers', 'create', '--name', 'x'], 2, '--kind must be one of compute, energy'],
    [['brokers', 'create', '--name', 'Bad Name', '--kind', 'energy'], 1, 'broker name must be'],
    [
      ['brokers', 'create', '--name', 'gridco', '--kind', 'energy'],
      1,
      'a broker named gridco exists already',
    ],
    [['keys'], 2, 'expects a subcommand'],
    [['brokers', 'delete'], 2, 'unknown subcommand "delete"'],
  ])('%j exits %d: %s', async (args, code, message) => {
    const r = await cli(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
  });

  it('refuses to make a key in a throwaway in-memory database', async () => {
    const r = await cli(['keys', 'create', '--role', 'operator'], { DATABASE_URL: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('set DATABASE_URL (or PGLITE_DIR)');
  });
});
