// @switchyard/simulator: a farm of simulated ASICs and GPU nodes with a ground-truth power log.
export {
  SimClock,
  sleepSim,
  monotonicWallClock,
  type ClockParams,
  type RealTimeSource,
} from './model/sim-clock.ts';
export {
  SimMiner,
  DEFAULT_TIMING,
  type SimMinerInit,
  type SimMinerTiming,
  type MinerSample,
} from './model/sim-miner.ts';
export {
  ChangeLog,
  CHANGE_KINDS,
  CHANGE_VIAS,
  DEFAULT_CHANGE_CAPACITY,
  DEFAULT_CHANGE_QUERY_LIMIT,
  MAX_CHANGE_QUERY_LIMIT,
  mergeChangeSlices,
  toChangeReport,
  type ChangeKind,
  type ChangeVia,
  type ChangeEntry,
  type ChangeQuery,
  type ChangeSlice,
  type ChangeReport,
  type ChangeLogOptions,
} from './model/change-log.ts';
export { SimGpuNode, GPU_MODES, gpuNodeName, type GpuMode, type SimGpuObservation } from './model/sim-gpu.ts';
export { ThermalEnv, deratedCapacityKw, zoneRiseC } from './model/environment.ts';
export {
  EfficiencyCurve,
  thermalLimitsFor,
  chipsPerBoard,
  powerTargetBounds,
  DEFAULT_CREDENTIALS,
  FIRMWARE_VERSIONS,
  type ThermalLimits,
} from './model/miner-specs.ts';
export type * from './model/sim-miner-api.ts';
export {
  toSimHost,
  planFarm,
  minerIdentity,
  partitionFleets,
  fleetSleepW,
  SimulatorConfigError,
  type PlannedFleet,
  type PlannedMiner,
} from './farm-plan.ts';
export {
  FarmSimulator,
  cannotBindPrivileged,
  DEFAULT_PORT_OFFSET,
  type FarmSimulatorOptions,
  type FaultResult,
  type SitePowerView,
  type PowerNodeView,
} from './farm-sim.ts';
export {
  SIM_FAULTS,
  CONTROL_ACTIONS,
  type FaultCommand,
  type ControlCommand,
  type ControlAction,
  type MinerSelector,
  type FleetStatus,
  type MinerDetail,
  type Credentials,
} from './host/messages.ts';
export { PowerTree, type PowerSample, type SiteTree, type TreeNodeInfo } from './power/power-tree.ts';
export { PowerLog, type Violation, type ViolationSummary } from './power/power-log.ts';
export {
  registerProtocol,
  protocolFor,
  registeredProtocols,
  clearProtocols,
  privilegedPortMap,
  type StartMinerServers,
  type StartMinerServersOptions,
} from './protocols/registry.ts';
export { buildSimApi } from './http/api.ts';
export { startSimulator, loadFarm, type StartSimulatorOptions, type RunningSimulator } from './start.ts';
export { runSimCli, parseSimArgs, SIM_USAGE, type SimCliContext } from './cli.ts';
