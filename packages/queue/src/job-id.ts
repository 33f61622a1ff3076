// Deterministic job ids, so that the same command enqueued twice (a controller retrying after
// a Redis hiccup, two cycles racing) collapses into one job instead of running twice.
//
// BullMQ refuses custom ids that are integers, and refuses ':' except in the legacy three-part
// form of old repeatable jobs, which it plans to forbid as well; ':' also separates BullMQ's
// own key segments. The parts are therefore joined with '~': unreserved in URLs (ids show up
// in dashboards and REST paths), absent from Kubernetes names, host names and UUIDs, and
// rejected inside any part, so an id splits back into its parts unambiguously.
import { z } from 'zod';
import { JobIdError } from './errors/job-id-error.ts';

export const JOB_ID_SEPARATOR = '~';

/** Characters allowed in one part of a job id (plan, step, target, fleet and node names). */
export const ID_PART_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@/-]{0,127}$/;

export const idPart = z
  .string()
  .regex(ID_PART_PATTERN, 'must be 1-128 characters of letters, digits, ".", "_", "@", "/" or "-"');

/**
 * `${planId}~${stepId}~${target}~e${epoch}`. The epoch is part of the id: duplicates from one
 * leader collapse, but a new leader re-dispatching the same plan step is never swallowed by
 * the stale job of the old leader (which workers drop) — an action would be lost otherwise.
 */
export function fencedJobId(planId: string, stepId: string, target: string, epoch: number): string {
  for (const [name, part] of [
    ['planId', planId],
    ['stepId', stepId],
    ['target', target],
  ] as const) {
    if (!ID_PART_PATTERN.test(part)) throw new JobIdError(`${name} "${part}" cannot be part of a job id`);
  }
  if (!Number.isSafeInteger(epoch) || epoch < 1)
    throw new JobIdError(`epoch ${epoch} is not a positive integer`);
  return [planId, stepId, target, `e${epoch}`].join(JOB_ID_SEPARATOR);
}

/** An id from plain parts (webhook deliveries, job schedulers). */
export function jobId(...parts: string[]): string {
  for (const p of parts)
    if (!ID_PART_PATTERN.test(p)) throw new JobIdError(`"${p}" cannot be part of a job id`);
  const id = parts.join(JOB_ID_SEPARATOR);
  // BullMQ takes an all-digits custom id for one of its own sequence numbers and refuses it.
  if (id === '' || /^\d+$/.test(id)) throw new JobIdError(`"${id}" is not a valid job id`);
  return id;
}
