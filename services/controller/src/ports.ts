// The real adapters behind ControlLoop's ports: the farm poller and the signal hub for the
// snapshot, the planner with HiGHS, the plan repository, the sequencer, and BullMQ flows for
// dispatch. Level-triggered: each cycle starts from what the poll saw; a phase that does not
// complete stops the dispatch, and the next cycle re-plans from the observed state.
import {
  ASLEEP,
  fleetProfiles,
  plan as planFarm,
  sequencePlan,
  sitePolicy,
  stepJobId,
  type Farm,
  type FarmState,
  type FleetState,
  type FleetStep,
  type ConfirmStep,
  type PoolStep,
  type GridDispatch,
  type InFlightCommands,
  type MipSolver,
  type Override,
  type Plan,
  type PlanInput,
  type PlanMemory,
  type Sequence,
} from '@switchyard/domain';
import { pollTargets, type MinerTelemetry, type PollResult, type PollTarget } from '@switchyard/miners';
import { enqueuePhase, type CatalogJob, type FlowProducer, type PhaseSummary } from '@switchyard/queue';
import type { SignalHub } from '@switchyard/signals';
import {
  dueTransitions,
  plannerOrders,
  planTransitions,
  type ActiveOrder,
  type BrokerEvent,
  type BrokerEventSink,
  type OrderTransition,
} from '@switchyard/brokers';
import type { QueueEvents } from '@switchyard/queue';
import { URGENT_TRIGGERS, type ControlPorts, type CycleTrigger } from './control-loop.ts';
import type { ClusterDriver, GpuNodeState } from '@switchyard/cluster';
import { ActionLog, type ActionLogOptions } from './action-log.ts';
import { withPolicy } from './order-store.ts';
import { poolObservationFromNodes, poolStateFromNodes, poolStepJobs } from './gpu-steps.ts';
import {
  deviceBatches,
  planProfileName,
  selectMiners,
  type FleetMiners,
  type MinerView,
} from './miner-selection.ts';
import { fleetObservationsFromPoll, plannerSignalsFromHub } from './snapshot.ts';

/** What one cycle works from: the planner's input plus the per-miner view of the same poll. */
export interface ControllerInput {
  plan: PlanInput;
  /** The sequencer's observed state, from the same poll. */
  state: FarmState;
  /** Per fleet, each miner's latest telemetry (farm addresses). */
  miners: Record<string, FleetMiners>;
  /** Commands sent and not yet seen in telemetry (the action log at the snapshot). */
  inFlight: InFlightCommands;
  /** What started the cycle: a grid dispatch is planned by the greedy solver, at once. */
  trigger?: CycleTrigger;
  /** The active orders the plan is made from (after the ones whose time was up ended). */
  activeOrders?: ActiveOrder[];
}

/** Where the controller reads the active orders and records what plans do to them. */
export interface ControllerOrders {
  /** Pending, admitted, running and preempting orders, oldest first. */
  active(): Promise<ActiveOrder[]>;
  /**
   * Records one transition and returns what to tell the broker; null when the order had moved on
   * meanwhile (nothing written).
   */
  apply(t: OrderTransition): Promise<BrokerEvent[] | null>;
}

export interface ControllerSequence {
  sequence: Sequence;
  miners: Record<string, FleetMiners>;
  /** Planned under a grid dispatch: orders taken back are drained at once, notice or not. */
  forced?: boolean;
}

/** A poller reading the given targets; its `onTelemetry` must feed `ports.recordTelemetry`. */
export interface FarmPoller {
  poll(farm: Farm, targets?: readonly PollTarget[]): Promise<PollResult>;
}

/** The store the persist port needs (PlanRepository satisfies it). */
export interface PlanStore {
  save(input: { plan: Plan; epoch: number; status?: string; inputs: unknown }): Promise<string>;
  setStatus?(id: string, status: string): Promise<void>;
  /** The site's newest stored plan: a new leader takes its memory (dwell, cycles, last targets). */
  latest?(site: string): Promise<{ plan: Plan } | undefined>;
}

export interface PhaseRecord {
  planId: string;
  index: number;
  kind: 'shed' | 'confirm' | 'add';
  jobs: number;
  status: 'done' | 'partial' | 'timeout' | 'failed' | 'skipped' | 'lost-lease' | 'preempted';
  detail?: string;
}

export interface ControllerPortsOptions {
  farm: Farm;
  site: string;
  poller: FarmPoller;
  /** Told of every finished poll of the miners (with the GPU nodes read alongside it). */
  onPoll?: (result: PollResult, nodes: GpuNodeState[] | null) => void;
  hub: Pick<SignalHub, 'current'>;
  solver?: MipSolver | undefined;
  plans: PlanStore;
  flowProducer: FlowProducer;
  /** QueueEvents of the `plan` queue (same prefix), to wait for each phase's parent. */
  planEvents: QueueEvents;
  /** GPU nodes: read in every poll, moved by kube.action jobs. Without one, pool steps are skipped. */
  cluster?: ClusterDriver | undefined;
  /** Grid dispatches in force (default none). */
  dispatches?: () => GridDispatch[];
  /** Compute orders: the planner's candidates and commitments (default none). */
  orders?: ControllerOrders | undefined;
  /**
   * The newest allocation policy set through the API (default none: the farm file's). An
   * unreadable one keeps the last one read.
   */
  policy?: (() => Promise<Record<string, unknown> | undefined>) | undefined;
  /** Operators' overrides in force or to come (default none). */
  overrides?: (() => Promise<Override[]>) | undefined;
  /**
   * How long before a preemption's notice period starts the broker is told (default 15 s): the
   * notice goes out first, so it has reached the broker when the period begins.
   */
  noticeLeadMs?: number;
  /** Told of every order transition recorded (the webhook outbox). */
  brokerEvents?: BrokerEventSink | undefined;
  gpuModel?: string;
  /** A poll older than this counts every miner stale (default 60 s). */
  staleAfterMs?: number;
  /**
   * A cycle plans from the last poll when it is at most this old, else it polls first (default
   * 5 s). A grid dispatch's cycle uses the last poll up to `staleAfterMs`: answering at once
   * matters more than a fresher reading, and in-flight commands are counted at worst case.
   */
  maxSnapshotAgeMs?: number;
  /** The memory of commands sent and not yet seen in telemetry. */
  actionLog?: ActionLogOptions;
  /**
   * After a phase is abandoned, how long a worker may still be sending one of its commands
   * before the fence stops it (default 15 s: a device command's own timeout and then some).
   */
  fenceGraceMs?: number;
  planTimeLimitMs?: number;
  /** How long a confirm waits for telemetry (default 90 s; the job's own limit is 15 min). */
  confirmTimeoutMs?: number;
  /** How long a shed or add phase may take before the dispatch gives up (default 5 min). */
  phaseTimeoutMs?: number;
  /** Add phases after the first wait this long at least (default: the sequencer's minDurationMs). */
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  onPhase?: (r: PhaseRecord) => void;
  onWarning?: (message: string) => void;
}

export interface ControllerPorts extends Omit<
  ControlPorts<ControllerInput, Plan, ControllerSequence>,
  'lease'
> {
  /** Feed the poller's onTelemetry here. */
  recordTelemetry(target: PollTarget, t: MinerTelemetry): void;
  /** The memory of the last stored plan (passed to the next plan as `previous`). */
  memory(): PlanMemory | undefined;
  /**
   * Forgets the plan memory: the next snapshot reads it from the newest stored plan. Called on
   * becoming leader, since another leader may have planned in between.
   */
  forgetMemory(): void;
  /** Polls every miner of the site now (one poll at a time; callers share a running one). */
  refresh(): Promise<PollResult>;
  /** The last poll, with when it finished. */
  lastPoll(): { result: PollResult; at: Date } | undefined;
  /** GPU nodes as of the last poll (null: the cluster could not be read; empty without a cluster). */
  lastNodes(): GpuNodeState[] | null;
  /** Miners with a command outstanding (sent, not yet seen in telemetry). */
  inFlightCount(): number;
  /** The site's safety margin (%) under the allocation policy the last cycle read. */
  safetyMarginPct(): number;
}

/** A sleeping miner still drawing more than this is in flight, not settled (safety rule: power). */
function settledAsleep(powerW: number | null, sleepW: number): boolean {
  return powerW === null || powerW <= sleepW * 1.2 + 20;
}

/**
 * The sequencer's FleetState from per-miner telemetry. Settled means confirmed on power: a
 * sleeping miner still drawing is in flight from its top profile; a ramping miner is in flight
 * from asleep. Miners without a reading are left out (unknown: nameplate).
 */
export function fleetStateFromMiners(
  miners: FleetMiners,
  opts: { sleepW: number; topProfile: string | undefined; now: number },
): FleetState {
  const st: FleetState = { asleep: 0, byProfile: {}, stale: 0, offline: 0, fault: 0, inFlight: [] };
  const flights = new Map<string, { from: string; to: string; count: number }>();
  const fly = (from: string, to: string) => {
    const k = `${from}>${to}`;
    const f = flights.get(k) ?? { from, to, count: 0 };
    f.count += 1;
    flights.set(k, f);
  };
  const top = opts.topProfile ?? '?';
  for (const host of Object.keys(miners).sort()) {
    const m = miners[host] as MinerView;
    switch (m.state) {
      case 'sleeping':
        if (settledAsleep(m.powerW, opts.sleepW)) st.asleep += 1;
        else fly(top, ASLEEP);
        break;
      case 'hashing': {
        const p = m.profile ?? top;
        st.byProfile[p] = (st.byProfile[p] ?? 0) + 1;
        break;
      }
      case 'ramping':
        fly(ASLEEP, m.profile ?? top);
        break;
      case 'fault':
        st.fault += 1;
        break;
      case 'offline':
        st.offline += 1;
        break;
      case 'unknown':
        break;
    }
  }
  st.inFlight = [...flights.keys()]
    .sort()
    .map((k) => ({ ...(flights.get(k) as { from: string; to: string; count: number }), since: opts.now }));
  return st;
}

const isFleetStep = (s: { kind: string }): s is FleetStep =>
  s.kind === 'sleep' || s.kind === 'wake' || s.kind === 'set-profile' || s.kind === 'set-power-target';

export function createControllerPorts(o: ControllerPortsOptions): ControllerPorts {
  const now = o.now ?? (() => new Date());
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const warn = o.onWarning ?? (() => undefined);
  const fleets = o.farm.fleets.filter((f) => f.spec.site === o.site);
  const fleetByName = new Map(fleets.map((f) => [f.metadata.name, f]));
  const targets = pollTargets(o.farm).filter((t) => t.site === o.site);
  const latest = new Map<string, Map<string, MinerView>>();
  for (const t of targets) {
    let m = latest.get(t.fleet);
    if (!m) latest.set(t.fleet, (m = new Map()));
    m.set(t.host, { state: 'unknown', profile: null, powerW: null, port: t.port });
  }
  let memory: PlanMemory | undefined;
  let memoryLoaded = false;
  const log = new ActionLog(o.actionLog);
  const dispatchInForce = (p: PlanInput) => p.dispatches.some((d) => d.startsAt <= p.now && p.now < d.endsAt);
  const gpusPerNode: Record<string, number> = {};
  for (const p of o.farm.pools) gpusPerNode[p.metadata.name] = p.spec.gpusPerNode;

  /** Records transitions one by one; an order that moved on meanwhile is left to the next cycle. */
  async function applyOrderTransitions(ts: OrderTransition[]): Promise<Set<string>> {
    const moved = new Set<string>();
    for (const t of ts) {
      try {
        const events = await o.orders?.apply(t);
        if (!events) continue;
        moved.add(t.orderId);
        for (const e of events) await o.brokerEvents?.(e);
      } catch (e) {
        warn(`order ${t.orderId}: ${t.from} → ${t.to} not recorded: ${(e as Error).message}`);
      }
    }
    return moved;
  }

  /** The active orders, after ending those whose time is up. Unreadable: none (warned). */
  async function currentOrders(at: Date): Promise<ActiveOrder[]> {
    if (!o.orders) return [];
    try {
      const orders = await o.orders.active();
      const ended = await applyOrderTransitions(dueTransitions(orders, at));
      return orders.filter((x) => !ended.has(x.id));
    } catch (e) {
      warn(`could not read the orders: ${(e as Error).message}`);
      return [];
    }
  }

  let policyFarm = o.farm;
  async function currentFarm(): Promise<Farm> {
    if (!o.policy) return o.farm;
    try {
      policyFarm = withPolicy(o.farm, o.site, await o.policy());
    } catch (e) {
      warn(`could not read the allocation policy; keeping the last one: ${(e as Error).message}`);
    }
    return policyFarm;
  }

  async function currentOverrides(): Promise<Override[]> {
    if (!o.overrides) return [];
    try {
      return await o.overrides();
    } catch (e) {
      warn(`could not read the overrides: ${(e as Error).message}`);
      return [];
    }
  }
  let last: { result: PollResult; at: Date } | undefined;
  let polling: Promise<PollResult> | undefined;
  const sitePools = o.farm.pools.filter((p) => p.spec.site === o.site);
  let nodes: GpuNodeState[] | null = o.cluster ? null : [];
  const readNodes = async () => {
    if (!o.cluster || sitePools.length === 0) return;
    try {
      const names = new Set(sitePools.map((p) => p.metadata.name));
      nodes = (await o.cluster.listNodes()).filter((n) => names.has(n.pool));
    } catch (e) {
      // Unknown: the pools count as unavailable (at their highest draw) until the next read.
      nodes = null;
      warn(`could not list GPU nodes: ${(e as Error).message}`);
    }
  };
  const refresh = (): Promise<PollResult> =>
    (polling ??= Promise.all([o.poller.poll(o.farm, targets), readNodes()])
      .then(([result]) => {
        last = { result, at: now() };
        o.onPoll?.(result, nodes);
        return result;
      })
      .finally(() => (polling = undefined)));
  const maxSnapshotAgeMs = o.maxSnapshotAgeMs ?? 5000;
  const staleAfterMs = o.staleAfterMs ?? 60_000;
  const fenceGraceMs = o.fenceGraceMs ?? 15_000;
  const confirmTimeoutMs = o.confirmTimeoutMs ?? 90_000;
  const phaseTimeoutMs = o.phaseTimeoutMs ?? 5 * 60_000;

  /** Set when a shed was sent short: the next snapshot polls again unless a poll began after it. */
  let freshPollAfter: number | undefined;

  const snapshotMiners = (): Record<string, FleetMiners> =>
    Object.fromEntries([...latest].map(([fleet, m]) => [fleet, Object.fromEntries(m)]));

  async function waitPhase(
    job: Awaited<ReturnType<typeof enqueuePhase>>,
    timeoutMs: number,
    signal: AbortSignal,
  ) {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      onAbort = () => reject(signal.reason ?? new Error('aborted'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return (await Promise.race([job.waitUntilFinished(o.planEvents, timeoutMs), timeout])) as PhaseSummary;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  const confirmJobs = (step: ConfirmStep, planId: string, epoch: number): CatalogJob[] =>
    step.nodes.map((n, i) => ({
      name: 'device.confirm',
      payload: {
        planId,
        stepId: `${stepJobId(step.id)}.${i}`,
        epoch,
        nodes: [n.node],
        expectLoadAtMostKw: n.expectLoadAtMostKw,
        timeoutMs: Math.max(1, Math.min(step.timeoutMs, 15 * 60_000)),
      },
    }));

  function poolJobs(
    step: PoolStep,
    planId: string,
    epoch: number,
    takenNodes: Set<string>,
    forcedPreemption: boolean,
  ): CatalogJob[] {
    if (!o.cluster || nodes === null) {
      warn(`step ${step.id}: no GPU node listing (no cluster driver, or it could not be read); skipped`);
      return [];
    }
    if (step.preempt.length > 0 && !forcedPreemption) {
      // The brokers were told just now (persist); the nodes wait for the notice period, and the
      // orders keep them until it ends (a preempting order is planned as a reserved one). Under
      // a grid dispatch they go at once.
      warn(`step ${step.id}: ${step.preempt.length} order(s) under notice; their nodes wait for it`);
      return [];
    }
    const pj = poolStepJobs(step, nodes, { planId, epoch, taken: takenNodes });
    if (pj.missing > 0)
      warn(`step ${step.id}: ${pj.missing} of ${step.count} nodes of ${step.pool} not found`);
    return pj.jobs;
  }

  function fleetStepJobs(
    step: FleetStep,
    miners: Record<string, FleetMiners>,
    taken: Map<string, Set<string>>,
    planId: string,
    epoch: number,
  ): {
    jobs: CatalogJob[];
    missing: number;
    sent?: { fleet: string; hosts: string[]; from: string; to: string };
  } {
    const fleet = fleetByName.get(step.fleet);
    if (!fleet) {
      warn(`step ${step.id}: fleet ${step.fleet} is not in the farm`);
      return { jobs: [], missing: step.count };
    }
    // Miners with a command outstanding are not picked again until telemetry catches up.
    const used = taken.get(step.fleet) ?? log.pending(step.fleet);
    taken.set(step.fleet, used);
    const known = new Set(fleetProfiles(fleet).map((x) => x.name));
    const sel = selectMiners(miners[step.fleet] ?? {}, step, used, known);
    if (sel.missing > 0)
      warn(`step ${step.id}: ${sel.missing} of ${step.count} miners of ${step.fleet} not found in telemetry`);
    for (const t of sel.targets) used.add(t.host);
    const jobs: CatalogJob[] = deviceBatches(step, sel.targets, {
      planId,
      epoch,
      driver: fleet.spec.driver,
      credentialsRef: fleet.spec.credentialsSecret?.name,
      profiles: fleetProfiles(fleet),
    }).map((payload) => ({ name: 'device.batch', payload }));
    if (sel.targets.length === 0) return { jobs, missing: sel.missing };
    return {
      jobs,
      missing: sel.missing,
      sent: {
        fleet: step.fleet,
        hosts: sel.targets.map((t) => t.host),
        from: step.kind === 'wake' ? ASLEEP : step.fromProfile,
        to: step.kind === 'sleep' ? ASLEEP : step.toProfile,
      },
    };
  }

  return {
    recordTelemetry(target, t) {
      const m = latest.get(target.fleet);
      if (!m) return;
      // The poller may see mapped addresses; the key is the farm address with the same port.
      const key = m.has(target.host) ? target.host : t.host;
      if (!m.has(key)) return;
      const fleet = fleetByName.get(target.fleet);
      const profile = fleet ? planProfileName(fleet.spec.driver, fleetProfiles(fleet), t.profile) : t.profile;
      m.set(key, { state: t.state, profile, powerW: t.powerW, port: target.port });
    },
    memory: () => memory,
    forgetMemory() {
      memory = undefined;
      memoryLoaded = false;
    },
    refresh,
    lastPoll: () => last,
    lastNodes: () => nodes,
    inFlightCount: () => log.size(),
    safetyMarginPct: () => sitePolicy(policyFarm, o.site).safetyMarginPct,

    async snapshot(trigger: CycleTrigger) {
      const maxAge = URGENT_TRIGGERS.has(trigger) ? staleAfterMs : maxSnapshotAgeMs;
      let cached = last && now().getTime() - last.at.getTime() <= maxAge ? last.result : undefined;
      // After a short shed the next plan needs telemetry taken after it.
      if (freshPollAfter !== undefined && cached && cached.startedAt.getTime() < freshPollAfter)
        cached = undefined;
      freshPollAfter = undefined;
      const poll = cached ?? (await refresh());
      const at = now();
      const miners = snapshotMiners();
      for (const f of fleets)
        log.settle(f.metadata.name, miners[f.metadata.name] ?? {}, at.getTime(), poll.startedAt.getTime());
      const observed = fleetObservationsFromPoll(poll.fleets, poll.startedAt, at, staleAfterMs);
      const state: FarmState = { fleets: {}, pools: {} };
      const observedPools: PlanInput['observed']['pools'] = {};
      for (const p of sitePools) {
        const name = p.metadata.name;
        if (nodes === null) {
          // The cluster could not be read: every node unknown (worst case), none controllable.
          state.pools[name] = { idle: 0, serving: 0, hashing: 0, unavailable: p.spec.nodes, inFlight: [] };
          continue;
        }
        state.pools[name] = poolStateFromNodes(nodes, name, at.getTime());
        observedPools[name] = poolObservationFromNodes(nodes, name);
      }
      for (const f of fleets) {
        const name = f.metadata.name;
        const profiles = fleetProfiles(f);
        state.fleets[name] = fleetStateFromMiners(miners[name] ?? {}, {
          sleepW: f.spec.sleepW ?? 30,
          topProfile: profiles[profiles.length - 1]?.name,
          now: at.getTime(),
        });
      }
      if (!memoryLoaded && o.plans.latest) {
        // Without the last plan's memory a new leader would re-choose which miners to shed (a tie
        // broken another way wakes what the old leader just slept), and forget dwell and cycles.
        const stored = await o.plans.latest(o.site);
        memory = stored?.plan.memory ?? memory;
        memoryLoaded = true;
      }
      const activeOrders = await currentOrders(at);
      const input: PlanInput = {
        farm: await currentFarm(),
        site: o.site,
        observed: { fleets: observed, pools: observedPools },
        signals: plannerSignalsFromHub(o.hub.current(at), o.site, o.gpuModel),
        orders: plannerOrders(activeOrders),
        dispatches: o.dispatches?.() ?? [],
        overrides: await currentOverrides(),
        now: at.getTime(),
        previous: memory,
      };
      return {
        at,
        observedAt: poll.startedAt,
        input: { plan: input, state, miners, inFlight: log.inFlight(), trigger, activeOrders },
      };
    },

    // An urgent trigger (a grid dispatch, a node over its limit) is answered by the greedy merit
    // order (milliseconds, within about 1 % of the MIP's objective on the example farm); the next
    // cycle refines it with the MIP.
    plan: (input) =>
      planFarm(
        input.plan,
        input.trigger && URGENT_TRIGGERS.has(input.trigger) ? undefined : o.solver,
        o.planTimeLimitMs ? { timeLimitMs: o.planTimeLimitMs } : {},
      ),

    async persist(p, input, epoch, trigger) {
      const id = await o.plans.save({
        plan: p,
        epoch,
        inputs: { trigger, signals: input.plan.signals, observed: input.plan.observed },
      });
      memory = p.memory;
      memoryLoaded = true;
      if (input.activeOrders?.length)
        await applyOrderTransitions(
          planTransitions(p, input.activeOrders, {
            now: now(),
            gpusPerNode,
            pools: input.plan.observed.pools,
            noticeLeadMs: o.noticeLeadMs ?? 15_000,
            forced: dispatchInForce(input.plan),
          }),
        );
      return id;
    },

    sequence(p, input, planId) {
      const sequence = sequencePlan({
        farm: input.plan.farm,
        site: o.site,
        plan: p,
        planId,
        observed: input.state,
        inFlight: input.inFlight,
        now: now().getTime(),
        confirmTimeoutMs,
        // The same ambient the planner derated cooling with; without one the sequencer assumes
        // its worst case.
        ambientC: freshAmbient(input.plan, o.site),
      });
      for (const w of sequence.warnings) warn(w);
      return { sequence, miners: input.miners, forced: dispatchInForce(input.plan) };
    },

    async dispatch({ sequence, miners, forced }, planId, epoch, stillLeader, signal) {
      const taken = new Map<string, Set<string>>();
      const takenNodes = new Set<string>();
      let lastAddStart: number | undefined;
      let lastAddMinMs = 0;
      let finalStatus = 'dispatched';
      for (const [index, phase] of sequence.phases.entries()) {
        const record = (status: PhaseRecord['status'], jobs: number, detail?: string) =>
          o.onPhase?.({ planId, index, kind: phase.kind, jobs, status, ...(detail && { detail }) });
        const jobs: CatalogJob[] = [];
        const sent: Array<{ fleet: string; hosts: string[]; from: string; to: string }> = [];
        let missing = 0;
        let timeoutMs = phaseTimeoutMs;
        if (index > 0 && phase.kind === 'add' && phase.steps.some((st) => st.kind === 'gpu-mode')) {
          // The nodes earlier phases moved have settled (the confirm saw it): read the pools again,
          // so a node shed to idle can be picked from idle now rather than from a stale listing.
          await readNodes();
          takenNodes.clear();
        }
        for (const step of phase.steps) {
          if (step.kind === 'confirm') {
            timeoutMs = Math.min(step.timeoutMs, 15 * 60_000) + 30_000;
            jobs.push(...confirmJobs(step, planId, epoch));
          } else if (isFleetStep(step)) {
            const r = fleetStepJobs(step, miners, taken, planId, epoch);
            jobs.push(...r.jobs);
            missing += r.missing;
            if (r.sent) sent.push(r.sent);
          } else jobs.push(...poolJobs(step, planId, epoch, takenNodes, forced === true));
        }
        // A shed sent short (telemetry does not show enough miners to move: commands still in
        // flight, or a view older than them) cannot free what the plan counted on, so its confirm
        // would only wait out its timeout: send what there is, then stop and re-plan from a fresh
        // poll (the loop's retry), which sees the rest.
        const shortShed = phase.kind === 'shed' && missing > 0;
        if (jobs.length === 0) {
          record('skipped', 0, shortShed ? `${missing} miner(s) not found in telemetry` : undefined);
          if (shortShed) {
            freshPollAfter = now().getTime();
            finalStatus = 'incomplete';
            break;
          }
          continue;
        }
        if (phase.kind === 'add') {
          if (lastAddStart !== undefined) {
            const wait = lastAddStart + lastAddMinMs - now().getTime();
            if (wait > 0) await abortableSleep(sleep, wait, signal).catch(() => undefined);
          }
          lastAddStart = now().getTime();
          lastAddMinMs = phase.minDurationMs;
        }
        if (signal.aborted) {
          record('preempted', jobs.length, 'preempted before it was enqueued');
          finalStatus = 'preempted';
          break;
        }
        if (!stillLeader()) {
          record('lost-lease', jobs.length);
          finalStatus = 'dropped';
          break;
        }
        const parent = await enqueuePhase(o.flowProducer, {
          planId,
          stepId: `${sequence.planKey}.phase${index}`.slice(0, 128),
          epoch,
          phase: phase.kind,
          jobs,
        });
        const sentAt = now().getTime();
        for (const c of sent) log.record(c.fleet, c.hosts, c.from, c.to, sentAt, phase.kind === 'shed');
        let summary: PhaseSummary;
        try {
          summary = await waitPhase(parent, timeoutMs, signal);
          log.finish(sentAt, now().getTime());
        } catch (e) {
          // The next cycle fences these jobs off (a new epoch); one already sending a command may
          // still finish it within the grace.
          log.finish(sentAt, now().getTime() + fenceGraceMs, true);
          if (signal.aborted) {
            record('preempted', jobs.length, (e as Error).message);
            finalStatus = 'preempted';
            break;
          }
          const timedOut = /timed out/.test((e as Error).message);
          record(timedOut ? 'timeout' : 'failed', jobs.length, (e as Error).message);
          finalStatus = 'incomplete';
          break;
        }
        if (summary.status !== 'done') {
          record('partial', jobs.length, JSON.stringify(summary.failed));
          finalStatus = 'incomplete';
          break;
        }
        record('done', jobs.length);
        if (shortShed) {
          freshPollAfter = now().getTime();
          finalStatus = 'incomplete';
          break;
        }
      }
      await o.plans.setStatus?.(planId, finalStatus).catch(() => undefined);
      if (finalStatus === 'incomplete')
        throw new Error(`plan ${planId} stopped short; the next cycle re-plans from the observed state`);
    },
  };
}

/** Sleeps, or rejects as soon as the signal aborts. */
function abortableSleep(
  sleep: (ms: number) => Promise<void>,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    void sleep(ms).then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** The site's ambient temperature when the planner had a usable reading, else undefined. */
function freshAmbient(input: PlanInput, site: string): number | undefined {
  const a = input.signals.ambientC?.[site];
  return a && !a.stale ? a.value : undefined;
}
