// The worker's metrics: every job's outcome and latency (from enqueue to finish, the "action
// latency" of a device command, a confirm or a Kubernetes change) and each device command's
// outcome per fleet (sleeps and wakes applied are the miners' cycles). Labels: queue, job, fleet,
// action — never a miner, plan or order. The job's name is `job_name`: Prometheus keeps `job` for
// the scrape job.
import { DURATION_BUCKETS_S, metricsIn, type Registry } from '@switchyard/telemetry';
import type { RunningWorkers } from '@switchyard/queue';

/** The parts of a BullMQ job the metrics read. */
interface FinishedJob {
  name: string;
  queueName: string;
  timestamp: number;
  processedOn?: number | undefined;
  attemptsMade: number;
  opts: { attempts?: number | undefined };
}

const LATENCY_BUCKETS_S = [...DURATION_BUCKETS_S, 600, 1800];

export function createWorkerMetrics(registry: Registry) {
  const m = metricsIn(registry);
  const jobs = m.counter({
    name: 'switchyard_worker_jobs_total',
    help: "Job attempts by queue, job and outcome: completed, dropped (a replaced leader's fenced job), retried (failed, will run again), failed (for good)",
    labelNames: ['queue', 'job_name', 'outcome'],
  });
  const latency = m.histogram({
    name: 'switchyard_action_latency_seconds',
    help: 'Time from a job being enqueued to its last attempt finishing, by job and outcome',
    labelNames: ['job_name', 'outcome'],
    buckets: LATENCY_BUCKETS_S,
  });
  const duration = m.histogram({
    name: 'switchyard_worker_job_duration_seconds',
    help: 'Time one attempt of a job ran, by job',
    labelNames: ['job_name'],
    buckets: DURATION_BUCKETS_S,
  });
  const commands = m.counter({
    name: 'switchyard_device_commands_total',
    help: 'Miner commands of device batches by fleet, action (sleep, wake, set-profile, set-power) and outcome: applied, already (a no-op), failed',
    labelNames: ['fleet', 'action', 'outcome'],
  });

  const finished = (job: FinishedJob, outcome: string) => {
    const now = Date.now();
    jobs.inc({ queue: job.queueName, job_name: job.name, outcome });
    if (job.processedOn) duration.observe({ job_name: job.name }, Math.max(0, now - job.processedOn) / 1000);
    if (outcome !== 'retried')
      latency.observe({ job_name: job.name, outcome }, Math.max(0, now - job.timestamp) / 1000);
  };

  return {
    /** Listens to every worker of the harness. */
    attach(running: RunningWorkers): void {
      for (const w of Object.values(running.workers)) {
        w.on('completed', (job: FinishedJob, result: unknown) => {
          const r = (result ?? {}) as Record<string, unknown>;
          finished(job, r.status === 'dropped' ? 'dropped' : 'completed');
          if (job.name === 'device.batch' && typeof r.fleet === 'string' && typeof r.action === 'string')
            for (const outcome of ['applied', 'already', 'failed'] as const)
              if (typeof r[outcome] === 'number')
                commands.inc({ fleet: r.fleet, action: r.action, outcome }, r[outcome]);
        });
        w.on('failed', (job: FinishedJob | undefined, err: Error) => {
          if (!job) return;
          const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
          finished(job, final ? 'failed' : 'retried');
        });
      }
    },
  };
}
