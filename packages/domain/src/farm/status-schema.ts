// What Switchyard writes into the `status` of its custom resources (cluster mode): zod schemas,
// converted like the specs into the CRDs' status schemas. Every status has `observedGeneration`
// (the metadata.generation it reflects) and `conditions` in metav1.Condition's shape.
import { z } from 'zod';

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];
/** The condition every Switchyard resource carries: its spec was taken and acted on. */
export const CONDITION_READY = 'Ready';

// metav1.Condition's validation, as Kubernetes' own types declare it.
const CONDITION_TYPE_RE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const CONDITION_REASON_RE = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
export const MAX_CONDITIONS = 32;

/** An RFC 3339 time, as the API server writes metav1.Time. */
export const timestampSchema = z.iso.datetime({ offset: true });

export const conditionSchema = z.strictObject({
  type: z.string().min(1).max(316).regex(CONDITION_TYPE_RE, 'must be a condition type, e.g. Ready'),
  status: z.enum(CONDITION_STATUSES),
  observedGeneration: z.number().int().min(0).optional(),
  lastTransitionTime: timestampSchema,
  reason: z.string().min(1).max(1024).regex(CONDITION_REASON_RE, 'must be a CamelCase reason'),
  message: z.string().max(32_768),
});
export type Condition = z.infer<typeof conditionSchema>;

/** One condition per type: a list-type map keyed by type, so patches merge by type. */
export const conditionsSchema = z
  .array(conditionSchema)
  .max(MAX_CONDITIONS)
  .refine((list) => new Set(list.map((c) => c.type)).size === list.length, 'condition types must be unique')
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });

const generation = z.number().int().min(0);
const count = z.number().int().min(0).max(1_000_000);
const kw = z.number().min(0).max(5_000_000);

const common = {
  /** The metadata.generation this status reflects. */
  observedGeneration: generation.optional(),
  conditions: conditionsSchema.optional(),
};

// ---------------------------------------------------------------- per kind

export const PLAN_SOLVER_NAMES = ['milp', 'greedy'] as const;

export const siteStatusSchema = z.strictObject({
  ...common,
  /** The last plan made for the site. */
  lastPlan: z
    .strictObject({
      planId: z.string().min(1).max(128),
      at: timestampSchema,
      solver: z.enum(PLAN_SOLVER_NAMES),
      netUsdPerHour: z.number().min(-1e9).max(1e9),
      /** The facility load the plan leads to (IT load × PUE), kW. */
      facilityKw: kw,
    })
    .optional(),
});
export type SiteStatus = z.infer<typeof siteStatusSchema>;

export const FLEET_MINER_STATES = ['hashing', 'sleeping', 'ramping', 'offline', 'fault', 'unknown'] as const;
export type FleetMinerState = (typeof FLEET_MINER_STATES)[number];

export const minerFleetStatusSchema = z.strictObject({
  ...common,
  /** When the figures below were read. */
  observedAt: timestampSchema.optional(),
  hashrateThs: z.number().min(0).max(1e9).optional(),
  powerKw: kw.optional(),
  /** Miners by state; `unknown`: no recent telemetry. */
  miners: z
    .strictObject(
      Object.fromEntries(FLEET_MINER_STATES.map((s) => [s, count])) as Record<FleetMinerState, typeof count>,
    )
    .optional(),
});
export type MinerFleetStatus = z.infer<typeof minerFleetStatusSchema>;

export const POOL_NODE_MODES = ['serving', 'hashing', 'idle', 'unavailable'] as const;
export type PoolNodeMode = (typeof POOL_NODE_MODES)[number];

export const gpuPoolStatusSchema = z.strictObject({
  ...common,
  observedAt: timestampSchema.optional(),
  /** Nodes by mode; `unavailable`: cordoned, not ready or unreachable. */
  nodes: z
    .strictObject(
      Object.fromEntries(POOL_NODE_MODES.map((m) => [m, count])) as Record<PoolNodeMode, typeof count>,
    )
    .optional(),
  /** The pool's draw: read from dcgm-exporter, or estimated from nodePowerKw. */
  powerKw: kw.optional(),
});
export type GpuPoolStatus = z.infer<typeof gpuPoolStatusSchema>;

export const allocationPolicyStatusSchema = z.strictObject({ ...common });
export type AllocationPolicyStatus = z.infer<typeof allocationPolicyStatusSchema>;
