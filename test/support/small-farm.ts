// A small farm for integration and fault tests, its simulator, and BullMQ workers that drive it.
//
//   smallFarm({ block: '10.205', ... })   one site, a few fleets of a few miners, one PDU each
//   startSmallFarmSim(farm)               the simulator, in this process, on a free API port
//   startTestWorkers({ farmSim, ... })    device/confirm/plan workers wired to that simulator
//
// Every test file takes its own address block (the first two octets), so the simulator's
// 127.x listeners of files running in parallel never collide. Taken so far:
//   10.201 simulator lab farm · 10.204 queue device.batch · 10.205 worker service ·
//   10.206 controller service · 10.207 support self-test · 10.208 controller over-limit
import type { AllocationPolicySpec, Farm, MinerDriverName } from '@switchyard/domain';
import { parseFarmYaml } from '@switchyard/domain';
import { createMinerDriver, pollTargets, type MinerDriver } from '@switchyard/miners';
import {
  connectRedis,
  createDeviceBatchHandler,
  createPlanPhaseHandler,
  startWorkers,
  type DeviceCommandTarget,
  type EpochSource,
  type JobHandler,
  type JobHandlers,
  type QueueName,
  type RunningWorkers,
  type StartWorkersOptions,
} from '@switchyard/queue';
import {
  startSimulator,
  toSimHost,
  type RunningSimulator,
  type StartSimulatorOptions,
} from '@switchyard/simulator';
import { DEFAULT_CONFIRM_TOLERANCE } from '@switchyard/worker';
import { requireRedisUrl } from './redis.ts';
import { dropPrefix } from '../queue/support.ts';

// ---------------------------------------------------------------- the farm

export interface SmallFleet {
  /** Default: fleetPrefix + a, b, c, ... by position. */
  name?: string;
  /** Default: the farm's model (S19j Pro). */
  model?: string;
  /** Default: the farm's driver (luxos). */
  driver?: MinerDriverName;
  /** Miners in the fleet (default minersPerFleet), at most 254. */
  count?: number;
  /** The PDU it draws through (default pdu-1, pdu-2, ... round robin over the PDUs). */
  feed?: string;
}

export interface SmallFarmOptions {
  /** First two octets of every miner address, e.g. '10.205': fleet i gets <block>.i.1 onwards. */
  block: string;
  /** Site name (default "lab"). */
  site?: string;
  /** How many fleets (default 2), or each one spelled out. */
  fleets?: number | SmallFleet[];
  /** Miners per fleet unless a fleet says otherwise (default 3). */
  minersPerFleet?: number;
  /** Default "S19j Pro". */
  model?: string;
  /** Default "luxos". */
  driver?: MinerDriverName;
  /** Prefix of the default fleet names (default "f": fa, fb, ...). */
  fleetPrefix?: string;
  /** PDUs pdu-1..pdu-N under the site feed (default: one per fleet). */
  pdus?: number;
  /** Limit of every PDU (default 60 kW). */
  pduLimitKw?: number;
  /** Interconnect, site feed and cooling capacity (default 200 kW). */
  siteLimitKw?: number;
  /** Adds an AllocationPolicy for the site with these settings (none by default). */
  policy?: Partial<AllocationPolicySpec>;
}

const DEFAULT_MODEL = 'S19j Pro';
const DEFAULT_DRIVER: MinerDriverName = 'luxos';

/** The smallest CIDR prefix whose block holds count host addresses. */
function prefixFor(count: number): number {
  let prefix = 30;
  while (prefix > 24 && 2 ** (32 - prefix) - 2 < count) prefix--;
  return prefix;
}

/** The farm file of smallFarm(opts), for a `switchyard sim --farm FILE`. */
export function smallFarmYaml(opts: SmallFarmOptions): string {
  if (!/^\d{1,3}\.\d{1,3}$/.test(opts.block))
    throw new Error(`block must be the first two octets, e.g. "10.205" (got "${opts.block}")`);
  const site = opts.site ?? 'lab';
  const specs: SmallFleet[] =
    typeof opts.fleets === 'object' ? opts.fleets : Array.from({ length: opts.fleets ?? 2 }, () => ({}));
  if (specs.length < 1 || specs.length > 26) throw new Error('a small farm has 1 to 26 fleets');
  const pdus = opts.pdus ?? specs.length;
  const pduKw = opts.pduLimitKw ?? 60;
  const siteKw = opts.siteLimitKw ?? 200;
  const fleetDocs = specs.map((f, i) => {
    const count = f.count ?? opts.minersPerFleet ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > 254)
      throw new Error(`fleet ${i}: count must be 1 to 254 (got ${count})`);
    const name = f.name ?? `${opts.fleetPrefix ?? 'f'}${String.fromCharCode(97 + i)}`;
    const spec = {
      site,
      feed: f.feed ?? `pdu-${(i % pdus) + 1}`,
      coolingZone: 'hall',
      model: f.model ?? opts.model ?? DEFAULT_MODEL,
      driver: f.driver ?? opts.driver ?? DEFAULT_DRIVER,
      endpoints: { cidr: `${opts.block}.${i}.0/${prefixFor(count)}`, count },
    };
    return `---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: ${name} }
spec: ${JSON.stringify(spec)}
`;
  });
  const children = Array.from(
    { length: pdus },
    (_, i) => `      - { name: pdu-${i + 1}, limitKw: ${pduKw} }`,
  );
  const policy = opts.policy
    ? `---
apiVersion: switchyard.io/v1alpha1
kind: AllocationPolicy
metadata: { name: ${site}-policy }
spec: ${JSON.stringify({ ...opts.policy, site })}
`
    : '';
  return `apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: ${site} }
spec:
  interconnectKw: ${siteKw}
  marketNode: HB_WEST
  pue: 1.1
  powerTree:
    name: site
    limitKw: ${siteKw}
    children:
${children.join('\n')}
  coolingZones: [{ name: hall, capacityKw: ${siteKw} }]
${policy}${fleetDocs.join('')}`;
}

/**
 * One site ("lab"), a feed of siteLimitKw with pdus PDUs of pduLimitKw under it, one cooling
 * zone, and the fleets on the PDUs: by default two fleets (fa, fb) of three S19j Pro on LuxOS
 * at <block>.0.x and <block>.1.x, on pdu-1 and pdu-2. Validated like any farm file.
 */
export function smallFarm(opts: SmallFarmOptions): Farm {
  const r = parseFarmYaml(smallFarmYaml(opts));
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.document} ${i.path}: ${i.message}`).join('\n'));
  return r.farm;
}

// ---------------------------------------------------------------- the simulator

export type SmallFarmSimOptions = Omit<StartSimulatorOptions, 'farm' | 'farmFile'>;

export interface SmallFarmSim {
  sim: RunningSimulator;
  farm: Farm;
  /** Base URL of the simulator's HTTP API. */
  url: string;
  /** Added to miner ports below 1024. */
  portOffset: number;
  /** Farm address → the simulator's (10.b.c.d → 127.b.c.d). */
  mapHost(host: string): string;
  /** Farm port → the simulator's. */
  mapPort(port: number): number;
  /** A firmware driver aimed at the simulated miner (for createDeviceBatchHandler). */
  createDriver(target: DeviceCommandTarget, timeoutMs?: number): MinerDriver;
  /** The farm addresses and ports of a fleet's miners, in order. */
  targetsOf(fleet: string): Array<{ host: string; port: number }>;
  /** The latest simulated draw of a power-tree node (NaN before the first sample). */
  nodeKw(node: string): number;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * The simulator for a farm, in this process on a free API port, with test defaults: real-time
 * speed, no firmware quirks, a fixed seed, sleep in 1 s, wake in 2 s (all overridable).
 */
export async function startSmallFarmSim(farm: Farm, opts: SmallFarmSimOptions = {}): Promise<SmallFarmSim> {
  const sim = await startSimulator({
    workers: 0,
    httpPort: 0,
    speed: 1,
    sleepSeconds: 1,
    wakeSeconds: 2,
    quirkRate: 0,
    seed: 5,
    ...opts,
    farm,
  });
  const mapPort = (p: number) => (p < 1024 ? p + sim.portOffset : p);
  return {
    sim,
    farm,
    url: sim.url,
    portOffset: sim.portOffset,
    mapHost: toSimHost,
    mapPort,
    createDriver: (t, timeoutMs = 1500) =>
      createMinerDriver(t.driver, {
        host: toSimHost(t.host),
        port: mapPort(t.port),
        timeoutMs,
        credentials: t.credentials,
      }),
    targetsOf: (fleet) =>
      pollTargets(farm)
        .filter((t) => t.fleet === fleet)
        .map((t) => ({ host: t.host, port: t.port })),
    nodeKw: (node) =>
      sim.sim
        .power()
        .flatMap((s) => s.nodes)
        .find((n) => n.name === node)?.kw ?? NaN,
    close: () => sim.close(),
  };
}

/**
 * device.confirm from the simulator's ground truth: passes once its latest sample shows every
 * node at or below the expected load (with the worker's tolerance), fails after the job's timeout.
 */
export function confirmFromSimulator(farmSim: SmallFarmSim, pollMs = 200): JobHandler<'device.confirm'> {
  return async (p, ctx) => {
    const deadline = Date.now() + p.timeoutMs;
    for (;;) {
      const over = p.nodes.filter((n) => {
        const kw = farmSim.nodeKw(n);
        // The worker's own confirm allows 2 % over the expectation (the draw the planner counts
        // with and the firmware's differ by a few watts).
        return !(kw <= p.expectLoadAtMostKw * (1 + DEFAULT_CONFIRM_TOLERANCE) + 1e-6);
      });
      if (over.length === 0) return { status: 'confirmed', nodes: p.nodes };
      if (Date.now() > deadline || ctx.signal.aborted)
        throw new Error(`confirm timed out: ${over.join(', ')}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  };
}

// ---------------------------------------------------------------- workers

export interface TestWorkersOptions {
  farmSim: SmallFarmSim;
  /** The test's queue prefix (uniquePrefix()). */
  prefix: string;
  lease: EpochSource;
  /** Default ['device', 'confirm', 'plan']. */
  queues?: QueueName[];
  /**
   * Replace or add handlers. Defaults: device.batch drives the simulator's miners,
   * device.confirm reads the simulator's power tree, plan.phase is the real one.
   */
  handlers?: Partial<JobHandlers>;
  /** Default: REDIS_URL. */
  connection?: StartWorkersOptions['connection'];
  /** Per-request timeout of the device.batch drivers (default 1500 ms). */
  minerTimeoutMs?: number;
  concurrency?: StartWorkersOptions['concurrency'];
  workerOptions?: StartWorkersOptions['workerOptions'];
}

/** BullMQ workers in this process for the queues a controller cycle uses, aimed at the simulator. */
export function startTestWorkers(opts: TestWorkersOptions): Promise<RunningWorkers> {
  const { farmSim } = opts;
  const timeoutMs = opts.minerTimeoutMs ?? 1500;
  return startWorkers({
    connection: opts.connection ?? requireRedisUrl(),
    prefix: opts.prefix,
    lease: opts.lease,
    handleSignals: false,
    queues: opts.queues ?? ['device', 'confirm', 'plan'],
    ...(opts.concurrency !== undefined && { concurrency: opts.concurrency }),
    ...(opts.workerOptions && { workerOptions: opts.workerOptions }),
    handlers: {
      'device.batch': createDeviceBatchHandler({ createDriver: (t) => farmSim.createDriver(t, timeoutMs) }),
      'device.confirm': confirmFromSimulator(farmSim),
      'plan.phase': createPlanPhaseHandler(),
      ...opts.handlers,
    },
  });
}

// ---------------------------------------------------------------- controller tests

/** What a controller test against the small farm starts, closed in reverse by closeControllerTest. */
export interface ControllerTestParts {
  workers?: RunningWorkers | undefined;
  controller?: { close(): Promise<void> } | undefined;
  hub?: { close(): Promise<void> } | undefined;
  farmSim?: SmallFarmSim | undefined;
  prefix: string;
}

/**
 * The options every in-process controller test against the small farm shares: real Redis under
 * the test's prefix, the simulator's addresses, no timer (the test triggers cycles).
 */
export function smallFarmControllerOptions(farmSim: SmallFarmSim, prefix: string) {
  return {
    redisUrl: requireRedisUrl(),
    prefix,
    autoStart: false,
    leaseTtlMs: 5000,
    confirmTimeoutMs: 15_000,
    mapHost: farmSim.mapHost,
    mapPort: farmSim.mapPort,
  };
}

/** Stops workers, controller, signal hub and simulator, then drops the test's queue prefix. */
export async function closeControllerTest(parts: ControllerTestParts): Promise<void> {
  await parts.workers?.close({ force: true });
  await parts.controller?.close();
  await parts.hub?.close();
  await parts.farmSim?.close();
  const redis = await connectRedis(requireRedisUrl(), 'producer');
  await dropPrefix(redis, parts.prefix);
  redis.disconnect();
}
