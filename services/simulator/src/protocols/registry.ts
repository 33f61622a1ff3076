// Which protocol servers speak for each firmware family. A protocol module registers its
// StartMinerServers on import (protocols/index.ts imports all of them); the simulator calls it
// once per miner of a fleet with that driver, in whichever process hosts the fleet.
import type { MinerDriverName } from '@switchyard/domain';
import type { SimMinerView } from '../model/sim-miner-api.ts';

export interface StartMinerServersOptions {
  /**
   * Maps a firmware port (80, 4028, 4433, or the miner's id.port) to the port to bind. Identity
   * when the simulator may bind privileged ports; otherwise ports below 1024 get an offset.
   */
  portMap: (realPort: number) => number;
}

/**
 * Starts every listener one miner's firmware has, on miner.id.simHost. Resolves once all are
 * listening; rejects (having closed what it opened) when one cannot listen.
 */
export type StartMinerServers = (
  miner: SimMinerView,
  opts: StartMinerServersOptions,
) => Promise<{ close(): Promise<void>; ports: number[] }>;

const registry = new Map<MinerDriverName, StartMinerServers>();

/** Registers (or replaces) the servers for a firmware family. */
export function registerProtocol(driver: MinerDriverName, start: StartMinerServers): void {
  registry.set(driver, start);
}

export function protocolFor(driver: MinerDriverName): StartMinerServers | undefined {
  return registry.get(driver);
}

export function registeredProtocols(): MinerDriverName[] {
  return [...registry.keys()];
}

/** Forgets every registration (tests). */
export function clearProtocols(): void {
  registry.clear();
}

/** portMap for an offset applied to privileged ports only (below 1024), e.g. 80 → 10080. */
export function privilegedPortMap(offset: number): (realPort: number) => number {
  return (p) => (p < 1024 ? p + offset : p);
}
