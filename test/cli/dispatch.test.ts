// `switchyard dispatch` as an operator runs it: real CLI processes against the API listening on
// a real port (PGlite behind it), exit codes (0 ok, 1 the API refused or is away, 2 usage).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { parseFarmYaml } from '@switchyard/domain';
import { migrateDatabase, openDatabase, type DatabaseHandle } from '@switchyard/db';
import { createLogger } from '@switchyard/telemetry';
import { buildApp } from '@switchyard/api';
import { freePort } from '../support/redis.ts';
import { issueTestKey } from '../support/api-keys.ts';

jest.setTimeout(240_000);

const MAIN = join(process.cwd(), 'services/cli/src/main.ts');
const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;

/** The operator key the CLI sends (SWITCHYARD_API_KEY), issued once the database is up. */
let apiKey = '';

/** Runs the CLI without blocking this process, which serves the API it calls. */
function cli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { encoding: 'utf8', timeout: 100_000, env: { ...process.env, SWITCHYARD_API_KEY: apiKey, ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('switchyard dispatch', () => {
  let db: DatabaseHandle;
  let app: FastifyInstance;
  let api: string;
  beforeAll(async () => {
    db = await openDatabase({});
    await migrateDatabase(db);
    apiKey = (await issueTestKey(db.db, 'operator')).token;
    app = await buildApp({
      logger: createLogger({ level: 'silent' }),
      readiness: [],
      db: db.db,
      getFarm: () => ({ farm, snapshotId: 1, source: 'test', loadedAt: new Date() }),
    });
    api = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('creates, lists, shows and cancels a dispatch', async () => {
    const created = await cli(['dispatch', 'create', '--cap-kw', '30000', '--duration', '15m', '--api', api]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const id = /^dispatch ([0-9a-f-]{36})$/m.exec(created.stdout)?.[1];
    expect(id).toBeDefined();
    expect(created.stdout).toMatch(/state\s+received/);
    expect(created.stdout).toMatch(/cap\s+30,000 kW/);
    expect(created.stdout).toMatch(/\(900 s\)/);
    expect(created.stdout).toMatch(/controller\s+not notified/);

    const [list, active, show] = await Promise.all([
      cli(['dispatch', 'list', '--api', api]),
      cli(['dispatch', 'list', '--active', '--json'], { SWITCHYARD_API_URL: api }),
      cli(['dispatch', 'show', id!, '--api', api, '--json']),
    ]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^id\s+state\s+site\s+order\s+cap\s+starts\s+ends$/m);
    expect(list.stdout).toContain(`${id}  received  west-1  cap 30,000  30,000 kW`);
    expect(active.code).toBe(0);
    expect((JSON.parse(active.stdout) as { items: Array<{ id: string }> }).items.map((i) => i.id)).toEqual([
      id,
    ]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ id, capKw: 30_000, durationSeconds: 900 });

    const cancelled = await cli(['dispatch', 'cancel', id!, '--api', api]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(/state\s+cancelled/);
  });

  it('exits 1 with the problem when the API refuses, or is not there', async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const [noBaseline, unknown, away] = await Promise.all([
      cli(['dispatch', 'create', '--curtail-by-kw', '500', '--duration', '600', '--api', api]),
      cli(['dispatch', 'show', '00000000-0000-4000-8000-000000000000', '--api', api]),
      cli(['dispatch', 'list', '--api', nobody]),
    ]);
    expect(noBaseline.code).toBe(1);
    expect(noBaseline.stderr).toContain('answered 409: No baseline: no fleet observation of site west-1');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(
      'answered 404: Not found: no dispatch 00000000-0000-4000-8000-000000000000',
    );
    expect(away.code).toBe(1);
    expect(away.stderr).toContain(`cannot reach the API at ${nobody}`);
  });

  it('sends the key from --api-key or SWITCHYARD_API_KEY, and says what to do without one', async () => {
    const [none, bad, flag] = await Promise.all([
      cli(['dispatch', 'list', '--api', api], { SWITCHYARD_API_KEY: '' }),
      cli(['dispatch', 'list', '--api', api], { SWITCHYARD_API_KEY: `${apiKey.slice(0, -4)}AAAA` }),
      cli(['dispatch', 'list', '--api', api, '--api-key', apiKey], { SWITCHYARD_API_KEY: '' }),
    ]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('answered 401: Unauthorized');
    expect(none.stderr).toContain('set SWITCHYARD_API_KEY or pass --api-key');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('the API key is not valid');
    expect(bad.stderr).not.toContain(apiKey.slice(0, -4));
    expect(flag.code).toBe(0);
  });

  it('exits 2 on a usage error, before calling the API', async () => {
    // The other usage errors are checked in-process: services/cli/src/commands/dispatch.test.ts.
    const r = await cli(['dispatch', 'create', '--cap-kw', '1', '--curtail-by-kw', '1', '--duration', '60']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('switchyard dispatch create: give exactly one of --cap-kw and --curtail-by-kw\n');
  });
});
