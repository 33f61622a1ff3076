// What the coordinator (FarmSimulator) and a miner host (in process, or a worker process) say
// to each other. Everything here is plain data, so it crosses process boundaries unchanged.
import type { Farm, MinerDriverName } from '@switchyard/domain';
import type { ClockParams } from '../model/sim-clock.ts';
import type { SimFault, SimMinerIdentity, SimMinerState, SimObservation } from '../model/sim-miner-api.ts';
import type { SimMinerTiming } from '../model/sim-miner.ts';
import type { ChangeQuery, ChangeSlice } from '../model/change-log.ts';

/** Every SimFault, for validating input. */
export const SIM_FAULTS = [
  'timeout',
  'refuse',
  'garbage',
  'truncate',
  'slow-drip',
  'oversized',
  'stuck-ramp',
  'ignore-commands',
  'reboot',
] as const satisfies readonly SimFault[];

/** Which miners a command applies to: all of a fleet (or the farm), listed hosts, a fraction. */
export interface MinerSelector {
  fleet?: string | undefined;
  /** Farm addresses (10.11.0.7) or their loopback addresses (127.11.0.7). */
  hosts?: string[] | undefined;
  /** Keep this fraction (0-1) of the selected miners: a deterministic choice per seed and address. */
  fraction?: number | undefined;
}

export interface FaultCommand extends MinerSelector {
  fault: SimFault | null;
}

export const CONTROL_ACTIONS = [
  'sleep',
  'wake',
  'reboot',
  'profile',
  'power-target',
  'power-percent',
] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

export interface ControlCommand extends MinerSelector {
  action: ControlAction;
  profile?: string | undefined;
  watts?: number | undefined;
  percent?: number | undefined;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface HostInit {
  farm: Farm;
  /** Fleets this host simulates. */
  fleets: string[];
  clock: ClockParams;
  /** Sim time of the first power sample, and the sample interval (sim ms). */
  firstSampleT: number;
  sampleIntervalMs: number;
  seed: string | number;
  quirkRate: number;
  timing: SimMinerTiming;
  /** Ambient per site (°C). */
  ambientC: Record<string, number>;
  /** Hall rise per cooling zone ("site/zone" → °C). */
  zoneRiseC: Record<string, number>;
  /** Credentials per fleet name or driver (fleet wins). */
  credentials: Record<string, Credentials>;
  /** Added to ports below 1024 (0 when the process may bind them). */
  portOffset: number;
  /** Modules that register protocol servers (absolute paths); null: run without servers. */
  protocolModules: string[] | null;
  initialState: 'hashing' | 'sleeping';
  initialProfile?: string | undefined;
  faults: FaultCommand[];
  logLevel: string;
  /** Changes (and, separately, no-ops) the host's change log keeps in memory. */
  changeCapacity: number;
}

export interface HostReady {
  miners: number;
  listeners: number;
  /** Fleets whose driver has no registered protocol (their miners run without servers). */
  unserved: string[];
  startMs: number;
  pid: number;
}

/** Power samples of the host's fleets: value of fleet j at sample k is at [k × fleets.length + j]. */
export interface SampleBatch {
  fleets: string[];
  t0: number;
  step: number;
  count: number;
  powerW: number[];
  hashrateThs: number[];
}

export interface FleetStatus {
  fleet: string;
  site: string;
  feed: string;
  coolingZone: string;
  driver: MinerDriverName;
  model: string;
  miners: number;
  states: Record<SimMinerState, number>;
  /** Miners with each fault set. */
  faults: Partial<Record<SimFault, number>>;
  throttled: number;
  powerKw: number;
  hashrateThs: number;
  listeners: number;
  served: boolean;
  inletC: number;
}

export interface MinerDetail {
  identity: SimMinerIdentity;
  observation: SimObservation;
  fault: SimFault | null;
  ports: number[];
}

export interface SelectionResult {
  matched: number;
  /** Matched farm addresses (all of them when the selector listed hosts, else at most 100). */
  hosts: string[];
  /** Control errors (e.g. unknown profile), at most 20. */
  errors: Array<{ host: string; error: string }>;
}

/** Request and response of every operation a host supports. */
export interface HostOps {
  status: { req: { fleet?: string | undefined }; res: FleetStatus[] };
  miner: { req: { host: string }; res: MinerDetail | null };
  faults: { req: { cmd: FaultCommand }; res: SelectionResult };
  control: { req: { cmd: ControlCommand }; res: SelectionResult };
  changes: { req: { query: ChangeQuery }; res: ChangeSlice };
  ambient: { req: { site: string; ambientC: number }; res: null };
  zones: { req: { rises: Record<string, number> }; res: null };
  clock: { req: { params: ClockParams }; res: null };
}
export type HostOp = keyof HostOps;

export type ParentMessage =
  | { kind: 'init'; init: HostInit }
  | { kind: 'req'; id: number; op: HostOp; args: unknown }
  | { kind: 'close' };

export type ChildMessage =
  | { kind: 'ready'; ready: HostReady }
  | { kind: 'fatal'; message: string }
  | { kind: 'res'; id: number; ok: true; value: unknown }
  | { kind: 'res'; id: number; ok: false; error: string }
  | { kind: 'samples'; batch: SampleBatch }
  | { kind: 'closed' };
