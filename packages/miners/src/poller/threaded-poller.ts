// Polling spread over worker threads. Reading miners is CPU-bound in the client (one TCP
// connection or two per command, JSON parsing), so on a multi-core machine N event loops read
// N times as many miners per second. Fleets are partitioned whole across threads; each thread
// keeps its own drivers (sessions, tokens) between polls.
import { Worker } from 'node:worker_threads';
import type { Farm, MinerDriverName } from '@switchyard/domain';
import type { MinerCredentials } from '../driver.ts';
import {
  aggregateByNode,
  pollTargets,
  type DegradedMiner,
  type FleetAggregate,
  type PollResult,
  type PollTarget,
} from './fleet-poller.ts';

export interface ThreadedPollerOptions {
  threads: number;
  /** Miners read at once per thread. */
  concurrency?: number;
  timeoutMs?: number;
  credentials?: Partial<Record<MinerDriverName, MinerCredentials>>;
  mapHost?: (host: string) => string;
}

interface WorkerReply {
  id: number;
  failures?: Array<{ host: string; reason: string }>;
  fleets?: FleetAggregate[];
  degraded?: DegradedMiner[];
  error?: string;
}

/**
 * Relative client CPU per read, measured against the simulator: a stock Antminer read takes
 * four connections (three RPC commands that cannot be joined, plus the web UI), LuxOS one.
 */
export const READ_COST: Readonly<Record<MinerDriverName, number>> = {
  antminer: 2,
  braiins: 1.3,
  whatsminer: 1,
  luxos: 0.8,
};

/** Splits targets into `n` groups of whole fleets with about the same read cost. */
export function partitionByFleet(targets: readonly PollTarget[], n: number): PollTarget[][] {
  const byFleet = new Map<string, PollTarget[]>();
  for (const t of targets) {
    const list = byFleet.get(t.fleet) ?? [];
    list.push(t);
    byFleet.set(t.fleet, list);
  }
  const cost = (fleet: PollTarget[]) => fleet.length * READ_COST[fleet[0]?.driver ?? 'whatsminer'];
  const groups = Array.from({ length: Math.max(1, n) }, () => ({ targets: [] as PollTarget[], cost: 0 }));
  // Costliest fleets first onto the lightest group.
  for (const fleet of [...byFleet.values()].sort((a, b) => cost(b) - cost(a))) {
    const lightest = groups.reduce((min, g) => (g.cost < min.cost ? g : min));
    lightest.targets.push(...fleet);
    lightest.cost += cost(fleet);
  }
  return groups.map((g) => g.targets).filter((g) => g.length > 0);
}

export class ThreadedFleetPoller {
  readonly #opts: ThreadedPollerOptions;
  readonly #workers: Worker[] = [];
  #nextId = 1;
  #closed = false;

  constructor(opts: ThreadedPollerOptions) {
    this.#opts = opts;
  }

  #worker(i: number): Worker {
    let w = this.#workers[i];
    if (!w) {
      w = new Worker(new URL('./poller-thread.ts', import.meta.url), {
        workerData: {
          concurrency: this.#opts.concurrency ?? 256,
          timeoutMs: this.#opts.timeoutMs ?? 3000,
          credentials: this.#opts.credentials ?? {},
        },
      });
      w.unref();
      this.#workers[i] = w;
    }
    return w;
  }

  #ask(w: Worker, targets: PollTarget[], action?: 'sleep' | 'wake'): Promise<WorkerReply> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (m: WorkerReply) => {
        if (m.id !== id) return;
        w.off('message', onMessage);
        w.off('error', onError);
        if (m.error) reject(new Error(`poller thread: ${m.error}`));
        else resolve(m);
      };
      const onError = (e: Error) => {
        w.off('message', onMessage);
        reject(e);
      };
      w.on('message', onMessage);
      w.once('error', onError);
      w.postMessage({ id, targets, action });
    });
  }

  async poll(
    farm: Farm,
    targets: readonly PollTarget[] = pollTargets(farm, this.#opts.mapHost),
  ): Promise<PollResult> {
    if (this.#closed) throw new Error('poller is closed');
    const startedAt = new Date();
    const t0 = performance.now();
    const groups = partitionByFleet(targets, this.#opts.threads);
    const replies = await Promise.all(groups.map((g, i) => this.#ask(this.#worker(i), g)));
    const fleets = replies.flatMap((r) => r.fleets ?? []);
    return {
      startedAt,
      durationMs: performance.now() - t0,
      fleets,
      nodes: aggregateByNode(farm, fleets),
      degraded: replies.flatMap((r) => r.degraded ?? []),
    };
  }

  /** Sends a control to every target, spread over the threads; returns the failures. */
  async act(
    targets: readonly PollTarget[],
    action: 'sleep' | 'wake',
  ): Promise<Array<{ host: string; reason: string }>> {
    if (this.#closed) throw new Error('poller is closed');
    const groups = partitionByFleet(targets, this.#opts.threads);
    const replies = await Promise.all(groups.map((g, i) => this.#ask(this.#worker(i), g, action)));
    return replies.flatMap((r) => r.failures ?? []);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      this.#workers.map(async (w) => {
        w.postMessage({ close: true });
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => void w.terminate().then(() => resolve()), 2000);
          w.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        });
      }),
    );
  }
}
