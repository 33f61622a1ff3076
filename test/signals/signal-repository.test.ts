// Signal readings in the signal_readings table, on real PostgreSQL (a fresh database per run,
// from DATABASE_URL) and on embedded PGlite: append, latest, history, the hub's record of every
// reading, restoring last good values after a restart, and operator overrides shared through
// the database.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { queryRows, sql, type DatabaseDriver } from '@switchyard/db';
import {
  DatabaseOverrideStore,
  FixedValueSource,
  OperatorOverrideSource,
  PushedPriceSource,
  SIGNAL_UNITS,
  SignalHub,
  SignalRepository,
  type AppendableReading,
  type SignalName,
} from '../../packages/signals/src/index.ts';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';

const T0 = new Date('2026-03-18T19:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

function reading(
  signal: SignalName,
  value: number,
  minutes: number,
  extra: Partial<AppendableReading> = {},
): AppendableReading {
  return {
    signal,
    value,
    unit: SIGNAL_UNITS[signal],
    source: 'test',
    observedAt: at(minutes),
    fetchedAt: at(minutes),
    ...extra,
  };
}

describe.each<DatabaseDriver>(['pg', 'pglite'])('SignalRepository on %s', (driver) => {
  let database: MigratedDatabase;
  let repo: SignalRepository;

  beforeAll(async () => {
    database = await openMigratedDatabase(driver);
    repo = new SignalRepository(database.handle.db);
  });
  afterAll(() => database.cleanup());
  beforeEach(async () => {
    await database.handle.db.execute(sql`truncate signal_readings`);
  });

  test('append and latest: newest usable reading by observation time', async () => {
    await repo.append([
      reading('btc_usd', 63_000, 0),
      reading('btc_usd', 64_000, 10),
      reading('btc_usd', 250_000, 12, { status: 'held', reason: 'jump' }),
      reading('btc_usd', -1, 13, { status: 'rejected', reason: 'outside' }),
      reading('btc_usd', 63_500, 5),
    ]);
    const latest = await repo.latest('btc_usd');
    expect(latest).toMatchObject({ value: 64_000, status: 'accepted', unit: 'USD/BTC', source: 'test' });
    expect(latest!.observedAt).toEqual(at(10));
    expect(await repo.latest('btc_usd', { statuses: ['held'] })).toMatchObject({
      value: 250_000,
      reason: 'jump',
    });
    expect(await repo.latest('difficulty')).toBeUndefined();
  });

  test('every field survives the round trip', async () => {
    await repo.append([
      reading('gpu_usd_per_gpu_hour', 2.1, 0, {
        subject: 'H100-SXM-80GB',
        validUntil: at(15),
        expiresAt: at(60),
        stale: true,
        status: 'confirmed',
        reason: 'jump confirmed',
        sourceName: 'vast.ai',
        ageSeconds: 42,
        detail: { offers: 9, gpuName: 'H100 SXM' },
      }),
    ]);
    const r = await repo.latest('gpu_usd_per_gpu_hour', { subject: 'H100-SXM-80GB' });
    expect(r).toMatchObject({
      signal: 'gpu_usd_per_gpu_hour',
      subject: 'H100-SXM-80GB',
      value: 2.1,
      stale: true,
      status: 'confirmed',
      reason: 'jump confirmed',
      sourceName: 'vast.ai',
      ageSeconds: 42,
      detail: { offers: 9, gpuName: 'H100 SXM' },
    });
    expect(r!.validUntil).toEqual(at(15));
    expect(r!.expiresAt).toEqual(at(60));
    expect(await repo.latest('gpu_usd_per_gpu_hour', { subject: 'RTX-4090' })).toBeUndefined();
  });

  test('history: [from, to) oldest first, filtered by subject and source, bounded', async () => {
    await repo.append([
      ...[0, 5, 10, 15, 20].map((m) => reading('energy_usd_per_mwh', 30 + m, m, { source: 'ercot' })),
      reading('energy_usd_per_mwh', 99, 7, { source: 'pushed:acme' }),
    ]);
    const rows = await repo.history('energy_usd_per_mwh', at(5), at(20), { source: 'ercot' });
    expect(rows.map((r) => r.value)).toEqual([35, 40, 45]);
    expect(
      (await repo.history('energy_usd_per_mwh', at(0), at(60), { limit: 2 })).map((r) => r.value),
    ).toEqual([30, 35]);
  });

  test('a large batch is written in one transaction', async () => {
    const batch = Array.from({ length: 1234 }, (_, i) => reading('ambient_c', 20 + (i % 10), i));
    expect(await repo.append(batch)).toBe(1234);
    const [row] = await queryRows<{ n: number }>(
      database.handle.db,
      sql`select count(*)::int as n from signal_readings`,
    );
    expect(row!.n).toBe(1234);
  });

  test('the hub records every reading, with its status, through the repository', async () => {
    const source = new FixedValueSource([
      { signal: 'btc_usd', value: 63_700 },
      { signal: 'difficulty', value: 88.1e12 },
      { signal: 'fees_btc_per_block', value: 0.44 },
      { signal: 'energy_usd_per_mwh', value: -500 },
    ]);
    const hub = new SignalHub({ sources: [{ source }], store: repo });
    await hub.refresh(T0);
    const hp = await repo.latest('hashprice_usd_per_th_day');
    expect(hp).toMatchObject({ status: 'derived', source: 'derived(fixed)', sourceName: 'derived' });
    expect(hp!.value * 1000).toBeCloseTo(51.85, 2);
    const rejected = await repo.latest('energy_usd_per_mwh', { statuses: ['rejected'] });
    expect(rejected!.reason).toMatch(/outside \[-250, 10000\]/);
    expect(await repo.latest('energy_usd_per_mwh')).toBeUndefined();
  });

  test('restore: a new hub starts from the last good values in the database', async () => {
    const pushed = new PushedPriceSource();
    pushed.push(
      [
        { at: at(0), usdPerMwh: 41 },
        { at: at(60), usdPerMwh: 45 },
      ],
      { by: 'acme' },
    );
    const first = new SignalHub({ sources: [{ source: pushed }], store: repo });
    await first.refresh(at(5));
    await first.close();

    const restarted = new SignalHub({ sources: [{ source: new PushedPriceSource() }] });
    const taken = restarted.restore(await repo.latestUsable(at(-24 * 60)));
    expect(taken).toBe(1);
    expect(restarted.current(at(10)).energy_usd_per_mwh).toMatchObject({
      value: 41,
      source: 'pushed:acme',
      stale: false,
    });
  });

  test('overrides in the database are shared by every store on it, and can be cleared', async () => {
    const api = new DatabaseOverrideStore(repo, { clock: () => at(0) });
    const controller = new DatabaseOverrideStore(new SignalRepository(database.handle.db));
    const o = await api.set({
      signal: 'energy_usd_per_mwh',
      value: 4200,
      expiresAt: at(60),
      setBy: 'alice',
      reason: 'ERS event',
    });
    const hub = new SignalHub({
      sources: [{ source: new OperatorOverrideSource(controller), trusted: true, snapshot: true }],
      store: repo,
    });
    await hub.refresh(at(1));
    expect(hub.current(at(1)).energy_usd_per_mwh).toMatchObject({ value: 4200, source: 'operator:alice' });
    expect(await controller.active(at(61))).toEqual([]);

    expect(await api.clear(o.id, 'bob')).toBe(true);
    expect(await controller.active(at(2))).toEqual([]);
    await hub.refresh(at(2));
    expect(hub.current(at(2)).energy_usd_per_mwh).toMatchObject({ assumeWorst: true, value: 5000 });
    expect(await api.clear(o.id, 'bob')).toBe(false);
  });

  test('prune deletes readings observed before a time', async () => {
    await repo.append([reading('btc_usd', 1, 0), reading('btc_usd', 2, 10), reading('btc_usd', 3, 20)]);
    expect(await repo.prune(at(10))).toBe(1);
    expect((await repo.history('btc_usd', at(-60), at(60))).map((r) => r.value)).toEqual([2, 3]);
  });
});
