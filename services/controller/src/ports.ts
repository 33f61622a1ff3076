// The real adapters behind ControlLoop's ports: the farm poller and the signal hub for the
// snapshot, the planner with HiGHS, the plan repository, the sequencer, and BullMQ flows for
// dispatch. Level-triggered: each cycle starts from what the poll saw; a phase that does not
// complete stops the dispatch, and the next cycle re-plans from the observed state.
import {
  ASLEEP,
  fleetProfiles,
  plan as planFarm,
  sequencePlan,
  stepJobId,
  type Farm,
  type FarmState,
  type FleetState,
  type FleetStep,
  type GridDispatch,
  type MipSolver,
  type Plan,
  type PlanInput,
  type PlanMemory,
  type Sequence,
} from '@switchyard/domain';
import { pollTargets, type MinerTelemetry, type PollResult, type PollTarget } from '@switchyard/miners';
import { enqueuePhase, type CatalogJob, type FlowProducer, type PhaseSummary } from '@switchyard/queue';
import type { SignalHub } from '@switchyard/signals';
import type { QueueEvents } from '@switchyard/queue';
import type { ControlPorts, CycleTrigger } from './control-loop.ts';
import { deviceBatches, selectMiners, type FleetMiners, type MinerView } from './miner-selection.ts';
import { fleetObservationsFromPoll, plannerSignalsFromHub } from './snapshot.ts';

/** What one cycle works from: the planner's input plus the per-miner view of the same poll. */
export interface ControllerInput {
  plan: PlanInput;
  /** The sequencer's observed state, from the same poll. */
  state: FarmState;
  /** Per fleet, each miner's latest telemetry (farm addresses). */
  miners: Record<string, FleetMiners>;
}

export interface ControllerSequence {
  sequence: Sequence;
  miners: Record<string, FleetMiners>;
}

/** A poller reading the given targets; its `onTelemetry` must feed `ports.recordTelemetry`. */
export interface FarmPoller {
  poll(farm: Farm, targets?: readonly PollTarget[]): Promise<PollResult>;
}

/** The store the persist port needs (PlanRepository satisfies it). */
export interface PlanStore {
  save(input: { plan: Plan; epoch: number; status?: string; inputs: unknown }): Promise<string>;
  setStatus?(id: string, status: string): Promise<void>;
}

export interface PhaseRecord {
  planId: string;
  index: number;
  kind: 'shed' | 'confirm' | 'add';
  jobs: number;
  status: 'done' | 'partial' | 'timeout' | 'failed' | 'skipped' | 'lost-lease';
  detail?: string;
}

export interface ControllerPortsOptions {
  farm: Farm;
  site: string;
  poller: FarmPoller;
  hub: Pick<SignalHub, 'current'>;
  solver?: MipSolver | undefined;
  plans: PlanStore;
  flowProducer: FlowProducer;
  /** QueueEvents of the `plan` queue (same prefix), to wait for each phase's parent. */
  planEvents: QueueEvents;
  /** Grid dispatches in force (default none). */
  dispatches?: () => GridDispatch[];
  gpuModel?: string;
  /** A poll older than this counts every miner stale (default 60 s). */
  staleAfterMs?: number;
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
  const confirmTimeoutMs = o.confirmTimeoutMs ?? 90_000;
  const phaseTimeoutMs = o.phaseTimeoutMs ?? 5 * 60_000;

  const snapshotMiners = (): Record<string, FleetMiners> =>
    Object.fromEntries([...latest].map(([fleet, m]) => [fleet, Object.fromEntries(m)]));

  async function waitPhase(job: Awaited<ReturnType<typeof enqueuePhase>>, timeoutMs: number) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return (await Promise.race([job.waitUntilFinished(o.planEvents, timeoutMs), timeout])) as PhaseSummary;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    recordTelemetry(target, t) {
      const m = latest.get(target.fleet);
      if (!m) return;
      // The poller may see mapped addresses; the key is the farm address with the same port.
      const key = m.has(target.host) ? target.host : t.host;
      if (!m.has(key)) return;
      m.set(key, { state: t.state, profile: t.profile, powerW: t.powerW, port: target.port });
    },
    memory: () => memory,

    async snapshot(_trigger: CycleTrigger) {
      const poll = await o.poller.poll(o.farm, targets);
      const at = now();
      const miners = snapshotMiners();
      const observed = fleetObservationsFromPoll(poll.fleets, poll.startedAt, at, o.staleAfterMs ?? 60_000);
      const state: FarmState = { fleets: {}, pools: {} };
      for (const f of fleets) {
        const name = f.metadata.name;
        const profiles = fleetProfiles(f);
        state.fleets[name] = fleetStateFromMiners(miners[name] ?? {}, {
          sleepW: f.spec.sleepW ?? 30,
          topProfile: profiles[profiles.length - 1]?.name,
          now: at.getTime(),
        });
      }
      const input: PlanInput = {
        farm: o.farm,
        site: o.site,
        observed: { fleets: observed, pools: {} },
        signals: plannerSignalsFromHub(o.hub.current(at), o.site, o.gpuModel),
        orders: [],
        dispatches: o.dispatches?.() ?? [],
        now: at.getTime(),
        previous: memory,
      };
      return { at, input: { plan: input, state, miners } };
    },

    plan: (input) =>
      planFarm(input.plan, o.solver, o.planTimeLimitMs ? { timeLimitMs: o.planTimeLimitMs } : {}),

    async persist(p, input, epoch, trigger) {
      const id = await o.plans.save({
        plan: p,
        epoch,
        inputs: { trigger, signals: input.plan.signals, observed: input.plan.observed },
      });
      memory = p.memory;
      return id;
    },

    sequence(p, input, planId) {
      const sequence = sequencePlan({
        farm: o.farm,
        site: o.site,
        plan: p,
        planId,
        observed: input.state,
        now: now().getTime(),
        confirmTimeoutMs,
        // The same ambient the planner derated cooling with; without one the sequencer assumes
        // its worst case.
        ambientC: freshAmbient(input.plan, o.site),
      });
      for (const w of sequence.warnings) warn(w);
      return { sequence, miners: input.miners };
    },

    async dispatch({ sequence, miners }, planId, epoch, stillLeader) {
      const taken = new Map<string, Set<string>>();
      let lastAddStart: number | undefined;
      let lastAddMinMs = 0;
      let finalStatus = 'dispatched';
      for (const [index, phase] of sequence.phases.entries()) {
        const record = (status: PhaseRecord['status'], jobs: number, detail?: string) =>
          o.onPhase?.({ planId, index, kind: phase.kind, jobs, status, ...(detail && { detail }) });
        const jobs: CatalogJob[] = [];
        let timeoutMs = phaseTimeoutMs;
        for (const step of phase.steps) {
          if (step.kind === 'confirm') {
            timeoutMs = Math.min(step.timeoutMs, 15 * 60_000) + 30_000;
            step.nodes.forEach((n, i) =>
              jobs.push({
                name: 'device.confirm',
                payload: {
                  planId,
                  stepId: `${stepJobId(step.id)}.${i}`,
                  epoch,
                  nodes: [n.node],
                  expectLoadAtMostKw: n.expectLoadAtMostKw,
                  timeoutMs: Math.max(1, Math.min(step.timeoutMs, 15 * 60_000)),
                },
              }),
            );
            continue;
          }
          if (!isFleetStep(step)) {
            warn(`step ${step.id}: GPU pool steps are not dispatched yet`);
            continue;
          }
          const fleet = fleetByName.get(step.fleet);
          if (!fleet) {
            warn(`step ${step.id}: fleet ${step.fleet} is not in the farm`);
            continue;
          }
          const used = taken.get(step.fleet) ?? new Set<string>();
          taken.set(step.fleet, used);
          const sel = selectMiners(miners[step.fleet] ?? {}, step, used);
          if (sel.missing > 0)
            warn(
              `step ${step.id}: ${sel.missing} of ${step.count} miners of ${step.fleet} not found in telemetry`,
            );
          for (const t of sel.targets) used.add(t.host);
          for (const payload of deviceBatches(step, sel.targets, {
            planId,
            epoch,
            driver: fleet.spec.driver,
            credentialsRef: fleet.spec.credentialsSecret?.name,
          }))
            jobs.push({ name: 'device.batch', payload });
        }
        if (jobs.length === 0) {
          record('skipped', 0);
          continue;
        }
        if (phase.kind === 'add') {
          if (lastAddStart !== undefined) {
            const wait = lastAddStart + lastAddMinMs - now().getTime();
            if (wait > 0) await sleep(wait);
          }
          lastAddStart = now().getTime();
          lastAddMinMs = phase.minDurationMs;
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
        let summary: PhaseSummary;
        try {
          summary = await waitPhase(parent, timeoutMs);
        } catch (e) {
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
      }
      await o.plans.setStatus?.(planId, finalStatus).catch(() => undefined);
      if (finalStatus === 'incomplete')
        throw new Error(`plan ${planId} stopped short; the next cycle re-plans from the observed state`);
    },
  };
}

/** The site's ambient temperature when the planner had a usable reading, else undefined. */
function freshAmbient(input: PlanInput, site: string): number | undefined {
  const a = input.signals.ambientC?.[site];
  return a && !a.stale ? a.value : undefined;
}
