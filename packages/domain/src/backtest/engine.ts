// The backtest engine: steps the planner through a price history interval by interval, the way
// the controller would have run, and compares it with three baselines. Pure and online: each
// step sees only the current row and what came before (the planner's memory and the previous
// targets as the observed state), so dwell, hysteresis, ramp and cycle limits apply as live.
// See docs/backtest.md.
import type { Farm } from '../farm/farm-loader.ts';
import { plan, planGreedy } from '../planner/plan.ts';
import { checkPlan } from '../planner/check.ts';
import type {
  FleetTarget,
  MipSolver,
  Plan,
  PlanInput,
  PlanMemory,
  PoolTarget,
  SolverKind,
} from '../planner/types.ts';
import type { HistoryRow } from './history-csv.ts';
import {
  BacktestInputError,
  resolveSite,
  DEFAULT_STRIKE,
  farmShape,
  initialTargets,
  marketOrders,
  observedFrom,
  relaxedPolicy,
  rowSignals,
  rulePins,
  sitePolicy,
  StrikeRule,
  withPolicy,
  type FarmShape,
  type StrikeOptions,
} from './strategies.ts';

export interface BacktestOptions {
  /** Seconds between rows (from the parsed history); each row is one planning interval. */
  stepSeconds: number;
  /** The site to run (default: the farm's only site). */
  site?: string | undefined;
  /** Plan the engine with this MILP solver; without one the greedy planner is used. */
  solver?: MipSolver | undefined;
  /** MILP time limit per interval (default the planner's). */
  timeLimitMs?: number | undefined;
  strike?: StrikeOptions | undefined;
  /** "market" (default): a row's GPU price is demand for every GPU node; "none": no GPU orders. */
  gpuDemand?: 'market' | 'none' | undefined;
  /** Rows before `from` or at/after `to` (epoch ms) are left out (runBacktest only). */
  from?: number | undefined;
  to?: number | undefined;
  /** Called after every interval (tests, progress, exports). */
  onInterval?: ((r: IntervalResult) => void) | undefined;
}

export interface StrategyReport {
  netUsd: number;
  revenueUsd: { hashing: number; inference: number; gpuHashing: number };
  /** Facility energy (IT load × PUE) at the row's price. */
  energyCostUsd: number;
  /** cycles × the policy's wearCostUsdPerCycle. */
  wearCostUsd: number;
  /** Miner sleep/wake cycles (a sleep and a wake make one). */
  cycles: number;
  /** checkPlan violations summed over intervals. */
  violations: number;
  energyMwh: number;
}

export interface BacktestReport {
  intervals: number;
  /** Start of the first interval and end of the last (ISO-8601, UTC). */
  from: string | null;
  to: string | null;
  stepSeconds: number;
  site: string;
  gaps: Array<{ after: string; before: string; line: number; missingIntervals: number }>;
  engine: StrategyReport & { solver: SolverKind; note: string; milpFallbacks: number };
  baselines: {
    alwaysOn: StrategyReport & { rule: string };
    strike: StrategyReport & { rule: string; n: number; m: number };
    hindsight: StrategyReport & { relaxation: string; intervalsFromStrategies: number };
  };
  /** engine.netUsd ÷ hindsight.netUsd (null when hindsight earns nothing). */
  captureRatio: number | null;
  assumptions: string[];
}

export type StrategyName = 'engine' | 'alwaysOn' | 'strike' | 'hindsight';

export interface IntervalOutcome {
  fleets: Record<string, FleetTarget>;
  pools: Record<string, PoolTarget>;
  admitted: string[];
  /** The interval's money (USD) and facility energy (MWh). */
  money: { hashing: number; inference: number; gpuHashing: number; energy: number; energyMwh: number };
  /** Revenue less energy for the interval (USD, before wear). */
  marginUsd: number;
  cycles: number;
  violations: number;
}

export interface IntervalResult {
  time: number;
  line: number;
  energyUsdPerMwh: number;
  hashpriceUsdPerThDay: number;
  outcomes: Record<StrategyName, IntervalOutcome>;
}

interface Tally {
  hashing: number;
  inference: number;
  gpuHashing: number;
  energy: number;
  energyMwh: number;
  cycles: number;
  violations: number;
}

interface Run {
  memory: PlanMemory | undefined;
  fleets: Record<string, FleetTarget>;
  pools: Record<string, PoolTarget>;
  /** Market orders running, by id → pool. */
  running: Map<string, string>;
  tally: Tally;
}

const newTally = (): Tally => ({
  hashing: 0,
  inference: 0,
  gpuHashing: 0,
  energy: 0,
  energyMwh: 0,
  cycles: 0,
  violations: 0,
});

function newRun(shape: FarmShape): Run {
  const t = initialTargets(shape);
  return { memory: undefined, fleets: t.fleets, pools: t.pools, running: new Map(), tally: newTally() };
}

/**
 * checkPlan violations of a plan. The greedy planner already runs the checker on its own plan
 * (against the view built from the same input, which is what checkPlan does) and reports each
 * violation as an "internal check" warning; a MILP plan is only used when it passes the checker.
 */
function violationsOf(input: PlanInput, p: Plan): number {
  if (p.solver === 'greedy') return p.warnings.filter((w) => w.startsWith('internal check:')).length;
  return checkPlan(input, p).length;
}

const marginPerHour = (p: Plan) =>
  p.economics.hashingUsdPerHour +
  p.economics.inferenceUsdPerHour +
  p.economics.gpuHashingUsdPerHour -
  p.economics.energyUsdPerHour;

function cyclesBetween(before: Record<string, FleetTarget>, after: Record<string, FleetTarget>): number {
  let transitions = 0;
  for (const [name, t] of Object.entries(after))
    transitions += Math.abs(t.asleep - (before[name]?.asleep ?? 0));
  return transitions / 2;
}

function targetsOf(p: Plan): { fleets: Record<string, FleetTarget>; pools: Record<string, PoolTarget> } {
  const fleets: Record<string, FleetTarget> = {};
  for (const [n, f] of Object.entries(p.fleets)) fleets[n] = f.target;
  const pools: Record<string, PoolTarget> = {};
  for (const [n, x] of Object.entries(p.pools)) pools[n] = x.target;
  return { fleets, pools };
}

/** Adds one interval's plan to a run and moves the run to its targets. */
function addMoney(t: Tally, m: IntervalOutcome['money']): void {
  t.hashing += m.hashing;
  t.inference += m.inference;
  t.gpuHashing += m.gpuHashing;
  t.energy += m.energy;
  t.energyMwh += m.energyMwh;
}

/** Adds one interval's plan to a run and moves the run to its targets. */
function account(run: Run, p: Plan, hours: number, violations: number, keepMemory: boolean): IntervalOutcome {
  const e = p.economics;
  const money = {
    hashing: e.hashingUsdPerHour * hours,
    inference: e.inferenceUsdPerHour * hours,
    gpuHashing: e.gpuHashingUsdPerHour * hours,
    energy: e.energyUsdPerHour * hours,
    energyMwh: (p.loads.site.facilityKw * hours) / 1000,
  };
  addMoney(run.tally, money);
  run.tally.violations += violations;
  const next = targetsOf(p);
  const cycles = cyclesBetween(run.fleets, next.fleets);
  run.tally.cycles += cycles;
  run.fleets = next.fleets;
  run.pools = next.pools;
  run.running = new Map(p.admitted.map((a) => [a.orderId, a.pool]));
  if (keepMemory) run.memory = p.memory;
  return {
    ...next,
    admitted: p.admitted.map((a) => a.orderId),
    money,
    marginUsd: money.hashing + money.inference + money.gpuHashing - money.energy,
    cycles,
    violations,
  };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function strategyReport(t: Tally, wearPerCycle: number): StrategyReport {
  const wear = t.cycles * wearPerCycle;
  return {
    netUsd: round(t.hashing + t.inference + t.gpuHashing - t.energy - wear),
    revenueUsd: { hashing: round(t.hashing), inference: round(t.inference), gpuHashing: round(t.gpuHashing) },
    energyCostUsd: round(t.energy),
    wearCostUsd: round(wear),
    cycles: round(t.cycles, 1),
    violations: t.violations,
    energyMwh: round(t.energyMwh, 1),
  };
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export interface Backtest {
  /** Plans one interval. Rows must come in time order; the engine never sees a later row. */
  step(row: HistoryRow): Promise<IntervalResult>;
  report(): BacktestReport;
}

/** An online backtest: feed it rows one at a time with step(), then read report(). */
export function createBacktest(farmIn: Farm, opts: BacktestOptions): Backtest {
  const site = resolveSite(farmIn, opts.site);
  const stepSeconds = opts.stepSeconds;
  if (!(stepSeconds > 0 && stepSeconds <= 3600))
    throw new BacktestInputError(`step ${stepSeconds} s: must be between 1 s and 1 h`);
  const stepMs = stepSeconds * 1000;
  const hours = stepSeconds / 3600;
  const policy = { ...sitePolicy(farmIn, site), intervalSeconds: stepSeconds };
  const farm = withPolicy(farmIn, site, policy);
  const relaxed = withPolicy(farmIn, site, relaxedPolicy(policy));
  const shape = farmShape(farm, site);
  const pue = (farm.sites.find((s) => s.metadata.name === site) as Farm['sites'][number]).spec.pue;
  const strikeOpts = opts.strike ?? DEFAULT_STRIKE;
  const strike = new StrikeRule(strikeOpts);
  const gpuMarket = (opts.gpuDemand ?? 'market') === 'market';
  const runs = {
    engine: newRun(shape),
    alwaysOn: newRun(shape),
    strike: newRun(shape),
    hindsight: newRun(shape),
  };
  const initial = initialTargets(shape);
  const initialObserved = observedFrom(initial.fleets, initial.pools);
  let intervals = 0;
  let first: number | null = null;
  let last: HistoryRow | null = null;
  const engineSolver: SolverKind = opts.solver ? 'milp' : 'greedy';
  let milpFallbacks = 0;
  let fromStrategies = 0;
  let sawGpuPrice = false;
  let sawNoAmbient = false;
  const gaps: BacktestReport['gaps'] = [];

  const inputFor = (
    run: Run,
    row: HistoryRow,
    f: Farm,
    extra: Pick<PlanInput, 'orders' | 'overrides'>,
  ): PlanInput => ({
    farm: f,
    site,
    observed: observedFrom(run.fleets, run.pools),
    signals: rowSignals(row, site),
    dispatches: [],
    now: row.time,
    previous: run.memory,
    ...extra,
  });

  async function planEngine(input: PlanInput): Promise<Plan> {
    if (!opts.solver) return planGreedy(input);
    const p = await plan(input, opts.solver, opts.timeLimitMs ? { timeLimitMs: opts.timeLimitMs } : {});
    if (p.solver === 'greedy') milpFallbacks++;
    return p;
  }

  async function step(row: HistoryRow): Promise<IntervalResult> {
    if (last && row.time <= last.time)
      throw new BacktestInputError(
        `row at ${iso(row.time)} (line ${row.line}) does not come after ${iso(last.time)} (line ${last.line})`,
      );
    if (last && row.time - last.time > stepMs)
      gaps.push({
        after: iso(last.time),
        before: iso(row.time),
        line: row.line,
        missingIntervals: Math.round((row.time - last.time) / stepMs) - 1,
      });
    first ??= row.time;
    last = row;
    intervals++;
    if (row.gpuUsdPerGpuHour !== null) sawGpuPrice = true;
    if (row.ambientC === null) sawNoAmbient = true;
    const market = gpuMarket && row.gpuUsdPerGpuHour !== null;

    // The engine: the planner as the controller runs it.
    const eIn = inputFor(runs.engine, row, farm, {
      orders: gpuMarket ? marketOrders(shape, row, 'interruptible', runs.engine.running) : [],
      overrides: [],
    });
    const eP = await planEngine(eIn);
    const engine = account(runs.engine, eP, hours, violationsOf(eIn, eP), true);

    // Baselines: the rule's state pinned on every fleet; GPUs serve whatever the market takes.
    const baseline = (run: Run, asleep: ReadonlySet<string>): IntervalOutcome => {
      const input = inputFor(run, row, farm, {
        orders: gpuMarket ? marketOrders(shape, row, 'reserved', run.running) : [],
        overrides: rulePins(shape, asleep, row.time, stepMs, market),
      });
      const p = planGreedy(input);
      return account(run, p, hours, violationsOf(input, p), true);
    };
    const alwaysOn = baseline(runs.alwaysOn, new Set());
    const strikeOut = baseline(runs.strike, strike.step(shape, row, pue, policy.poolFeePct / 100));

    // Hindsight: the same interval with everything that couples intervals relaxed.
    const hIn: PlanInput = {
      farm: relaxed,
      site,
      observed: initialObserved,
      signals: rowSignals(row, site),
      orders: gpuMarket ? marketOrders(shape, row, 'interruptible', new Map()) : [],
      dispatches: [],
      now: row.time,
    };
    const hP = opts.solver
      ? await plan(hIn, opts.solver, opts.timeLimitMs ? { timeLimitMs: opts.timeLimitMs } : {})
      : planGreedy(hIn);
    const hViolations = violationsOf(hIn, hP);
    const hindsight = hindsightInterval(hP, hViolations, [engine, alwaysOn, strikeOut]);
    const result: IntervalResult = {
      time: row.time,
      line: row.line,
      energyUsdPerMwh: eP.prices.energyUsdPerMwh,
      hashpriceUsdPerThDay: eP.prices.hashpriceUsdPerThDay,
      outcomes: { engine, alwaysOn, strike: strikeOut, hindsight },
    };
    opts.onInterval?.(result);
    return result;
  }

  /**
   * The relaxed plan for the interval — unless a strategy's own plan (feasible for the same
   * limits) earned more in it: the greedy planner is not exact when limits bind, and a bound must
   * not fall below what was achieved.
   */
  function hindsightInterval(hP: Plan, hViolations: number, others: IntervalOutcome[]): IntervalOutcome {
    const run = runs.hindsight;
    const own = hViolations === 0 ? marginPerHour(hP) * hours : -Infinity;
    let best: IntervalOutcome | null = null;
    for (const o of others)
      if (o.violations === 0 && o.marginUsd > own + 1e-6 && (!best || o.marginUsd > best.marginUsd)) best = o;
    if (!best) return account(run, hP, hours, hViolations, false);
    fromStrategies++;
    const cycles = cyclesBetween(run.fleets, best.fleets);
    addMoney(run.tally, best.money);
    run.tally.cycles += cycles;
    run.fleets = best.fleets;
    run.pools = best.pools;
    return { ...best, cycles, violations: 0 };
  }

  function report(): BacktestReport {
    const wear = policy.wearCostUsdPerCycle;
    const e = strategyReport(runs.engine.tally, wear);
    const h = strategyReport(runs.hindsight.tally, 0);
    const assumptions = [
      `each row is one ${stepSeconds / 60}-minute planning interval (the policy's intervalSeconds is set to the step, so the ramp limit allows one step's ramp)`,
      'the farm starts with every miner hashing at its normal profile and every GPU node idle; afterwards each strategy observes its own previous targets (no faults, no stale telemetry)',
      gpuMarket && sawGpuPrice
        ? 'GPU demand: in a row with a GPU price the rental market rents every GPU pool whole at that price (one interruptible order per pool); the engine and hindsight may decline or preempt it, the baselines always serve it'
        : 'GPU demand: none (no GPU orders); GPU nodes may hash',
      ...(sawNoAmbient
        ? ['rows without ambient_c derate cooling for the worst-case ambient (unknown means worst case)']
        : []),
      'no grid dispatches, no operator overrides, no faults',
    ];
    return {
      intervals,
      from: first === null ? null : iso(first),
      to: last === null ? null : iso(last.time + stepMs),
      stepSeconds,
      site,
      gaps,
      engine: {
        solver: engineSolver,
        note:
          engineSolver === 'milp'
            ? `MILP per interval (HiGHS); ${milpFallbacks} interval(s) fell back to the greedy plan`
            : 'greedy planner per interval (the planner’s always-feasible solver, also the MILP’s fallback); --solver milp solves each interval with HiGHS instead, several times slower',
        milpFallbacks,
        ...e,
      },
      baselines: {
        alwaysOn: {
          rule: 'every miner hashes at its normal profile and every GPU node serves the market (hashes without one); where that would put a power-tree node, cooling zone or the site over its limit, the planner sheds under that limit the least value per kW first — the hard-limit rule the engine follows — and brings miners back as soon as the limit allows',
          ...strategyReport(runs.alwaysOn.tally, wear),
        },
        strike: {
          rule: `a fleet sleeps after energy is above its breakeven at the normal profile (with PUE and pool fee) for ${strikeOpts.n} consecutive intervals and wakes after ${strikeOpts.m} at or below; awake fleets hash at the normal profile; GPUs and limits as in alwaysOn`,
          n: strikeOpts.n,
          m: strikeOpts.m,
          ...strategyReport(runs.strike.tally, wear),
        },
        hindsight: {
          relaxation:
            'per-interval optimum knowing every price, with the constraints that couple intervals relaxed: minimum dwell, ramp limit, daily cycle budget and hysteresis band dropped, wear not charged (cycles are shown for information); every limit within an interval (power tree, cooling zones, site) still holds. It is a relaxation of the full-horizon problem, so solved exactly it is an upper bound on any strategy under the same limits. Each interval is solved with the engine’s solver (greedy: near-exact when no limit binds, not exact when one does); where one of the evaluated strategies’ own feasible plans earned more in an interval, that plan is taken instead, so the bound is never below any of them',
          intervalsFromStrategies: fromStrategies,
          ...h,
        },
      },
      captureRatio: h.netUsd > 0 ? round(e.netUsd / h.netUsd, 4) : null,
      assumptions,
    };
  }

  return { step, report };
}

/** Runs a whole history (rows in time order) and returns the report. */
export async function runBacktest(
  rows: readonly HistoryRow[],
  farm: Farm,
  opts: BacktestOptions,
): Promise<BacktestReport> {
  const bt = createBacktest(farm, opts);
  for (const row of rows) {
    if (opts.from !== undefined && row.time < opts.from) continue;
    if (opts.to !== undefined && row.time >= opts.to) continue;
    await bt.step(row);
  }
  return bt.report();
}
