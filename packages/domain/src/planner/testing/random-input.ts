// Seeded random snapshots for property tests and benchmarks. The same seed always gives the same
// input: random trees, fleets (known models and custom profiles), pools, orders, partial and
// stale observations, stale signals, dispatches, previous plans (dwell, cycles) and pins.
import type { Farm } from '../../farm/farm-loader.ts';
import { fleetProfiles } from '../../farm/farm-validation.ts';
import { endpointCount } from '../../farm/endpoints.ts';
import type { FleetObservation, PlanInput, PlanMemory, PlannerOrder, PoolObservation } from '../types.ts';
import { farmBuilder, planInput, signal } from './farm-builder.ts';

/** mulberry32: small, fast, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rand {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  real(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)] as T;
  }
}

const MODELS = ['S19 Pro', 'S19j Pro', 'S19 XP', 'S19k Pro', 'S21', 'S21 Pro', 'M30S++', 'M50S', 'M60S'];
const GPUS = [
  { model: 'H100-SXM-80GB', vram: 80 },
  { model: 'H200-SXM-141GB', vram: 141 },
  { model: 'A100-SXM-80GB', vram: 80 },
  { model: 'L40S-48GB', vram: 48 },
];
const DAY_MS = 86_400_000;

export interface RandomOpts {
  maxFleets?: number;
  maxPools?: number;
  maxOrders?: number;
}

export function randomPlanInput(seed: number, o: RandomOpts = {}): PlanInput {
  const r = new Rand(seed);
  const interconnect = r.int(500, 20_000);
  const rootKw = Math.round(interconnect * r.real(0.6, 1));
  const b = farmBuilder().site({
    interconnectKw: interconnect,
    rootKw,
    pue: Math.round(r.real(1, 1.4) * 100) / 100,
    ...(r.chance(0.1) ? { pricing: 'fixed' as const, fixedUsdPerMwh: r.int(20, 120) } : {}),
  });
  const nodes: Array<{ name: string; limit: number }> = [{ name: 'root', limit: rootKw }];
  for (let i = 0, n = r.int(1, 8); i < n; i++) {
    const parent = r.pick(nodes);
    const limit = Math.max(10, Math.round(parent.limit * r.real(0.15, 1)));
    nodes.push({ name: `n${i}`, limit });
    b.node(`n${i}`, { limitKw: limit, parent: parent.name });
  }
  const zones = r.int(1, 2);
  for (let z = 0; z < zones; z++) {
    const derate = r.chance(0.4);
    b.zone(`z${z}`, {
      capacityKw: Math.round(interconnect * r.real(0.2, 1.2)),
      ...(derate ? { ratedAmbientC: r.int(25, 40), pctPerDegreeC: r.real(0, 3) } : {}),
    });
  }
  b.policy({
    safetyMarginPct: r.pick([0, 5, 10]),
    rampKwPerMin: r.pick([20, 200, 2000]),
    minDwellSeconds: r.pick([0, 900]),
    hysteresisUsdPerMwh: r.pick([0, 5, 20]),
    maxCyclesPerDay: r.pick([0, 1, 4, 8]),
    wearCostUsdPerCycle: r.pick([0, 0.5, 2]),
    reserveKw: r.chance(0.2) ? r.int(0, 300) : 0,
  });
  for (let i = 0, n = r.int(1, o.maxFleets ?? 6); i < n; i++) {
    const custom = r.chance(0.15);
    const w = r.int(1500, 3500);
    const jth = r.real(15, 40);
    b.fleet(`f${i}`, {
      model: custom ? 'Custom X' : r.pick(MODELS),
      count: r.int(1, 200),
      feed: r.pick(nodes).name,
      zone: `z${r.int(0, zones - 1)}`,
      ...(custom
        ? {
            profiles: [
              {
                name: 'low',
                powerW: Math.round(w * 0.7),
                hashrateThs: Math.round(((w * 0.7) / (jth * 0.9)) * 10) / 10,
              },
              { name: 'stock', powerW: w, hashrateThs: Math.round((w / jth) * 10) / 10 },
            ],
            sleepW: 20,
          }
        : {}),
    });
  }
  const poolSpecs: Array<{ name: string; nodes: number }> = [];
  for (let i = 0, n = r.int(0, o.maxPools ?? 3); i < n; i++) {
    const g = r.pick(GPUS);
    const gpn = r.pick([1, 4, 8]);
    const idle = Math.round(r.real(0.3, 1.5) * 10) / 10;
    const count = r.int(1, 12);
    b.pool(`p${i}`, {
      nodes: count,
      feed: r.pick(nodes).name,
      zone: `z${r.int(0, zones - 1)}`,
      gpuModel: g.model,
      vramGiB: g.vram,
      gpusPerNode: gpn,
      kw: {
        idle,
        serving: Math.round((idle + gpn * r.real(0.9, 1.3)) * 10) / 10,
        hashing: Math.round((idle + gpn * r.real(0.5, 1.0)) * 10) / 10,
      },
      hashingPayout: r.chance(0.7) ? Math.round(r.real(0.05, 0.4) * 100) / 100 : null,
    });
    poolSpecs.push({ name: `p${i}`, nodes: count });
  }
  const farm = b.build();
  const now = Date.UTC(2026, r.int(0, 11), r.int(1, 28), r.int(0, 23), r.int(0, 59));
  const ib = planInput(farm).at(now);

  for (const f of farm.fleets) {
    if (r.chance(0.08)) ib.unobserved('fleet', f.metadata.name);
    else ib.observe(f.metadata.name, randomFleetObservation(r, farm, f.metadata.name));
  }
  const orders = randomOrders(r, poolSpecs, o.maxOrders ?? 12);
  for (const ord of orders) ib.order(ord);
  for (const p of poolSpecs) {
    if (r.chance(0.08)) ib.unobserved('pool', p.name);
    else ib.observePool(p.name, randomPoolObservation(r, p.nodes));
  }
  const staleAge = r.chance(0.1) ? 5000 : r.int(5, 120);
  ib.energy(Math.round(r.real(-10, 400)), { ageSeconds: staleAge, stale: r.chance(0.15) });
  if (r.chance(0.6)) ib.hashprice(r.real(0.02, 0.08));
  else ib.signals({ hashpriceUsdPerThDay: undefined });
  if (r.chance(0.05)) ib.signals({ btcUsd: signal(60_000, { ageSeconds: 10_000 }) });
  ib.ambient(r.int(20, 48), { ageSeconds: r.chance(0.1) ? 9000 : 60 });
  if (r.chance(0.3)) {
    ib.dispatch(Math.round(interconnect * r.real(0.05, 0.9)), {
      startsAt: now + r.pick([-600_000, 60_000, 1_200_000]),
      endsAt: now + r.pick([600_000, 3_600_000]),
    });
  }
  if (r.chance(0.5)) ib.previous(randomMemory(r, farm, now));
  if (r.chance(0.15)) {
    const f = r.pick(farm.fleets);
    ib.override('fleet', f.metadata.name, r.pick(['asleep', ...fleetProfiles(f).map((p) => p.name)]), {
      by: 'ops',
    });
  }
  if (poolSpecs.length > 0 && r.chance(0.1))
    ib.override('pool', r.pick(poolSpecs).name, r.pick(['idle', 'hashing', 'serving']));
  return ib.build();
}

function randomFleetObservation(r: Rand, farm: Farm, name: string): FleetObservation {
  const f = farm.fleets.find((x) => x.metadata.name === name);
  if (!f) throw new Error(name);
  let left = endpointCount(f.spec);
  const take = (max: number) => {
    const n = Math.min(left, r.int(0, max));
    left -= n;
    return n;
  };
  const fault = r.chance(0.3) ? take(3) : 0;
  const offline = r.chance(0.2) ? take(3) : 0;
  const stale = r.chance(0.2) ? take(5) : 0;
  const sleeping = r.chance(0.4) ? take(left) : 0;
  const ramping = r.chance(0.2) ? take(3) : 0;
  const hashing = r.chance(0.05) ? Math.max(0, left - 2) : left;
  const byProfile: Record<string, number> = {};
  let awake = hashing + ramping;
  for (const p of fleetProfiles(f)) {
    const n = Math.min(awake, r.int(0, awake));
    if (n > 0) byProfile[p.name] = n;
    awake -= n;
  }
  const modelled = (hashing + ramping) * 3.2;
  return {
    hashing,
    sleeping,
    ramping,
    fault,
    offline,
    stale,
    byProfile,
    measuredKw: r.chance(0.2) ? modelled * r.real(0.8, 1.25) : null,
  };
}

function randomPoolObservation(r: Rand, nodes: number): PoolObservation {
  let left = nodes;
  const take = (max: number) => {
    const n = Math.min(left, r.int(0, max));
    left -= n;
    return n;
  };
  const unavailable = r.chance(0.3) ? take(2) : 0;
  const serving = take(left);
  const hashing = take(left);
  return { serving, hashing, idle: left, unavailable };
}

function randomOrders(r: Rand, pools: Array<{ name: string }>, max: number): Array<Partial<PlannerOrder>> {
  const out: Array<Partial<PlannerOrder>> = [];
  for (let i = 0, n = r.int(0, max); i < n; i++) {
    const placed = pools.length > 0 && r.chance(0.35);
    out.push({
      id: `o${i}`,
      broker: r.pick(['b1', 'b2']),
      tier: r.pick(['reserved', 'on-demand', 'interruptible'] as const),
      gpuModels: r.chance(0.3) ? [] : [r.pick(GPUS).model],
      minVramGiB: r.pick([0, 48, 80, 141]),
      gpuCount: r.int(1, 16),
      priceUsdPerGpuHour: Math.round(r.real(0.3, 5) * 100) / 100,
      state: placed ? r.pick(['admitted', 'running'] as const) : 'pending',
      pool: placed ? r.pick(pools).name : undefined,
      noticeSeconds: r.pick([0, 120, 600]),
    });
  }
  return out;
}

function randomMemory(r: Rand, farm: Farm, now: number): PlanMemory {
  const mem: PlanMemory = {
    at: now - 300_000,
    day: new Date(now - (r.chance(0.2) ? DAY_MS : 0)).toISOString().slice(0, 10),
    fleets: {},
    pools: {},
  };
  for (const f of farm.fleets) {
    if (r.chance(0.2)) continue;
    let left = endpointCount(f.spec) - r.int(0, 3);
    const byProfile: Record<string, number> = {};
    for (const p of fleetProfiles(f)) {
      const n = Math.max(0, Math.min(left, r.int(0, left)));
      byProfile[p.name] = n;
      left -= n;
    }
    mem.fleets[f.metadata.name] = {
      target: { asleep: Math.max(0, left), byProfile },
      changedAt: r.chance(0.2) ? null : now - r.int(0, 1800) * 1000,
      cyclesToday: r.int(0, 2 * endpointCount(f.spec)),
    };
  }
  for (const p of farm.pools) {
    const hashing = r.int(0, p.spec.nodes);
    mem.pools[p.metadata.name] = {
      target: { serving: 0, hashing, idle: p.spec.nodes - hashing },
      changedAt: r.chance(0.3) ? null : now - r.int(0, 1800) * 1000,
    };
  }
  return mem;
}
