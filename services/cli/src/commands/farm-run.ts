// The whole system in one process for `switchyard start --with-farm`: the simulator (miners in
// its own worker processes), the worker service and the controller, with signals replayed from
// the synthetic history sped up, so the farm can be seen shedding and restoring within a minute.
import { readFile } from 'node:fs/promises';
import type { Farm } from '@switchyard/domain';
import { parseHistoryCsv } from '@switchyard/domain';
import type { DatabaseHandle } from '@switchyard/db';
import { startControllerService } from '@switchyard/controller';
import { startSimulator, toSimHost } from '@switchyard/simulator';
import { ReplaySource, SignalHub } from '@switchyard/signals';
import { startWorkerService } from '@switchyard/worker';
import { FACTORY_CREDENTIALS } from '@switchyard/miners';
import type { Logger } from '@switchyard/telemetry';

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
      sources: [
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
      redisUrl: o.redisUrl,
      farm: o.farm,
      mapHost: toSimHost,
      portOffset: sim.portOffset,
      handleSignals: false,
      // The simulated firmware accepts each family's factory credentials, whatever Secret the
      // farm file names.
      resolveCredentials: async (_ref, driver) => FACTORY_CREDENTIALS[driver],
    });
    closers.push(() => worker.close());

    const site = o.farm.sites[0]?.metadata.name;
    if (!site) throw new Error('the farm has no site');
    const controller = await startControllerService({
      farm: o.farm,
      site,
      redisUrl: o.redisUrl,
      db: o.db,
      signals: hub,
      intervalMs: o.intervalSeconds * 1000,
      mapHost: toSimHost,
      mapPort: (p) => (p < 1024 ? p + sim.portOffset : p),
      greedy: true,
      onCycle: (r) =>
        o.logger.info(
          {
            trigger: r.trigger,
            outcome: r.outcome,
            planId: r.planId,
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
