// Retention on PostgreSQL and PGlite: expired fleet observations, signal readings and settled
// webhook deliveries go, in batches; recent rows, pending deliveries and everything the policy
// keeps forever stay.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  BrokerRepository,
  ObservationRepository,
  pruneExpired,
  queryRows,
  WebhookRepository,
  type FleetObservationInput,
} from '@switchyard/db';
import { SignalRepository } from '@switchyard/signals';
import { openMigratedDatabase, type MigratedDatabase } from '../support/databases.ts';

const NOW = new Date('2026-07-01T12:00:00Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000);
const row = (fleet: string): FleetObservationInput => ({
  site: 'west-1',
  fleet,
  byState: { hashing: 3 },
  hashrateThs: 300,
  powerKw: 9,
  powerSource: 'measured',
  maxChipTempC: 70,
  degraded: 0,
});

describe.each(['pglite', 'pg'] as const)('pruneExpired on %s', (driver) => {
  let m: MigratedDatabase;
  const count = async (table: string, where = 'true') =>
    (
      await queryRows<{ n: number }>(m.handle.db, `select count(*)::int as n from ${table} where ${where}`)
    )[0]!.n;

  beforeAll(async () => {
    m = await openMigratedDatabase(driver);
    const db = m.handle.db;
    const obs = new ObservationRepository(db);
    // 7 polls 40 days ago, 2 polls 10 days ago, 3 fleets each.
    for (let i = 0; i < 7; i++)
      await obs.appendFleetObservations(
        new Date(daysAgo(40).getTime() + i * 10_000),
        ['a', 'b', 'c'].map(row),
      );
    for (let i = 0; i < 2; i++)
      await obs.appendFleetObservations(
        new Date(daysAgo(10).getTime() + i * 10_000),
        ['a', 'b', 'c'].map(row),
      );
    const signals = new SignalRepository(db);
    const reading = (at: Date, value: number) => ({
      signal: 'energy_usd_per_mwh' as const,
      value,
      unit: 'USD/MWh',
      source: 'ercot',
      observedAt: at,
      fetchedAt: at,
    });
    await signals.append([reading(daysAgo(120), 1), reading(daysAgo(100), 2), reading(daysAgo(5), 3)]);
    const broker = await new BrokerRepository(db).create({ name: 'retention-broker', kind: 'compute' });
    const webhooks = new WebhookRepository(db);
    await webhooks.create({ brokerId: broker.id, url: 'https://broker.example/hook' });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [d] = await webhooks.recordEvent({
        brokerId: broker.id,
        eventId: `evt-${i}`,
        event: 'order.state',
        at: NOW,
        payload: { i },
      });
      ids.push(d!.id);
    }
    await webhooks.settle(ids[0]!, { state: 'delivered', attempted: true, status: 200 });
    await webhooks.settle(ids[1]!, { state: 'failed', attempted: true, status: 500, error: 'HTTP 500' });
    await webhooks.settle(ids[2]!, { state: 'delivered', attempted: true, status: 200 });
    // ids[3] stays pending. Three were created 45 days ago, one (ids[2]) yesterday.
    await queryRows(
      db,
      `update webhook_deliveries set created_at = '${daysAgo(45).toISOString()}' where id in ('${ids[0]}', '${ids[1]}', '${ids[3]}')`,
    );
    await queryRows(
      db,
      `update webhook_deliveries set created_at = '${daysAgo(1).toISOString()}' where id = '${ids[2]}'`,
    );
  });
  afterAll(() => m?.cleanup());

  it('keeps everything when every retention is 0', async () => {
    const pruned = await pruneExpired(
      m.handle.db,
      { observationsDays: 0, signalsDays: 0, deliveriesDays: 0 },
      { now: NOW },
    );
    expect(pruned).toEqual({ fleet_observations: 0, signal_readings: 0, webhook_deliveries: 0 });
    expect(await count('fleet_observations')).toBe(27);
  });

  it('deletes only the expired rows, a batch at a time, and then nothing more', async () => {
    const policy = { observationsDays: 30, signalsDays: 90, deliveriesDays: 30 };
    // Batches of 4: the 21 expired observations take six statements.
    const pruned = await pruneExpired(m.handle.db, policy, { now: NOW, batch: 4 });
    expect(pruned).toEqual({ fleet_observations: 21, signal_readings: 2, webhook_deliveries: 2 });
    expect(await count('fleet_observations')).toBe(6);
    expect(await count('fleet_observations', `observed_at < '${daysAgo(30).toISOString()}'`)).toBe(0);
    expect(await count('signal_readings')).toBe(1);
    // The pending delivery stays however old; the recent delivered one stays.
    expect(
      (
        await queryRows<{ state: string }>(m.handle.db, 'select state from webhook_deliveries order by state')
      ).map((r) => r.state),
    ).toEqual(['delivered', 'pending']);
    expect(await pruneExpired(m.handle.db, policy, { now: NOW })).toEqual({
      fleet_observations: 0,
      signal_readings: 0,
      webhook_deliveries: 0,
    });
  });
});
