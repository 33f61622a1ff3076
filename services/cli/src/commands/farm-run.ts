// The whole system in one process for `switchyard start`: the simulator (miners in
// its own worker processes), the worker service and the controller, with signals replayed from
// the synthetic history sped up, so the farm can be seen shedding and restoring within a minute.
import { readFile } from 'node:fs/promises';
import type { Farm } from '@switchyard/domain';
import { parseHistoryCsv } from '@switchyard/domain';
import type { DatabaseHandle } from '@switchyard/db';
import { startControllerService } from '@switchyard/controller';
import { startSimulator, toSimHost } from '@switchyard/simulator';
import { ReplaySource, SignalHub, SignalRepository, StoredPriceSource } from '@switchyard/signals';
import { startWorkerService } from '@switchyard/worker';
import { FACTORY_CREDENTIALS } from '@switchyard/miners';
import { SimulatorClusterDriver } from '@switchyard/cluster';
import type { Logger, Registry } from '@switchyard/telemetry';

export interface FarmRunOptions {
  farm: Farm;
  db: DatabaseHandle;
  redisUrl: string;
  logger: Logger;
  historyFile: string;
  /** History seconds per real second. */
  replaySpeed: number;
  intervalSeconds: number;
  simHttpPort: number;
  /** The process's metrics registry (the API's, served at its /metrics). */
  metrics?: Registry;
}

/**
 * The farm with every AllocationPolicy's clock run `factor` times faster: the planning interval,
 * the minimum dwell and the wear cost per cycle divided by it, the ramp limit and the daily cycle
 * budget multiplied. The
 * demo replays prices thousands of times faster than real time; without this a fleet shed once
 * would have to wait the real 15 minutes of dwell before it could be restored.
 */
export function compressPolicyTime(farm: Farm, factor: number): Farm {
  if (!(factor >= 1)) throw new Error('the time compression factor must be at least 1');
  return {
    ...farm,
    policies: farm.policies.map((p) => ({
      ...p,
      spec: {
        ...p.spec,
        intervalSeconds: Math.max(1, Math.round(p.spec.intervalSeconds / factor)),
        minDwellSeconds: Math.round(p.spec.minDwellSeconds / factor),
        rampKwPerMin: p.spec.rampKwPerMin * factor,
        maxCyclesPerDay: Math.round(p.spec.maxCyclesPerDay * factor),
        // The planner spreads a cycle's wear over 24 h / maxCyclesPerDay: with the day compressed,
        // the same dollars per hour of wear need the cost per cycle divided too.
        wearCostUsdPerCycle: p.spec.wearCostUsdPerCycle / factor,
      },
    })),
  };
}

export interface RunningFarm {
  simUrl: string;
  close(): Promise<void>;
}

export async function startFarmRun(o: FarmRunOptions): Promise<RunningFarm> {
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.reverse())
      await c().catch((e: unknown) => o.logger.warn({ err: e }, 'error during shutdown'));
  };
  try {
    const parsed = parseHistoryCsv(await readFile(o.historyFile, 'utf8'), { skipBadRows: true });
    if (!parsed.ok) throw new Error(`${o.historyFile} is not a price history`);
    const gpuModels = o.farm.pools.map((p) => p.spec.gpuModel);
    const hub = new SignalHub({
      // Stored, so the API's capacity prices, /signals and /status see what the controller plans with.
      store: new SignalRepository(o.db.db),
      sources: [
        // Energy prices pushed through the API (POST /prices) win while they cover the moment.
        { source: new StoredPriceSource({ db: o.db.db, site: o.farm.sites[0]?.metadata.name ?? '' }) },
        {
          source: new ReplaySource({ rows: parsed.history.rows, speed: o.replaySpeed, gpuModels }),
          trusted: true,
        },
      ],
    });
    closers.push(() => hub.close());
    await hub.refresh();
    hub.start(Math.max(1000, Math.min(o.intervalSeconds * 1000, 10_000)));

    const sim = await startSimulator({
      farm: o.farm,
      httpPort: o.simHttpPort,
      workers: 2,
      sleepSeconds: 3,
      wakeSeconds: 30,
    });
    closers.push(() => sim.close());
    o.logger.info({ url: sim.url, miners: sim.miners }, 'simulator running');

    const worker = await startWorkerService({
      metrics: o.metrics,
      redisUrl: o.redisUrl,
      farm: o.farm,
      mapHost: toSimHost,
      portOffset: sim.portOffset,
      // kube.action sets the simulated GPU nodes' modes through the simulator's API.
      simUrl: sim.url,
      handleSignals: false,
      // Webhook deliveries read their webhook from the shared database; a demo's receiver may
      // run on this machine.
      db: o.db,
      webhookTargets: { allowLoopback: true },
      // The simulated firmware accepts each family's factory credentials, whatever Secret the
      // farm file names.
      resolveCredentials: async (_ref, driver) => FACTORY_CREDENTIALS[driver],
    });
    // The process is exiting: running jobs (a confirm waits up to its timeout) are abandoned, not
    // awaited; BullMQ hands them to the next worker, and a new leader fences them off.
    closers.push(() => worker.close({ force: true }));

    const site = o.farm.sites[0]?.metadata.name;
    if (!site) throw new Error('the farm has no site');
    const controller = await startControllerService({
      metrics: o.metrics,
      farm: o.farm,
      site,
      redisUrl: o.redisUrl,
      db: o.db,
      signals: hub,
      intervalMs: o.intervalSeconds * 1000,
      mapHost: toSimHost,
      mapPort: (p) => (p < 1024 ? p + sim.portOffset : p),
      greedy: true,
      cluster: new SimulatorClusterDriver({ baseUrl: sim.url }),
      onCycle: (r) =>
        o.logger.info(
          {
            trigger: r.trigger,
            outcome: r.outcome,
            planId: r.planId,
            epoch: r.epoch,
            ms: Math.round(r.durationMs),
            error: r.error,
          },
          `cycle ${r.outcome}`,
        ),
      onPhase: (r) => o.logger.info({ ...r }, `phase ${r.index} ${r.kind} ${r.status}`),
      onWarning: (m) => o.logger.warn(m),
    });
    closers.push(() => controller.close());
    return { simUrl: sim.url, close };
  } catch (e) {
    await close();
    throw e;
  }
}
