// The pure domain: the farm's resource model, the economics and the planner. No I/O, no adapters.
export * from './farm/resource-schema.ts';
export * from './farm/miner-models.ts';
export * from './farm/endpoints.ts';
export * from './farm/farm-loader.ts';
export * from './farm/status-schema.ts';
export * from './farm/inference-order-schema.ts';
export * from './farm/crd-schema.ts';
export * from './farm/crd.ts';
export {
  crossCheckFarm,
  fleetNameplateW,
  fleetProfiles,
  walkPowerTree,
  MIN_JTH,
  MAX_JTH,
  type TreeEntry,
} from './farm/farm-validation.ts';
export * from './economics/economics.ts';
export * from './planner/index.ts';
export * from './sequencer/index.ts';
export * from './backtest/index.ts';
export * from './signals-file/index.ts';
