// Planner benchmark: how long one plan takes for synthetic sites of 1k, 10k and 100k miners (each
// with a 500-node power tree, 5,000 GPUs in 10 pools and 1,000 broker orders), with the MILP
// (HiGHS in a worker thread, the production path) and with the greedy solver alone; peak memory;
// and how much the MILP gains over the greedy plan on ~50 random farms.
// Writes bench/results/planner.json. Run with ./scripts/bench planner.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import {
  baselineDecision,
  buildView,
  plan,
  planGreedy,
  scoreDecision,
  type PlanInput,
} from '@switchyard/domain';
import { randomPlanInput, syntheticPlanInput } from '@switchyard/domain/testing';
import { HighsSolver } from '@switchyard/solver';

const TIME_LIMIT_MS = 1000;
const SIZES = [
  { label: '1k', miners: 1_000, runs: 30 },
  { label: '10k', miners: 10_000, runs: 30 },
  { label: '100k', miners: 100_000, runs: 40 },
] as const;
/** Energy prices the runs cycle through, so each run plans a different situation. */
const PRICES = [35, 48, 60, 75, 95, 130];

interface Timing {
  medianMs: number;
  p99Ms: number;
  minMs: number;
  runs: number;
}

function summarise(xs: number[]): Timing {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
  return {
    medianMs: +at(0.5).toFixed(2),
    p99Ms: +at(0.99).toFixed(2),
    minMs: +(s[0] as number).toFixed(2),
    runs: s.length,
  };
}

let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

const solver = new HighsSolver();
await solver.start();

const timings: Record<string, unknown> = {};
const medians: Record<string, { milp: Timing; greedy: Timing }> = {};
for (const size of SIZES) {
  const inputs: PlanInput[] = PRICES.map((energy, i) =>
    syntheticPlanInput({ miners: size.miners, seed: 1 + i, energyUsdPerMwh: energy }),
  );
  // Warm up both paths (JIT, the worker's HiGHS instance).
  for (const input of inputs.slice(0, 2)) {
    await plan(input, solver, { timeLimitMs: TIME_LIMIT_MS });
    planGreedy(input);
  }
  const milp: number[] = [];
  const greedy: number[] = [];
  const solvedBy = { milp: 0, greedy: 0 };
  const fallbacks = new Set<string>();
  let variables = 0;
  let rows = 0;
  for (let r = 0; r < size.runs; r++) {
    const input = inputs[r % inputs.length] as PlanInput;
    let t0 = performance.now();
    const p = await plan(input, solver, { timeLimitMs: TIME_LIMIT_MS });
    milp.push(performance.now() - t0);
    solvedBy[p.solver]++;
    if (p.fallbackReason) fallbacks.add(p.fallbackReason.replace(/[\d.,]+/g, '#'));
    variables = p.stats.columns;
    rows = p.stats.rows;
    t0 = performance.now();
    planGreedy(input);
    greedy.push(performance.now() - t0);
    sampleRss();
  }
  medians[size.label] = { milp: summarise(milp), greedy: summarise(greedy) };
  timings[size.label] = {
    miners: size.miners,
    fleets: inputs[0]?.farm.fleets.length,
    powerTreeNodes: 500,
    gpus: 5000,
    orders: inputs[0]?.orders.length,
    milpModel: { variables, rows },
    withMilp: { ...summarise(milp), solvedBy, fallbackReasons: [...fallbacks] },
    greedyOnly: summarise(greedy),
  };
  console.log(size.label, JSON.stringify(timings[size.label]));
}

// MILP over greedy on random farms: gain over the all-shed baseline, MILP ÷ greedy.
const ratios: number[] = [];
let better = 0;
let milpPlans = 0;
for (let i = 0; i < 50; i++) {
  const input = randomPlanInput(10_007 * (i + 1), { maxFleets: 30, maxOrders: 60, maxPools: 4 });
  const view = buildView(input);
  const base = scoreDecision(view, baselineDecision(view)).score;
  const m = await plan(input, solver, { timeLimitMs: TIME_LIMIT_MS });
  const g = planGreedy(input);
  if (m.solver === 'milp') milpPlans++;
  if (m.objective.score > g.objective.score + 1e-6) better++;
  const gain = g.objective.score - base;
  ratios.push(gain > 1e-9 ? (m.objective.score - base) / gain : 1);
  sampleRss();
}
await solver.close();

const median = (label: string) => medians[label] as { milp: Timing; greedy: Timing };
const results = {
  benchmark: 'planner',
  date: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: os.loadavg().map((x) => +x.toFixed(2)),
  },
  note: 'plan*Ms: plan() with the MILP (HiGHS in a worker thread, time limit 1,000 ms, greedy fallback) — the production path; greedy*Ms: planGreedy() alone. Synthetic sites: 500 power-tree nodes, 5,000 GPUs in 10 pools, 1,000 orders.',
  plan1kMedianMs: median('1k').milp.medianMs,
  plan10kMedianMs: median('10k').milp.medianMs,
  plan100kMedianMs: median('100k').milp.medianMs,
  plan100kP99Ms: median('100k').milp.p99Ms,
  greedy1kMedianMs: median('1k').greedy.medianMs,
  greedy10kMedianMs: median('10k').greedy.medianMs,
  greedy100kMedianMs: median('100k').greedy.medianMs,
  greedy100kP99Ms: median('100k').greedy.p99Ms,
  milpOverGreedyTime100k: +(median('100k').milp.medianMs / median('100k').greedy.medianMs).toFixed(2),
  planRssMiB: Math.round(peakRss / 2 ** 20),
  mipOverGreedyObjective: +(ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(5),
  mipOverGreedy: {
    cases: ratios.length,
    definition: 'mean over random farms of (MILP score − all-shed score) ÷ (greedy score − all-shed score)',
    milpPlans,
    milpBetterCases: better,
    minRatio: +Math.min(...ratios).toFixed(5),
    maxRatio: +Math.max(...ratios).toFixed(5),
  },
  timings,
};
writeFileSync('bench/results/planner.json', `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
