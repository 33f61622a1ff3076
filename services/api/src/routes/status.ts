// GET /status: the farm at a glance in one call. Its parts are read at once, each by a small
// indexed query: the latest plan in outline (PlanRepository.overview, not the whole plan
// document), each fleet's latest observation of the last hour, the dispatches and overrides in
// force, and the newest reading of each signal.
import type { FastifyPluginAsync } from 'fastify';
import { endpointCount, type Farm, type GpuPool } from '@switchyard/domain';
import {
  DispatchRepository,
  ObservationRepository,
  OverrideRepository,
  PlanRepository,
  type FleetObservation,
  type PlanOverview,
  type PlanSolver,
} from '@switchyard/db';
import {
  DEFAULT_SIGNAL_POLICY,
  readingAgeSeconds,
  SignalRepository,
  type StoredReading,
} from '@switchyard/signals';
import { useTypeBox } from '../schemas/common.ts';
import { statusSchema } from '../schemas/operator.ts';
import { overrideJson } from './overrides.ts';
import { siteOf, type OperatorRouteOptions } from './operator-support.ts';

/** Fleet observations older than this are left out of the status. */
const OBSERVATION_MAX_AGE_MS = 3_600_000;
/** Signal readings older than this are left out of the status. */
const SIGNAL_LOOKBACK_MS = 7 * 86_400_000;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const num = (v: unknown, fallback = 0): number =>
  typeof v === 'number' && Number.isFinite(v) ? v : fallback;
const count = (v: unknown): number => Math.max(0, Math.round(num(v)));
const counts = (v: unknown): Record<string, number> =>
  Object.fromEntries(Object.entries(obj(v) ?? {}).map(([k, n]) => [k, count(n)]));

/** A signal reading as the status shows it. */
export function signalAge(r: StoredReading, now: Date) {
  const age = readingAgeSeconds(r, now);
  return {
    signal: r.signal,
    subject: r.subject ?? null,
    source: r.source,
    value: r.value,
    unit: r.unit,
    status: r.status,
    observedAt: r.observedAt.toISOString(),
    ageSeconds: Math.round(age),
    stale: r.stale || age > DEFAULT_SIGNAL_POLICY.staleness[r.signal].softSeconds,
  };
}

function planJson(p: PlanOverview, now: Date) {
  const economics = obj(p.economics);
  const prices = obj(p.prices);
  const warnings = Array.isArray(p.warnings)
    ? p.warnings.filter((w): w is string => typeof w === 'string')
    : [];
  return {
    id: p.id,
    createdAt: p.createdAt.toISOString(),
    ageSeconds: Math.max(0, Math.round((now.getTime() - p.createdAt.getTime()) / 1000)),
    intervalStart: p.intervalStart.toISOString(),
    epoch: p.epoch,
    // A column the database constrains to these values.
    solver: p.solver as PlanSolver,
    status: p.status,
    changes: p.changeCount,
    warnings,
    expectedUsdPerHour:
      economics && typeof economics.netUsdPerHour === 'number' ? economics.netUsdPerHour : null,
    economics: economics
      ? {
          ...economics,
          hashingUsdPerHour: num(economics.hashingUsdPerHour),
          inferenceUsdPerHour: num(economics.inferenceUsdPerHour),
          gpuHashingUsdPerHour: num(economics.gpuHashingUsdPerHour),
          energyUsdPerHour: num(economics.energyUsdPerHour),
          wearUsdPerHour: num(economics.wearUsdPerHour),
          netUsdPerHour: num(economics.netUsdPerHour),
        }
      : null,
    prices: prices
      ? {
          ...prices,
          energyUsdPerMwh: num(prices.energyUsdPerMwh),
          hashpriceUsdPerThDay: num(prices.hashpriceUsdPerThDay),
          gpuUsdPerGpuHour: typeof prices.gpuUsdPerGpuHour === 'number' ? prices.gpuUsdPerGpuHour : null,
        }
      : null,
  };
}

function fleetsJson(farm: Farm, site: string, plan: PlanOverview | undefined, observed: FleetObservation[]) {
  const planned = obj(plan?.fleets) ?? {};
  const byFleet = new Map(observed.map((o) => [o.fleet, o]));
  return farm.fleets
    .filter((f) => f.spec.site === site)
    .map((f) => {
      const p = obj(planned[f.metadata.name]);
      const target = obj(p?.target);
      const o = byFleet.get(f.metadata.name);
      return {
        name: f.metadata.name,
        model: f.spec.model,
        miners: endpointCount(f.spec),
        planned: target
          ? {
              asleep: count(target.asleep),
              byProfile: counts(target.byProfile),
              expectedKw: num(p?.expectedKw),
            }
          : null,
        observed: o
          ? {
              at: o.observedAt.toISOString(),
              byState: counts(o.minersByState),
              powerKw: o.powerKw,
              hashrateThs: o.hashrateThs,
            }
          : null,
      };
    });
}

function poolsJson(pools: GpuPool[], plan: PlanOverview | undefined) {
  const planned = obj(plan?.pools) ?? {};
  return pools.map((pool) => {
    const p = obj(planned[pool.metadata.name]);
    const target = obj(p?.target);
    return {
      name: pool.metadata.name,
      gpuModel: pool.spec.gpuModel,
      nodes: pool.spec.nodes,
      planned: target
        ? {
            serving: count(target.serving),
            hashing: count(target.hashing),
            idle: count(target.idle),
            unavailable: count(p?.unavailable),
            expectedKw: num(p?.expectedKw),
          }
        : null,
    };
  });
}

function powerJson(
  plan: PlanOverview | undefined,
  fleets: ReturnType<typeof fleetsJson>,
  pools: ReturnType<typeof poolsJson>,
  specs: GpuPool[],
  observed: FleetObservation[],
) {
  const load = obj(plan?.siteLoad);
  const gpuByMode = { serving: 0, hashing: 0, idle: 0 };
  for (const p of pools) {
    const spec = specs.find((s) => s.metadata.name === p.name)?.spec.nodePowerKw;
    if (!p.planned || !spec) continue;
    gpuByMode.serving += p.planned.serving * spec.serving;
    gpuByMode.hashing += p.planned.hashing * spec.hashing;
    gpuByMode.idle += p.planned.idle * spec.idle;
  }
  const oldest = observed.reduce<Date | null>((m, o) => (m && m <= o.observedAt ? m : o.observedAt), null);
  return {
    planned:
      plan && load
        ? {
            itKw: num(load.itKw),
            facilityKw: num(load.facilityKw),
            capKw: num(load.capKw),
            currentKw: num(load.currentKw),
            asicKw: fleets.reduce((n, f) => n + (f.planned?.expectedKw ?? 0), 0),
            gpuKw: pools.reduce((n, p) => n + (p.planned?.expectedKw ?? 0), 0),
            gpuByMode,
          }
        : null,
    observed: {
      asicKw: observed.reduce((n, o) => n + o.powerKw, 0),
      fleets: observed.length,
      oldestObservationAt: oldest ? oldest.toISOString() : null,
    },
  };
}

export const statusRoutes: FastifyPluginAsync<OperatorRouteOptions> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  const now = opts.now ?? (() => new Date());
  const plans = new PlanRepository(opts.db);
  const observations = new ObservationRepository(opts.db);
  const dispatches = new DispatchRepository(opts.db);
  const overrides = new OverrideRepository(opts.db);
  const signals = new SignalRepository(opts.db);

  app.get('/status', { schema: statusSchema }, async (req) => {
    const farm = opts.getFarm().farm;
    const site = siteOf(farm, req.query.site);
    const name = site.metadata.name;
    const at = now();
    const [plan, observed, inForce, open, openCounts, readings] = await Promise.all([
      plans.overview(name),
      observations.latestPerFleet({ site: name, since: new Date(at.getTime() - OBSERVATION_MAX_AGE_MS) }),
      dispatches.list({ site: name, activeAt: at, limit: 50 }),
      overrides.list({ site: name, openAt: at, limit: 50 }),
      overrides.countOpen(name, at),
      signals.newestPerSignal(new Date(at.getTime() - SIGNAL_LOOKBACK_MS), at),
    ]);
    const pools = farm.pools.filter((p) => p.spec.site === name);
    const fleetList = fleetsJson(farm, name, plan, observed);
    const poolList = poolsJson(pools, plan);
    return {
      at: at.toISOString(),
      site: {
        name,
        interconnectKw: site.spec.interconnectKw,
        pue: site.spec.pue,
        marketNode: site.spec.marketNode,
      },
      sites: farm.sites.map((s) => s.metadata.name),
      plan: plan ? planJson(plan, at) : null,
      power: powerJson(plan, fleetList, poolList, pools, observed),
      fleets: fleetList,
      pools: poolList,
      dispatches: inForce.map((d) => ({
        id: d.id,
        kind: d.kind,
        capKw: d.capKw,
        state: d.state,
        startsAt: d.startsAt.toISOString(),
        endsAt: d.endsAt.toISOString(),
        brokerId: d.brokerId,
      })),
      overrides: { ...openCounts, items: open.items.map((o) => overrideJson(o, at)) },
      signals: readings.map((r) => signalAge(r, at)),
    };
  });
};
