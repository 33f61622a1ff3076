// The farm's resource model: one schema source (zod 4) for the YAML file in standalone mode,
// the database snapshot and, converted with z.toJSONSchema, the CRDs' OpenAPI schemas.
// Field-level rules live here; rules that span documents live in farm-validation.ts.
import { z } from 'zod';

export const API_VERSION = 'switchyard.io/v1alpha1';

/** DNS-1123 label, as Kubernetes requires for object names. */
const NAME_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const resourceName = z
  .string()
  .regex(NAME_RE, 'must be a DNS-1123 label: lowercase letters, digits and "-", at most 63 characters');

const kw = (max: number) => z.number().finite().positive().max(max);
const labelMap = z.record(z.string().max(253), z.string().max(63));

export const metadataSchema = z.strictObject({
  name: resourceName,
  namespace: resourceName.optional(),
  labels: labelMap.optional(),
  annotations: z.record(z.string().max(253), z.string().max(4096)).optional(),
});

// ---------------------------------------------------------------- Site

export interface PowerNode {
  name: string;
  limitKw: number;
  /** Free text for humans: "transformer", "switchgear", "pdu", "breaker", ... */
  type?: string | undefined;
  children?: PowerNode[] | undefined;
}

/** Power-tree node; recursive. Limits are continuous ratings in kW. */
export const powerNodeSchema: z.ZodType<PowerNode> = z.lazy(() =>
  z.strictObject({
    name: resourceName,
    limitKw: kw(5_000_000),
    type: z.enum(['feed', 'transformer', 'switchgear', 'pdu', 'breaker', 'rack']).optional(),
    children: z.array(powerNodeSchema).max(10_000).optional(),
  }),
);

export const coolingZoneSchema = z.strictObject({
  name: resourceName,
  /** Heat-rejection capacity at or below the rated ambient temperature. */
  capacityKw: kw(5_000_000),
  /** Capacity falls by this percentage per °C above ratedAmbientC (0 = no derate). */
  ambientDerate: z
    .strictObject({
      ratedAmbientC: z.number().min(-40).max(60),
      pctPerDegreeC: z.number().min(0).max(20),
    })
    .optional(),
});

export const siteSpecSchema = z.strictObject({
  interconnectKw: kw(5_000_000),
  marketNode: z.string().min(1).max(64),
  pue: z.number().min(1).max(3),
  timezone: z.string().min(1).max(64).optional(),
  energyContract: z
    .strictObject({
      /** real-time: pay the node's settlement price; fixed: a flat price. */
      pricing: z.enum(['real-time', 'day-ahead', 'fixed']),
      fixedUsdPerMwh: z.number().min(-1000).max(10_000).optional(),
      /** Worst-case price assumed when the energy signal is lost. */
      priceCapUsdPerMwh: z.number().positive().max(50_000).optional(),
    })
    .optional(),
  powerTree: powerNodeSchema,
  coolingZones: z.array(coolingZoneSchema).min(1).max(1000),
});

// ---------------------------------------------------------------- MinerFleet

export const MINER_DRIVERS = ['antminer', 'luxos', 'braiins', 'whatsminer'] as const;
export type MinerDriverName = (typeof MINER_DRIVERS)[number];

export const powerProfileSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1-63 letters, digits, ".", "_" or "-"'),
  powerW: z.number().finite().positive().max(20_000),
  hashrateThs: z.number().finite().positive().max(5_000),
});

const port = z.number().int().min(1).max(65_535);

export const endpointsSchema = z.strictObject({
  /** Explicit addresses, each "a.b.c.d" or "a.b.c.d:port". */
  addresses: z.array(z.string().max(64)).max(100_000).optional(),
  /** Or a CIDR block: the first `count` host addresses of it. */
  cidr: z.string().max(64).optional(),
  count: z.number().int().positive().max(100_000).optional(),
  /** Main API port; defaults per driver (4028 for RPC firmwares, 80 for Braiins REST). */
  port: port.optional(),
});

export const minerFleetSpecSchema = z.strictObject({
  site: resourceName,
  /** The power-tree node this fleet draws through. */
  feed: resourceName,
  coolingZone: resourceName,
  /** A known model ("S19 Pro", "S21", ...) supplies default profiles and nameplate. */
  model: z.string().min(1).max(64),
  driver: z.enum(MINER_DRIVERS),
  endpoints: endpointsSchema,
  credentialsSecret: z.strictObject({ name: resourceName, namespace: resourceName.optional() }).optional(),
  /** Ordered from lowest to highest power; defaults to the model's profiles. */
  profiles: z.array(powerProfileSchema).min(1).max(64).optional(),
  /** Worst-case draw per miner, used for stale or unknown devices; defaults to the top profile. */
  nameplateW: z.number().finite().positive().max(20_000).optional(),
  /** Draw while asleep (control board and fans idle). */
  sleepW: z.number().finite().min(0).max(500).optional(),
});

// ---------------------------------------------------------------- GpuPool

export const gpuPoolSpecSchema = z.strictObject({
  site: resourceName,
  feed: resourceName,
  coolingZone: resourceName,
  /** Kubernetes label selector for the pool's nodes (cluster mode). */
  nodeSelector: z.record(z.string().min(1).max(253), z.string().max(63)),
  /** Number of nodes in standalone mode (simulated); in a cluster the selector finds them. */
  nodes: z.number().int().min(0).max(10_000),
  gpuModel: z.string().min(1).max(64),
  gpusPerNode: z.number().int().min(1).max(16),
  vramGiB: z.number().int().min(1).max(1024),
  nodePowerKw: z.strictObject({
    idle: z.number().finite().min(0).max(100),
    serving: z.number().finite().positive().max(100),
    hashing: z.number().finite().positive().max(100),
  }),
  hashing: z
    .strictObject({
      enabled: z.boolean(),
      image: z.string().min(1).max(512).optional(),
      args: z.array(z.string().max(1024)).max(64).optional(),
      /** Expected payout when GPUs hash, USD per GPU-hour (before energy). */
      payoutUsdPerGpuHour: z.number().min(0).max(100).optional(),
      priorityClassName: resourceName.optional(),
    })
    .optional(),
});

// ---------------------------------------------------------------- AllocationPolicy

export const allocationPolicySpecSchema = z.strictObject({
  site: resourceName,
  intervalSeconds: z.number().int().min(10).max(3600).default(300),
  /** Every power-tree node is held at limit × (1 − safetyMarginPct/100). */
  safetyMarginPct: z.number().min(0).max(50).default(5),
  /** Largest increase in site load per minute. */
  rampKwPerMin: z.number().positive().max(1_000_000).default(2000),
  minDwellSeconds: z.number().int().min(0).max(86_400).default(900),
  hysteresisUsdPerMwh: z.number().min(0).max(1000).default(5),
  maxCyclesPerDay: z.number().int().min(0).max(288).default(4),
  wearCostUsdPerCycle: z.number().min(0).max(1000).default(0.5),
  poolFeePct: z.number().min(0).max(50).default(2),
  /** Power kept free for reserved broker work and grid programmes. */
  reserveKw: z.number().min(0).max(5_000_000).default(0),
});

// ---------------------------------------------------------------- documents

const doc = <K extends string, S extends z.ZodType>(kind: K, spec: S) =>
  z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: metadataSchema,
    spec,
    status: z.unknown().optional(),
  });

export const siteSchema = doc('Site', siteSpecSchema);
export const minerFleetSchema = doc('MinerFleet', minerFleetSpecSchema);
export const gpuPoolSchema = doc('GpuPool', gpuPoolSpecSchema);
export const allocationPolicySchema = doc('AllocationPolicy', allocationPolicySpecSchema);

export const RESOURCE_SCHEMAS = {
  Site: siteSchema,
  MinerFleet: minerFleetSchema,
  GpuPool: gpuPoolSchema,
  AllocationPolicy: allocationPolicySchema,
} as const;
export type ResourceKind = keyof typeof RESOURCE_SCHEMAS;
export const RESOURCE_KINDS = Object.keys(RESOURCE_SCHEMAS) as ResourceKind[];

export type Site = z.infer<typeof siteSchema>;
export type SiteSpec = z.infer<typeof siteSpecSchema>;
export type CoolingZone = z.infer<typeof coolingZoneSchema>;
export type MinerFleet = z.infer<typeof minerFleetSchema>;
export type MinerFleetSpec = z.infer<typeof minerFleetSpecSchema>;
export type PowerProfile = z.infer<typeof powerProfileSchema>;
export type GpuPool = z.infer<typeof gpuPoolSchema>;
export type GpuPoolSpec = z.infer<typeof gpuPoolSpecSchema>;
export type AllocationPolicy = z.infer<typeof allocationPolicySchema>;
export type AllocationPolicySpec = z.infer<typeof allocationPolicySpecSchema>;
export type FarmResource = Site | MinerFleet | GpuPool | AllocationPolicy;
