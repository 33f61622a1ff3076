// Reads every miner of the farm with bounded concurrency and aggregates per fleet and per
// power-tree node. Nothing here is per miner except the degraded list, which names each
// degraded miner once with its reason (for logs and the operator API, never for metrics).
import {
  endpointCount,
  expandEndpoints,
  fleetNameplateW,
  walkPowerTree,
  type Farm,
  type MinerDriverName,
} from '@switchyard/domain';
import { MinerError, type MinerDriver } from '../driver.ts';
import { MINER_STATES, unreachableTelemetry, type MinerState, type MinerTelemetry } from '../telemetry.ts';

export interface PollTarget {
  fleet: string;
  site: string;
  feed: string;
  host: string;
  port: number;
  driver: MinerDriverName;
  nameplateW: number;
  sleepW: number;
}

export interface FleetAggregate {
  fleet: string;
  site: string;
  feed: string;
  miners: number;
  byState: Record<MinerState, number>;
  byProfile: Record<string, number>;
  hashrateThs: number;
  /** Sum of reported or estimated power, plus nameplate for miners that could not be read. */
  powerKw: number;
  /** How much of powerKw came from each source (kW). */
  powerKwBySource: { measured: number; estimated: number; nameplate: number };
  maxChipTempC: number | null;
  meanChipTempC: number | null;
  degraded: number;
  /** Degraded reasons with their counts (reason text without the host). */
  degradedReasons: Record<string, number>;
}

export interface NodeAggregate {
  node: string;
  site: string;
  powerKw: number;
  hashrateThs: number;
  miners: number;
}

export interface DegradedMiner {
  fleet: string;
  host: string;
  port: number;
  state: MinerState;
  reason: string;
}

export interface PollResult {
  startedAt: Date;
  durationMs: number;
  fleets: FleetAggregate[];
  nodes: NodeAggregate[];
  degraded: DegradedMiner[];
}

export type DriverFactory = (target: PollTarget) => MinerDriver;

export interface PollerOptions {
  createDriver: DriverFactory;
  /** Miners read at once (default 256). Each read holds one or two sockets. */
  concurrency?: number;
  /** Rewrites a farm address to the one to dial (the simulator serves 10.a.b.c on 127.a.b.c). */
  mapHost?: (host: string) => string;
  /** Keep each miner's telemetry in the result's callback (e.g. for the CLI); default off. */
  onTelemetry?: (target: PollTarget, t: MinerTelemetry) => void;
  now?: () => Date;
}

/** Every miner of the farm as a poll target, in farm order. */
export function pollTargets(farm: Farm, mapHost: (h: string) => string = (h) => h): PollTarget[] {
  const out: PollTarget[] = [];
  for (const f of farm.fleets) {
    const nameplateW = fleetNameplateW(f);
    const sleepW = f.spec.sleepW ?? 30;
    for (const e of expandEndpoints(f.spec)) {
      out.push({
        fleet: f.metadata.name,
        site: f.spec.site,
        feed: f.spec.feed,
        host: mapHost(e.host),
        port: e.port,
        driver: f.spec.driver,
        nameplateW,
        sleepW,
      });
    }
  }
  return out;
}

/** Maps a failed read to the telemetry the rest of the system sees: unknown means worst case. */
export function telemetryForError(target: PollTarget, err: unknown): MinerTelemetry {
  if (err instanceof MinerError) {
    // Nothing answered: offline. Something answered wrongly: the miner is there but broken.
    const offline = err.code === 'timeout' || err.code === 'refused' || err.code === 'unreachable';
    return unreachableTelemetry(
      target.host,
      target.port,
      offline ? 'offline' : 'fault',
      `${err.code}: ${err.message}`,
      target.driver,
    );
  }
  return unreachableTelemetry(
    target.host,
    target.port,
    'fault',
    `internal: ${(err as Error)?.message ?? String(err)}`,
    target.driver,
  );
}

function emptyAggregate(t: PollTarget): FleetAggregate {
  return {
    fleet: t.fleet,
    site: t.site,
    feed: t.feed,
    miners: 0,
    byState: Object.fromEntries(MINER_STATES.map((s) => [s, 0])) as Record<MinerState, number>,
    byProfile: {},
    hashrateThs: 0,
    powerKw: 0,
    powerKwBySource: { measured: 0, estimated: 0, nameplate: 0 },
    maxChipTempC: null,
    meanChipTempC: null,
    degraded: 0,
    degradedReasons: {},
  };
}

/** The reason without host-specific detail, so that counts group. */
function reasonKey(reason: string): string {
  return reason
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '<host>')
    .replace(/\d+ ?ms\b/g, '<n> ms')
    .slice(0, 120);
}

class FleetAccumulator {
  readonly agg: FleetAggregate;
  #tempSum = 0;
  #tempCount = 0;
  constructor(t: PollTarget) {
    this.agg = emptyAggregate(t);
  }
  add(target: PollTarget, t: MinerTelemetry, degraded: DegradedMiner[]): void {
    const a = this.agg;
    a.miners++;
    a.byState[t.state]++;
    if (t.profile) a.byProfile[t.profile] = (a.byProfile[t.profile] ?? 0) + 1;
    a.hashrateThs += t.hashrateThs ?? 0;
    // Unknown draw is counted at nameplate (safety rule 5: unknown means worst case).
    if (t.powerW !== null && t.powerSource !== null && t.state !== 'offline' && t.state !== 'fault') {
      a.powerKw += t.powerW / 1000;
      a.powerKwBySource[t.powerSource] += t.powerW / 1000;
    } else {
      a.powerKw += target.nameplateW / 1000;
      a.powerKwBySource.nameplate += target.nameplateW / 1000;
    }
    for (const b of t.boards) {
      if (b.chipTempC === null) continue;
      this.#tempSum += b.chipTempC;
      this.#tempCount++;
      a.maxChipTempC = a.maxChipTempC === null ? b.chipTempC : Math.max(a.maxChipTempC, b.chipTempC);
    }
    a.meanChipTempC = this.#tempCount ? this.#tempSum / this.#tempCount : null;
    if (t.errors.length > 0 || t.state === 'fault' || t.state === 'offline') {
      a.degraded++;
      const reason = t.errors[0] ?? t.state;
      const key = reasonKey(reason);
      a.degradedReasons[key] = (a.degradedReasons[key] ?? 0) + 1;
      degraded.push({ fleet: target.fleet, host: target.host, port: target.port, state: t.state, reason });
    }
  }
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
}

export class FleetPoller {
  readonly #opts: PollerOptions;
  readonly #drivers = new Map<string, MinerDriver>();

  constructor(opts: PollerOptions) {
    this.#opts = opts;
  }

  #driverFor(t: PollTarget): MinerDriver {
    const key = `${t.driver}|${t.host}:${t.port}`;
    let d = this.#drivers.get(key);
    if (!d) {
      d = this.#opts.createDriver(t);
      this.#drivers.set(key, d);
    }
    return d;
  }

  /** Reads every target once. Never throws for a miner's failure. */
  async poll(
    farm: Farm,
    targets: readonly PollTarget[] = pollTargets(farm, this.#opts.mapHost),
  ): Promise<PollResult> {
    const now = this.#opts.now ?? (() => new Date());
    const startedAt = now();
    const t0 = performance.now();
    const fleets = new Map<string, FleetAccumulator>();
    for (const t of targets) if (!fleets.has(t.fleet)) fleets.set(t.fleet, new FleetAccumulator(t));
    const degraded: DegradedMiner[] = [];
    await forEachLimited(targets, this.#opts.concurrency ?? 256, async (target) => {
      let tel: MinerTelemetry;
      try {
        tel = await this.#driverFor(target).read({ detail: 'basic' });
      } catch (err) {
        tel = telemetryForError(target, err);
      }
      this.#opts.onTelemetry?.(target, tel);
      fleets.get(target.fleet)?.add(target, tel, degraded);
    });
    const fleetAggs = [...fleets.values()].map((f) => f.agg);
    return {
      startedAt,
      durationMs: performance.now() - t0,
      fleets: fleetAggs,
      nodes: aggregateByNode(farm, fleetAggs),
      degraded,
    };
  }

  /**
   * Sends one control to every target with bounded concurrency; returns the failures (host and
   * reason). Drivers make controls idempotent: a miner already in the state is left alone.
   */
  async act(
    targets: readonly PollTarget[],
    action: 'sleep' | 'wake',
  ): Promise<Array<{ host: string; reason: string }>> {
    const failures: Array<{ host: string; reason: string }> = [];
    await forEachLimited(targets, this.#opts.concurrency ?? 256, async (t) => {
      try {
        await this.#driverFor(t)[action]();
      } catch (e) {
        failures.push({
          host: t.host,
          reason: e instanceof MinerError ? `${e.code}: ${e.message}` : String(e),
        });
      }
    });
    return failures;
  }

  async close(): Promise<void> {
    const drivers = [...this.#drivers.values()];
    this.#drivers.clear();
    await Promise.allSettled(drivers.map((d) => d.close()));
  }
}

/** Rolls fleet aggregates up the power tree: a node carries every descendant's load. */
export function aggregateByNode(farm: Farm, fleets: readonly FleetAggregate[]): NodeAggregate[] {
  const out: NodeAggregate[] = [];
  for (const site of farm.sites) {
    const entries = walkPowerTree(site.spec.powerTree);
    const parentOf = new Map(entries.map((e) => [e.node.name, e.parent?.name]));
    const sums = new Map(
      entries.map((e) => [
        e.node.name,
        { node: e.node.name, site: site.metadata.name, powerKw: 0, hashrateThs: 0, miners: 0 },
      ]),
    );
    for (const f of fleets) {
      if (f.site !== site.metadata.name) continue;
      for (let n: string | undefined = f.feed; n !== undefined; n = parentOf.get(n)) {
        const s = sums.get(n);
        if (!s) break;
        s.powerKw += f.powerKw;
        s.hashrateThs += f.hashrateThs;
        s.miners += f.miners;
      }
    }
    out.push(...sums.values());
  }
  return out;
}

/** Total miners in a farm, for progress reporting. */
export function farmMinerCount(farm: Farm): number {
  return farm.fleets.reduce((n, f) => n + endpointCount(f.spec), 0);
}
