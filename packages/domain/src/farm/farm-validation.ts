// Rules that span fields or documents: references, the power tree's shape, endpoints and
// profiles. Each rule is a small function that appends issues; all of them always run.
import type { Farm, FarmIssue } from './farm-loader.ts';
import type { GpuPool, MinerFleet, PowerNode, PowerProfile, Site } from './resource-schema.ts';
import { findMinerModel } from './miner-models.ts';
import { expandEndpoints, parseAddress, parseCidr } from './endpoints.ts';
import { DEFAULT_PORTS } from './miner-models.ts';

type Sink = (document: string, path: string, message: string) => void;

export const MIN_JTH = 5;
export const MAX_JTH = 200;
const MAX_TREE_DEPTH = 16;

/**
 * `invalid` holds the ids ("Kind/name") of documents that failed their own validation; references
 * to them are not reported again as undefined.
 */
export function crossCheckFarm(farm: Farm, invalid: ReadonlySet<string> = new Set()): FarmIssue[] {
  const issues: FarmIssue[] = [];
  const add: Sink = (document, path, message) => issues.push({ document, path, message });
  checkDuplicates(farm, add);
  const sites = new Map(farm.sites.map((s) => [s.metadata.name, s]));
  for (const site of farm.sites) checkSite(site, add);
  const seenEndpoints = new Map<string, string>();
  for (const fleet of farm.fleets) {
    const site = checkPlacement(`MinerFleet/${fleet.metadata.name}`, fleet.spec, sites, invalid, add);
    void site;
    checkFleet(fleet, add, seenEndpoints);
  }
  for (const pool of farm.pools) {
    checkPlacement(`GpuPool/${pool.metadata.name}`, pool.spec, sites, invalid, add);
    checkPool(pool, add);
  }
  const policySites = new Map<string, string>();
  for (const p of farm.policies) {
    const id = `AllocationPolicy/${p.metadata.name}`;
    if (!sites.has(p.spec.site) && !invalid.has(`Site/${p.spec.site}`))
      add(id, 'spec.site', `Site "${p.spec.site}" is not defined`);
    const other = policySites.get(p.spec.site);
    if (other)
      add(id, 'spec.site', `Site ${p.spec.site} already has AllocationPolicy/${other}; one policy per site`);
    else policySites.set(p.spec.site, p.metadata.name);
  }
  return issues;
}

function checkDuplicates(farm: Farm, add: Sink): void {
  for (const list of [farm.sites, farm.fleets, farm.pools, farm.policies] as Array<
    Array<{ kind: string; metadata: { name: string } }>
  >) {
    const seen = new Set<string>();
    for (const r of list) {
      if (seen.has(r.metadata.name))
        add(`${r.kind}/${r.metadata.name}`, 'metadata.name', `duplicate ${r.kind} name "${r.metadata.name}"`);
      seen.add(r.metadata.name);
    }
  }
}

/** Every node of a power tree with its path in the document and its ancestors. */
export interface TreeEntry {
  node: PowerNode;
  path: string;
  depth: number;
  parent: PowerNode | undefined;
}

export function walkPowerTree(root: PowerNode, basePath = 'spec.powerTree'): TreeEntry[] {
  const out: TreeEntry[] = [];
  const visit = (node: PowerNode, path: string, depth: number, parent: PowerNode | undefined) => {
    out.push({ node, path, depth, parent });
    if (depth >= MAX_TREE_DEPTH) return;
    node.children?.forEach((c, i) => visit(c, `${path}.children[${i}]`, depth + 1, node));
  };
  visit(root, basePath, 0, undefined);
  return out;
}

function checkSite(site: Site, add: Sink): void {
  const id = `Site/${site.metadata.name}`;
  const { spec } = site;
  const seen = new Set<string>();
  for (const e of walkPowerTree(spec.powerTree)) {
    if (e.depth >= MAX_TREE_DEPTH && e.node.children?.length)
      add(id, e.path, `power tree is deeper than ${MAX_TREE_DEPTH} levels`);
    if (seen.has(e.node.name)) add(id, `${e.path}.name`, `duplicate power-tree node "${e.node.name}"`);
    seen.add(e.node.name);
    if (e.parent && e.node.limitKw > e.parent.limitKw) {
      add(
        id,
        `${e.path}.limitKw`,
        `${e.node.limitKw} kW exceeds its parent ${e.parent.name}'s limit of ${e.parent.limitKw} kW`,
      );
    }
  }
  if (spec.powerTree.limitKw > spec.interconnectKw) {
    add(
      id,
      'spec.powerTree.limitKw',
      `${spec.powerTree.limitKw} kW exceeds the site's interconnect of ${spec.interconnectKw} kW`,
    );
  }
  const zones = new Set<string>();
  spec.coolingZones.forEach((z, i) => {
    if (zones.has(z.name)) add(id, `spec.coolingZones[${i}].name`, `duplicate cooling zone "${z.name}"`);
    zones.add(z.name);
  });
  const c = spec.energyContract;
  if (c?.pricing === 'fixed' && c.fixedUsdPerMwh === undefined) {
    add(id, 'spec.energyContract.fixedUsdPerMwh', 'is required when pricing is "fixed"');
  }
}

function checkPlacement(
  id: string,
  spec: { site: string; feed: string; coolingZone: string },
  sites: Map<string, Site>,
  invalid: ReadonlySet<string>,
  add: Sink,
): Site | undefined {
  const site = sites.get(spec.site);
  if (!site) {
    if (!invalid.has(`Site/${spec.site}`)) add(id, 'spec.site', `Site "${spec.site}" is not defined`);
    return undefined;
  }
  if (!walkPowerTree(site.spec.powerTree).some((e) => e.node.name === spec.feed)) {
    add(id, 'spec.feed', `"${spec.feed}" is not a node of Site ${spec.site}'s power tree`);
  }
  if (!site.spec.coolingZones.some((z) => z.name === spec.coolingZone)) {
    add(id, 'spec.coolingZone', `"${spec.coolingZone}" is not a cooling zone of Site ${spec.site}`);
  }
  return site;
}

/** The fleet's profiles: its own, or its model's defaults. */
export function fleetProfiles(fleet: MinerFleet): readonly PowerProfile[] {
  return fleet.spec.profiles ?? findMinerModel(fleet.spec.model)?.profiles ?? [];
}

/** Worst-case draw of one miner of the fleet (W). */
export function fleetNameplateW(fleet: MinerFleet): number {
  const profiles = fleetProfiles(fleet);
  return (
    fleet.spec.nameplateW ??
    Math.max(findMinerModel(fleet.spec.model)?.nameplateW ?? 0, ...profiles.map((p) => p.powerW))
  );
}

function checkFleet(fleet: MinerFleet, add: Sink, seenEndpoints: Map<string, string>): void {
  const id = `MinerFleet/${fleet.metadata.name}`;
  const { spec } = fleet;
  const model = findMinerModel(spec.model);
  if (!model && !spec.profiles) {
    add(id, 'spec.model', `unknown model "${spec.model}": give spec.profiles, or use a known model`);
  }
  if (model && !model.drivers.includes(spec.driver)) {
    add(
      id,
      'spec.driver',
      `"${spec.driver}" does not run on ${model.make} ${model.model} (use ${model.drivers.join(', ')})`,
    );
  }
  checkEndpoints(id, fleet, add, seenEndpoints);
  if (spec.profiles) checkProfiles(id, spec.profiles, add);
  const profiles = fleetProfiles(fleet);
  const top = Math.max(0, ...profiles.map((p) => p.powerW));
  if (spec.nameplateW !== undefined && spec.nameplateW < top) {
    add(id, 'spec.nameplateW', `${spec.nameplateW} W is below the highest profile's ${top} W`);
  }
  const low = Math.min(...profiles.map((p) => p.powerW));
  if (spec.sleepW !== undefined && profiles.length > 0 && spec.sleepW >= low) {
    add(id, 'spec.sleepW', `${spec.sleepW} W is not below the lowest profile's ${low} W`);
  }
}

function checkEndpoints(id: string, fleet: MinerFleet, add: Sink, seen: Map<string, string>): void {
  const { endpoints } = fleet.spec;
  const port = endpoints.port ?? DEFAULT_PORTS[fleet.spec.driver];
  if (!endpoints.addresses?.length && endpoints.cidr === undefined) {
    add(id, 'spec.endpoints', 'needs addresses or a cidr');
  }
  endpoints.addresses?.forEach((a, i) => {
    const r = parseAddress(a, port);
    if (typeof r === 'string') add(id, `spec.endpoints.addresses[${i}]`, r);
  });
  if (endpoints.cidr !== undefined) {
    const c = parseCidr(endpoints.cidr);
    if (typeof c === 'string') add(id, 'spec.endpoints.cidr', c);
    else if (endpoints.count !== undefined && endpoints.count > c.hostCount) {
      add(
        id,
        'spec.endpoints.count',
        `${endpoints.count} miners do not fit in ${endpoints.cidr} (${c.hostCount} host addresses)`,
      );
    }
  } else if (endpoints.count !== undefined) {
    add(id, 'spec.endpoints.count', 'is only meaningful with a cidr');
  }
  for (const e of expandEndpoints(fleet.spec)) {
    const key = `${e.host}:${e.port}`;
    const owner = seen.get(key);
    if (owner !== undefined) {
      add(id, 'spec.endpoints', `${key} is already used by ${owner === id ? 'this fleet' : owner}`);
      return; // one report per fleet is enough; a shared block would flood the output
    }
    seen.set(key, id);
  }
}

function checkProfiles(id: string, profiles: PowerProfile[], add: Sink): void {
  const names = new Set<string>();
  profiles.forEach((p, i) => {
    const path = `spec.profiles[${i}]`;
    if (names.has(p.name)) add(id, `${path}.name`, `duplicate profile "${p.name}"`);
    names.add(p.name);
    const jth = p.powerW / p.hashrateThs;
    if (jth < MIN_JTH || jth > MAX_JTH) {
      add(
        id,
        path,
        `efficiency ${jth.toFixed(1)} J/TH (${p.powerW} W / ${p.hashrateThs} TH/s) is outside the plausible ${MIN_JTH}-${MAX_JTH} J/TH`,
      );
    }
    const prev = profiles[i - 1];
    if (prev && p.powerW <= prev.powerW) {
      add(
        id,
        `${path}.powerW`,
        `profiles must be ordered by rising power: ${p.powerW} W follows "${prev.name}" at ${prev.powerW} W`,
      );
    } else if (prev && p.hashrateThs < prev.hashrateThs) {
      add(
        id,
        `${path}.hashrateThs`,
        `more power must not give less hashrate: ${p.hashrateThs} TH/s after "${prev.name}" at ${prev.hashrateThs} TH/s`,
      );
    }
  });
}

function checkPool(pool: GpuPool, add: Sink): void {
  const id = `GpuPool/${pool.metadata.name}`;
  const { spec } = pool;
  const { idle, serving, hashing } = spec.nodePowerKw;
  if (idle > serving) add(id, 'spec.nodePowerKw.idle', `${idle} kW idle is above ${serving} kW serving`);
  if (idle > hashing) add(id, 'spec.nodePowerKw.idle', `${idle} kW idle is above ${hashing} kW hashing`);
  const maxKw = spec.gpusPerNode * 1.5 + 3; // ~1.2 kW per top GPU plus host, with room to spare
  for (const [mode, v] of Object.entries(spec.nodePowerKw)) {
    if (v > maxKw)
      add(
        id,
        `spec.nodePowerKw.${mode}`,
        `${v} kW is implausible for a node of ${spec.gpusPerNode} GPUs (at most ${maxKw} kW)`,
      );
  }
  if (Object.keys(spec.nodeSelector).length === 0)
    add(id, 'spec.nodeSelector', 'must select nodes with at least one label');
  if (spec.hashing?.enabled && !spec.hashing.image)
    add(id, 'spec.hashing.image', 'is required when hashing is enabled');
}
