// A power-tree node pushed past what the plan allows, behind the controller's back (miners
// woken by hand), is shed at the next background poll — not at the next interval. Real Redis,
// the simulator's firmware servers, BullMQ workers; the simulator's ground-truth power log is
// the judge.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { RunningWorkers } from '@switchyard/queue';
import type { SignalHub } from '@switchyard/signals';
import { startControllerService, type CycleRecord, type RunningController } from '@switchyard/controller';
import { uniquePrefix } from '../queue/support.ts';
import { fixedPriceHub } from '../support/fixed-hub.ts';
import { waitUntil as waitFor } from '../support/processes.ts';
import {
  closeControllerTest,
  smallFarm,
  smallFarmControllerOptions,
  startSmallFarmSim,
  startTestWorkers,
  type SmallFarmSim,
} from '../support/small-farm.ts';

// One fleet of eight S19j Pro (3,068 W each on their normal profile: 24.5 kW) on pdu-1, rated
// 26 kW. A 20 % margin: every plan holds the PDU at 20.8 kW; the watch acts above 23.4 kW (half
// the margin). All eight awake is 94 % of the rating: over the watch, under the breaker.
const LIMIT_KW = 26;
const MARGIN_PCT = 20;
const farm = smallFarm({
  block: '10.208',
  site: 'olab',
  fleetPrefix: 'o',
  fleets: 1,
  minersPerFleet: 8,
  pduLimitKw: LIMIT_KW,
  policy: { safetyMarginPct: MARGIN_PCT },
});
const FLEET = 'oa';

let farmSim: SmallFarmSim;
let hub: SignalHub;
let controller: RunningController | undefined;
let workers: RunningWorkers | undefined;
const prefix = uniquePrefix();

/** The PDU's true draw now, from the simulator's own miners (kW). */
const pduKw = () => farmSim.sim.sim.miners().reduce((n, m) => n + m.observe().powerW, 0) / 1000;

beforeAll(async () => {
  farmSim = await startSmallFarmSim(farm);
  hub = await fixedPriceHub(20); // cheap energy: every miner the PDU allows should hash
}, 60_000);

afterAll(() => closeControllerTest({ workers, controller, hub, farmSim, prefix }));

it('sheds a node pushed over by hand at the next poll, with no violation', async () => {
  const cycles: CycleRecord[] = [];
  const warnings: string[] = [];
  controller = await startControllerService({
    farm,
    site: 'olab',
    ...smallFarmControllerOptions(farmSim, prefix),
    signals: hub,
    intervalMs: 600_000, // no interval cycle during the test: only events plan
    pollEveryMs: 500,
    onCycle: (r) => cycles.push(r),
    onWarning: (w) => warnings.push(w),
  });
  workers = await startTestWorkers({ farmSim, prefix, lease: controller.lease });

  // The first plan: the PDU held at its cap (some miners asleep or lowered).
  await controller.trigger('manual');
  await waitFor(
    async () =>
      cycles.some((c) => c.outcome === 'dispatched') && pduKw() <= LIMIT_KW * (1 - MARGIN_PCT / 100),
    { timeoutMs: 20_000, what: 'the first plan carried out' },
  );

  // Behind the controller's back: every miner awake at full power.
  const before = cycles.length;
  await farmSim.sim.sim.control({ action: 'wake', fleet: FLEET });
  await farmSim.sim.sim.control({ action: 'profile', profile: 'normal', fleet: FLEET });
  await waitFor(async () => pduKw() > LIMIT_KW * (1 - MARGIN_PCT / 200), {
    timeoutMs: 20_000,
    what: 'the hand-woken miners drawing past the watch',
  });
  const pushedAt = Date.now();

  // The controller's next poll sees it and plans at once; the PDU is back under the cap.
  await waitFor(
    async () =>
      cycles.slice(before).some((c) => c.trigger === 'over-limit' && c.outcome === 'dispatched') &&
      pduKw() <= LIMIT_KW * (1 - MARGIN_PCT / 100),
    { timeoutMs: 20_000, what: 'an over-limit cycle shedding the PDU under its cap' },
  ).catch((e: Error) => {
    throw new Error(
      `${e.message}; pdu-1 at ${pduKw().toFixed(2)} kW; cycles ${JSON.stringify(cycles.slice(before))}; warnings ${JSON.stringify(warnings)}`,
      { cause: e },
    );
  });
  const reactionMs = Date.now() - pushedAt;
  console.log(`over-limit: pdu-1 back under its cap ${reactionMs} ms after the push (interval: 600 s)`);
  expect(reactionMs).toBeLessThan(20_000);
  expect(warnings.some((w) => /over the limit: pdu-1 at [\d.]+ of 26 kW/.test(w))).toBe(true);
  // Only events planned: no interval cycle came in between.
  expect(cycles.slice(before).map((c) => c.trigger)).not.toContain('interval');

  // The simulator's ground truth: the PDU never went over its rating (it was inside its margin
  // at the start, all eight hashing, and again when pushed by hand).
  const res = await fetch(`${farmSim.url}/sim/violations?kind=limit`);
  expect(((await res.json()) as { violations: unknown[] }).violations).toEqual([]);
}, 90_000);
