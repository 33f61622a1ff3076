// Handlers for the jobs that @switchyard/queue does not implement itself: device.confirm (wait
// until the power tree shows the freed power), telemetry.poll, signals.fetch, and a stand-in for a
// job this worker cannot run (webhook.deliver without a database), so that the harness, which
// refuses to start without a handler for every job, still runs. kube.action is in
// kube-handler.ts; webhook.deliver is @switchyard/brokers' createWebhookDeliverHandler.
import { walkPowerTree, type Farm } from '@switchyard/domain';
import { toObservationRows, type PollResult } from '@switchyard/miners';
import { UnrecoverableError, type JobHandler, type JobName } from '@switchyard/queue';

/**
 * Reads the miners of the named fleets once and returns the poll's aggregates. Node loads must
 * count every miner of those fleets, an unreadable one at nameplate (FleetPoller does).
 */
export type FleetPoll = (fleets: readonly string[], signal: AbortSignal) => Promise<PollResult>;

/** Fleets whose feed is `node` or one of its descendants, over every site of the farm. */
export function fleetsUnder(farm: Farm, nodes: readonly string[]): { fleets: string[]; unknown: string[] } {
  const wanted = new Set(nodes);
  const found = new Set<string>();
  const feeds = new Set<string>();
  for (const site of farm.sites) {
    const entries = walkPowerTree(site.spec.powerTree);
    const children = new Map<string, string[]>();
    for (const e of entries)
      if (e.parent) children.set(e.parent.name, [...(children.get(e.parent.name) ?? []), e.node.name]);
    const stack = entries.filter((e) => wanted.has(e.node.name)).map((e) => e.node.name);
    for (const n of stack) found.add(n);
    while (stack.length) {
      const n = stack.pop() as string;
      feeds.add(`${site.metadata.name}/${n}`);
      stack.push(...(children.get(n) ?? []));
    }
  }
  const fleets = farm.fleets
    .filter((f) => feeds.has(`${f.spec.site}/${f.spec.feed}`))
    .map((f) => f.metadata.name);
  return { fleets, unknown: nodes.filter((n) => !found.has(n)) };
}

const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      reject(signal.reason as Error);
    };
    const t = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

export interface ConfirmHandlerOptions {
  farm: Farm;
  /** Re-reads the fleets under the listed nodes (a FleetPoller over just their miners). */
  poll: FleetPoll;
  /** Time between the starts of two polls (default 1000 ms). */
  intervalMs?: number;
  /**
   * Measured draw varies around the modelled one; a node within this fraction above its
   * expected load counts as confirmed (default DEFAULT_CONFIRM_TOLERANCE).
   */
  toleranceFraction?: number;
  now?: () => number;
}

/**
 * How far above its expected load a node may read and count as confirmed: 2 %, well inside the
 * safety margin the sequencer keeps under every limit.
 */
export const DEFAULT_CONFIRM_TOLERANCE = 0.02;

export interface ConfirmResult {
  status: 'confirmed';
  planId: string;
  stepId: string;
  /** kW per listed node at the poll that confirmed. */
  loadsKw: Record<string, number>;
  expectLoadAtMostKw: number;
  polls: number;
  elapsedMs: number;
}

const round = (kw: number) => Math.round(kw * 1000) / 1000;

/**
 * device.confirm: polls the fleets under the listed nodes about every second until every
 * listed node reads at or below expectLoadAtMostKw (confirms on power, not on reported state:
 * a miner says "sleeping" at once while its draw falls over seconds). When the payload's
 * timeoutMs passes first, the job fails for good (UnrecoverableError: waiting again would only
 * repeat the timeout) and the caller treats the devices as still drawing. The epoch is checked
 * right before the job finishes. Poll errors are retried by BullMQ with the catalog's backoff.
 */
export function createConfirmHandler(opts: ConfirmHandlerOptions): JobHandler<'device.confirm'> {
  const intervalMs = opts.intervalMs ?? 1000;
  const tolerance = 1 + (opts.toleranceFraction ?? DEFAULT_CONFIRM_TOLERANCE);
  const now = opts.now ?? (() => performance.now());
  return async (p, ctx) => {
    const { fleets, unknown } = fleetsUnder(opts.farm, p.nodes);
    if (unknown.length)
      throw new UnrecoverableError(`device.confirm: unknown power-tree node(s) ${unknown.join(', ')}`);
    const t0 = now();
    const deadline = t0 + p.timeoutMs;
    let polls = 0;
    for (;;) {
      const started = now();
      const result = await opts.poll(fleets, ctx.signal);
      polls++;
      const byNode = new Map(result.nodes.map((n) => [n.node, n.powerKw]));
      // A listed node without fleets carries no miner load.
      const loadsKw = Object.fromEntries(p.nodes.map((n) => [n, round(byNode.get(n) ?? 0)]));
      const over = p.nodes.filter((n) => (byNode.get(n) ?? 0) > p.expectLoadAtMostKw * tolerance);
      if (over.length === 0) {
        await ctx.fence();
        return {
          status: 'confirmed',
          planId: p.planId,
          stepId: p.stepId,
          loadsKw,
          expectLoadAtMostKw: p.expectLoadAtMostKw,
          polls,
          elapsedMs: Math.round(now() - t0),
        } satisfies ConfirmResult;
      }
      if (now() >= deadline) {
        await ctx.fence(); // a replaced leader's confirm is dropped, not reported as a failure
        const detail = over.map((n) => `${n} at ${loadsKw[n]} kW`).join(', ');
        throw new UnrecoverableError(
          `device.confirm timed out after ${p.timeoutMs} ms (${polls} polls): ${detail} > ` +
            `${p.expectLoadAtMostKw} kW expected; the devices count as still drawing`,
        );
      }
      const wait = Math.min(intervalMs - (now() - started), deadline - now());
      if (wait > 0) await abortableSleep(wait, ctx.signal);
    }
  };
}

/** Where telemetry.poll stores its fleet observations (ObservationRepository fits). */
export interface ObservationSink {
  appendFleetObservations(observedAt: Date, rows: ReturnType<typeof toObservationRows>): Promise<number>;
}

export interface TelemetryPollHandlerOptions {
  farm: Farm;
  poll: FleetPoll;
  /** Without one, the poll's summary is only the job's result. */
  observations?: ObservationSink;
}

/** telemetry.poll: reads every miner of the site once and stores one row per fleet. */
export function createTelemetryPollHandler(opts: TelemetryPollHandlerOptions): JobHandler<'telemetry.poll'> {
  return async (p, ctx) => {
    if (!opts.farm.sites.some((s) => s.metadata.name === p.site))
      throw new UnrecoverableError(`telemetry.poll: unknown site ${p.site}`);
    const fleets = opts.farm.fleets.filter((f) => f.spec.site === p.site).map((f) => f.metadata.name);
    const r = await opts.poll(fleets, ctx.signal);
    const stored = opts.observations
      ? await opts.observations.appendFleetObservations(r.startedAt, toObservationRows(r.fleets))
      : 0;
    return {
      site: p.site,
      fleets: r.fleets.length,
      miners: r.fleets.reduce((n, f) => n + f.miners, 0),
      powerKw: round(r.fleets.reduce((n, f) => n + f.powerKw, 0)),
      degraded: r.degraded.length,
      stored,
      durationMs: Math.round(r.durationMs),
    };
  };
}

export interface SignalsFetchHandlerOptions {
  /** Fetches one signal source (prices, difficulty, grid events) and stores what it got. */
  refresh: (source: string, signal: AbortSignal) => Promise<unknown>;
}

/** signals.fetch: calls the injected refresh for the payload's source. */
export function createSignalsFetchHandler(opts: SignalsFetchHandlerOptions): JobHandler<'signals.fetch'> {
  return async (p, ctx) => ({ source: p.source, result: await opts.refresh(p.source, ctx.signal) });
}

/**
 * A handler for a job this worker cannot run: it fails the job for good (kept for inspection)
 * with a clear message instead of leaving the harness unable to start.
 */
export function unavailableHandler(job: JobName, why: string) {
  return async (): Promise<never> => {
    throw new UnrecoverableError(`${job} cannot run in this worker: ${why}`);
  };
}
