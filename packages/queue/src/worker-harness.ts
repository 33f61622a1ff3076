// Runs the catalog's jobs: one BullMQ Worker per queue, refusing to start unless every job the
// process serves has a handler (and no handler names a job the catalog lacks). Around each
// handler it validates the payload, drops jobs of a replaced leader, enforces the catalog
// timeout and marks permanent failures as such, so no handler repeats that code.
import { UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { MinerError } from '@switchyard/miners';
import {
  JOB_CATALOG,
  QUEUE_NAMES,
  isJobName,
  jobsOfQueue,
  parsePayload,
  type JobName,
  type JobPayload,
  type QueueName,
} from './job-catalog.ts';
import { assertCurrentEpoch, type EpochSource } from './lease.ts';
import { DEFAULT_PREFIX, assertHashTaggedPrefix } from './queues.ts';
import { checkEvictionPolicy, connectRedis } from './redis.ts';
import { HandlerCoverageError } from './errors/handler-coverage-error.ts';
import { JobTimeoutError } from './errors/job-timeout-error.ts';
import { PayloadError } from './errors/payload-error.ts';
import { StaleEpochError } from './errors/stale-epoch-error.ts';
import { withTimeout } from './timeout.ts';

export interface JobContext {
  /** The BullMQ job (id, attemptsMade, progress). */
  job: Job;
  /** 1 on the first attempt. */
  attempt: number;
  /** Aborted when the attempt times out or the worker is force-closed: start nothing new. */
  signal: AbortSignal;
  /**
   * Fenced jobs: throws StaleEpochError unless the job's epoch is still the current one. Call
   * right before each actuation; the harness completes the job as dropped. No-op otherwise.
   */
  fence(): Promise<void>;
}

export type JobHandler<N extends JobName> = (payload: JobPayload<N>, ctx: JobContext) => Promise<unknown>;
export type JobHandlers = { [N in JobName]: JobHandler<N> };

/** The result of a fenced job that was not carried out because its leader was replaced. */
export interface DroppedResult {
  status: 'dropped';
  reason: string;
  jobEpoch: number;
  currentEpoch: number;
}

export interface HarnessLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface StartWorkersOptions {
  /**
   * A Redis URL (the harness opens and closes a worker connection), or a caller-owned worker
   * connection (connectRedis(url, 'worker')): maxRetriesPerRequest must be null, so a worker
   * waits for Redis to come back instead of failing its jobs.
   */
  connection: string | Redis;
  /** One handler per job of the served queues; anything else refuses to start. */
  handlers: Partial<JobHandlers> & Record<string, unknown>;
  /** Where fenced jobs' epochs are checked (the lease, or a read-only view of it). */
  lease?: EpochSource;
  /** Jobs run at once per queue (default 8; device 16). */
  concurrency?: number | Partial<Record<QueueName, number>>;
  /** Serve only these queues (default all); handlers are required for their jobs only. */
  queues?: readonly QueueName[];
  prefix?: string;
  /** 'refuse' (default) stops unless Redis's maxmemory-policy is noeviction; 'warn' logs. */
  evictionCheck?: 'refuse' | 'warn';
  /** Close gracefully on SIGTERM and SIGINT, then re-raise the signal (default true). */
  handleSignals?: boolean;
  logger?: HarnessLogger;
  /** BullMQ worker settings (lockDuration, stalledInterval, ...). */
  workerOptions?: Omit<WorkerOptions, 'connection' | 'prefix' | 'concurrency' | 'autorun'>;
}

export interface RunningWorkers {
  readonly workers: Readonly<Partial<Record<QueueName, Worker>>>;
  /** Stops taking jobs, waits for running ones (force: abandons them), closes connections. Idempotent. */
  close(opts?: { force?: boolean }): Promise<void>;
}

const DEFAULT_CONCURRENCY: Record<QueueName, number> = {
  device: 16,
  confirm: 8,
  plan: 8,
  kube: 4,
  webhook: 8,
  telemetry: 1,
  signals: 4,
};

const silentLogger: HarnessLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The immich rule: no job without a handler, no handler without a job. */
export function checkHandlerCoverage(handlers: Record<string, unknown>, queues: readonly QueueName[]): void {
  const served = queues.flatMap((q) => jobsOfQueue(q));
  const missing = served.filter((n) => typeof handlers[n] !== 'function');
  // Handlers for catalog jobs of queues this process does not serve are fine (one map for all).
  const unknown = Object.keys(handlers).filter((n) => !isJobName(n));
  if (missing.length || unknown.length) throw new HandlerCoverageError(missing, unknown);
}

export async function startWorkers(opts: StartWorkersOptions): Promise<RunningWorkers> {
  const queues = opts.queues ?? QUEUE_NAMES;
  checkHandlerCoverage(opts.handlers, queues);
  const prefix = assertHashTaggedPrefix(opts.prefix ?? DEFAULT_PREFIX);
  const needsLease = queues.some((q) => jobsOfQueue(q).some((n) => JOB_CATALOG[n].fenced));
  if (needsLease && !opts.lease)
    throw new Error('refusing to start workers: fenced jobs need a lease to check epochs against');
  const log = opts.logger ?? silentLogger;

  const owned = typeof opts.connection === 'string';
  const connection =
    typeof opts.connection === 'string' ? await connectRedis(opts.connection, 'worker') : opts.connection;
  const workers: Partial<Record<QueueName, Worker>> = {};
  const closeConnection = () =>
    owned
      ? connection.quit().then(
          () => undefined,
          () => connection.disconnect(),
        )
      : undefined;
  try {
    if (connection.options.maxRetriesPerRequest !== null)
      throw new Error("worker connections need maxRetriesPerRequest: null (use connectRedis(url, 'worker'))");
    await checkEvictionPolicy(connection, opts.evictionCheck ?? 'refuse', (msg) => log.warn({}, msg));
    for (const q of queues) {
      const worker = new Worker(q, processorFor(q, opts, log), {
        ...opts.workerOptions,
        connection,
        prefix,
        concurrency: concurrencyOf(q, opts.concurrency),
        autorun: true,
      });
      worker.on('error', (err) => log.error({ queue: q, err }, 'worker error'));
      worker.on('failed', (job, err) =>
        log.warn(
          { queue: q, job: job?.name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message },
          'job attempt failed',
        ),
      );
      workers[q] = worker;
    }
    await Promise.all(Object.values(workers).map((w) => w.waitUntilReady()));
  } catch (e) {
    await Promise.allSettled(Object.values(workers).map((w) => w.close(true)));
    await closeConnection();
    throw e;
  }

  let closing: Promise<void> | undefined;
  const signals: NodeJS.Signals[] = opts.handleSignals === false ? [] : ['SIGTERM', 'SIGINT'];
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, 'closing workers');
    void close().finally(() => {
      // Re-raise so the default action (exit) applies, unless someone else handles it.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  };
  const close = (closeOpts: { force?: boolean } = {}) =>
    (closing ??= (async () => {
      for (const s of signals) process.off(s, onSignal);
      await Promise.allSettled(Object.values(workers).map((w) => w.close(closeOpts.force ?? false)));
      await closeConnection();
    })());
  for (const s of signals) process.once(s, onSignal);
  return { workers, close };
}

function concurrencyOf(q: QueueName, c: StartWorkersOptions['concurrency']): number {
  if (typeof c === 'number') return c;
  return c?.[q] ?? DEFAULT_CONCURRENCY[q];
}

function processorFor(queue: QueueName, opts: StartWorkersOptions, log: HarnessLogger) {
  const served = new Set<string>(jobsOfQueue(queue));
  return async (job: Job, _token?: string, workerSignal?: AbortSignal): Promise<unknown> => {
    // A producer newer or older than this worker: failing for good keeps the job for inspection.
    if (!served.has(job.name))
      throw new UnrecoverableError(`no handler for job "${job.name}" on queue ${queue}`);
    const name = job.name as JobName;
    const spec = JOB_CATALOG[name];
    let payload: JobPayload<JobName>;
    try {
      payload = parsePayload(name, job.data);
    } catch (e) {
      throw new UnrecoverableError((e as Error).message);
    }
    const epoch = spec.fenced ? (payload as { epoch: number }).epoch : null;
    const lease = opts.lease;
    const fence =
      epoch !== null && lease
        ? () => assertCurrentEpoch(lease, epoch).then(() => undefined)
        : async () => undefined;
    const timeout = new AbortController();
    const signal = workerSignal ? AbortSignal.any([workerSignal, timeout.signal]) : timeout.signal;
    const handler = opts.handlers[name] as JobHandler<JobName>;
    try {
      await fence(); // a stale job does no work at all
      const run = handler(payload, { job, attempt: job.attemptsMade + 1, signal, fence });
      return await withTimeout(run, spec.timeoutMs, () => {
        const err = new JobTimeoutError(name, spec.timeoutMs);
        timeout.abort(err);
        return err;
      });
    } catch (e) {
      if (e instanceof StaleEpochError) {
        log.warn({ job: name, jobId: job.id, reason: e.message }, 'dropped a job of a replaced leader');
        return {
          status: 'dropped',
          reason: e.message,
          jobEpoch: e.jobEpoch,
          currentEpoch: e.currentEpoch,
        } satisfies DroppedResult;
      }
      throw toBullError(e);
    }
  };
}

/** Permanent failures become UnrecoverableError: BullMQ fails the job without further attempts. */
export function toBullError(e: unknown): unknown {
  if (e instanceof UnrecoverableError) return e;
  if (e instanceof PayloadError) return new UnrecoverableError(e.message);
  if (e instanceof MinerError && e.permanent)
    return new UnrecoverableError(`${e.code} (${e.host}): ${e.message}`);
  return e;
}
