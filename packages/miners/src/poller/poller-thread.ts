// Worker-thread side of ThreadedFleetPoller: polls the targets it is sent with a FleetPoller
// whose drivers live as long as the thread.
import { parentPort, workerData } from 'node:worker_threads';
import type { Farm, MinerDriverName } from '@switchyard/domain';
import type { MinerCredentials } from '../driver.ts';
import { createMinerDriver, FACTORY_CREDENTIALS } from '../driver-factory.ts';
import { FleetPoller, type PollTarget } from './fleet-poller.ts';

const cfg = workerData as {
  concurrency: number;
  timeoutMs: number;
  credentials: Partial<Record<MinerDriverName, MinerCredentials>>;
};
const poller = new FleetPoller({
  concurrency: cfg.concurrency,
  createDriver: (t) =>
    createMinerDriver(t.driver, {
      host: t.host,
      port: t.port,
      timeoutMs: cfg.timeoutMs,
      credentials: cfg.credentials[t.driver] ?? FACTORY_CREDENTIALS[t.driver],
      nameplateW: t.nameplateW,
      sleepW: t.sleepW,
    }),
});
// Aggregation per node happens in the parent, which has the whole farm.
const noFarm: Farm = { sites: [], fleets: [], pools: [], policies: [] };

parentPort?.on(
  'message',
  (m: { id?: number; targets?: PollTarget[]; close?: boolean; action?: 'sleep' | 'wake' }) => {
    if (m.close) {
      void poller.close().then(() => process.exit(0));
      return;
    }
    if (m.action) {
      void poller.act(m.targets ?? [], m.action).then(
        (failures) => parentPort?.postMessage({ id: m.id, failures }),
        (e: unknown) => parentPort?.postMessage({ id: m.id, error: (e as Error).message }),
      );
      return;
    }
    void poller.poll(noFarm, m.targets ?? []).then(
      (r) => parentPort?.postMessage({ id: m.id, fleets: r.fleets, degraded: r.degraded }),
      (e: unknown) => parentPort?.postMessage({ id: m.id, error: (e as Error).message }),
    );
  },
);
