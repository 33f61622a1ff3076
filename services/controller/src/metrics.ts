// The controller's metrics: what the farm draws and earns, what the planner decided, how the
// cycles, phases and grid dispatches went, and how old the signals are. Set from the leader's own
// observations (a follower exports its leadership gauges only, so sums over replicas stay right).
// Labels: site, power-tree node, fleet, pool, GPU model, signal — never a miner or an order.
import type { Farm, GridDispatch, Plan } from '@switchyard/domain';
import type { PollResult } from '@switchyard/miners';
import { DURATION_BUCKETS_S, LabelLimiter, metricsIn, type Registry } from '@switchyard/telemetry';
import type { CycleRecord } from './control-loop.ts';
import type { PhaseRecord } from './ports.ts';
import type { GpuDraw } from './gpu-draw.ts';
import { nodeLoadReader, type NodeLoad } from './node-loads.ts';

/** What a signal hub's `current()` gives, as far as the metrics read it. */
interface SignalView {
  signal: string;
  subject?: string;
  source: string;
  value: number | null;
  ageSeconds: number | null;
  stale: boolean;
}

export interface ControllerMetricsOptions {
  farm: Farm;
  site: string;
  /** Leadership and the fencing epoch, read on every scrape. */
  lease: { isLeader(): boolean; epoch(): number | null };
  /** Current signals, read on every scrape. */
  signals?: () => Record<string, SignalView>;
  /** Device commands not yet seen in telemetry, read on every scrape. */
  inFlight?: () => number;
}

/** The uses power is split into. */
export const POWER_USES = ['hashing', 'gpu_hashing', 'inference', 'gpu_idle', 'overhead'] as const;

export type ControllerMetrics = ReturnType<typeof createControllerMetrics>;

export function createControllerMetrics(registry: Registry, o: ControllerMetricsOptions) {
  const site = o.site;
  const siteSpec = o.farm.sites.find((s) => s.metadata.name === site);
  const pue = siteSpec?.spec.pue ?? 1;
  const nodeLoads = nodeLoadReader(o.farm, site);
  const reasons = new LabelLimiter(20);
  const m = metricsIn(registry);

  const powerKw = m.gauge({
    name: 'switchyard_power_kw',
    help: 'Power drawn by use at the site (kW): hashing (ASIC fleets), gpu_hashing, inference, gpu_idle, overhead (facility load above IT, from the PUE)',
    labelNames: ['site', 'use'],
  });
  const siteLoadKw = m.gauge({
    name: 'switchyard_site_load_kw',
    help: 'Facility load at the interconnect meter (kW): IT load times PUE',
    labelNames: ['site'],
  });
  const siteCapKw = m.gauge({
    name: 'switchyard_site_cap_kw',
    help: 'Facility cap the last plan kept under (kW): the interconnect or a grid dispatch, less reserve',
    labelNames: ['site'],
  });
  const nodeLoadKw = m.gauge({
    name: 'switchyard_power_node_load_kw',
    help: 'Observed IT load on a power-tree node, its descendants included (kW); unread devices at nameplate',
    labelNames: ['site', 'node'],
  });
  const nodeLimitKw = m.gauge({
    name: 'switchyard_power_node_limit_kw',
    help: "A power-tree node's continuous rating (kW)",
    labelNames: ['site', 'node'],
  });
  const nodeUtilisation = m.gauge({
    name: 'switchyard_power_node_utilisation_ratio',
    help: "Observed load over the node's limit (1 = at the limit)",
    labelNames: ['site', 'node'],
  });
  const nodeHeadroomKw = m.gauge({
    name: 'switchyard_power_node_headroom_kw',
    help: 'Limit less observed load on a power-tree node (kW); negative when over',
    labelNames: ['site', 'node'],
  });
  const nodeOverLimit = m.counter({
    name: 'switchyard_power_node_over_limit_total',
    help: 'Polls in which a power-tree node was observed above its limit',
    labelNames: ['site', 'node'],
  });
  const hashprice = m.gauge({
    name: 'switchyard_hashprice_usd_per_th_day',
    help: 'Hashprice the last plan used (USD per TH/s per day)',
  });
  const energyPrice = m.gauge({
    name: 'switchyard_energy_price_usd_per_mwh',
    help: 'Energy price the last plan used (USD/MWh)',
    labelNames: ['site'],
  });
  m.gauge({
    name: 'switchyard_gpu_price_usd_per_gpu_hour',
    help: 'GPU reference price in use per GPU model (USD per GPU-hour; gpu_model "any" for a price without one)',
    labelNames: ['gpu_model'],
    collect() {
      this.reset();
      for (const s of Object.values(o.signals?.() ?? {}))
        if (s.signal === 'gpu_usd_per_gpu_hour' && s.value !== null)
          this.set({ gpu_model: s.subject ?? 'any' }, s.value);
    },
  });
  const breakeven = m.gauge({
    name: 'switchyard_breakeven_usd_per_mwh',
    help: 'Energy price below which a fleet earns more than it costs at its best profile (USD/MWh, whole draw with PUE and pool fee)',
    labelNames: ['site', 'fleet'],
  });
  const revenue = m.gauge({
    name: 'switchyard_revenue_usd_per_hour',
    help: 'Revenue rate of the last plan by use (USD/h)',
    labelNames: ['site', 'use'],
  });
  const cost = m.gauge({
    name: 'switchyard_cost_usd_per_hour',
    help: 'Cost rate of the last plan by kind: energy, wear (USD/h)',
    labelNames: ['site', 'kind'],
  });
  const planDuration = m.histogram({
    name: 'switchyard_plan_duration_seconds',
    help: 'Time to make a plan, by the solver that produced it (milp, greedy)',
    labelNames: ['site', 'solver'],
    buckets: DURATION_BUCKETS_S,
  });
  const plans = m.counter({
    name: 'switchyard_plans_total',
    help: 'Plans made, by solver and trigger',
    labelNames: ['site', 'solver', 'trigger'],
  });
  const fallbacks = m.counter({
    name: 'switchyard_plan_fallbacks_total',
    help: 'Plans for which the MILP solver was asked but the greedy plan was used (timeout, infeasible, error)',
    labelNames: ['site'],
  });
  const changes = m.counter({
    name: 'switchyard_plan_changes_total',
    help: 'Changes the plans made, by what they change (fleet, pool, order)',
    labelNames: ['site', 'target_kind'],
  });
  const cycles = m.counter({
    name: 'switchyard_controller_cycles_total',
    help: 'Control cycles, by trigger and outcome',
    labelNames: ['trigger', 'outcome'],
  });
  const toDispatch = m.histogram({
    name: 'switchyard_controller_trigger_to_dispatch_seconds',
    help: 'Time from a trigger to its sequence being handed to the queues',
    labelNames: ['trigger'],
    buckets: DURATION_BUCKETS_S,
  });
  const phases = m.counter({
    name: 'switchyard_controller_phases_total',
    help: 'Sequence phases, by kind (shed, confirm, add) and status',
    labelNames: ['kind', 'status'],
  });
  const miners = m.gauge({
    name: 'switchyard_miners',
    help: 'Miners by state per fleet, from the last poll',
    labelNames: ['site', 'fleet', 'state'],
  });
  const degraded = m.gauge({
    name: 'switchyard_miners_degraded',
    help: 'Degraded miners per fleet by reason class, from the last poll',
    labelNames: ['site', 'fleet', 'reason'],
  });
  const temperature = m.gauge({
    name: 'switchyard_miner_chip_temperature_celsius',
    help: 'Chip temperature per fleet from the last poll: the hottest miner (max) and the mean',
    labelNames: ['site', 'fleet', 'stat'],
  });
  const hashrate = m.gauge({
    name: 'switchyard_fleet_hashrate_ths',
    help: 'Reported hashrate per fleet (TH/s)',
    labelNames: ['site', 'fleet'],
  });
  const gpuNodes = m.gauge({
    name: 'switchyard_gpu_nodes',
    help: 'GPU nodes per pool by mode (idle, serving, hashing, unknown)',
    labelNames: ['site', 'pool', 'mode'],
  });
  const dispatchActive = m.gauge({
    name: 'switchyard_dispatch_active',
    help: 'Grid dispatches in force at the site',
    labelNames: ['site'],
  });
  const dispatchCapKw = m.gauge({
    name: 'switchyard_dispatch_cap_kw',
    help: 'Facility cap of the tightest grid dispatch in force (kW); absent when none is',
    labelNames: ['site'],
  });
  const dispatchOverSeconds = m.counter({
    name: 'switchyard_dispatch_over_cap_seconds_total',
    help: 'Seconds a dispatch was in force with the metered facility load above its cap',
    labelNames: ['site'],
  });
  const dispatchSeconds = m.counter({
    name: 'switchyard_dispatch_seconds_total',
    help: 'Seconds a grid dispatch was in force',
    labelNames: ['site'],
  });
  m.gauge({
    name: 'switchyard_signal_age_seconds',
    help: 'Age of the value in use for each signal (seconds since it stopped being current), by source',
    labelNames: ['signal', 'subject', 'source'],
    collect() {
      this.reset();
      for (const s of Object.values(o.signals?.() ?? {}))
        if (s.ageSeconds !== null)
          this.set({ signal: s.signal, subject: s.subject ?? '', source: s.source }, s.ageSeconds);
    },
  });
  m.gauge({
    name: 'switchyard_signal_stale',
    help: '1 when the value in use for a signal is stale or a worst-case stand-in, else 0',
    labelNames: ['signal', 'subject'],
    collect() {
      this.reset();
      for (const s of Object.values(o.signals?.() ?? {}))
        this.set({ signal: s.signal, subject: s.subject ?? '' }, s.stale ? 1 : 0);
    },
  });
  m.gauge({
    name: 'switchyard_controller_leader',
    help: '1 while this controller holds the leader lease',
    labelNames: ['site'],
    collect() {
      this.set({ site }, o.lease.isLeader() ? 1 : 0);
    },
  });
  m.gauge({
    name: 'switchyard_controller_epoch',
    help: "The fencing epoch of this controller's lease (0 before it first led)",
    labelNames: ['site'],
    collect() {
      this.set({ site }, o.lease.epoch() ?? 0);
    },
  });
  const leaderChanges = m.counter({
    name: 'switchyard_controller_leader_changes_total',
    help: 'Times this controller won or lost the leader lease',
    labelNames: ['site', 'change'],
  });
  const rowsPruned = m.counter({
    name: 'switchyard_rows_pruned_total',
    help: 'Rows deleted by the leader under the retention policy, by table',
    labelNames: ['table'],
  });
  m.gauge({
    name: 'switchyard_controller_commands_in_flight',
    help: 'Device commands sent and not yet seen in telemetry',
    collect() {
      this.set(o.inFlight?.() ?? 0);
    },
  });
  for (const change of ['won', 'lost']) leaderChanges.inc({ site, change }, 0);

  const farmGauges = [
    powerKw,
    siteLoadKw,
    siteCapKw,
    nodeLoadKw,
    nodeLimitKw,
    nodeUtilisation,
    nodeHeadroomKw,
    hashprice,
    energyPrice,
    breakeven,
    revenue,
    cost,
    miners,
    degraded,
    temperature,
    hashrate,
    gpuNodes,
    dispatchActive,
    dispatchCapKw,
  ];

  let lastDispatchAt: number | undefined;

  return {
    /** After every telemetry poll (the leader's), with the GPU draw and node loads of the same moment. */
    observePoll(result: PollResult, gpu: GpuDraw, loads: NodeLoad[] = nodeLoads(result, gpu)): void {
      const siteFleets = result.fleets.filter((f) => f.site === site);
      const asicKw = siteFleets.reduce((n, f) => n + f.powerKw, 0);
      const itKw = asicKw + gpu.totalKw;
      powerKw.set({ site, use: 'hashing' }, asicKw);
      for (const [use, kw] of Object.entries(gpu.byUse)) powerKw.set({ site, use }, kw);
      powerKw.set({ site, use: 'overhead' }, itKw * (pue - 1));
      siteLoadKw.set({ site }, itKw * pue);
      for (const [pool, modes] of gpu.modes)
        for (const [mode, n] of Object.entries(modes)) gpuNodes.set({ site, pool, mode }, n);
      for (const { node, loadKw: kw, limitKw } of loads) {
        const labels = { site, node };
        nodeLoadKw.set(labels, kw);
        nodeLimitKw.set(labels, limitKw);
        nodeUtilisation.set(labels, limitKw > 0 ? kw / limitKw : 0);
        nodeHeadroomKw.set(labels, limitKw - kw);
        nodeOverLimit.inc(labels, kw > limitKw ? 1 : 0);
      }
      degraded.reset();
      for (const f of siteFleets) {
        for (const [state, n] of Object.entries(f.byState)) miners.set({ site, fleet: f.fleet, state }, n);
        hashrate.set({ site, fleet: f.fleet }, f.hashrateThs);
        if (f.maxChipTempC !== null) temperature.set({ site, fleet: f.fleet, stat: 'max' }, f.maxChipTempC);
        if (f.meanChipTempC !== null)
          temperature.set({ site, fleet: f.fleet, stat: 'mean' }, f.meanChipTempC);
        degraded.set({ site, fleet: f.fleet, reason: 'none' }, 0);
        for (const [reason, n] of Object.entries(f.degradedReasons))
          degraded.inc({ site, fleet: f.fleet, reason: reasons.value(reason) }, n);
      }
    },

    /** After every poll: the dispatches in force and the metered facility load against them. */
    observeDispatches(inForce: readonly GridDispatch[], siteKw: number, at: number): void {
      dispatchActive.set({ site }, inForce.length);
      const caps = inForce
        .map((d) => d.capKw)
        .filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
      const elapsedS = lastDispatchAt === undefined ? 0 : Math.max(0, (at - lastDispatchAt) / 1000);
      lastDispatchAt = at;
      if (caps.length === 0) {
        dispatchCapKw.remove({ site });
        return;
      }
      const cap = Math.min(...caps);
      dispatchCapKw.set({ site }, cap);
      dispatchSeconds.inc({ site }, elapsedS);
      if (siteKw > cap) dispatchOverSeconds.inc({ site }, elapsedS);
    },

    /** After every plan: the prices it used, breakevens, economics, the solver and the changes. */
    observePlan(plan: Plan, planMs: number, trigger: string, milpAsked: boolean): void {
      planDuration.observe({ site, solver: plan.solver }, planMs / 1000);
      plans.inc({ site, solver: plan.solver, trigger });
      if (milpAsked && plan.solver === 'greedy') fallbacks.inc({ site });
      else fallbacks.inc({ site }, 0);
      for (const c of plan.changes) changes.inc({ site, target_kind: c.targetKind });
      hashprice.set(plan.prices.hashpriceUsdPerThDay);
      energyPrice.set({ site }, plan.prices.energyUsdPerMwh);
      for (const [fleet, f] of Object.entries(plan.fleets)) {
        const values = Object.values(f.breakevenUsdPerMwh);
        if (values.length) breakeven.set({ site, fleet }, Math.max(...values));
      }
      const e = plan.economics;
      revenue.set({ site, use: 'hashing' }, e.hashingUsdPerHour);
      revenue.set({ site, use: 'inference' }, e.inferenceUsdPerHour);
      revenue.set({ site, use: 'gpu_hashing' }, e.gpuHashingUsdPerHour);
      cost.set({ site, kind: 'energy' }, e.energyUsdPerHour);
      cost.set({ site, kind: 'wear' }, e.wearUsdPerHour);
      siteCapKw.set({ site }, plan.loads.site.capKw);
    },

    observeCycle(c: CycleRecord): void {
      cycles.inc({ trigger: c.trigger, outcome: c.outcome });
    },

    observeDispatching(c: CycleRecord): void {
      if (c.toDispatchMs !== undefined) toDispatch.observe({ trigger: c.trigger }, c.toDispatchMs / 1000);
    },

    observePhase(p: PhaseRecord): void {
      phases.inc({ kind: p.kind, status: p.status });
    },

    /** After a retention run: the rows each table lost. */
    observePruned(byTable: Record<string, number>): void {
      for (const [table, n] of Object.entries(byTable)) rowsPruned.inc({ table }, n);
    },

    leadership(change: 'won' | 'lost'): void {
      leaderChanges.inc({ site, change });
      // The new leader reports the farm from now on; a follower's old values would double sums.
      if (change === 'lost') for (const g of farmGauges) g.reset();
    },
  };
}
