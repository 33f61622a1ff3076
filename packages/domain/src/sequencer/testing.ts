// Helpers for sequencer tests: states from planner observations, a minimal Plan with given
// targets, and a replay of a sequence that is independent of the sequencer's own model.
import type { Farm } from '../farm/farm-loader.ts';
import { fleetProfiles } from '../farm/farm-validation.ts';
import { findMinerModel } from '../farm/miner-models.ts';
import type { FleetTarget, Plan, PlanInput, PoolTarget } from '../planner/types.ts';
import { worstCaseLoads } from './model.ts';
import {
  ASLEEP,
  type DeviceStep,
  type FarmState,
  type FleetState,
  type FleetTransition,
  type PoolState,
  type PoolTransition,
  type Sequence,
  type SequencerLimits,
  type WorstCaseLoads,
} from './types.ts';

export function fleetState(o: Partial<FleetState> = {}): FleetState {
  return { asleep: 0, byProfile: {}, stale: 0, offline: 0, fault: 0, inFlight: [], ...o };
}

export function poolState(o: Partial<PoolState> = {}): PoolState {
  return { idle: 0, serving: 0, hashing: 0, unavailable: 0, inFlight: [], ...o };
}

/** A planner observation as a sequencer state (awake miners without a profile at the top one). */
export function farmStateFromInput(input: PlanInput): FarmState {
  const state: FarmState = { fleets: {}, pools: {} };
  for (const f of input.farm.fleets) {
    const o = input.observed.fleets[f.metadata.name];
    if (!o) continue;
    const names = [...fleetProfiles(f)].sort((a, b) => a.powerW - b.powerW).map((p) => p.name);
    const byProfile: Record<string, number> = {};
    let awake = o.hashing + o.ramping;
    for (const p of names) {
      const n = Math.min(awake, o.byProfile[p] ?? 0);
      if (n > 0) byProfile[p] = n;
      awake -= n;
    }
    const top = names[names.length - 1];
    if (awake > 0 && top) byProfile[top] = (byProfile[top] ?? 0) + awake;
    state.fleets[f.metadata.name] = fleetState({
      asleep: o.sleeping,
      byProfile,
      stale: o.stale,
      offline: o.offline,
      fault: o.fault,
      measuredKw: o.measuredKw,
    });
  }
  for (const [name, o] of Object.entries(input.observed.pools)) state.pools[name] = poolState({ ...o });
  return state;
}

/** A Plan carrying only what the sequencer reads; the rest is zero. */
export function testPlan(
  farm: Farm,
  o: {
    site?: string;
    at?: number;
    fleets?: Record<string, FleetTarget>;
    pools?: Record<string, PoolTarget>;
    admitted?: Plan['admitted'];
    rejected?: Plan['rejected'];
    siteCapKw?: number;
  } = {},
): Plan {
  const site = o.site ?? (farm.sites[0]?.metadata.name as string);
  const fleets: Plan['fleets'] = {};
  for (const [name, target] of Object.entries(o.fleets ?? {})) {
    const f = farm.fleets.find((x) => x.metadata.name === name);
    fleets[name] = {
      model: f?.spec.model ?? 'unknown',
      miners: 0,
      controllable: 0,
      uncontrollable: { fault: 0, offline: 0, stale: 0, unknown: 0 },
      target,
      breakevenUsdPerMwh: {},
      stepBreakevenUsdPerMwh: [],
      expectedKw: 0,
      hashrateThs: 0,
    };
  }
  const pools: Plan['pools'] = {};
  for (const [name, target] of Object.entries(o.pools ?? {}))
    pools[name] = {
      gpuModel: 'x',
      nodes: 0,
      unavailable: 0,
      target,
      hashingBreakevenUsdPerMwh: null,
      expectedKw: 0,
    };
  const siteDoc = farm.sites.find((s) => s.metadata.name === site);
  const zero = {
    hashingUsdPerHour: 0,
    inferenceUsdPerHour: 0,
    gpuHashingUsdPerHour: 0,
    energyUsdPerHour: 0,
    wearUsdPerHour: 0,
    netUsdPerHour: 0,
  };
  return {
    site,
    at: o.at ?? Date.UTC(2026, 6, 1, 12),
    solver: 'greedy',
    prices: { energyUsdPerMwh: 40, hashpriceUsdPerThDay: 0.05, gpuUsdPerGpuHour: null },
    fleets,
    pools,
    admitted: o.admitted ?? [],
    rejected: o.rejected ?? [],
    economics: zero,
    objective: { netUsdPerHour: 0, penaltyUsdPerHour: 0, score: 0 },
    loads: {
      powerTree: {},
      coolingZones: {},
      site: {
        itKw: 0,
        facilityKw: 0,
        capKw: o.siteCapKw ?? siteDoc?.spec.interconnectKw ?? 0,
        rampCapKw: 0,
        currentKw: 0,
      },
    },
    changes: [],
    warnings: [],
    memory: { at: 0, day: '2026-07-01', fleets: {}, pools: {} },
    stats: { solveMs: 0, columns: 0, rows: 0, mipGap: null },
  };
}

/** Per-device draws (kW) by slot for a fleet or pool, as the farm describes them. */
export function slotDraws(farm: Farm, kind: 'fleet' | 'pool', name: string): Record<string, number> {
  if (kind === 'pool') {
    const p = farm.pools.find((x) => x.metadata.name === name);
    if (!p) throw new Error(`no pool ${name}`);
    return { ...p.spec.nodePowerKw };
  }
  const f = farm.fleets.find((x) => x.metadata.name === name);
  if (!f) throw new Error(`no fleet ${name}`);
  const out: Record<string, number> = {
    [ASLEEP]: (f.spec.sleepW ?? findMinerModel(f.spec.model)?.sleepW ?? 0) / 1000,
  };
  for (const p of fleetProfiles(f)) out[p.name] = p.powerW / 1000;
  return out;
}

export interface ReplayEvent {
  phase: number;
  step: DeviceStep | null;
  loads: WorstCaseLoads;
}

/**
 * Applies a sequence to a state as the devices would move: a device step takes `count` devices
 * of the slot (settled ones first, then those in flight towards it) and leaves them in flight
 * from the higher of their old draws to the new slot; a confirm step settles every
 * draw-lowering transition of the fleets and pools it names. Returns the worst-case loads after
 * every step (recomputed by worstCaseLoads) and the final state.
 */
export function replay(
  farm: Farm,
  site: string,
  start: FarmState,
  seq: Sequence,
  now: number,
): { events: ReplayEvent[]; state: FarmState; errors: string[] } {
  const state = structuredClone(start);
  const errors: string[] = [];
  const events: ReplayEvent[] = [];
  const settled = (kind: 'fleet' | 'pool', name: string) => {
    if (kind === 'fleet') {
      const st = (state.fleets[name] ??= fleetState({ stale: 0 }));
      return {
        get: (s: string) => (s === ASLEEP ? st.asleep : (st.byProfile[s] ?? 0)),
        add: (s: string, n: number) => {
          if (s === ASLEEP) st.asleep += n;
          else st.byProfile[s] = (st.byProfile[s] ?? 0) + n;
        },
        flights: st.inFlight as Array<FleetTransition | PoolTransition>,
      };
    }
    const st = (state.pools[name] ??= poolState());
    return {
      get: (s: string) => st[s as 'idle'],
      add: (s: string, n: number) => {
        st[s as 'idle'] += n;
      },
      flights: st.inFlight as Array<FleetTransition | PoolTransition>,
    };
  };
  seq.phases.forEach((phase, pi) => {
    for (const step of phase.steps) {
      if (step.kind === 'confirm') {
        for (const t of step.transitions) {
          const draw = slotDraws(farm, t.kind, t.name);
          const sl = settled(t.kind, t.name);
          const keep = sl.flights.filter((f) => {
            if ((draw[f.to] as number) < (draw[f.from] as number)) {
              sl.add(f.to, f.count);
              return false;
            }
            return true;
          });
          sl.flights.splice(0, sl.flights.length, ...keep);
        }
        events.push({ phase: pi, step: null, loads: worstCaseLoads(farm, site, state) });
        continue;
      }
      const [kind, name, from, to] =
        step.kind === 'gpu-mode'
          ? (['pool', step.pool, step.fromMode, step.toMode] as const)
          : (['fleet', step.fleet, step.fromProfile, step.toProfile] as const);
      const draw = slotDraws(farm, kind, name);
      const sl = settled(kind, name);
      let left = step.count;
      const k = Math.min(sl.get(from), left);
      sl.add(from, -k);
      left -= k;
      const made: Array<FleetTransition | PoolTransition> = [];
      if (k > 0) made.push({ from, to, count: k, since: now } as FleetTransition & PoolTransition);
      for (const f of sl.flights) {
        if (left <= 0) break;
        if (f.to !== from || f.count <= 0) continue;
        const n = Math.min(f.count, left);
        f.count -= n;
        left -= n;
        const origin = (draw[f.from] as number) > (draw[from] as number) ? f.from : from;
        made.push({ from: origin, to, count: n, since: now } as FleetTransition & PoolTransition);
      }
      const keep = sl.flights.filter((f) => f.count > 0);
      sl.flights.splice(0, sl.flights.length, ...keep, ...made);
      if (left > 0) errors.push(`${step.id}: ${left} devices missing at ${from}`);
      events.push({ phase: pi, step, loads: worstCaseLoads(farm, site, state) });
    }
  });
  return { events, state, errors };
}

/** Every limit as [key, cap, load-of]. */
export function limitList(
  limits: SequencerLimits,
): Array<{ key: string; capKw: number; load: (l: WorstCaseLoads) => number }> {
  return [
    ...Object.entries(limits.nodes).map(([n, l]) => ({
      key: `node/${n}`,
      capKw: l.capKw,
      load: (x: WorstCaseLoads) => x.nodes[n] ?? 0,
    })),
    ...Object.entries(limits.zones).map(([z, l]) => ({
      key: `zone/${z}`,
      capKw: l.capKw,
      load: (x: WorstCaseLoads) => x.zones[z] ?? 0,
    })),
    { key: 'site', capKw: limits.site.capKw, load: (x: WorstCaseLoads) => x.siteKw },
  ];
}
