// One controller cycle end to end: real Redis, PGlite, the simulator's firmware servers and
// BullMQ workers. At an energy price far above breakeven the plan sleeps every miner; the
// phases run in order as flows, the miners end up asleep, the plan and its changes are stored,
// and the simulator's ground-truth power log shows no violation.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { RunningWorkers } from '@switchyard/queue';
import type { SignalHub } from '@switchyard/signals';
import {
  startControllerService,
  type CycleRecord,
  type PhaseRecord,
  type RunningController,
} from '@switchyard/controller';
import { uniquePrefix } from '../queue/support.ts';
import { DEFAULT_RETENTION, ObservationRepository, queryRows } from '@switchyard/db';
import { waitUntil } from '../support/processes.ts';
import { fixedPriceHub } from '../support/fixed-hub.ts';
import {
  closeControllerTest,
  smallFarm,
  smallFarmControllerOptions,
  startSmallFarmSim,
  startTestWorkers,
  type SmallFarmSim,
} from '../support/small-farm.ts';

// clab: pdu-1 and pdu-2 (60 kW each), fleets ca and cb of three S19j Pro (LuxOS), one per PDU
const farm = smallFarm({ block: '10.206', site: 'clab', fleetPrefix: 'c' });

let farmSim: SmallFarmSim;
let hub: SignalHub;
let controller: RunningController | undefined;
const pruned: Array<Record<string, number>> = [];
let workers: RunningWorkers | undefined;
const prefix = uniquePrefix();

beforeAll(async () => {
  farmSim = await startSmallFarmSim(farm);
  hub = await fixedPriceHub(900);
}, 60_000);

afterAll(() => closeControllerTest({ workers, controller, hub, farmSim, prefix }));

it('sleeps the farm at a high energy price in one cycle, in order, without a violation', async () => {
  const cycles: CycleRecord[] = [];
  const phases: PhaseRecord[] = [];
  controller = await startControllerService({
    farm,
    site: 'clab',
    ...smallFarmControllerOptions(farmSim, prefix),
    signals: hub,
    intervalMs: 60_000,
    onCycle: (r) => cycles.push(r),
    onPhase: (r) => phases.push(r),
    retentionEveryMs: 300,
    pollEveryMs: 1000,
    observationEveryMs: 1000,
    onPruned: (r) => pruned.push(r),
  });
  const lease = controller.lease;
  workers = await startTestWorkers({ farmSim, prefix, lease });

  await controller.trigger('manual');

  expect(cycles.map((c) => [c.outcome, c.error])).toEqual([['dispatched', undefined]]);
  expect(phases.map((p) => [p.kind, p.status])).toEqual([
    ['shed', 'done'],
    ['confirm', 'done'],
  ]);
  expect(phases[0]?.jobs).toBe(2); // one batch per fleet
  for (const m of farmSim.sim.sim.miners()) expect(m.observe().state).toBe('sleeping');

  const planId = cycles[0]?.planId as string;
  const stored = await controller.plans.get(planId);
  expect(stored?.status).toBe('dispatched');
  expect(stored?.epoch).toBe(lease.epoch());
  expect(stored?.changes.map((c) => c.change)).toEqual([
    expect.stringMatching(/^sleep 3 of 3/),
    expect.stringMatching(/^sleep 3 of 3/),
  ]);

  const res = await fetch(`${farmSim.url}/sim/violations`);
  expect(((await res.json()) as { violations: unknown[] }).violations).toEqual([]);
}, 30_000);

it('deletes, as the leader, fleet observations older than the retention', async () => {
  const db = controller!.db.db;
  const obs = new ObservationRepository(db);
  const row = { site: 'clab', fleet: 'ca', byState: { hashing: 3 }, hashrateThs: 300, powerKw: 9 };
  const old = new Date(Date.now() - (DEFAULT_RETENTION.observationsDays + 1) * 86_400_000);
  await obs.appendFleetObservations(old, [
    { ...row, powerSource: 'measured', maxChipTempC: 70, degraded: 0 },
  ]);
  const olderThanKept = async () =>
    (
      await queryRows<{ n: number }>(
        db,
        `select count(*)::int as n from fleet_observations where observed_at <= '${old.toISOString()}'`,
      )
    )[0]!.n;
  expect(await olderThanKept()).toBe(1);
  await waitUntil(async () => (await olderThanKept()) === 0, {
    timeoutMs: 10_000,
    what: 'the old row pruned',
  });
  await waitUntil(() => pruned.some((p) => (p.fleet_observations ?? 0) >= 1), {
    timeoutMs: 5000,
    what: 'the retention run reported',
  });
}, 20_000);

it('stores, as the leader, the fleet observations of its polls', async () => {
  const db = controller!.db.db;
  const since = new Date(Date.now() - 1000);
  const fresh = await waitUntil(
    async () => {
      const rows = await new ObservationRepository(db).latestPerFleet({ site: 'clab', since });
      return rows.length === 2 ? rows : undefined;
    },
    { timeoutMs: 10_000, what: 'both fleets observed' },
  );
  expect(fresh.map((r) => r.fleet).sort()).toEqual(['ca', 'cb']);
  // Asleep since the first test: each fleet reads three sleeping miners.
  for (const r of fresh) expect(r.minersByState).toMatchObject({ sleeping: 3 });
}, 20_000);
