// From a validated Farm to the simulator's miners: every fleet endpoint becomes one simulated
// miner served on a loopback address (a.b.c.d → 127.b.c.d), with an identity; fleets are
// spread over worker processes by the number of listening sockets they need.
import {
  expandEndpoints,
  findMinerModel,
  fleetNameplateW,
  fleetProfiles,
  isIpv4,
  type Farm,
  type MinerDriverName,
  type MinerFleet,
} from '@switchyard/domain';
import type { SimMinerIdentity } from './model/sim-miner-api.ts';
import { FIRMWARE_VERSIONS, powerTargetBounds } from './model/miner-specs.ts';
import { hash32, mulberry32 } from './model/prng.ts';

export class SimulatorConfigError extends Error {
  readonly code = 'SIM_CONFIG';
}

/** The loopback address a farm address is served on: a.b.c.d → 127.b.c.d. */
export function toSimHost(farmHost: string): string {
  if (!isIpv4(farmHost))
    throw new SimulatorConfigError(
      `"${farmHost}" is not an IPv4 address; the simulator maps a.b.c.d to 127.b.c.d`,
    );
  return `127.${farmHost.split('.').slice(1).join('.')}`;
}

export interface PlannedMiner {
  fleet: string;
  index: number;
  farmHost: string;
  simHost: string;
  port: number;
}

export interface PlannedFleet {
  fleet: MinerFleet;
  name: string;
  site: string;
  miners: PlannedMiner[];
}

/**
 * Every miner of the farm with its loopback address. Throws SimulatorConfigError naming every
 * problem: hostnames (not IPv4) and two farm addresses that map to the same loopback address.
 */
export function planFarm(farm: Farm): PlannedFleet[] {
  const problems: string[] = [];
  const bySimHost = new Map<string, { fleet: string; farmHost: string }>();
  const out: PlannedFleet[] = [];
  for (const fleet of farm.fleets) {
    const name = fleet.metadata.name;
    const miners: PlannedMiner[] = [];
    expandEndpoints(fleet.spec).forEach((e, index) => {
      if (!isIpv4(e.host)) {
        problems.push(
          `MinerFleet/${name}: endpoint "${e.host}" is a hostname; the simulator needs IPv4 addresses (it serves a.b.c.d on 127.b.c.d)`,
        );
        return;
      }
      const simHost = toSimHost(e.host);
      const other = bySimHost.get(simHost);
      if (other && other.farmHost !== e.host) {
        problems.push(
          `MinerFleet/${name}: address ${e.host} and ${other.farmHost} (MinerFleet/${other.fleet}) both map to ${simHost}; ` +
            'the simulator keeps the last three octets, so give one of them different ones',
        );
        return;
      }
      bySimHost.set(simHost, { fleet: name, farmHost: e.host });
      miners.push({ fleet: name, index, farmHost: e.host, simHost, port: e.port });
    });
    out.push({ fleet, name, site: fleet.spec.site, miners });
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 20);
    if (problems.length > shown.length) shown.push(`... and ${problems.length - shown.length} more`);
    throw new SimulatorConfigError(`the farm cannot be simulated:\n  ${shown.join('\n  ')}`);
  }
  return out;
}

/** Sleep draw of a fleet's miners: the fleet's, else its model's, else 1 % of the lowest profile. */
export function fleetSleepW(fleet: MinerFleet): number {
  const lowest = Math.min(...fleetProfiles(fleet).map((p) => p.powerW));
  return fleet.spec.sleepW ?? findMinerModel(fleet.spec.model)?.sleepW ?? Math.round(lowest * 0.01);
}

const SERIAL_CHARS = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';

export function minerIdentity(
  fleet: MinerFleet,
  m: PlannedMiner,
  seed: string | number = 0,
): SimMinerIdentity {
  const spec = fleet.spec;
  const model = findMinerModel(spec.model);
  const profiles = fleetProfiles(fleet);
  const nameplateW = fleetNameplateW(fleet);
  const octets = m.farmHost.split('.').map(Number);
  const hex = (n: number) => n.toString(16).padStart(2, '0').toUpperCase();
  const rnd = mulberry32(hash32(`${seed}|${m.farmHost}|serial`));
  let serial = 'SY';
  for (let i = 0; i < 14; i++) serial += SERIAL_CHARS[Math.floor(rnd() * SERIAL_CHARS.length)];
  return {
    fleet: m.fleet,
    farmHost: m.farmHost,
    simHost: m.simHost,
    driver: spec.driver,
    make: model?.make ?? (spec.driver === 'whatsminer' ? 'MicroBT' : 'Bitmain'),
    model: model?.model ?? spec.model,
    firmwareVersion: FIRMWARE_VERSIONS[spec.driver],
    mac: ['02', '53', ...octets.map(hex)].join(':'),
    hostname: `${m.fleet}-${String(m.index + 1).padStart(4, '0')}`,
    serial,
    profiles,
    nameplateW,
    sleepW: fleetSleepW(fleet),
    powerTargetBoundsW: powerTargetBounds(profiles, nameplateW),
    port: m.port,
  };
}

/** Listening sockets per miner by firmware (an estimate used only to balance workers). */
export const LISTENERS_PER_MINER: Readonly<Record<MinerDriverName, number>> = {
  antminer: 2, // RPC 4028 + web 80
  luxos: 1, // RPC 4028
  braiins: 1, // REST 80
  whatsminer: 2, // API v2 4028 + v3 4433
};

/**
 * Splits fleets over `workers` groups, keeping each fleet whole and balancing the listening
 * sockets (largest first, each to the lightest group). Empty groups are dropped.
 */
export function partitionFleets(fleets: readonly PlannedFleet[], workers: number): PlannedFleet[][] {
  const n = Math.max(1, Math.floor(workers));
  const groups = Array.from({ length: n }, () => ({ load: 0, fleets: [] as PlannedFleet[] }));
  const cost = (f: PlannedFleet) => f.miners.length * (LISTENERS_PER_MINER[f.fleet.spec.driver] ?? 1);
  for (const f of [...fleets].sort((a, b) => cost(b) - cost(a) || a.name.localeCompare(b.name))) {
    const g = groups.reduce((a, b) => (b.load < a.load ? b : a));
    g.load += cost(f);
    g.fleets.push(f);
  }
  return groups.filter((g) => g.fleets.length > 0).map((g) => g.fleets);
}
