// A miner host simulates some fleets: it creates their SimMiners, starts each miner's protocol
// servers, samples the fleets' power once per sample interval of sim time, keeps its miners'
// change log, and answers the coordinator's requests (status, faults, controls, changes,
// ambient, zone load, clock). It runs inside
// the coordinator's process (workers: 0) or in a worker process (worker-main.ts).
import type { Farm, MinerFleet } from '@switchyard/domain';
import type { Logger } from '@switchyard/telemetry';
import { SimClock } from '../model/sim-clock.ts';
import { ThermalEnv } from '../model/environment.ts';
import { SimMiner } from '../model/sim-miner.ts';
import { ChangeLog, type ChangeQuery, type ChangeSlice } from '../model/change-log.ts';
import { EfficiencyCurve, DEFAULT_CREDENTIALS, thermalLimitsFor } from '../model/miner-specs.ts';
import { hashUnit } from '../model/prng.ts';
import type { SimMinerState } from '../model/sim-miner-api.ts';
import { minerIdentity, planFarm } from '../farm-plan.ts';
import { privilegedPortMap, protocolFor } from '../protocols/registry.ts';
import { FleetAggregate } from './fleet-aggregate.ts';
import type {
  ControlCommand,
  FaultCommand,
  FleetStatus,
  HostInit,
  HostOp,
  HostOps,
  HostReady,
  MinerDetail,
  MinerSelector,
  SampleBatch,
  SelectionResult,
} from './messages.ts';

/** Samples computed per timer tick at most; the rest follow on the next turn of the event loop. */
const MAX_SAMPLES_PER_TICK = 2000;
/** Miners whose servers start at once. */
const START_CONCURRENCY = 64;

export const zoneKey = (site: string, zone: string) => `${site}/${zone}`;

interface HostedFleet {
  fleet: MinerFleet;
  miners: SimMiner[];
  aggregate: FleetAggregate;
  env: ThermalEnv;
  served: boolean;
}

export class MinerHost {
  readonly init: HostInit;
  readonly clock: SimClock;
  readonly fleets: HostedFleet[] = [];
  readonly miners: SimMiner[] = [];
  /** Every effective change and no-op command of this host's miners (wall-clock times). */
  readonly changeLog: ChangeLog;
  readonly #byHost = new Map<string, SimMiner>();
  readonly #envs = new Map<string, ThermalEnv>();
  readonly #servers = new Map<SimMiner, { close(): Promise<void>; ports: number[] }>();
  readonly #logger: Logger | undefined;
  #nextT: number;
  #timer: NodeJS.Timeout | undefined;
  #catchUp: NodeJS.Immediate | undefined;
  #closed = false;
  /** Receives the power samples (set before startSampling). */
  onSamples: ((batch: SampleBatch) => void) | null = null;

  readonly #portMap: ((realPort: number) => number) | undefined;

  constructor(init: HostInit, logger?: Logger, portMap?: (realPort: number) => number) {
    this.init = init;
    this.#logger = logger;
    this.#portMap = portMap;
    this.clock = new SimClock({ params: init.clock });
    this.#nextT = init.firstSampleT;
    this.changeLog = new ChangeLog({ capacity: init.changeCapacity });
    const wanted = new Set(init.fleets);
    const planned = planFarm(subsetFarm(init.farm, wanted));
    for (const pf of planned) {
      const spec = pf.fleet.spec;
      const key = zoneKey(spec.site, spec.coolingZone);
      let env = this.#envs.get(key);
      if (!env) {
        env = new ThermalEnv(spec.site, spec.coolingZone, init.ambientC[spec.site] ?? 25);
        env.setZoneRise(init.zoneRiseC[key] ?? 0);
        this.#envs.set(key, env);
      }
      const credentials =
        init.credentials[pf.name] ?? init.credentials[spec.driver] ?? DEFAULT_CREDENTIALS[spec.driver];
      let curve: EfficiencyCurve | undefined;
      const limits = thermalLimitsFor(spec.model);
      const miners = pf.miners.map((pm) => {
        const identity = minerIdentity(pf.fleet, pm, init.seed);
        curve ??= new EfficiencyCurve(identity.profiles);
        const m = new SimMiner({
          identity,
          clock: this.clock,
          env: env as ThermalEnv,
          timing: init.timing,
          seed: init.seed,
          quirkRate: init.quirkRate,
          credentials,
          curve,
          limits,
          changes: this.changeLog,
          initial: { state: init.initialState, profile: init.initialProfile },
        });
        this.#byHost.set(identity.farmHost, m);
        this.#byHost.set(identity.simHost, m);
        return m;
      });
      this.miners.push(...miners);
      this.fleets.push({
        fleet: pf.fleet,
        miners,
        aggregate: new FleetAggregate(pf.name, miners, env),
        env,
        served: false,
      });
    }
    for (const f of init.faults) this.#applyFault(f);
  }

  miner(host: string): SimMiner | undefined {
    return this.#byHost.get(host);
  }

  // ---------------------------------------------------------------- sampling

  startSampling(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(this.#tick, this.#tickMs());
    this.#timer.unref();
    this.#tick();
  }

  #tickMs(): number {
    return Math.min(100, Math.max(10, this.init.sampleIntervalMs / this.clock.speed));
  }

  readonly #tick = (): void => {
    this.#catchUp = undefined;
    if (this.#closed) return;
    const now = this.clock.now();
    const step = this.init.sampleIntervalMs;
    const t0 = this.#nextT;
    const powerW: number[] = [];
    const hashrateThs: number[] = [];
    let count = 0;
    while (this.#nextT <= now && count < MAX_SAMPLES_PER_TICK) {
      for (const f of this.fleets) {
        const s = f.aggregate.sample(this.#nextT);
        powerW.push(s.powerW);
        hashrateThs.push(s.hashrateThs);
      }
      this.#nextT += step;
      count++;
    }
    if (count > 0) {
      this.onSamples?.({
        fleets: this.fleets.map((f) => f.fleet.metadata.name),
        t0,
        step,
        count,
        powerW,
        hashrateThs,
      });
    }
    if (this.#nextT <= now) this.#catchUp = setImmediate(this.#tick);
  };

  // ---------------------------------------------------------------- servers

  async startServers(): Promise<HostReady> {
    const started = performance.now();
    const unserved: string[] = [];
    const modules = this.init.protocolModules;
    if (modules !== null) {
      for (const m of modules) await import(m);
      const portMap = this.#portMap ?? privilegedPortMap(this.init.portOffset);
      const queue: SimMiner[] = [];
      for (const f of this.fleets) {
        if (protocolFor(f.fleet.spec.driver)) {
          f.served = true;
          queue.push(...f.miners);
        } else {
          unserved.push(f.fleet.metadata.name);
        }
      }
      if (unserved.length > 0)
        this.#logger?.warn(
          { fleets: unserved },
          'no protocol registered for these fleets; their miners have no servers',
        );
      await this.#startAll(queue, portMap);
    }
    let listeners = 0;
    for (const s of this.#servers.values()) listeners += s.ports.length;
    return {
      miners: this.miners.length,
      listeners,
      unserved,
      startMs: Math.round(performance.now() - started),
      pid: process.pid,
    };
  }

  async #startAll(queue: SimMiner[], portMap: (p: number) => number): Promise<void> {
    let next = 0;
    let failure: Error | undefined;
    const worker = async () => {
      while (!failure && !this.#closed && next < queue.length) {
        const m = queue[next++] as SimMiner;
        const start = protocolFor(m.id.driver);
        if (!start) continue;
        try {
          this.#servers.set(m, await start(m, { portMap }));
        } catch (e) {
          failure ??= serverError(m, e, this.init.portOffset);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(START_CONCURRENCY, queue.length) }, worker));
    if (failure) {
      await this.#closeServers();
      throw failure;
    }
  }

  async #closeServers(): Promise<void> {
    const all = [...this.#servers.values()];
    this.#servers.clear();
    for (let i = 0; i < all.length; i += 256) {
      await Promise.allSettled(all.slice(i, i + 256).map((s) => s.close()));
    }
  }

  // ---------------------------------------------------------------- requests

  readonly #ops: { [K in HostOp]: (args: HostOps[K]['req']) => HostOps[K]['res'] } = {
    status: (a) => this.status(a.fleet),
    miner: (a) => this.detail(a.host),
    faults: (a) => this.#applyFault(a.cmd),
    control: (a) => this.#control(a.cmd),
    changes: (a) => this.changes(a.query),
    ambient: (a) => this.#ambient(a),
    zones: (a) => this.#zones(a.rises),
    clock: (a) => this.#setClock(a),
  };

  async handle<K extends HostOp>(op: K, args: HostOps[K]['req']): Promise<HostOps[K]['res']> {
    const fn = this.#ops[op] as ((a: HostOps[K]['req']) => HostOps[K]['res']) | undefined;
    if (!fn) throw new Error(`unknown host operation "${String(op)}"`);
    return fn(args);
  }

  status(fleet?: string): FleetStatus[] {
    const t = this.clock.now();
    const out: FleetStatus[] = [];
    for (const f of this.fleets) {
      if (fleet !== undefined && f.fleet.metadata.name !== fleet) continue;
      const states: Record<SimMinerState, number> = {
        hashing: 0,
        sleeping: 0,
        ramping: 0,
        fault: 0,
        offline: 0,
      };
      const faults: FleetStatus['faults'] = {};
      let w = 0;
      let ths = 0;
      let throttled = 0;
      let listeners = 0;
      for (const m of f.miners) {
        const s = m.sample(t);
        states[s.state]++;
        w += s.powerW;
        ths += s.hashrateThs;
        if (s.throttle < 1 && (s.state === 'hashing' || s.state === 'ramping')) throttled++;
        if (m.fault) faults[m.fault] = (faults[m.fault] ?? 0) + 1;
        listeners += this.#servers.get(m)?.ports.length ?? 0;
      }
      const spec = f.fleet.spec;
      out.push({
        fleet: f.fleet.metadata.name,
        site: spec.site,
        feed: spec.feed,
        coolingZone: spec.coolingZone,
        driver: spec.driver,
        model: spec.model,
        miners: f.miners.length,
        states,
        faults,
        throttled,
        powerKw: round3(w / 1000),
        hashrateThs: round3(ths),
        listeners,
        served: f.served,
        inletC: Math.round(f.env.inletC * 10) / 10,
      });
    }
    return out;
  }

  detail(host: string): MinerDetail | null {
    const m = this.#byHost.get(host);
    if (!m) return null;
    return {
      identity: m.id,
      observation: m.observe(),
      fault: m.fault,
      ports: this.#servers.get(m)?.ports ?? [],
    };
  }

  /** This host's changes matching a query; `query.host` may be a farm or loopback address. */
  changes(query: ChangeQuery): ChangeSlice {
    if (query.host === undefined) return this.changeLog.query(query);
    const m = this.#byHost.get(query.host);
    return this.changeLog.query({ ...query, host: m ? m.id.farmHost : query.host });
  }

  /** The miners a selector picks, in host order. */
  select(sel: MinerSelector): SimMiner[] {
    let pool: SimMiner[];
    if (sel.hosts !== undefined) {
      const seen = new Set<SimMiner>();
      for (const h of sel.hosts) {
        const m = this.#byHost.get(h);
        if (m) seen.add(m);
      }
      pool = [...seen];
    } else {
      pool = this.miners;
    }
    if (sel.fleet !== undefined) pool = pool.filter((m) => m.id.fleet === sel.fleet);
    const fraction = sel.fraction;
    if (fraction !== undefined && fraction < 1) {
      const seed = this.init.seed;
      pool = pool.filter((m) => hashUnit(seed, `select|${m.id.farmHost}`) < fraction);
    }
    return pool;
  }

  #applyFault(cmd: FaultCommand): SelectionResult {
    const picked = this.select(cmd);
    for (const m of picked) m.setFault(cmd.fault);
    return selection(picked, cmd, []);
  }

  #control(cmd: ControlCommand): SelectionResult {
    const picked = this.select(cmd);
    const errors: SelectionResult['errors'] = [];
    for (const m of picked) {
      let err: string | null = null;
      switch (cmd.action) {
        case 'sleep':
          m.sleep('control');
          break;
        case 'wake':
          m.wake('control');
          break;
        case 'reboot':
          m.reboot('control');
          break;
        case 'profile':
          err = m.setProfile(cmd.profile ?? '', 'control');
          break;
        case 'power-target':
          err = m.setPowerTarget(cmd.watts ?? Number.NaN, 'control');
          break;
        case 'power-percent':
          err = m.setPowerPercent(cmd.percent ?? Number.NaN, 'control');
          break;
      }
      if (err !== null && errors.length < 20) errors.push({ host: m.id.farmHost, error: err });
    }
    return selection(picked, cmd, errors);
  }

  #ambient(a: { site: string; ambientC: number }): null {
    for (const env of this.#envs.values()) if (env.site === a.site) env.setAmbient(a.ambientC);
    return null;
  }

  #zones(rises: Record<string, number>): null {
    for (const [key, env] of this.#envs) {
      const r = rises[key];
      if (r !== undefined) env.setZoneRise(r);
    }
    return null;
  }

  #setClock(a: { params: HostInit['clock'] }): null {
    this.clock.setParams(a.params);
    if (this.#timer) {
      clearInterval(this.#timer);
      this.#timer = setInterval(this.#tick, this.#tickMs());
      this.#timer.unref();
    }
    return null;
  }

  // ---------------------------------------------------------------- shutdown

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#catchUp) clearImmediate(this.#catchUp);
    await this.#closeServers();
    for (const f of this.fleets) f.aggregate.detach();
  }
}

function selection(
  picked: SimMiner[],
  sel: MinerSelector,
  errors: SelectionResult['errors'],
): SelectionResult {
  const all = sel.hosts !== undefined;
  return {
    matched: picked.length,
    hosts: (all ? picked : picked.slice(0, 100)).map((m) => m.id.farmHost),
    errors,
  };
}

function subsetFarm(farm: Farm, fleets: Set<string>): Farm {
  return { ...farm, fleets: farm.fleets.filter((f) => fleets.has(f.metadata.name)) };
}

function serverError(m: SimMiner, e: unknown, portOffset: number): Error {
  const err = e as NodeJS.ErrnoException;
  let msg = `cannot start the ${m.id.driver} servers of ${m.id.farmHost} (${m.id.simHost}): ${err.message ?? String(e)}`;
  if (err.code === 'EACCES' && portOffset === 0)
    msg += '; ports below 1024 need root or CAP_NET_BIND_SERVICE: run with --port-offset 10000';
  if (err.code === 'EADDRINUSE') msg += '; is another simulator running on this farm?';
  if (err.code === 'EMFILE') msg += '; too many open files: use more --workers or raise ulimit -n';
  const out = new Error(msg, { cause: e });
  (out as NodeJS.ErrnoException).code = err.code;
  return out;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
