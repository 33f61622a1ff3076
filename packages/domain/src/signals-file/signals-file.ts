// The signals file of `switchyard plan`: one JSON document with the market and weather values,
// and optionally orders, grid dispatches, operator overrides, the observed state and the
// previous plan's memory — everything a dry-run plan needs besides the farm (see
// docs/planner.md, "Dry run"). Pure: text in, a PlanInput or every problem (each naming its
// field) out.
import { z } from 'zod';
import type { Farm } from '../farm/farm-loader.ts';
import { pathToString } from '../farm/farm-loader.ts';
import { fleetProfiles } from '../farm/farm-validation.ts';
import { endpointCount } from '../farm/endpoints.ts';
import { ORDER_TIERS } from '../planner/types.ts';
import type {
  FleetObservation,
  Override,
  PlanInput,
  PlanMemory,
  PoolObservation,
  SignalValue,
} from '../planner/types.ts';
import { parseIsoTime } from '../backtest/history-csv.ts';
import { resolveSite, BacktestInputError, normalProfile } from '../backtest/strategies.ts';

export const SIGNALS_FILE_SOURCE = 'signals-file';

const isoTime = z.string().transform((s, ctx) => {
  const t = parseIsoTime(s);
  if (typeof t === 'string') {
    ctx.addIssue({ code: 'custom', message: t });
    return z.NEVER;
  }
  return t;
});

/** A value, or `{ value, source, ageSeconds, stale }` as a signal source delivered it. */
function signal(value: z.ZodNumber) {
  return z.union([
    value,
    z.strictObject({
      value,
      source: z.string().min(1).max(64).optional(),
      ageSeconds: z.number().finite().min(0).optional(),
      stale: z.boolean().optional(),
    }),
  ]);
}

const count = z.number().int().min(0);

const orderSchema = z.strictObject({
  id: z.string().min(1).max(128),
  broker: z.string().min(1).max(128).default('cli'),
  tier: z.enum(ORDER_TIERS),
  gpuModels: z.array(z.string().min(1).max(64)).max(32).default([]),
  minVramGiB: z.number().finite().min(0).default(0),
  gpuCount: z.number().int().min(1).max(100_000),
  priceUsdPerGpuHour: z.number().finite().min(0).max(1000),
  state: z.enum(['pending', 'admitted', 'running']).default('pending'),
  pool: z.string().min(1).optional(),
  noticeSeconds: z.number().int().min(0).max(86_400).default(300),
});

const dispatchSchema = z.strictObject({
  id: z.string().min(1).max(128),
  site: z.string().min(1).optional(),
  capKw: z.number().finite().min(0),
  startsAt: isoTime,
  endsAt: isoTime,
});

const overrideSchema = z.strictObject({
  id: z.string().min(1).max(128),
  kind: z.enum(['fleet', 'pool']),
  name: z.string().min(1),
  mode: z.string().min(1),
  startsAt: isoTime.optional(),
  endsAt: isoTime.optional(),
  reason: z.string().max(1024).optional(),
  by: z.string().max(128).optional(),
});

const fleetObservationSchema = z.strictObject({
  hashing: count.default(0),
  sleeping: count.default(0),
  ramping: count.default(0),
  fault: count.default(0),
  offline: count.default(0),
  stale: count.default(0),
  byProfile: z.record(z.string(), count).default({}),
  measuredKw: z.number().finite().min(0).nullable().default(null),
});

const poolObservationSchema = z.strictObject({
  serving: count.default(0),
  hashing: count.default(0),
  idle: count.default(0),
  unavailable: count.default(0),
});

const fleetTargetSchema = z.strictObject({ asleep: count, byProfile: z.record(z.string(), count) });
const poolTargetSchema = z.strictObject({ serving: count, hashing: count, idle: count });
const memorySchema = z.strictObject({
  at: z.number().finite(),
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  fleets: z.record(
    z.string(),
    z.strictObject({
      target: fleetTargetSchema,
      changedAt: z.number().finite().nullable(),
      cyclesToday: z.number().finite().min(0),
    }),
  ),
  pools: z.record(
    z.string(),
    z.strictObject({ target: poolTargetSchema, changedAt: z.number().finite().nullable() }),
  ),
});

export const signalsFileSchema = z.strictObject({
  /** The plan's time (ISO-8601 with offset); --at wins over it; default: now. */
  at: isoTime.optional(),
  btcUsd: signal(z.number().finite().positive()),
  difficulty: signal(z.number().finite().positive()),
  feesBtcPerBlock: signal(z.number().finite().min(0)),
  subsidyBtc: signal(z.number().finite().min(0)).optional(),
  hashpriceUsdPerThDay: signal(z.number().finite().min(0)).optional(),
  energyUsdPerMwh: signal(z.number().finite().min(-100_000).max(100_000)),
  gpuUsdPerGpuHour: signal(z.number().finite().min(0)).optional(),
  /** °C for the planned site, or by site name. */
  ambientC: z
    .union([
      signal(z.number().finite().min(-60).max(70)),
      z.record(z.string(), signal(z.number().finite().min(-60).max(70))),
    ])
    .optional(),
  orders: z.array(orderSchema).max(100_000).default([]),
  dispatches: z.array(dispatchSchema).max(1000).default([]),
  overrides: z.array(overrideSchema).max(10_000).default([]),
  observed: z
    .strictObject({
      fleets: z.record(z.string(), fleetObservationSchema).default({}),
      pools: z.record(z.string(), poolObservationSchema).default({}),
    })
    .optional(),
  previous: memorySchema.optional(),
});

export type SignalsFile = z.infer<typeof signalsFileSchema>;

export interface SignalsFileIssue {
  /** Dotted path of the field at fault ("orders[0].gpuCount"), or "" for the whole file. */
  path: string;
  message: string;
}

export type SignalsFileResult = { ok: true; input: PlanInput } | { ok: false; issues: SignalsFileIssue[] };

export interface SignalsFileOptions {
  /** The site to plan (default: the farm's only site). */
  site?: string | undefined;
  /** Epoch ms that wins over the file's `at` (the --at option). */
  at?: number | undefined;
  /** Epoch ms used when neither --at nor the file gives a time. */
  now: number;
}

export function formatSignalsIssue(i: SignalsFileIssue, source?: string): string {
  return `${source ? `${source}: ` : ''}${i.path || '(file)'}: ${i.message}`;
}

function zodMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `is required (${issue.expected})`;
  if (issue.code === 'invalid_union') {
    // A signal given as a number or an object: report the number form's problem.
    const first = issue.errors[0]?.[0];
    if (first) return zodMessage(first);
  }
  return issue.message;
}

function toSignal(
  s: number | { value: number; source?: string; ageSeconds?: number; stale?: boolean },
): SignalValue {
  if (typeof s === 'number') return { value: s, source: SIGNALS_FILE_SOURCE, ageSeconds: 0, stale: false };
  return {
    value: s.value,
    source: s.source ?? SIGNALS_FILE_SOURCE,
    ageSeconds: s.ageSeconds ?? 0,
    stale: s.stale ?? false,
  };
}

const optSignal = (s: Parameters<typeof toSignal>[0] | undefined) =>
  s === undefined ? undefined : toSignal(s);

/** Every miner of every fleet hashing at its normal profile; every GPU node idle. */
export function defaultObserved(farm: Farm, site: string): PlanInput['observed'] {
  const fleets: Record<string, FleetObservation> = {};
  for (const f of farm.fleets.filter((x) => x.spec.site === site)) {
    const n = endpointCount(f.spec);
    fleets[f.metadata.name] = {
      hashing: n,
      sleeping: 0,
      ramping: 0,
      fault: 0,
      offline: 0,
      stale: 0,
      byProfile: { [normalProfile(f).name]: n },
      measuredKw: null,
    };
  }
  const pools: Record<string, PoolObservation> = {};
  for (const p of farm.pools.filter((x) => x.spec.site === site))
    pools[p.metadata.name] = { serving: 0, hashing: 0, idle: p.spec.nodes, unavailable: 0 };
  return { fleets, pools };
}

/** Names in the file that the farm does not have, and observations that do not add up. */
function crossCheck(file: SignalsFile, farm: Farm, site: string): SignalsFileIssue[] {
  const issues: SignalsFileIssue[] = [];
  const fleets = new Map(farm.fleets.filter((f) => f.spec.site === site).map((f) => [f.metadata.name, f]));
  const pools = new Set(farm.pools.filter((p) => p.spec.site === site).map((p) => p.metadata.name));
  for (const [name, o] of Object.entries(file.observed?.fleets ?? {})) {
    const f = fleets.get(name);
    if (!f) {
      issues.push({ path: `observed.fleets.${name}`, message: `not a fleet of site ${site}` });
      continue;
    }
    const profiles = fleetProfiles(f).map((p) => p.name);
    for (const p of Object.keys(o.byProfile))
      if (!profiles.includes(p))
        issues.push({
          path: `observed.fleets.${name}.byProfile.${p}`,
          message: `fleet ${name} has no profile "${p}" (profiles: ${profiles.join(', ')})`,
        });
    const n = endpointCount(f.spec);
    const sum = o.hashing + o.sleeping + o.ramping + o.fault + o.offline + o.stale;
    if (sum > n)
      issues.push({ path: `observed.fleets.${name}`, message: `counts ${sum} miners; the fleet has ${n}` });
    const awake = Object.values(o.byProfile).reduce((a, b) => a + b, 0);
    if (awake > o.hashing + o.ramping)
      issues.push({
        path: `observed.fleets.${name}.byProfile`,
        message: `${awake} miners by profile but only ${o.hashing + o.ramping} hashing or ramping`,
      });
  }
  for (const name of Object.keys(file.observed?.pools ?? {}))
    if (!pools.has(name))
      issues.push({ path: `observed.pools.${name}`, message: `not a GPU pool of site ${site}` });
  file.orders.forEach((o, i) => {
    if (o.state !== 'pending' && o.pool === undefined)
      issues.push({ path: `orders[${i}].pool`, message: `an ${o.state} order needs the pool it is in` });
    if (o.pool !== undefined && !farm.pools.some((p) => p.metadata.name === o.pool))
      issues.push({ path: `orders[${i}].pool`, message: `"${o.pool}" is not a GPU pool of the farm` });
  });
  const ids = new Set<string>();
  file.orders.forEach((o, i) => {
    if (ids.has(o.id)) issues.push({ path: `orders[${i}].id`, message: `duplicate order id "${o.id}"` });
    ids.add(o.id);
  });
  file.dispatches.forEach((d, i) => {
    if (d.endsAt <= d.startsAt)
      issues.push({ path: `dispatches[${i}].endsAt`, message: 'must be after startsAt' });
  });
  file.overrides.forEach((o, i) => {
    const known = o.kind === 'fleet' ? fleets.has(o.name) : pools.has(o.name);
    if (!known)
      issues.push({
        path: `overrides[${i}].name`,
        message: `not a ${o.kind === 'fleet' ? 'fleet' : 'GPU pool'} of site ${site}`,
      });
  });
  return issues;
}

/** Parses a signals file into the planner's input for one site. */
export function parseSignalsFile(text: string, farm: Farm, opts: SignalsFileOptions): SignalsFileResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, issues: [{ path: '', message: `not valid JSON: ${(e as Error).message}` }] };
  }
  const r = signalsFileSchema.safeParse(raw, { reportInput: true });
  if (!r.success)
    return {
      ok: false,
      issues: r.error.issues.map((i) => ({ path: pathToString(i.path), message: zodMessage(i) })),
    };
  const file = r.data;
  let site: string;
  try {
    site = resolveSite(farm, opts.site);
  } catch (e) {
    if (e instanceof BacktestInputError) return { ok: false, issues: [{ path: '', message: e.message }] };
    throw e;
  }
  const issues = crossCheck(file, farm, site);
  if (issues.length > 0) return { ok: false, issues };

  const now = opts.at ?? file.at ?? opts.now;
  const base = defaultObserved(farm, site);
  const ambient = file.ambientC;
  const ambientC: Record<string, SignalValue> | undefined =
    ambient === undefined
      ? undefined
      : typeof ambient === 'number' || 'value' in ambient
        ? { [site]: toSignal(ambient as Parameters<typeof toSignal>[0]) }
        : Object.fromEntries(Object.entries(ambient).map(([k, v]) => [k, toSignal(v)]));
  const overrides: Override[] = file.overrides.map((o) => ({
    ...o,
    startsAt: o.startsAt ?? now,
    endsAt: o.endsAt ?? now + 86_400_000,
  }));
  return {
    ok: true,
    input: {
      farm,
      site,
      observed: {
        fleets: { ...base.fleets, ...(file.observed?.fleets ?? {}) },
        pools: { ...base.pools, ...(file.observed?.pools ?? {}) },
      },
      signals: {
        btcUsd: toSignal(file.btcUsd),
        difficulty: toSignal(file.difficulty),
        feesBtcPerBlock: toSignal(file.feesBtcPerBlock),
        subsidyBtc: optSignal(file.subsidyBtc),
        hashpriceUsdPerThDay: optSignal(file.hashpriceUsdPerThDay),
        energyUsdPerMwh: toSignal(file.energyUsdPerMwh),
        gpuUsdPerGpuHour: optSignal(file.gpuUsdPerGpuHour),
        ambientC,
      },
      orders: file.orders.map((o) => ({ ...o, pool: o.pool })),
      dispatches: file.dispatches.map((d) => ({ ...d, site: d.site ?? site })),
      overrides,
      now,
      previous: file.previous as PlanMemory | undefined,
    },
  };
}
