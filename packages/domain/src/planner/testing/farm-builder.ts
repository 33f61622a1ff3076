// Fluent builders for planner tests and benchmarks:
//   farmBuilder().site({ interconnectKw: 5000 }).node('pdu-1', { limitKw: 500 })
//     .fleet('a', { model: 'S19 Pro', count: 100, feed: 'pdu-1' }).build()
//   planInput(farm).energy(80).hashprice(0.05).order({ gpuCount: 8 }).build()
// Farms go through the real schema and cross-document validation, so defaults apply and a
// builder mistake fails loudly.
import { API_VERSION, type PowerNode, type PowerProfile } from '../../farm/resource-schema.ts';
import { validateFarmResources, type Farm } from '../../farm/farm-loader.ts';
import type {
  FleetObservation,
  GridDispatch,
  Override,
  PlanInput,
  PlanMemory,
  PlannerOrder,
  PoolObservation,
  SignalValue,
  StalenessLimits,
} from '../types.ts';
import { fleetProfiles } from '../../farm/farm-validation.ts';
import { endpointCount } from '../../farm/endpoints.ts';

export interface SiteOpts {
  name?: string;
  interconnectKw?: number;
  rootKw?: number;
  pue?: number;
  priceCapUsdPerMwh?: number;
  pricing?: 'real-time' | 'day-ahead' | 'fixed';
  fixedUsdPerMwh?: number;
  timezone?: string;
}

export interface FleetOpts {
  model: string;
  count: number;
  feed: string;
  zone?: string;
  profiles?: PowerProfile[];
  sleepW?: number;
  nameplateW?: number;
  site?: string;
}

export interface PoolOpts {
  nodes: number;
  feed: string;
  zone?: string;
  gpuModel?: string;
  gpusPerNode?: number;
  vramGiB?: number;
  kw?: { idle: number; serving: number; hashing: number };
  /** Payout per GPU-hour when hashing; null disables GPU hashing. */
  hashingPayout?: number | null;
  site?: string;
}

interface NodeSpec {
  name: string;
  limitKw: number;
  parent: string;
}

export class FarmBuilder {
  #site: Required<Omit<SiteOpts, 'fixedUsdPerMwh' | 'timezone'>> &
    Pick<SiteOpts, 'fixedUsdPerMwh' | 'timezone'> = {
    name: 'site-1',
    interconnectKw: 10_000,
    rootKw: 0,
    pue: 1.1,
    priceCapUsdPerMwh: 5000,
    pricing: 'real-time',
  };
  #nodes: NodeSpec[] = [];
  #zones: Array<{ name: string; capacityKw: number; ratedAmbientC?: number; pctPerDegreeC?: number }> = [];
  #policy: Record<string, unknown> = {};
  #fleets: Array<[string, FleetOpts]> = [];
  #pools: Array<[string, PoolOpts]> = [];

  site(o: SiteOpts): this {
    this.#site = { ...this.#site, ...o };
    return this;
  }

  /** A power-tree node under `parent` (default: the root, named "root"). */
  node(name: string, o: { limitKw: number; parent?: string }): this {
    this.#nodes.push({ name, limitKw: o.limitKw, parent: o.parent ?? 'root' });
    return this;
  }

  zone(name: string, o: { capacityKw: number; ratedAmbientC?: number; pctPerDegreeC?: number }): this {
    this.#zones.push({ name, ...o });
    return this;
  }

  policy(o: Record<string, unknown>): this {
    this.#policy = { ...this.#policy, ...o };
    return this;
  }

  fleet(name: string, o: FleetOpts): this {
    this.#fleets.push([name, o]);
    return this;
  }

  pool(name: string, o: PoolOpts): this {
    this.#pools.push([name, o]);
    return this;
  }

  #tree(): PowerNode {
    const s = this.#site;
    const root: PowerNode = { name: 'root', limitKw: s.rootKw || s.interconnectKw, children: [] };
    const byName = new Map<string, PowerNode>([['root', root]]);
    for (const n of this.#nodes) {
      const node: PowerNode = { name: n.name, limitKw: n.limitKw };
      const parent = byName.get(n.parent);
      if (!parent) throw new Error(`farmBuilder: parent ${n.parent} of ${n.name} is not defined yet`);
      (parent.children ??= []).push(node);
      byName.set(n.name, node);
    }
    const strip = (n: PowerNode): PowerNode =>
      n.children && n.children.length > 0
        ? { ...n, children: n.children.map(strip) }
        : { name: n.name, limitKw: n.limitKw };
    return strip(root);
  }

  build(): Farm {
    const s = this.#site;
    const zones = this.#zones.length > 0 ? this.#zones : [{ name: 'zone-a', capacityKw: 1_000_000 }];
    const zone0 = (zones[0] as { name: string }).name;
    const meta = (name: string) => ({ name });
    const docs: unknown[] = [
      {
        apiVersion: API_VERSION,
        kind: 'Site',
        metadata: meta(s.name),
        spec: {
          interconnectKw: s.interconnectKw,
          marketNode: 'HB_WEST',
          pue: s.pue,
          ...(s.timezone ? { timezone: s.timezone } : {}),
          energyContract: {
            pricing: s.pricing,
            priceCapUsdPerMwh: s.priceCapUsdPerMwh,
            ...(s.fixedUsdPerMwh !== undefined ? { fixedUsdPerMwh: s.fixedUsdPerMwh } : {}),
          },
          powerTree: this.#tree(),
          coolingZones: zones.map((z) => ({
            name: z.name,
            capacityKw: z.capacityKw,
            ...(z.ratedAmbientC !== undefined
              ? { ambientDerate: { ratedAmbientC: z.ratedAmbientC, pctPerDegreeC: z.pctPerDegreeC ?? 0 } }
              : {}),
          })),
        },
      },
      {
        apiVersion: API_VERSION,
        kind: 'AllocationPolicy',
        metadata: meta(`${s.name}-policy`),
        spec: { site: s.name, ...this.#policy },
      },
    ];
    this.#fleets.forEach(([name, f], i) => {
      docs.push({
        apiVersion: API_VERSION,
        kind: 'MinerFleet',
        metadata: meta(name),
        spec: {
          site: f.site ?? s.name,
          feed: f.feed,
          coolingZone: f.zone ?? zone0,
          model: f.model,
          driver: /^m\d/i.test(f.model) ? 'whatsminer' : 'luxos',
          endpoints: { cidr: `${10 + Math.floor(i / 256)}.${i % 256}.0.0/16`, count: f.count },
          ...(f.profiles ? { profiles: f.profiles } : {}),
          ...(f.sleepW !== undefined ? { sleepW: f.sleepW } : {}),
          ...(f.nameplateW !== undefined ? { nameplateW: f.nameplateW } : {}),
        },
      });
    });
    for (const [name, p] of this.#pools) {
      const payout = p.hashingPayout === undefined ? 0.18 : p.hashingPayout;
      docs.push({
        apiVersion: API_VERSION,
        kind: 'GpuPool',
        metadata: meta(name),
        spec: {
          site: p.site ?? s.name,
          feed: p.feed,
          coolingZone: p.zone ?? zone0,
          nodeSelector: { 'switchyard.io/pool': name },
          nodes: p.nodes,
          gpuModel: p.gpuModel ?? 'H100-SXM-80GB',
          gpusPerNode: p.gpusPerNode ?? 8,
          vramGiB: p.vramGiB ?? 80,
          nodePowerKw: p.kw ?? { idle: 1.6, serving: 10.2, hashing: 8.4 },
          ...(payout === null
            ? { hashing: { enabled: false } }
            : { hashing: { enabled: true, image: 'hasher:1', payoutUsdPerGpuHour: payout } }),
        },
      });
    }
    const r = validateFarmResources(docs);
    if (!r.ok)
      throw new Error(
        `farmBuilder: invalid farm: ${r.issues.map((i) => `${i.document} ${i.path}: ${i.message}`).join('; ')}`,
      );
    return r.farm;
  }
}

export function farmBuilder(): FarmBuilder {
  return new FarmBuilder();
}

export const signal = (value: number, o: Partial<Omit<SignalValue, 'value'>> = {}): SignalValue => ({
  value,
  source: o.source ?? 'test',
  ageSeconds: o.ageSeconds ?? 30,
  stale: o.stale ?? false,
});

/** Every miner of the fleet hashing at `profile` (default "normal", else the top profile). */
export function allHashing(farm: Farm, fleet: string, profile?: string): FleetObservation {
  const f = farm.fleets.find((x) => x.metadata.name === fleet);
  if (!f) throw new Error(`no fleet ${fleet}`);
  const n = endpointCount(f.spec);
  const names = fleetProfiles(f).map((p) => p.name);
  const at = profile ?? (names.includes('normal') ? 'normal' : (names[names.length - 1] as string));
  return {
    hashing: n,
    sleeping: 0,
    ramping: 0,
    fault: 0,
    offline: 0,
    stale: 0,
    byProfile: { [at]: n },
    measuredKw: null,
  };
}

let orderSeq = 0;

export class InputBuilder {
  readonly #farm: Farm;
  #site: string;
  #now = Date.UTC(2026, 6, 1, 12, 0, 0);
  #fleets: Record<string, FleetObservation> = {};
  #pools: Record<string, PoolObservation> = {};
  #signals: PlanInput['signals'] = {
    btcUsd: signal(63_700),
    difficulty: signal(88.1e12),
    feesBtcPerBlock: signal(0.44),
    hashpriceUsdPerThDay: signal(0.05, { source: 'luxor' }),
    energyUsdPerMwh: signal(40, { source: 'ercot-rt' }),
  };
  #orders: PlannerOrder[] = [];
  #dispatches: GridDispatch[] = [];
  #overrides: Override[] = [];
  #previous: PlanMemory | undefined;
  #staleness: Partial<StalenessLimits> | undefined;

  constructor(farm: Farm, site?: string) {
    this.#farm = farm;
    this.#site = site ?? (farm.sites[0]?.metadata.name as string);
    for (const f of farm.fleets) this.#fleets[f.metadata.name] = allHashing(farm, f.metadata.name);
    for (const p of farm.pools)
      this.#pools[p.metadata.name] = { serving: 0, hashing: 0, idle: p.spec.nodes, unavailable: 0 };
  }

  get now(): number {
    return this.#now;
  }

  at(ms: number): this {
    this.#now = ms;
    return this;
  }

  energy(usdPerMwh: number, o: Partial<Omit<SignalValue, 'value'>> = {}): this {
    this.#signals.energyUsdPerMwh = signal(usdPerMwh, { source: 'ercot-rt', ...o });
    return this;
  }

  hashprice(usdPerThDay: number, o: Partial<Omit<SignalValue, 'value'>> = {}): this {
    this.#signals.hashpriceUsdPerThDay = signal(usdPerThDay, { source: 'luxor', ...o });
    return this;
  }

  signals(s: Partial<PlanInput['signals']>): this {
    this.#signals = { ...this.#signals, ...s };
    return this;
  }

  ambient(c: number, o: Partial<Omit<SignalValue, 'value'>> = {}): this {
    this.#signals.ambientC = {
      ...this.#signals.ambientC,
      [this.#site]: signal(c, { source: 'weather', ...o }),
    };
    return this;
  }

  observe(fleet: string, o: Partial<FleetObservation>): this {
    const base = this.#fleets[fleet] ?? allHashing(this.#farm, fleet);
    this.#fleets[fleet] = { ...base, ...o };
    return this;
  }

  /** Removes a fleet's or pool's observation (unknown: worst case). */
  unobserved(kind: 'fleet' | 'pool', name: string): this {
    if (kind === 'fleet') delete this.#fleets[name];
    else delete this.#pools[name];
    return this;
  }

  observePool(pool: string, o: Partial<PoolObservation>): this {
    const base = this.#pools[pool] ?? { serving: 0, hashing: 0, idle: 0, unavailable: 0 };
    this.#pools[pool] = { ...base, ...o };
    return this;
  }

  order(o: Partial<PlannerOrder>): this {
    this.#orders.push({
      id: o.id ?? `order-${++orderSeq}`,
      broker: o.broker ?? 'broker-1',
      tier: o.tier ?? 'on-demand',
      gpuModels: o.gpuModels ?? [],
      minVramGiB: o.minVramGiB ?? 0,
      gpuCount: o.gpuCount ?? 8,
      priceUsdPerGpuHour: o.priceUsdPerGpuHour ?? 2.5,
      state: o.state ?? 'pending',
      pool: o.pool,
      noticeSeconds: o.noticeSeconds ?? 300,
    });
    return this;
  }

  dispatch(capKw: number, o: Partial<GridDispatch> = {}): this {
    this.#dispatches.push({
      id: o.id ?? `dispatch-${this.#dispatches.length + 1}`,
      site: o.site ?? this.#site,
      capKw,
      startsAt: o.startsAt ?? this.#now - 60_000,
      endsAt: o.endsAt ?? this.#now + 3_600_000,
    });
    return this;
  }

  override(kind: 'fleet' | 'pool', name: string, mode: string, o: Partial<Override> = {}): this {
    this.#overrides.push({
      id: o.id ?? `ovr-${this.#overrides.length + 1}`,
      kind,
      name,
      mode,
      startsAt: o.startsAt ?? this.#now - 60_000,
      endsAt: o.endsAt ?? this.#now + 3_600_000,
      reason: o.reason,
      by: o.by,
    });
    return this;
  }

  previous(m: PlanMemory | undefined): this {
    this.#previous = m;
    return this;
  }

  staleness(s: Partial<StalenessLimits>): this {
    this.#staleness = s;
    return this;
  }

  build(): PlanInput {
    return {
      farm: this.#farm,
      site: this.#site,
      observed: { fleets: { ...this.#fleets }, pools: { ...this.#pools } },
      signals: { ...this.#signals },
      orders: [...this.#orders],
      dispatches: [...this.#dispatches],
      overrides: [...this.#overrides],
      now: this.#now,
      previous: this.#previous,
      staleness: this.#staleness,
    };
  }
}

export function planInput(farm: Farm, site?: string): InputBuilder {
  return new InputBuilder(farm, site);
}
