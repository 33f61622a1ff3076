// The device.batch handler: one command to every miner of a batch, idempotent per device
// (product safety rule 6). Each miner is read first and left alone when it is already in the
// requested state; each miner's outcome is kept in the job's progress, so a retried job only
// touches the miners that failed before and never flips a miner twice.
import { UnrecoverableError } from 'bullmq';
import {
  FACTORY_CREDENTIALS,
  MinerError,
  type MinerCredentials,
  type MinerDriver,
  type MinerTelemetry,
} from '@switchyard/miners';
import type { MinerDriverName } from '@switchyard/domain';
import type { JobPayload } from './job-catalog.ts';
import type { JobContext, JobHandler } from './worker-harness.ts';
import { DeviceBatchError } from './errors/device-batch-error.ts';
import { StaleEpochError } from './errors/stale-epoch-error.ts';

type DeviceAction = JobPayload<'device.batch'>['action'];

/** 'applied': the command was sent; 'already': the miner was in that state; 'failed:<code>'. */
export type DeviceOutcome = 'applied' | 'already' | `failed:${string}`;

export interface DeviceBatchProgress {
  /** Outcome per "host:port", from every attempt so far. */
  outcomes: Record<string, DeviceOutcome>;
  /** Why each failed device failed (last attempt). */
  errors: Record<string, string>;
}

export interface DeviceBatchResult extends DeviceBatchProgress {
  planId: string;
  stepId: string;
  fleet: string;
  action: JobPayload<'device.batch'>['action'];
  applied: number;
  already: number;
  failed: number;
}

export interface DeviceCommandTarget {
  host: string;
  port: number;
  fleet: string;
  driver: MinerDriverName;
  credentials: MinerCredentials;
}

export interface DeviceHandlerOptions {
  /** Builds the driver for one miner (maps farm addresses and ports as the deployment needs). */
  createDriver: (target: DeviceCommandTarget) => MinerDriver;
  /** Resolves a batch's credentialsRef (a Secret name); without a ref, the firmware's defaults. */
  resolveCredentials?: (ref: string, driver: MinerDriverName) => Promise<MinerCredentials>;
  /** Miners commanded at once within one batch (default 32). */
  concurrency?: number;
  /**
   * Miners commanded at once over every batch this handler runs (default 32), first come first
   * served. Many batches start together in a shed phase; without a shared bound each miner's few
   * round trips queue behind every other batch's, and the first command of the phase leaves late.
   */
  maxInFlight?: number;
  /** At most this long between a device's outcome and its write to the job's progress (default 200 ms). */
  progressGapMs?: number;
}

/** A counting semaphore that hands out permits in request order. */
export class FifoLimiter {
  readonly #waiting: Array<() => void> = [];
  #free: number;
  constructor(permits: number) {
    if (!(Number.isInteger(permits) && permits >= 1))
      throw new RangeError('permits must be a whole number ≥ 1');
    this.#free = permits;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    }
  }
}

/** Failures that another attempt cannot fix (MinerError.permanent codes). */
const PERMANENT_CODES = new Set(['auth', 'unsupported', 'invalid-argument']);
export const isPermanentOutcome = (o: DeviceOutcome): boolean =>
  PERMANENT_CODES.has(o.slice('failed:'.length));
const isDone = (o: DeviceOutcome | undefined): boolean => o === 'applied' || o === 'already';

/** Whether the miner is already where the command would take it. */
export function alreadyInState(t: MinerTelemetry, p: JobPayload<'device.batch'>): boolean {
  switch (p.action) {
    case 'sleep':
      return t.state === 'sleeping';
    case 'wake':
      return t.state === 'hashing' || t.state === 'ramping';
    case 'set-profile':
      return t.profile === p.profile;
    case 'set-power-target':
      // Telemetry carries no power target to compare with; the drivers read it back before
      // writing, so the command itself is still idempotent.
      return false;
    case 'set-power-percent':
      // Telemetry carries no power percent either (Whatsminer reads report none), so the
      // command is sent again; set_power_pct to the percent already set leaves the miner as it is.
      return false;
  }
}

/**
 * Reads the miner's state, and sends the command only when it is not already there. Sleep and
 * wake do both inside the driver, over the firmware's cheapest state call (a third of the
 * connections a telemetry read takes on some firmwares); the other actions read telemetry here.
 */
async function checkAndActuate(
  d: MinerDriver,
  p: JobPayload<'device.batch'>,
  ctx: JobContext,
): Promise<'applied' | 'already'> {
  if (p.action === 'sleep' || p.action === 'wake') {
    await ctx.fence(); // right before actuating: a replaced leader's command is dropped
    return p.action === 'sleep' ? d.sleep() : d.wake();
  }
  if (alreadyInState(await d.read({ detail: 'basic' }), p)) return 'already';
  await ctx.fence();
  await actuate(d, p as SettingPayload);
  return 'applied';
}

type SettingPayload = JobPayload<'device.batch'> & { action: Exclude<DeviceAction, 'sleep' | 'wake'> };

async function actuate(d: MinerDriver, p: SettingPayload): Promise<void> {
  switch (p.action) {
    case 'set-profile':
      if (!d.setProfile) throw new MinerError('unsupported', d.host, `${d.name} has no profiles`);
      return d.setProfile(p.profile as string);
    case 'set-power-target':
      if (!d.setPowerTarget) throw new MinerError('unsupported', d.host, `${d.name} has no power target`);
      return d.setPowerTarget(p.watts as number);
    case 'set-power-percent':
      if (!d.setPowerPercent) throw new MinerError('unsupported', d.host, `${d.name} has no power percent`);
      return d.setPowerPercent(p.percent as number);
  }
}

function priorProgress(progress: unknown, keys: Set<string>): DeviceBatchProgress {
  const out: DeviceBatchProgress = { outcomes: {}, errors: {} };
  if (typeof progress !== 'object' || progress === null) return out;
  const { outcomes, errors } = progress as { outcomes?: unknown; errors?: unknown };
  const isOutcome = (v: unknown): v is DeviceOutcome =>
    typeof v === 'string' && (v === 'applied' || v === 'already' || v.startsWith('failed:'));
  for (const [k, v] of Object.entries(typeof outcomes === 'object' && outcomes !== null ? outcomes : {}))
    if (keys.has(k) && isOutcome(v)) out.outcomes[k] = v;
  for (const [k, v] of Object.entries(typeof errors === 'object' && errors !== null ? errors : {}))
    if (keys.has(k) && typeof v === 'string') out.errors[k] = v;
  return out;
}

/** Runs fn over items with at most `limit` in flight. */
async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  });
  await Promise.all(lanes);
}

/**
 * Keeps the job's progress (each device's outcome) in Redis for a retry to pick up, without
 * holding up the devices: `mark()` returns at once and a write follows within `gapMs`, at most
 * one in flight; `flush()` writes whatever is left. A crash loses at most the last `gapMs` of
 * outcomes, and the retry finds those devices already in their state (outcome `already`).
 */
function progressWriter(ctx: JobContext, state: DeviceBatchProgress, gapMs = 200) {
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let dirty = false;
  const write = (): Promise<void> => {
    dirty = false;
    // A timed-out attempt stops writing: its retry may already be running and own the progress.
    if (ctx.signal.aborted) return Promise.resolve();
    inFlight = ctx.job
      .updateProgress({ outcomes: { ...state.outcomes }, errors: { ...state.errors } })
      .catch(() => undefined) // the next write, or the final flush, carries the outcomes
      .finally(() => {
        inFlight = undefined;
        if (dirty) schedule();
      });
    return inFlight;
  };
  const schedule = () => {
    dirty = true;
    if (inFlight || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void write();
    }, gapMs);
  };
  return {
    mark: schedule,
    async flush(): Promise<void> {
      clearTimeout(timer);
      timer = undefined;
      await inFlight;
      await write();
    },
  };
}

export function createDeviceBatchHandler(opts: DeviceHandlerOptions): JobHandler<'device.batch'> {
  const concurrency = opts.concurrency ?? 32;
  const limiter = new FifoLimiter(opts.maxInFlight ?? 32);
  return async (p, ctx) => {
    const keys = p.targets.map((t) => `${t.host}:${t.port}`);
    const state = priorProgress(ctx.job.progress, new Set(keys));
    const todo = p.targets.filter((t) => {
      const o = state.outcomes[`${t.host}:${t.port}`];
      return !isDone(o) && !(o && isPermanentOutcome(o));
    });
    const credentials = await credentialsFor(p, opts);
    const progress = progressWriter(ctx, state, opts.progressGapMs);
    let stale: StaleEpochError | undefined;

    await forEachLimit(todo, concurrency, (t) => limiter.run(() => one(t)));
    async function one(t: (typeof todo)[number]): Promise<void> {
      const key = `${t.host}:${t.port}`;
      if (stale || ctx.signal.aborted) return; // left for the next attempt (or dropped)
      const driver = opts.createDriver({
        host: t.host,
        port: t.port,
        fleet: p.fleet,
        driver: p.driver,
        credentials,
      });
      try {
        state.outcomes[key] = await checkAndActuate(driver, p, ctx);
        delete state.errors[key];
      } catch (e) {
        if (e instanceof StaleEpochError) {
          stale = e;
          return;
        }
        state.outcomes[key] = `failed:${e instanceof MinerError ? e.code : 'error'}`;
        state.errors[key] = String((e as Error)?.message ?? e).slice(0, 200);
      } finally {
        await driver.close().catch(() => undefined);
      }
      progress.mark();
    }
    await progress.flush();
    if (stale) throw stale;
    return settle(p, state, keys);
  };
}

async function credentialsFor(
  p: JobPayload<'device.batch'>,
  opts: DeviceHandlerOptions,
): Promise<MinerCredentials> {
  if (p.credentialsRef === undefined) return FACTORY_CREDENTIALS[p.driver];
  if (!opts.resolveCredentials)
    throw new UnrecoverableError(
      `credentials "${p.credentialsRef}" cannot be resolved: no resolver configured`,
    );
  return opts.resolveCredentials(p.credentialsRef, p.driver);
}

/** The batch's result, or the error that makes BullMQ retry (or fail) it. */
function settle(
  p: JobPayload<'device.batch'>,
  state: DeviceBatchProgress,
  keys: string[],
): DeviceBatchResult {
  const outcomes = Object.fromEntries(keys.map((k) => [k, state.outcomes[k] ?? 'failed:aborted'])) as Record<
    string,
    DeviceOutcome
  >;
  const failed = Object.fromEntries(Object.entries(outcomes).filter(([, o]) => !isDone(o)));
  const count = (o: DeviceOutcome) => Object.values(outcomes).filter((x) => x === o).length;
  const n = Object.keys(failed).length;
  if (n > 0) {
    const summary = `${n} of ${keys.length} miners of ${p.fleet} failed to ${p.action}: ${Object.entries(
      failed,
    )
      .slice(0, 5)
      .map(([k, o]) => `${k} ${o}`)
      .join(', ')}${n > 5 ? ', ...' : ''}`;
    if (Object.values(failed).every((o) => isPermanentOutcome(o))) throw new UnrecoverableError(summary);
    throw new DeviceBatchError(summary, failed);
  }
  return {
    planId: p.planId,
    stepId: p.stepId,
    fleet: p.fleet,
    action: p.action,
    outcomes,
    errors: state.errors,
    applied: count('applied'),
    already: count('already'),
    failed: 0,
  };
}
