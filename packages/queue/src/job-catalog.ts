// Every job Switchyard runs, in one place: its queue, payload schema, retries, backoff, timeout,
// retention, and how its deterministic id is built. Producers and workers both read this file;
// a worker refuses to start unless it has a handler for every name here (worker-harness.ts).
import { z } from 'zod';
import { MINER_DRIVERS, POOL_MODES, type PoolMode } from '@switchyard/domain';
import { WHATSMINER_POWER_PERCENT } from '@switchyard/miners';
import { ID_PART_PATTERN, fencedJobId, idPart, jobId } from './job-id.ts';
import { PayloadError } from './errors/payload-error.ts';

/** Queues, one per kind of work, so slow work never holds up device commands. */
export const QUEUE_NAMES = ['device', 'confirm', 'plan', 'kube', 'webhook', 'telemetry', 'signals'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** BullMQ's KeepJobs: keep at most `count` jobs, none older than `age` seconds. */
export interface Retention {
  age: number;
  count: number;
}

export interface Backoff {
  type: 'exponential' | 'fixed';
  /** Milliseconds: the first retry's delay (exponential doubles it each time). */
  delay: number;
}

export interface JobSpec<S extends z.ZodType = z.ZodType> {
  queue: QueueName;
  description: string;
  payload: S;
  /** Total tries, the first included. */
  attempts: number;
  backoff: Backoff;
  /** Longest one attempt may run; the harness aborts it and the attempt fails (retryable). */
  timeoutMs: number;
  /**
   * Fenced jobs carry the leader's epoch and actuate something; workers drop them when a newer
   * leader exists (lease.ts). Reads (telemetry, signals) and notifications are not fenced.
   */
  fenced: boolean;
  removeOnComplete: Retention;
  /** Failed jobs are kept for inspection, bounded so a failure storm cannot fill Redis. */
  removeOnFail: Retention;
  /** The deterministic job id (for repeatable jobs: the job scheduler's id). */
  id: (payload: z.output<S>) => string;
  /** Repeatable jobs: the default interval of their job scheduler. */
  repeat?: { everyMs: number };
}

function defineJob<S extends z.ZodType, F extends boolean>(
  spec: JobSpec<S> & { fenced: F },
): JobSpec<S> & { fenced: F } {
  return spec;
}

const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;
/** Completed actuation jobs: a day of history for the operator API and post-mortems. */
const KEEP_COMPLETED: Retention = { age: DAY_S, count: 20_000 };
/** Failed jobs: a week for inspection. */
const KEEP_FAILED: Retention = { age: 7 * DAY_S, count: 50_000 };

/** Fields every fenced job carries: which plan step it belongs to and the leader's epoch. */
const fencing = {
  planId: idPart,
  stepId: idPart,
  epoch: z.number().int().min(1),
};

export const DEVICE_ACTIONS = [
  'sleep',
  'wake',
  'set-profile',
  'set-power-target',
  'set-power-percent',
] as const;
export type DeviceAction = (typeof DEVICE_ACTIONS)[number];

/**
 * The parameter each parameterised action needs, and no other action may carry: a profile
 * name, a power target in watts, or a whole-number power percentage (Whatsminer set_power_pct).
 */
export const DEVICE_ACTION_PARAMS = {
  'set-profile': 'profile',
  'set-power-target': 'watts',
  'set-power-percent': 'percent',
} as const satisfies Partial<Record<DeviceAction, string>>;

/** set-power-percent's bounds: the Whatsminer driver's own (set_power_pct, 0-100). */
export const POWER_PERCENT_BOUNDS: { readonly min: number; readonly max: number } = WHATSMINER_POWER_PERCENT;

/** Most miners in one device.batch: a rack or a PDU, never a whole site. */
export const MAX_BATCH_TARGETS = 1024;

const deviceTarget = z.strictObject({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65_535),
});

const deviceBatch = z
  .strictObject({
    ...fencing,
    fleet: idPart,
    feed: idPart,
    /** Index when one fleet's command is split into several batches. */
    part: z.number().int().min(0).optional(),
    driver: z.enum(MINER_DRIVERS),
    action: z.enum(DEVICE_ACTIONS),
    profile: z.string().min(1).max(64).optional(),
    watts: z.number().positive().max(100_000).optional(),
    percent: z.number().int().min(POWER_PERCENT_BOUNDS.min).max(POWER_PERCENT_BOUNDS.max).optional(),
    targets: z.array(deviceTarget).min(1).max(MAX_BATCH_TARGETS),
    /** Name of the Secret holding the fleet's credentials; absent: the firmware's defaults. */
    credentialsRef: z.string().min(1).max(253).optional(),
  })
  .superRefine((p, ctx) => {
    for (const [action, param] of Object.entries(DEVICE_ACTION_PARAMS)) {
      const given = p[param] !== undefined;
      if (p.action === action && !given)
        ctx.addIssue({ code: 'custom', path: [param], message: `${action} needs ${param}` });
      if (p.action !== action && given)
        ctx.addIssue({ code: 'custom', path: [param], message: `${param} is only for ${action}` });
    }
    const seen = new Set<string>();
    p.targets.forEach((t, i) => {
      const k = `${t.host}:${t.port}`;
      if (seen.has(k))
        ctx.addIssue({ code: 'custom', path: ['targets', i], message: `${k} is listed twice` });
      seen.add(k);
    });
  });

const deviceConfirm = z.strictObject({
  ...fencing,
  /** Power-tree nodes whose metered or telemetry load must fall. */
  nodes: z.array(idPart).min(1).max(256),
  expectLoadAtMostKw: z.number().min(0).max(1e7),
  /** How long to wait for telemetry to show the freed power; then it counts as still drawing. */
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(15 * 60_000),
});

const planPhase = z.strictObject({
  ...fencing,
  phase: z.enum(['shed', 'confirm', 'add']),
});

/**
 * What a kube.action does. Only set-gpu-mode exists so far; each further action (cordon, drain,
 * preempt, start-order) adds its name here and its rules to the superRefine below.
 */
export const KUBE_ACTIONS = ['set-gpu-mode'] as const;
export type KubeAction = (typeof KUBE_ACTIONS)[number];

/** set-gpu-mode's params, once the payload has been validated. */
export interface SetGpuModeParams {
  pool: string;
  mode: PoolMode;
}

const kubeAction = z
  .strictObject({
    ...fencing,
    action: z.enum(KUBE_ACTIONS),
    resource: z.strictObject({
      kind: z.enum(['Node', 'Pod', 'Job']),
      name: idPart,
      namespace: idPart.optional(),
    }),
    params: z
      .record(z.string().max(64), z.union([z.string().max(1024), z.number(), z.boolean()]))
      .default({}),
  })
  .superRefine((p, ctx) => {
    switch (p.action) {
      case 'set-gpu-mode': {
        if (p.resource.kind !== 'Node')
          ctx.addIssue({
            code: 'custom',
            path: ['resource', 'kind'],
            message: `set-gpu-mode acts on a Node, not a ${p.resource.kind}`,
          });
        if (p.resource.namespace !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['resource', 'namespace'],
            message: 'a Node has no namespace',
          });
        const { pool, mode, ...rest } = p.params;
        if (typeof pool !== 'string' || !ID_PART_PATTERN.test(pool))
          ctx.addIssue({
            code: 'custom',
            path: ['params', 'pool'],
            message: 'set-gpu-mode needs params.pool: the GpuPool name',
          });
        if (typeof mode !== 'string' || !(POOL_MODES as readonly string[]).includes(mode))
          ctx.addIssue({
            code: 'custom',
            path: ['params', 'mode'],
            message: `set-gpu-mode needs params.mode: one of ${POOL_MODES.join(', ')}`,
          });
        for (const k of Object.keys(rest))
          ctx.addIssue({
            code: 'custom',
            path: ['params', k],
            message: 'set-gpu-mode takes only params.pool and params.mode',
          });
        break;
      }
    }
  });

/** The params of a validated set-gpu-mode payload. */
export function setGpuModeParams(p: JobPayload<'kube.action'>): SetGpuModeParams {
  return { pool: p.params.pool as string, mode: p.params.mode as PoolMode };
}

/**
 * A webhook delivery carries only the id of its webhook_deliveries row: the worker reads the URL,
 * the event and the signing secret from the database, so no secret ever sits in Redis.
 */
const webhookDeliver = z.strictObject({
  deliveryId: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a lower-case UUID'),
});

const telemetryPoll = z.strictObject({ site: idPart });
const signalsFetch = z.strictObject({ source: idPart });

export const JOB_CATALOG = {
  'device.batch': defineJob({
    queue: 'device',
    description:
      'one command (sleep, wake, profile, power target, power percent) to the miners of one fleet on one feed',
    payload: deviceBatch,
    attempts: 5,
    backoff: { type: 'exponential', delay: 1000 },
    timeoutMs: 120_000,
    fenced: true,
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: KEEP_FAILED,
    id: (p) =>
      fencedJobId(p.planId, p.stepId, p.part === undefined ? p.fleet : `${p.fleet}@${p.part}`, p.epoch),
  }),
  'device.confirm': defineJob({
    queue: 'confirm',
    description: 'wait until telemetry shows the power-tree nodes at or below the expected load',
    payload: deviceConfirm,
    attempts: 3,
    backoff: { type: 'fixed', delay: 1000 },
    timeoutMs: 16 * 60_000,
    fenced: true,
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: KEEP_FAILED,
    id: (p) => fencedJobId(p.planId, p.stepId, 'confirm', p.epoch),
  }),
  'plan.phase': defineJob({
    queue: 'plan',
    description: 'flow parent of one phase (shed, confirm, add): runs once every child has finished',
    payload: planPhase,
    attempts: 3,
    backoff: { type: 'exponential', delay: 500 },
    timeoutMs: 30_000,
    fenced: true,
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: KEEP_FAILED,
    id: (p) => fencedJobId(p.planId, p.stepId, 'phase', p.epoch),
  }),
  'kube.action': defineJob({
    queue: 'kube',
    description:
      'an action on the GPU cluster (set-gpu-mode: one node of a pool into idle, serving or hashing)',
    payload: kubeAction,
    attempts: 5,
    backoff: { type: 'exponential', delay: 2000 },
    timeoutMs: 60_000,
    fenced: true,
    removeOnComplete: KEEP_COMPLETED,
    removeOnFail: KEEP_FAILED,
    id: (p) =>
      fencedJobId(
        p.planId,
        p.stepId,
        `${p.resource.kind.toLowerCase()}/${p.resource.namespace ? `${p.resource.namespace}/` : ''}${p.resource.name}`,
        p.epoch,
      ),
  }),
  'webhook.deliver': defineJob({
    queue: 'webhook',
    description:
      "one signed delivery of a broker event (order state, preemption notice) to one of the broker's webhooks",
    payload: webhookDeliver,
    // Retries after 5 s, 10 s, 20 s, ... 85 min: the last of 12 attempts comes about 2 h 50 min in.
    attempts: 12,
    backoff: { type: 'exponential', delay: 5000 },
    timeoutMs: 15_000,
    fenced: false,
    removeOnComplete: { age: DAY_S, count: 10_000 },
    removeOnFail: KEEP_FAILED,
    id: (p) => jobId('webhook', p.deliveryId),
  }),
  'telemetry.poll': defineJob({
    queue: 'telemetry',
    description: 'repeatable: read every miner of a site (the next tick is the retry)',
    payload: telemetryPoll,
    attempts: 1,
    backoff: { type: 'fixed', delay: 0 },
    timeoutMs: 20_000,
    fenced: false,
    removeOnComplete: { age: HOUR_S, count: 100 },
    removeOnFail: { age: DAY_S, count: 1000 },
    id: (p) => jobId('telemetry.poll', p.site),
    repeat: { everyMs: 10_000 },
  }),
  'signals.fetch': defineJob({
    queue: 'signals',
    description: 'repeatable: fetch one signal source (prices, difficulty, grid events)',
    payload: signalsFetch,
    attempts: 3,
    backoff: { type: 'exponential', delay: 2000 },
    timeoutMs: 30_000,
    fenced: false,
    removeOnComplete: { age: HOUR_S, count: 100 },
    removeOnFail: { age: DAY_S, count: 1000 },
    id: (p) => jobId('signals.fetch', p.source),
    repeat: { everyMs: 60_000 },
  }),
} as const;

export type JobCatalog = typeof JOB_CATALOG;
export type JobName = keyof JobCatalog;
export type JobPayload<N extends JobName> = z.output<JobCatalog[N]['payload']>;
export type JobInput<N extends JobName> = z.input<JobCatalog[N]['payload']>;
/** A job name with its payload, as one value (for lists of mixed jobs). */
export type CatalogJob = { [N in JobName]: { name: N; payload: JobInput<N> } }[JobName];
export type FencedJobName = { [N in JobName]: JobCatalog[N]['fenced'] extends true ? N : never }[JobName];

export const JOB_NAMES = Object.keys(JOB_CATALOG) as JobName[];

/** Jobs run by a job scheduler rather than enqueued one by one (the entries with `repeat`). */
export const REPEATABLE_JOBS = ['telemetry.poll', 'signals.fetch'] as const satisfies readonly JobName[];
export type RepeatableJobName = (typeof REPEATABLE_JOBS)[number];

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOB_CATALOG, name);
}

export function jobSpec<N extends JobName>(name: N): JobCatalog[N] {
  return JOB_CATALOG[name];
}

/** Job names served by one queue. */
export function jobsOfQueue(queue: QueueName): JobName[] {
  return JOB_NAMES.filter((n) => JOB_CATALOG[n].queue === queue);
}

/** Validates a payload against its schema; throws PayloadError naming every problem. */
export function parsePayload<N extends JobName>(name: N, data: unknown): JobPayload<N> {
  const r = (JOB_CATALOG[name].payload as z.ZodType).safeParse(data);
  if (r.success) return r.data as JobPayload<N>;
  throw new PayloadError(
    name,
    r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  );
}

/** The deterministic id of a job (for repeatable jobs: its scheduler's id). */
export function jobIdOf<N extends JobName>(name: N, payload: JobPayload<N>): string {
  return (JOB_CATALOG[name].id as (p: JobPayload<N>) => string)(payload);
}
