// The farm simulator's coordinator. It owns the clock parameters, the GPU nodes, the power
// tree and its ground-truth log, the GPU nodes' change log, and the miner hosts (each keeps its
// miners' change log; changes() gathers them): one in this process (workers: 0) or one
// per worker process (workers ≥ 1, fleets split by listening sockets so that no process runs
// out of file descriptors). Hosts send each fleet's draw per sample time; once every host has
// reported a sample time the coordinator adds the GPU nodes, sums the tree and logs the sample.
import net from 'node:net';
import path from 'node:path';
import { fleetProfiles, type CoolingZone, type Farm } from '@switchyard/domain';
import type { Logger } from '@switchyard/telemetry';
import { SimClock, type ClockParams } from './model/sim-clock.ts';
import { DEFAULT_TIMING, type SimMinerTiming } from './model/sim-miner.ts';
import { SimGpuNode, type GpuMode, type SimGpuObservation } from './model/sim-gpu.ts';
import {
  ChangeLog,
  changeQueryLimit,
  DEFAULT_CHANGE_CAPACITY,
  mergeChangeSlices,
  toChangeReport,
  type ChangeQuery,
  type ChangeReport,
  type ChangeVia,
} from './model/change-log.ts';
import { deratedCapacityKw, zoneRiseC } from './model/environment.ts';
import type { SimMiner } from './model/sim-miner.ts';
import {
  fleetSleepW,
  partitionFleets,
  planFarm,
  SimulatorConfigError,
  type PlannedFleet,
} from './farm-plan.ts';
import { ChildHostHandle, LocalHostHandle, type HostHandle } from './host/host-handle.ts';
import { zoneKey } from './host/miner-host.ts';
import type {
  ControlCommand,
  Credentials,
  FaultCommand,
  FleetStatus,
  HostInit,
  HostReady,
  MinerDetail,
  MinerSelector,
  SampleBatch,
  SelectionResult,
} from './host/messages.ts';
import { PowerTree, round3, type PowerSample, type SiteTree } from './power/power-tree.ts';
import { PowerLog, type Violation, type ViolationSummary } from './power/power-log.ts';

export interface FarmSimulatorOptions {
  /** Simulated seconds per real second (default 1). */
  speed?: number;
  /** Sim time at start, ms since the epoch (default: the wall clock). */
  simStartMs?: number;
  /** Seconds for a sleeping miner's draw to fall to sleepW (default 3). */
  sleepSeconds?: number;
  /** Length of a wake ramp (default 60). */
  wakeSeconds?: number;
  /** Time offline during a reboot (default 45). */
  rebootSeconds?: number;
  /** Time to move between profiles or power targets (default 5). */
  retuneSeconds?: number;
  /** Time for a GPU node's draw to follow a mode change (default 10). */
  gpuTransitionSeconds?: number;
  /** Probability that a reply uses a firmware's broken-JSON variant (default 0.05). */
  quirkRate?: number;
  /** Ambient temperature (°C): one for every site, or per site name (default 25). */
  ambientC?: number | Record<string, number>;
  /** Seed for all per-miner noise and deterministic choices (default "switchyard"). */
  seed?: string | number;
  /**
   * Offset added to ports below 1024 (80 → 10080). Default 'auto': 0 when this process may bind
   * them, else 10000. (One number rather than a function, so worker processes apply it too.)
   */
  portOffset?: number | 'auto';
  /**
   * A port mapping function instead of portOffset, for miners hosted in this process only
   * (workers: 0): a function cannot be sent to a worker process.
   */
  portMap?: (realPort: number) => number;
  /** Faults applied at start. */
  faults?: FaultCommand[];
  /** Worker processes hosting the miners (default 2); 0 hosts them in this process. */
  workers?: number;
  /**
   * Protocol servers: true (default) imports src/protocols/index.ts; a list of absolute module
   * paths imports those instead (each registers its protocols on import); false runs no servers.
   */
  protocols?: boolean | string[];
  /** Sim ms between power samples (default 1000: 1 Hz of simulated time). */
  sampleIntervalMs?: number;
  /** JSON-lines file for the power log. */
  powerLog?: string | undefined;
  /** Samples kept in memory per site (default 3600). */
  historyLimit?: number;
  /** Violations kept in memory (default 100,000). */
  violationLimit?: number;
  /**
   * Device changes kept in memory farm-wide (default 200,000; no-op commands are kept apart, as
   * many again). Split between the miner hosts and the GPU nodes by their device counts, at
   * least 1000 each.
   */
  changeLimit?: number;
  /** Credentials the simulated firmware accepts, per fleet name or driver. */
  credentials?: Record<string, Credentials>;
  /** How miners start (default hashing, on "normal" or their top profile). */
  initialState?: 'hashing' | 'sleeping';
  initialProfile?: string;
  logger?: Logger;
  /** Log level of worker processes (default: the logger's level, else "warn"). */
  logLevel?: string;
}

export const DEFAULT_PORT_OFFSET = 10_000;

export interface PowerNodeView {
  name: string;
  type: string | null;
  parent: string | null;
  kw: number;
  limitKw: number;
  marginLimitKw: number;
  headroomKw: number;
  marginHeadroomKw: number;
  over: boolean;
  overMargin: boolean;
}

export interface SitePowerView {
  site: string;
  t: number;
  totalKw: number;
  /** Facility draw: totalKw × PUE (the tree itself is IT load before PUE). */
  facilityKw: number;
  interconnectKw: number;
  safetyMarginPct: number;
  pue: number;
  nodes: PowerNodeView[];
}

export interface FaultResult {
  matched: number;
  hosts: string[];
  unknownHosts: string[];
  errors: SelectionResult['errors'];
}

interface ZoneInfo {
  key: string;
  site: string;
  zone: CoolingZone;
  fleets: number[];
  pools: number[];
}

export class FarmSimulator {
  readonly farm: Farm;
  readonly clock: SimClock;
  readonly tree: PowerTree;
  readonly log: PowerLog;
  readonly gpus: SimGpuNode[] = [];
  readonly sampleIntervalMs: number;
  /** Mode changes of the GPU nodes (the miners' changes live in their hosts). */
  readonly gpuChanges: ChangeLog;
  readonly #opts: FarmSimulatorOptions;
  readonly #logger: Logger | undefined;
  readonly #planned: PlannedFleet[];
  readonly #fleetIndex: Map<string, number>;
  readonly #hostOfMiner = new Map<string, number>();
  readonly #hostOfFleet = new Map<string, number>();
  readonly #ambient = new Map<string, number>();
  readonly #zones: ZoneInfo[] = [];
  #zoneRise: Record<string, number> = {};
  #lastZoneBroadcast = 0;
  #hosts: HostHandle[] = [];
  #watermark: number[] = [];
  readonly #pending = new Map<number, { w: Float64Array; ths: Float64Array }>();
  #nextT = 0;
  #latestW: Float64Array;
  #latestThs: Float64Array;
  #lastPoolKw: Float64Array = new Float64Array(0);
  #timer: NodeJS.Timeout | undefined;
  readonly #listeners = new Set<(samples: PowerSample[]) => void>();
  readonly #failureListeners = new Set<(e: Error) => void>();
  #failure: Error | undefined;
  #started = false;
  #closing: Promise<void> | undefined;
  #ready: HostReady[] = [];
  #portOffset = 0;

  constructor(farm: Farm, opts: FarmSimulatorOptions = {}) {
    this.farm = farm;
    this.#opts = opts;
    this.#logger = opts.logger;
    this.#planned = planFarm(farm);
    this.clock = new SimClock({ speed: opts.speed ?? 1, simStartMs: opts.simStartMs });
    this.sampleIntervalMs = opts.sampleIntervalMs ?? 1000;
    if (!(this.sampleIntervalMs >= 10 && this.sampleIntervalMs <= 60_000))
      throw new SimulatorConfigError('sampleIntervalMs must be between 10 and 60000');
    this.tree = new PowerTree(farm);
    this.log = new PowerLog(this.tree, {
      historyLimit: opts.historyLimit,
      violationLimit: opts.violationLimit,
      file: opts.powerLog,
    });
    this.#fleetIndex = new Map(this.tree.fleetNames.map((n, i) => [n, i]));
    this.#latestW = new Float64Array(farm.fleets.length);
    this.#latestThs = new Float64Array(farm.fleets.length);
    for (const s of farm.sites) {
      const a = opts.ambientC;
      const c = typeof a === 'number' ? a : (a?.[s.metadata.name] ?? 25);
      this.#ambient.set(s.metadata.name, c);
      for (const z of s.spec.coolingZones) {
        this.#zones.push({
          key: zoneKey(s.metadata.name, z.name),
          site: s.metadata.name,
          zone: z,
          fleets: farm.fleets.flatMap((f, i) =>
            f.spec.site === s.metadata.name && f.spec.coolingZone === z.name ? [i] : [],
          ),
          pools: farm.pools.flatMap((p, i) =>
            p.spec.site === s.metadata.name && p.spec.coolingZone === z.name ? [i] : [],
          ),
        });
      }
    }
    for (const p of farm.pools) {
      for (let i = 0; i < p.spec.nodes; i++)
        this.gpus.push(new SimGpuNode(p, i, this.clock, opts.gpuTransitionSeconds ?? 10));
    }
    this.gpuChanges = new ChangeLog({ capacity: this.#changeShare(this.gpus.length) });
  }

  /** A host's (or the GPU nodes') share of changeLimit, by device count. */
  #changeShare(devices: number): number {
    const limit = this.#opts.changeLimit ?? DEFAULT_CHANGE_CAPACITY;
    if (!(Number.isInteger(limit) && limit >= 1000 && limit <= 10_000_000))
      throw new SimulatorConfigError('changeLimit must be an integer between 1000 and 10000000');
    const all = this.minerCount + this.gpus.length;
    return Math.max(1000, Math.ceil((limit * devices) / Math.max(1, all)));
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.#started) throw new Error('the simulator is already started');
    this.#started = true;
    try {
      await this.#start();
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** Absolute paths of the modules that register protocol servers; null: no servers. */
  #protocolModules(): string[] | null {
    const protocols = this.#opts.protocols ?? true;
    if (protocols === false) return null;
    if (protocols === true) return [path.join(import.meta.dirname, 'protocols', 'index.ts')];
    return protocols.map((p) => path.resolve(p));
  }

  async #resolvePortOffset(serving: boolean): Promise<number> {
    const po = this.#opts.portOffset ?? 'auto';
    if (po !== 'auto') {
      if (!(Number.isInteger(po) && po >= 0 && po <= 64_511))
        throw new SimulatorConfigError(
          `portOffset must be an integer between 0 and 64511, got ${String(po)}`,
        );
      return po;
    }
    if (!serving || this.#opts.portMap || !(await cannotBindPrivileged())) return 0;
    this.#logger?.warn(
      { portOffset: DEFAULT_PORT_OFFSET },
      'cannot bind ports below 1024: serving them at port + offset',
    );
    return DEFAULT_PORT_OFFSET;
  }

  async #start(): Promise<void> {
    const opts = this.#opts;
    const protocolModules = this.#protocolModules();
    this.#portOffset = await this.#resolvePortOffset(protocolModules !== null);

    const step = this.sampleIntervalMs;
    this.#nextT = Math.ceil(this.clock.now() / step) * step;
    this.#zoneRise = this.#initialZoneRise();
    const ambientC = Object.fromEntries(this.#ambient);
    const timing: SimMinerTiming = {
      sleepSeconds: opts.sleepSeconds ?? DEFAULT_TIMING.sleepSeconds,
      wakeSeconds: opts.wakeSeconds ?? DEFAULT_TIMING.wakeSeconds,
      rebootSeconds: opts.rebootSeconds ?? DEFAULT_TIMING.rebootSeconds,
      retuneSeconds: opts.retuneSeconds ?? DEFAULT_TIMING.retuneSeconds,
    };
    const base: Omit<HostInit, 'fleets'> = {
      farm: this.farm,
      clock: this.clock.params(),
      firstSampleT: this.#nextT,
      sampleIntervalMs: step,
      seed: opts.seed ?? 'switchyard',
      quirkRate: opts.quirkRate ?? 0.05,
      timing,
      ambientC,
      zoneRiseC: this.#zoneRise,
      credentials: opts.credentials ?? {},
      portOffset: this.#portOffset,
      protocolModules,
      initialState: opts.initialState ?? 'hashing',
      initialProfile: opts.initialProfile,
      faults: opts.faults ?? [],
      logLevel: opts.logLevel ?? this.#logger?.level ?? 'warn',
      changeCapacity: 0,
    };
    const workers = Math.max(0, Math.floor(opts.workers ?? 2));
    if (opts.portMap && workers > 0)
      throw new SimulatorConfigError('portMap cannot reach worker processes: use portOffset, or workers: 0');
    const groups: PlannedFleet[][] =
      this.#planned.length === 0
        ? []
        : workers === 0
          ? [this.#planned]
          : partitionFleets(this.#planned, workers);
    this.#hosts = groups.map((g, i) => {
      const init: HostInit = {
        ...base,
        fleets: g.map((f) => f.name),
        changeCapacity: this.#changeShare(g.reduce((n, f) => n + f.miners.length, 0)),
      };
      return workers === 0
        ? new LocalHostHandle(init, this.#logger, opts.portMap)
        : new ChildHostHandle(init, i, this.#logger);
    });
    groups.forEach((g, hi) => {
      for (const f of g) {
        this.#hostOfFleet.set(f.name, hi);
        for (const m of f.miners) {
          this.#hostOfMiner.set(m.farmHost, hi);
          this.#hostOfMiner.set(m.simHost, hi);
        }
      }
    });
    this.#watermark = this.#hosts.map(() => -Infinity);
    this.#hosts.forEach((h, hi) => {
      h.onSamples = (b) => this.#onBatch(hi, b);
      h.onExit = (e) => this.#fail(e);
    });
    this.log.writeHeader({
      startedAt: this.#nextT,
      speed: this.clock.speed,
      sampleIntervalMs: step,
      ambientC,
      fleets: this.#planned.map((f) => ({
        name: f.name,
        site: f.site,
        feed: f.fleet.spec.feed,
        miners: f.miners.length,
      })),
      pools: this.farm.pools.map((p) => ({
        name: p.metadata.name,
        site: p.spec.site,
        feed: p.spec.feed,
        nodes: p.spec.nodes,
      })),
    });
    this.#timer = setInterval(() => this.#flush(), 50);
    this.#timer.unref();
    this.#ready = await Promise.all(this.#hosts.map((h) => h.start()));
  }

  /** Closes every host (and worker process), every socket and the power log. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      const results = await Promise.allSettled(this.#hosts.map((h) => h.close()));
      await this.log
        .close()
        .catch((e: unknown) => this.#logger?.warn({ err: e }, 'cannot close the power log'));
      for (const r of results)
        if (r.status === 'rejected') this.#logger?.warn({ err: r.reason }, 'error closing a miner host');
    })();
    return this.#closing;
  }

  get portOffset(): number {
    return this.#portOffset;
  }

  /** Miners, listening sockets and start time per host (after start()). */
  get hosts(): ReadonlyArray<HostReady & { label: string; fleets: readonly string[] }> {
    return this.#ready.map((r, i) => ({
      ...r,
      label: this.#hosts[i]?.label ?? '',
      fleets: this.#hosts[i]?.fleets ?? [],
    }));
  }

  get minerCount(): number {
    return this.#planned.reduce((n, f) => n + f.miners.length, 0);
  }

  /** Why the simulator stopped working (a worker died), if it did. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  onFailure(listener: (e: Error) => void): () => void {
    this.#failureListeners.add(listener);
    return () => this.#failureListeners.delete(listener);
  }

  /** The SimMiners, when they live in this process (workers: 0); empty otherwise. */
  miners(): SimMiner[] {
    const h = this.#hosts[0];
    return h instanceof LocalHostHandle ? h.host.miners : [];
  }

  // ---------------------------------------------------------------- samples

  /** Called with each site's sample as soon as every host has reported its time. */
  onSample(listener: (samples: PowerSample[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves with the first samples at or after sim time t (default: now). */
  waitForSample(t: number = this.clock.now(), timeoutMs = 30_000): Promise<PowerSample[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no power sample at or after ${t} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onSample((s) => {
        if ((s[0]?.t ?? Infinity) >= t) {
          clearTimeout(timer);
          off();
          resolve(s);
        }
      });
    });
  }

  #onBatch(hi: number, b: SampleBatch): void {
    const idx = b.fleets.map((n) => this.#fleetIndex.get(n) ?? -1);
    const F = b.fleets.length;
    const nF = this.tree.fleetNames.length;
    for (let k = 0; k < b.count; k++) {
      const t = b.t0 + k * b.step;
      if (t < this.#nextT) continue;
      let e = this.#pending.get(t);
      if (!e) {
        e = { w: new Float64Array(nF), ths: new Float64Array(nF) };
        this.#pending.set(t, e);
      }
      for (let j = 0; j < F; j++) {
        const gi = idx[j] as number;
        if (gi < 0) continue;
        e.w[gi] = b.powerW[k * F + j] as number;
        e.ths[gi] = b.hashrateThs[k * F + j] as number;
      }
    }
    if (b.count > 0) this.#watermark[hi] = b.t0 + (b.count - 1) * b.step;
    this.#flush();
  }

  #flush(): void {
    if (this.#closing) return;
    const upTo = this.#hosts.length === 0 ? this.clock.now() : Math.min(...this.#watermark);
    const step = this.sampleIntervalMs;
    let emitted = false;
    while (this.#nextT <= upTo) {
      const t = this.#nextT;
      const e = this.#pending.get(t);
      this.#pending.delete(t);
      const w = e?.w ?? new Float64Array(this.tree.fleetNames.length);
      const poolKw = this.#poolKw(t);
      const samples = this.tree.compute(t, w, poolKw);
      this.log.record(samples);
      this.#latestW = w;
      if (e) this.#latestThs = e.ths;
      this.#lastPoolKw = poolKw;
      for (const l of this.#listeners) l(samples);
      this.#nextT += step;
      emitted = true;
    }
    if (emitted) this.#maybeBroadcastZones();
  }

  #poolKw(t: number): Float64Array {
    const out = new Float64Array(this.farm.pools.length);
    const idx = new Map(this.farm.pools.map((p, i) => [p.metadata.name, i]));
    for (const g of this.gpus) {
      const i = idx.get(g.pool.metadata.name) as number;
      out[i] = (out[i] as number) + g.powerKwAt(t);
    }
    return out;
  }

  // ---------------------------------------------------------------- thermal coupling

  #initialZoneRise(): Record<string, number> {
    const fleetW = new Float64Array(this.farm.fleets.length);
    this.farm.fleets.forEach((f, i) => {
      const n = this.#planned[i]?.miners.length ?? 0;
      const profiles = fleetProfiles(f);
      const p =
        profiles.find((x) => x.name === this.#opts.initialProfile) ??
        profiles.find((x) => x.name === 'normal') ??
        profiles[profiles.length - 1];
      fleetW[i] =
        n * ((this.#opts.initialState ?? 'hashing') === 'sleeping' ? fleetSleepW(f) : (p?.powerW ?? 0));
    });
    return this.#zoneRises(fleetW, this.#poolKw(this.clock.now()));
  }

  #zoneRises(fleetW: ArrayLike<number>, poolKw: ArrayLike<number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const z of this.#zones) {
      let kw = 0;
      for (const i of z.fleets) kw += (fleetW[i] ?? 0) / 1000;
      for (const i of z.pools) kw += poolKw[i] ?? 0;
      out[z.key] = zoneRiseC(kw, deratedCapacityKw(z.zone, this.#ambient.get(z.site) ?? 25));
    }
    return out;
  }

  #maybeBroadcastZones(force = false): void {
    const now = performance.now();
    if (!force && now - this.#lastZoneBroadcast < 250) return;
    this.#lastZoneBroadcast = now;
    const rises = this.#zoneRises(this.#latestW, this.#lastPoolKw);
    const changed = Object.keys(rises).some((k) => rises[k] !== this.#zoneRise[k]);
    if (!changed) return;
    this.#zoneRise = rises;
    for (const h of this.#hosts)
      h.request('zones', { rises }).catch((e: unknown) =>
        this.#logger?.warn({ err: e }, 'cannot update zone loads'),
      );
  }

  // ---------------------------------------------------------------- views

  /** The latest sample of every site: each node's draw, limits and headroom. */
  power(): SitePowerView[] {
    return this.tree.sites.map((st, si) => {
      const s = this.log.latest(si);
      const nodes = st.nodes.map((n, i) => {
        const kw = round3(s?.kw[i] ?? 0);
        return {
          name: n.name,
          type: n.type,
          parent: n.parent,
          kw,
          limitKw: n.limitKw,
          marginLimitKw: n.marginLimitKw,
          headroomKw: round3(n.limitKw - kw),
          marginHeadroomKw: round3(n.marginLimitKw - kw),
          over: kw > n.limitKw,
          overMargin: kw > n.marginLimitKw,
        };
      });
      const total = nodes[0]?.kw ?? 0;
      return {
        site: st.site,
        t: s?.t ?? 0,
        totalKw: total,
        facilityKw: round3(total * st.pue),
        interconnectKw: st.interconnectKw,
        safetyMarginPct: st.safetyMarginPct,
        pue: st.pue,
        nodes,
      };
    });
  }

  /** A node's recent samples; a string explains why the query is invalid. */
  powerHistory(q: {
    site?: string | undefined;
    node: string;
    since?: number | undefined;
    limit?: number | undefined;
  }):
    | {
        site: string;
        node: string;
        limitKw: number;
        marginLimitKw: number;
        samples: Array<{ t: number; kw: number }>;
      }
    | string {
    const candidates = this.tree.sites
      .map((st, si) => ({ st, si, ni: st.index.get(q.node) }))
      .filter((c) => c.ni !== undefined && (q.site === undefined || c.st.site === q.site));
    if (candidates.length === 0) return `no power-tree node "${q.node}"${q.site ? ` in site ${q.site}` : ''}`;
    if (candidates.length > 1) return `node "${q.node}" exists in several sites: give site`;
    const c = candidates[0] as { st: SiteTree; si: number; ni: number };
    const n = c.st.nodes[c.ni] as { limitKw: number; marginLimitKw: number };
    return {
      site: c.st.site,
      node: q.node,
      limitKw: n.limitKw,
      marginLimitKw: n.marginLimitKw,
      samples: this.log.history(c.si, c.ni, q.since, Math.min(q.limit ?? 600, 3600)),
    };
  }

  violations(
    q: {
      kind?: 'limit' | 'margin' | undefined;
      since?: number | undefined;
      node?: string | undefined;
      limit?: number | undefined;
    } = {},
  ): {
    violations: Violation[];
    summary: ViolationSummary[];
    kept: number;
    dropped: number;
  } {
    const limit = Math.min(q.limit ?? 1000, 10_000);
    return { violations: this.log.violations({ ...q, limit }), ...this.log.violationSummary() };
  }

  async fleetStatus(fleet?: string): Promise<FleetStatus[]> {
    if (fleet !== undefined) {
      const hi = this.#hostOfFleet.get(fleet);
      if (hi === undefined) return [];
      return (this.#hosts[hi] as HostHandle).request('status', { fleet });
    }
    const all = await Promise.all(this.#hosts.map((h) => h.request('status', {})));
    const order = new Map(this.tree.fleetNames.map((n, i) => [n, i]));
    return all.flat().sort((a, b) => (order.get(a.fleet) ?? 0) - (order.get(b.fleet) ?? 0));
  }

  /** One miner's identity, observation, fault and ports, by farm or loopback address. */
  async minerDetail(host: string): Promise<MinerDetail | null> {
    const hi = this.#hostOfMiner.get(host);
    if (hi === undefined) return null;
    return (this.#hosts[hi] as HostHandle).request('miner', { host });
  }

  /** Fleets the hosts report per sample: latest draw (kW) and hashrate per fleet. */
  latestFleets(): Array<{ fleet: string; powerKw: number; hashrateThs: number }> {
    return this.tree.fleetNames.map((fleet, i) => ({
      fleet,
      powerKw: round3((this.#latestW[i] ?? 0) / 1000),
      hashrateThs: round3(this.#latestThs[i] ?? 0),
    }));
  }

  // ---------------------------------------------------------------- commands

  /** Sets (or with fault null clears) a fault on the selected miners. */
  async applyFaults(cmd: FaultCommand): Promise<FaultResult> {
    const r = await this.#dispatch('faults', cmd);
    this.log.writeEvent(this.clock.now(), 'faults', { ...cmd, matched: r.matched });
    return r;
  }

  /** Operates the selected miners directly (sleep, wake, reboot, profile, power target/percent). */
  async control(cmd: ControlCommand): Promise<FaultResult> {
    const r = await this.#dispatch('control', cmd);
    this.log.writeEvent(this.clock.now(), 'control', { ...cmd, matched: r.matched });
    return r;
  }

  async #dispatch(op: 'faults' | 'control', cmd: FaultCommand | ControlCommand): Promise<FaultResult> {
    const problem = this.checkSelector(cmd);
    if (problem) throw new SimulatorConfigError(problem);
    let targets: number[];
    if (cmd.hosts !== undefined)
      targets = [...new Set(cmd.hosts.flatMap((h) => this.#hostOfMiner.get(h) ?? []))];
    else if (cmd.fleet !== undefined) targets = [this.#hostOfFleet.get(cmd.fleet) as number];
    else targets = this.#hosts.map((_h, i) => i);
    const results = await Promise.all(
      targets.map((i) => {
        const h = this.#hosts[i] as HostHandle;
        return op === 'faults'
          ? h.request('faults', { cmd: cmd as FaultCommand })
          : h.request('control', { cmd: cmd as ControlCommand });
      }),
    );
    const hosts = results.flatMap((r) => r.hosts);
    return {
      matched: results.reduce((n, r) => n + r.matched, 0),
      hosts: hosts.slice(0, cmd.hosts !== undefined ? 10_000 : 100),
      unknownHosts: (cmd.hosts ?? []).filter((h) => !this.#hostOfMiner.has(h)),
      errors: results.flatMap((r) => r.errors).slice(0, 20),
    };
  }

  /** Why a selector is invalid, or null. */
  checkSelector(sel: MinerSelector): string | null {
    if (sel.fleet !== undefined && !this.#hostOfFleet.has(sel.fleet))
      return `no MinerFleet "${sel.fleet}" (fleets: ${this.tree.fleetNames.join(', ')})`;
    if (sel.fraction !== undefined && !(sel.fraction >= 0 && sel.fraction <= 1))
      return 'fraction must be between 0 and 1';
    return null;
  }

  ambient(): Record<string, number> {
    return Object.fromEntries(this.#ambient);
  }

  async setAmbient(site: string, ambientC: number): Promise<void> {
    if (!this.#ambient.has(site)) throw new SimulatorConfigError(`no Site "${site}"`);
    if (!(Number.isFinite(ambientC) && ambientC >= -50 && ambientC <= 70))
      throw new SimulatorConfigError('ambientC must be between -50 and 70');
    this.#ambient.set(site, ambientC);
    await Promise.all(this.#hosts.map((h) => h.request('ambient', { site, ambientC })));
    this.log.writeEvent(this.clock.now(), 'ambient', { site, ambientC });
    this.#maybeBroadcastZones(true);
  }

  gpuNodes(pool?: string): SimGpuObservation[] {
    const t = this.clock.now();
    return this.gpus
      .filter((g) => pool === undefined || g.pool.metadata.name === pool)
      .map((g) => g.observe(t));
  }

  /**
   * Sets a GPU node's mode; returns an error message (unknown node, mode not allowed) or null.
   * A mode that changes is recorded in the change log as `gpu-mode` (the same mode as a no-op);
   * `via` defaults to 'protocol' because POST /sim/gpu/{pool}/{node}/mode is how the cluster's
   * simulator driver reaches GPU nodes.
   */
  setGpuMode(pool: string, node: string, mode: GpuMode, via: ChangeVia = 'protocol'): string | null {
    const g = this.gpus.find((x) => x.pool.metadata.name === pool && x.name === node);
    if (!g) return `no GPU node "${node}" in GpuPool "${pool}"`;
    const before = g.mode;
    const err = g.setMode(mode);
    if (err) return err;
    if (g.mode !== before) {
      this.gpuChanges.record(g.name, 'gpu-mode', via);
      this.log.writeEvent(this.clock.now(), 'gpu-mode', { pool, node, mode });
    } else {
      this.gpuChanges.noop(g.name, 'gpu-mode', via);
    }
    return null;
  }

  /** True when host is a miner's farm or loopback address, or a GPU node's name. */
  hasDevice(host: string): boolean {
    return this.#hostOfMiner.has(host) || this.gpus.some((g) => g.name === host);
  }

  /**
   * The ground-truth log of device changes, gathered from every miner host and the GPU nodes:
   * the effective changes at or after `sinceMs` (wall-clock ms, Date.now()), counts per kind,
   * no-op commands per kind, the first and last change, and each device's changes (the earliest
   * `limit`, default 20,000, at most 200,000). `host` narrows it to one miner (farm or loopback
   * address) or GPU node (an unknown one matches nothing); `via` to one way in.
   */
  async changes(q: ChangeQuery = {}): Promise<ChangeReport> {
    const query: ChangeQuery = { ...q, limit: changeQueryLimit(q.limit) };
    let hosts: number[];
    let gpus = true;
    if (q.host !== undefined) {
      const hi = this.#hostOfMiner.get(q.host);
      hosts = hi === undefined ? [] : [hi];
      gpus = hi === undefined;
    } else {
      hosts = this.#hosts.map((_h, i) => i);
    }
    const slices = await Promise.all(
      hosts.map((i) => (this.#hosts[i] as HostHandle).request('changes', { query })),
    );
    if (gpus) slices.push(this.gpuChanges.query(query));
    return toChangeReport(mergeChangeSlices(slices, query.limit));
  }

  async setSpeed(speed: number): Promise<ClockParams> {
    const params = this.clock.setSpeed(speed);
    await Promise.all(this.#hosts.map((h) => h.request('clock', { params })));
    this.log.writeEvent(this.clock.now(), 'speed', { speed });
    return params;
  }

  #fail(e: Error): void {
    if (this.#failure || this.#closing) return;
    this.#failure = e;
    this.#logger?.error({ err: e }, 'a simulator worker died; the power log stops here');
    for (const l of this.#failureListeners) l(e);
  }
}

/** True when binding a port below 1024 fails with EACCES (unprivileged, no capability). */
export async function cannotBindPrivileged(): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EACCES'));
    srv.listen({ host: '127.255.255.253', port: 1023, exclusive: true }, () =>
      srv.close(() => resolve(false)),
    );
  });
}
