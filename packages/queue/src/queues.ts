// The producer side: one BullMQ Queue per catalog queue, all under one hash-tagged prefix, and
// helpers that validate a payload against the catalog before anything reaches Redis.
import { FlowProducer, Queue, type FlowJobNode, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  JOB_CATALOG,
  QUEUE_NAMES,
  jobIdOf,
  parsePayload,
  type CatalogJob,
  type JobInput,
  type JobName,
  type JobPayload,
  type JobSpec,
  type QueueName,
  type RepeatableJobName,
} from './job-catalog.ts';
import { PayloadError } from './errors/payload-error.ts';
import { PrefixError } from './errors/prefix-error.ts';

/**
 * Every key of every queue hashes to one Redis Cluster slot: Cluster hashes only the text
 * between the first '{' and the next '}'. Flows span queues (a phase parent in `plan`, its
 * children in `device`), and BullMQ's Lua scripts touch a parent's and its children's keys
 * together, which Cluster allows only within one slot.
 */
export const DEFAULT_PREFIX = '{switchyard}';

/** Throws unless the prefix starts a Redis Cluster hash tag ({...} with something inside). */
export function assertHashTaggedPrefix(prefix: string): string {
  const open = prefix.indexOf('{');
  const close = open < 0 ? -1 : prefix.indexOf('}', open + 1);
  if (open < 0 || close <= open + 1)
    throw new PrefixError(
      `queue prefix "${prefix}" has no Redis Cluster hash tag; use a prefix like "{switchyard}" so every queue and flow lives in one slot`,
    );
  return prefix;
}

/** The BullMQ options of a job: its deterministic id, retries, backoff and retention. */
export function jobOptions<N extends JobName>(name: N, payload: JobPayload<N>): JobsOptions {
  const spec = JOB_CATALOG[name];
  return {
    jobId: jobIdOf(name, payload),
    attempts: spec.attempts,
    backoff: { ...spec.backoff },
    removeOnComplete: { ...spec.removeOnComplete },
    removeOnFail: { ...spec.removeOnFail },
  };
}

export interface AddOptions {
  /** Milliseconds before the job may run. */
  delay?: number;
  /** BullMQ priority (1 is the highest); a grid dispatch's shed uses it. */
  priority?: number;
}

export interface JobQueues {
  readonly prefix: string;
  readonly queues: Readonly<Record<QueueName, Queue>>;
  /** Validates the payload and adds the job under its deterministic id (a duplicate is a no-op). */
  add<N extends JobName>(name: N, payload: JobInput<N>, opts?: AddOptions): Promise<Job>;
  /** Creates or updates the job scheduler of a repeatable job (telemetry.poll, signals.fetch). */
  schedule<N extends RepeatableJobName>(
    name: N,
    payload: JobInput<N>,
    opts?: { everyMs?: number },
  ): Promise<string>;
  unschedule<N extends RepeatableJobName>(name: N, payload: JobInput<N>): Promise<boolean>;
  /** Closes the queues; the connection belongs to the caller and stays open. Idempotent. */
  close(): Promise<void>;
}

/**
 * Producer-side queues over one connection (a fail-fast producer connection: connectRedis(url,
 * 'producer')), so an enqueue fails at once instead of hanging while Redis is away.
 */
export function createQueues(connection: Redis, opts: { prefix?: string } = {}): JobQueues {
  const prefix = assertHashTaggedPrefix(opts.prefix ?? DEFAULT_PREFIX);
  const queues = Object.fromEntries(
    QUEUE_NAMES.map((q) => [q, new Queue(q, { connection, prefix })]),
  ) as Record<QueueName, Queue>;
  for (const q of Object.values(queues)) q.on('error', () => undefined); // surfaced by the failed call
  let closing: Promise<void> | undefined;
  return {
    prefix,
    queues,
    async add(name, payload, addOpts = {}) {
      const data = parsePayload(name, payload);
      return queues[JOB_CATALOG[name].queue].add(name, data, { ...jobOptions(name, data), ...addOpts });
    },
    async schedule(name, payload, schedOpts = {}) {
      const data = parsePayload(name, payload);
      const spec: JobSpec = JOB_CATALOG[name];
      const { jobId: schedulerId, ...template } = jobOptions(name, data);
      await queues[spec.queue].upsertJobScheduler(
        schedulerId as string,
        { every: schedOpts.everyMs ?? spec.repeat?.everyMs ?? 60_000 },
        { name, data, opts: template },
      );
      return schedulerId as string;
    },
    async unschedule(name, payload) {
      const data = parsePayload(name, payload);
      const spec: JobSpec = JOB_CATALOG[name];
      return queues[spec.queue].removeJobScheduler(jobIdOf(name, data));
    },
    close: () =>
      (closing ??= Promise.allSettled(Object.values(queues).map((q) => q.close())).then(() => undefined)),
  };
}

export function createFlowProducer(connection: Redis, opts: { prefix?: string } = {}): FlowProducer {
  const prefix = assertHashTaggedPrefix(opts.prefix ?? DEFAULT_PREFIX);
  const fp = new FlowProducer({ connection, prefix });
  fp.on('error', () => undefined);
  return fp;
}

export const PHASES = ['shed', 'confirm', 'add'] as const;
export type PhaseKind = (typeof PHASES)[number];

export interface PhaseInput {
  planId: string;
  stepId: string;
  epoch: number;
  phase: PhaseKind;
  /** The phase's jobs: device batches, a confirm, Kubernetes actions, webhooks. */
  jobs: CatalogJob[];
}

/**
 * Adds one phase as a flow: a `plan.phase` parent that runs only after every child has
 * finished. A child that fails for good does not block the parent: its failure is recorded
 * (ignoreDependencyOnFailure) and the phase handler reports it, so the controller sees a
 * partial phase instead of a phase that never ends. Atomic: all jobs are added or none.
 */
export async function enqueuePhase(flowProducer: FlowProducer, phase: PhaseInput): Promise<Job> {
  const prefix = assertHashTaggedPrefix(flowProducer.opts.prefix ?? '');
  const parentData = parsePayload('plan.phase', {
    planId: phase.planId,
    stepId: phase.stepId,
    epoch: phase.epoch,
    phase: phase.phase,
  });
  if (phase.jobs.length === 0)
    throw new PayloadError('plan.phase', [{ path: 'jobs', message: 'a phase needs jobs' }]);
  const children: FlowJobNode[] = phase.jobs.map((j, i) => {
    const data = parsePayload(j.name, j.payload) as Record<string, unknown>;
    const problems: Array<{ path: string; message: string }> = [];
    if ('epoch' in data && data.epoch !== phase.epoch)
      problems.push({
        path: `jobs.${i}.epoch`,
        message: `is ${String(data.epoch)}, the phase's is ${phase.epoch}`,
      });
    if ('planId' in data && data.planId !== phase.planId)
      problems.push({
        path: `jobs.${i}.planId`,
        message: `is ${String(data.planId)}, the phase's is ${phase.planId}`,
      });
    if (problems.length) throw new PayloadError('plan.phase', problems);
    return {
      name: j.name,
      queueName: JOB_CATALOG[j.name].queue,
      prefix,
      data,
      opts: { ...jobOptions(j.name, data as never), ignoreDependencyOnFailure: true },
    };
  });
  const node = await flowProducer.add({
    name: 'plan.phase',
    queueName: JOB_CATALOG['plan.phase'].queue,
    prefix,
    data: parentData,
    opts: jobOptions('plan.phase', parentData),
    children,
  });
  return node.job;
}
